//! The site: HTML pages, the JSON API, and how denials look.

use std::sync::Arc;

use actix_permit::redirect::is_safe_redirect;
use actix_permit::{
    CacheState, CurrentUser, Denial, LoginRequired, Permit, PermitError, Reason, SqlBackend,
    SqlUser, Throttle, authenticate, login, login_not_required, login_required, logout,
    permission_required, user_passes_test,
};
use actix_session::SessionMiddleware;
use actix_session::storage::SessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{
    App, Error, HttpRequest, HttpResponse, Responder, delete, get, middleware, post, web,
};
use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Deserialize;

use crate::csrf;
use crate::store::{Item, ItemInput, Items, OWNER_PERMISSIONS};

/// Everything the handlers share.
#[derive(Clone)]
pub struct Site {
    templates: Arc<Environment<'static>>,
    items: Items,
    /// For changes (passwords).
    backend: Arc<SqlBackend>,
    /// For the checks: the backend, or the backend behind a permission cache.
    checks: Arc<dyn actix_permit::Backend>,
    allowed_hosts: Arc<Vec<String>>,
    /// Whether the demo users exist (`--demo`): the login page says so.
    demo: bool,
    throttle: Option<Throttle>,
    /// The API's OpenAPI document, made once.
    api_document: Arc<str>,
    /// `GET /load/items`: the item listing with no check, public, as the
    /// baseline of the load runs (`PERMIT_LOAD_BASELINE`, loopback only).
    load_baseline: bool,
}

impl Site {
    pub fn new(
        backend: Arc<SqlBackend>,
        checks: Arc<dyn actix_permit::Backend>,
        items: Items,
        allowed_hosts: Vec<String>,
        demo: bool,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("../templates/base.html")),
            ("login.html", include_str!("../templates/login.html")),
            ("items.html", include_str!("../templates/items.html")),
            ("item.html", include_str!("../templates/item.html")),
            (
                "item_form.html",
                include_str!("../templates/item_form.html"),
            ),
            ("password.html", include_str!("../templates/password.html")),
            ("error.html", include_str!("../templates/error.html")),
            ("access.html", include_str!("../templates/access.html")),
        ] {
            env.add_template(name, source)?;
        }
        Ok(Self {
            templates: Arc::new(env),
            items,
            backend,
            checks,
            allowed_hosts: Arc::new(allowed_hosts),
            demo,
            throttle: None,
            load_baseline: false,
            api_document: Arc::from(api_document()?.0),
        })
    }

    /// Serves `GET /load/items`: the listing of `GET /api/items` without
    /// its check, for the load runs to compare against.
    pub fn load_baseline(mut self, on: bool) -> Self {
        self.load_baseline = on;
        self
    }

    /// Throttles logins (see `actix_permit::Throttle`).
    pub fn throttle(mut self, throttle: Option<Throttle>) -> Self {
        self.throttle = throttle;
        self
    }

    fn page(&self, status: StatusCode, name: &str, ctx: Value) -> HttpResponse {
        match self
            .templates
            .get_template(name)
            .and_then(|t| t.render(ctx))
        {
            Ok(html) => HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .body(html),
            Err(err) => {
                tracing::error!(template = name, error = %err, "cannot render");
                HttpResponse::InternalServerError().body("Internal Server Error")
            }
        }
    }

    fn error_page(&self, status: StatusCode, message: &str, user: Option<&str>) -> HttpResponse {
        let title = format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        self.page(
            status,
            "error.html",
            context! { status => title, message, username => user },
        )
    }
}

/// The whole app: routes, deny-by-default, the access middleware with its
/// denial pages, cookie sessions, the cross-site check, and `no-store`
/// outermost.
pub fn app<Store: SessionStore + 'static>(
    site: Site,
    store: Store,
    key: Key,
    secure_cookies: bool,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let pages = site.clone();
    let baseline = site.load_baseline;
    let mut deny = deny_by_default();
    if baseline {
        deny = deny.public(LOAD_BASELINE);
    }
    let mut permit = Permit::from_arc(site.checks.clone())
        .login_url("/accounts/login/")
        .render_with(move |req, denial| render_denial(&pages, req, denial));
    if let Some(throttle) = &site.throttle {
        permit = permit.throttle(throttle.clone());
    }
    let sessions = SessionMiddleware::builder(store, key)
        .cookie_name(SESSION_COOKIE.to_owned())
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_secure(secure_cookies)
        .build();
    App::new()
        .app_data(web::Data::new(site))
        .app_data(web::JsonConfig::default().error_handler(|err, _| {
            let body = serde_json::json!({ "error": "bad_request", "detail": err.to_string() });
            actix_web::error::InternalError::from_response(
                err,
                HttpResponse::BadRequest().json(body),
            )
            .into()
        }))
        .configure(routes)
        .configure(|cfg| {
            if baseline {
                cfg.route(LOAD_BASELINE, web::get().to(load_items));
            }
        })
        .default_service(web::to(no_such_page))
        .wrap(deny)
        .wrap(permit)
        .wrap(sessions)
        .wrap(middleware::from_fn(csrf::guard))
        // Pages show who is signed in and what they may see: no copy of
        // them is kept, so after logging out the back button asks the
        // server again (and gets the login page). Responses that say how
        // they may be cached (Swagger UI's files) keep their own header.
        .wrap(middleware::DefaultHeaders::new().add((header::CACHE_CONTROL, "no-store")))
}

/// Every route of the app, all registered on the app itself, so that deny by
/// default can prove which public handler a path reaches.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(home)
        .service(healthz)
        .service(api_me)
        .service(api_cache)
        .service(api_openapi)
        .service(api_docs)
        .service(api_docs_file)
        .service(access_page)
        .service(login_page)
        .service(login_submit)
        .service(logout_submit)
        .service(password_page)
        .service(password_submit)
        .service(list_items)
        .service(new_item)
        .service(create_item)
        .service(show_item)
        .service(edit_item)
        .service(update_item)
        .service(delete_item)
        .service(api_list)
        .service(api_create)
        .service(api_delete);
}

/// Every route needs a signed-in user unless its handler says
/// `#[login_not_required]`: a handler added without an attribute is
/// protected, not public. (`inventory routes` lists what is reachable.)
pub fn deny_by_default() -> LoginRequired {
    LoginRequired::new()
}

/// HTML pages for the site, JSON for `/api/` (which never redirects).
fn render_denial(site: &Site, req: &HttpRequest, denial: &Denial<'_>) -> HttpResponse {
    let reason = denial.reason();
    if req.path().starts_with("/api/") {
        let status = match reason {
            Reason::LoginRequired => StatusCode::FORBIDDEN,
            other => other.status(),
        };
        return HttpResponse::build(status).json(serde_json::json!({ "error": reason.as_str() }));
    }
    if let Some(location) = denial.login_redirect() {
        return HttpResponse::Found()
            .insert_header((header::LOCATION, location))
            .finish();
    }
    let message = match reason {
        Reason::Forbidden | Reason::LoginRequired => "You do not have permission to see this page.",
        Reason::Unavailable => {
            "The site is busy or cannot reach its database. Please try again shortly."
        }
        Reason::Throttled => "Too many failed logins. Please wait before trying again.",
        _ => "Something went wrong on our side.",
    };
    // Whoever is signed in stays visible, with the logout button.
    let user = denial
        .user()
        .and_then(|user| (&**user as &dyn std::any::Any).downcast_ref::<SqlUser>())
        .map(SqlUser::username);
    site.error_page(reason.status(), message, user)
}

/// A URL no route matches (deny by default sends anonymous visitors to log
/// in first).
async fn no_such_page(site: web::Data<Site>, user: CurrentUser) -> HttpResponse {
    site.error_page(
        StatusCode::NOT_FOUND,
        "There is no such page.",
        username(&user),
    )
}

fn username(user: &CurrentUser) -> Option<&str> {
    user.downcast::<SqlUser>().map(SqlUser::username)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// A 503 that tells the client nothing of the error, which is logged.
fn database_error(err: sqlx::Error) -> Error {
    tracing::error!(error = %err, "database error");
    actix_web::error::ErrorServiceUnavailable("Service Unavailable")
}

/// The same, for a change to users the backend could not make.
fn admin_error(err: actix_permit::AdminError) -> Error {
    tracing::error!(error = %err, "could not change the user");
    actix_web::error::ErrorServiceUnavailable("Service Unavailable")
}

#[login_not_required]
#[get("/")]
async fn home() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/items/"))
        .finish()
}

/// For load balancers: public, no database.
#[login_not_required]
#[get("/healthz")]
async fn healthz() -> &'static str {
    "ok"
}

/// Every user × every route, with why (`inventory access`, `/admin/access/`).
pub async fn access_matrix(
    backend: &SqlBackend,
) -> Result<actix_permit::audit::Matrix, Box<dyn std::error::Error>> {
    let users = backend.users().await?.into_iter().map(|user| {
        let name = user.username().to_owned();
        (name, Arc::new(user) as Arc<dyn actix_permit::AuthUser>)
    });
    Ok(actix_permit::audit::matrix(backend, users).await?)
}

/// The matrix as JSON: the routes, and per user one cell per route
/// (`allowed`: true, false, or null when a predicate decides per request;
/// `symbol`: ✔, ✘, ? or ◐; `why`). `inventory access --json` prints it and
/// `/admin/access/` renders it.
pub fn matrix_json(matrix: &actix_permit::audit::Matrix) -> serde_json::Value {
    let routes: Vec<_> = matrix
        .columns
        .iter()
        .map(|c| {
            serde_json::json!({
                "method": c.method, "path": c.path, "handler": c.handler, "requires": c.requires,
            })
        })
        .collect();
    let users: Vec<_> = matrix
        .rows
        .iter()
        .map(|row| {
            let cells: Vec<_> = row
                .cells
                .iter()
                .map(|cell| {
                    serde_json::json!({
                        "allowed": cell.allowed(), "symbol": cell.symbol(), "why": cell.detail(),
                    })
                })
                .collect();
            serde_json::json!({ "user": row.user, "cells": cells })
        })
        .collect();
    serde_json::json!({ "routes": routes, "users": users })
}

/// Who may reach what, as a table: for superusers (nobody is granted the
/// permission).
#[permission_required("inventory.view_access")]
#[get("/admin/access/")]
async fn access_page(site: web::Data<Site>, user: CurrentUser) -> Result<HttpResponse, Error> {
    let matrix = access_matrix(&site.backend).await.map_err(|err| {
        tracing::error!(error = %err, "cannot compute the access matrix");
        actix_web::error::ErrorServiceUnavailable("the database is unavailable")
    })?;
    Ok(site.page(
        StatusCode::OK,
        "access.html",
        context! { matrix => Value::from(Serde(&matrix_json(&matrix))), username => username(&user) },
    ))
}

/// Whether the user is a superuser (the operators' pages).
fn is_superuser(user: &CurrentUser) -> bool {
    user.is_superuser()
}

/// What the user cache is doing, for operators: `exact` (answered from
/// memory, kept exact by the database's notices), `bypassed` (its channel
/// is down: every request queries) or `off`; how many lookups it answered
/// and how many queried.
#[user_passes_test(is_superuser)]
#[get("/api/cache")]
async fn api_cache(site: web::Data<Site>) -> HttpResponse {
    let state = match site.backend.cache_state() {
        CacheState::Exact => "exact",
        CacheState::Bypassed => "bypassed",
        _ => "off",
    };
    let stats = site.backend.cache_stats().unwrap_or_default();
    HttpResponse::Ok().json(serde_json::json!({
        "state": state,
        "hits": stats.hits,
        "queries": stats.queries,
    }))
}

/// Who the session belongs to and what they may do.
#[login_required]
#[get("/api/me")]
async fn api_me(user: CurrentUser) -> Result<HttpResponse, Error> {
    let mut permissions: Vec<String> = if user.is_superuser() {
        vec!["*".to_owned()]
    } else {
        user.permissions()
            .await?
            .iter()
            .map(str::to_owned)
            .collect()
    };
    permissions.sort_unstable();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "username": username(&user),
        "permissions": permissions,
    })))
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

#[login_not_required]
#[get("/accounts/login/")]
async fn login_page(
    site: web::Data<Site>,
    query: web::Query<NextQuery>,
    user: CurrentUser,
) -> HttpResponse {
    site.page(
        StatusCode::OK,
        "login.html",
        context! { next => query.next.as_str(), username => username(&user), demo => site.demo },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

#[login_not_required]
#[post("/accounts/login/")]
async fn login_submit(
    req: HttpRequest,
    site: web::Data<Site>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, Error> {
    let again = |status: StatusCode, error: String| {
        site.page(
            status,
            "login.html",
            context! {
                error,
                next => form.next.as_str(),
                username_value => form.username.as_str(),
                demo => site.demo,
            },
        )
    };
    let user = match authenticate(&req, &form.username, &form.password).await {
        Ok(user) => user,
        Err(PermitError::Throttled { retry_after }) => {
            let minutes = retry_after.as_secs().div_ceil(60).max(1);
            let mut page = again(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many failed logins for this account or from your address. Try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                ),
            );
            page.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(retry_after.as_secs().max(1)),
            );
            return Ok(page);
        }
        Err(err) => return Err(err.into()),
    };
    let Some(user) = user else {
        // The same words whether the user exists or not.
        return Ok(again(
            StatusCode::OK,
            "Please enter a correct username and password.".to_owned(),
        ));
    };
    login(&req, &*user)?;
    let hosts: Vec<&str> = site.allowed_hosts.iter().map(String::as_str).collect();
    let target = if is_safe_redirect(&form.next, &hosts, false) {
        form.next.as_str()
    } else {
        "/items/"
    };
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, target))
        .finish())
}

#[login_not_required]
#[post("/accounts/logout/")]
async fn logout_submit(req: HttpRequest) -> HttpResponse {
    logout(&req);
    see_other("/accounts/login/")
}

#[login_required]
#[get("/accounts/password/")]
async fn password_page(site: web::Data<Site>, user: CurrentUser) -> HttpResponse {
    site.page(
        StatusCode::OK,
        "password.html",
        context! { username => username(&user) },
    )
}

#[derive(Deserialize)]
struct PasswordForm {
    old_password: String,
    new_password: String,
}

#[login_required]
#[post("/accounts/password/")]
async fn password_submit(
    req: HttpRequest,
    site: web::Data<Site>,
    user: CurrentUser,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, Error> {
    let name = username(&user).unwrap_or_default().to_owned();
    let retry = |error: &'static str| {
        site.page(
            StatusCode::OK,
            "password.html",
            context! { error, username => name.as_str() },
        )
    };
    if form.new_password.chars().count() < 8 {
        return Ok(retry("The new password must have at least 8 characters."));
    }
    if authenticate(&req, &name, &form.old_password)
        .await?
        .is_none()
    {
        return Ok(retry("Your old password was entered incorrectly."));
    }
    site.backend
        .set_password(&name, &form.new_password)
        .await
        .map_err(admin_error)?;
    // Keep this session: log in again with the new session auth hash.
    if let Some(fresh) = site.backend.user(&name).await.map_err(admin_error)? {
        login(&req, &fresh)?;
    }
    Ok(see_other("/items/"))
}

/// The items the user may see: all with the model permission to view,
/// otherwise those they hold `inventory.view_item` on (their own).
async fn visible_items(site: &Site, user: &CurrentUser) -> Result<Vec<Item>, Error> {
    let visible = user.objects_for("inventory.view_item").await?;
    let mut items = site.items.list().await.map_err(database_error)?;
    items.retain(|item| visible.contains(&item.id.to_string()));
    Ok(items)
}

/// Viewers see every item; whoever may add items sees their own. Each row
/// says what the user may do with it.
#[permission_required(any("inventory.view_item", "inventory.add_item"))]
#[get("/items/")]
async fn list_items(site: web::Data<Site>, user: CurrentUser) -> Result<HttpResponse, Error> {
    let items = visible_items(&site, &user).await?;
    let change = user.objects_for("inventory.change_item").await?;
    let delete = user.objects_for("inventory.delete_item").await?;
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let id = item.id.to_string();
            context! {
                item => Value::from(Serde(item)),
                can_change => change.contains(&id),
                can_delete => delete.contains(&id),
            }
        })
        .collect();
    let can_add = user.has_perm("inventory.add_item").await?;
    Ok(site.page(
        StatusCode::OK,
        "items.html",
        context! { rows, can_add, username => username(&user) },
    ))
}

/// Adds an item as `user`'s and grants them view, change and delete on it.
async fn add_owned(
    site: &Site,
    user: &CurrentUser,
    name: &str,
    quantity: u32,
) -> Result<i64, Error> {
    let owner = user.id().and_then(|id| id.parse::<i64>().ok());
    let id = site
        .items
        .add(name, quantity, owner)
        .await
        .map_err(database_error)?;
    let username = username(user).unwrap_or_default();
    for perm in OWNER_PERMISSIONS {
        site.backend
            .grant_object(username, perm, &id.to_string())
            .await
            .map_err(admin_error)?;
    }
    Ok(id)
}

#[permission_required("inventory.add_item")]
#[get("/items/new/")]
async fn new_item(site: web::Data<Site>, user: CurrentUser) -> HttpResponse {
    site.page(
        StatusCode::OK,
        "item_form.html",
        context! { username => username(&user) },
    )
}

#[permission_required("inventory.add_item")]
#[post("/items/")]
async fn create_item(
    site: web::Data<Site>,
    user: CurrentUser,
    form: web::Form<ItemInput>,
) -> Result<HttpResponse, Error> {
    let name = match form.validate() {
        Ok(name) => name,
        Err(error) => {
            return Ok(site.page(
                StatusCode::BAD_REQUEST,
                "item_form.html",
                context! { error, username => username(&user) },
            ));
        }
    };
    let id = add_owned(&site, &user, name, form.quantity).await?;
    Ok(see_other(&format!("/items/{id}/")))
}

fn not_found(site: &Site, user: &CurrentUser) -> HttpResponse {
    site.error_page(
        StatusCode::NOT_FOUND,
        "There is no such item.",
        username(user),
    )
}

#[permission_required("inventory.view_item", object = "id")]
#[get("/items/{id}/")]
async fn show_item(
    site: web::Data<Site>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let Some(item) = site.items.get(*id).await.map_err(database_error)? else {
        return Ok(not_found(&site, &user));
    };
    let object = item.id.to_string();
    let can_change = user.has_perm_on("inventory.change_item", &object).await?;
    let can_delete = user.has_perm_on("inventory.delete_item", &object).await?;
    Ok(site.page(
        StatusCode::OK,
        "item.html",
        context! { item => Value::from(Serde(&item)), can_change, can_delete, username => username(&user) },
    ))
}

#[permission_required("inventory.change_item", object = "id")]
#[get("/items/{id}/edit/")]
async fn edit_item(
    site: web::Data<Site>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    match site.items.get(*id).await.map_err(database_error)? {
        Some(item) => Ok(site.page(
            StatusCode::OK,
            "item_form.html",
            context! { item => Value::from(Serde(&item)), username => username(&user) },
        )),
        None => Ok(not_found(&site, &user)),
    }
}

#[permission_required("inventory.change_item", object = "id")]
#[post("/items/{id}/edit/")]
async fn update_item(
    site: web::Data<Site>,
    user: CurrentUser,
    id: web::Path<i64>,
    form: web::Form<ItemInput>,
) -> Result<HttpResponse, Error> {
    let Ok(name) = form.validate() else {
        return Ok(HttpResponse::BadRequest().body("The name must have 1 to 200 characters."));
    };
    if site
        .items
        .update(*id, name, form.quantity)
        .await
        .map_err(database_error)?
    {
        Ok(see_other(&format!("/items/{id}/")))
    } else {
        Ok(not_found(&site, &user))
    }
}

#[permission_required("inventory.delete_item", object = "id")]
#[post("/items/{id}/delete/")]
async fn delete_item(
    site: web::Data<Site>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    if site.items.delete(*id).await.map_err(database_error)? {
        Ok(see_other("/items/"))
    } else {
        Ok(not_found(&site, &user))
    }
}

#[permission_required(any("inventory.view_item", "inventory.add_item"))]
#[get("/api/items")]
async fn api_list(site: web::Data<Site>, user: CurrentUser) -> Result<impl Responder, Error> {
    Ok(web::Json(visible_items(&site, &user).await?))
}

/// The session cookie's name.
const SESSION_COOKIE: &str = "inventory_session";

/// The API's OpenAPI document: `src/openapi.json` (what the handlers do)
/// with what each operation requires added from the attributes.
pub fn api_document() -> Result<(String, actix_permit::openapi::SecureReport), serde_json::Error> {
    use actix_permit::openapi::{Anonymous, SecureOptions, secure};
    let mut api: utoipa::openapi::OpenApi = serde_json::from_str(include_str!("openapi.json"))?;
    // `/api/` answers 403 JSON to anonymous requests, never a redirect.
    let options = SecureOptions::new(SESSION_COOKIE)
        .anonymous(Anonymous::Status(403))
        .documented_prefix("/api/");
    let report = secure(&mut api, &options);
    Ok((serde_json::to_string_pretty(&api)?, report))
}

/// The API's OpenAPI 3.1 document, with what each operation requires.
#[login_required]
#[get("/api/openapi.json")]
async fn api_openapi(site: web::Data<Site>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(site.api_document.to_string())
}

/// Where Swagger UI's files are: `PERMIT_SWAGGER_UI_DIR`, or what `npm ci`
/// in `examples/inventory` installed (no CDN: the page works offline).
fn swagger_ui_dir() -> std::path::PathBuf {
    std::env::var_os("PERMIT_SWAGGER_UI_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/swagger-ui-dist"),
        std::path::PathBuf::from,
    )
}

/// The only files `/api-docs/` serves, and their types.
const SWAGGER_FILES: [(&str, &str); 2] = [
    ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    ("swagger-ui.css", "text/css; charset=utf-8"),
];

/// Swagger UI on `/api/openapi.json`, from files served here.
#[login_required]
#[get("/api-docs/")]
async fn api_docs(site: web::Data<Site>, user: CurrentUser) -> HttpResponse {
    if !swagger_ui_dir().join(SWAGGER_FILES[0].0).is_file() {
        return site.error_page(
            StatusCode::NOT_FOUND,
            "Swagger UI is not installed: run `npm ci --ignore-scripts` in examples/inventory \
             (or set PERMIT_SWAGGER_UI_DIR). The document itself is at /api/openapi.json.",
            username(&user),
        );
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("../templates/api_docs.html"))
}

/// Swagger UI's two files, and the script that starts it.
#[login_required]
#[get("/api-docs/{file}")]
async fn api_docs_file(file: web::Path<String>) -> HttpResponse {
    if file.as_str() == "start.js" {
        return HttpResponse::Ok()
            .content_type("text/javascript; charset=utf-8")
            .body(include_str!("../templates/api_docs_start.js"));
    }
    let Some((name, content_type)) = SWAGGER_FILES
        .iter()
        .find(|(name, _)| *name == file.as_str())
    else {
        return HttpResponse::NotFound().finish();
    };
    match std::fs::read(swagger_ui_dir().join(name)) {
        Ok(bytes) => HttpResponse::Ok()
            .content_type(*content_type)
            .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
            .body(bytes),
        Err(_) => HttpResponse::NotFound().finish(),
    }
}

/// Where the load runs' baseline is served.
const LOAD_BASELINE: &str = "/load/items";

/// `api_list`'s body with no check: only with `PERMIT_LOAD_BASELINE=1`.
async fn load_items(site: web::Data<Site>) -> Result<impl Responder, Error> {
    Ok(web::Json(site.items.list().await.map_err(database_error)?))
}

#[permission_required("inventory.add_item")]
#[post("/api/items")]
async fn api_create(
    site: web::Data<Site>,
    user: CurrentUser,
    input: web::Json<ItemInput>,
) -> Result<HttpResponse, Error> {
    let name = match input.validate() {
        Ok(name) => name,
        Err(detail) => {
            return Ok(HttpResponse::BadRequest()
                .json(serde_json::json!({ "error": "bad_request", "detail": detail })));
        }
    };
    let id = add_owned(&site, &user, name, input.quantity).await?;
    match site.items.get(id).await.map_err(database_error)? {
        Some(item) => Ok(HttpResponse::Created().json(item)),
        None => Ok(HttpResponse::NotFound().json(serde_json::json!({ "error": "not_found" }))),
    }
}

#[permission_required("inventory.delete_item", object = "id")]
#[delete("/api/items/{id}")]
async fn api_delete(site: web::Data<Site>, id: web::Path<i64>) -> Result<HttpResponse, Error> {
    if site.items.delete(*id).await.map_err(database_error)? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Ok(HttpResponse::NotFound().json(serde_json::json!({ "error": "not_found" })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every documented operation is served by a handler with an attribute,
    /// and every such `/api/` route is documented.
    #[test]
    fn the_api_document_covers_the_api() {
        let (_, report) = api_document().unwrap();
        assert_eq!(report.unknown, Vec::<String>::new());
        assert_eq!(report.undocumented, Vec::<String>::new());
        assert_eq!(report.secured.len(), 6, "{report:?}");
    }

    #[test]
    fn a_failed_change_tells_the_client_nothing() {
        let err = admin_error(actix_permit::AdminError::Database(
            actix_permit::BackendError::new(
                "password authentication failed for postgres://app:hunter2@db",
            ),
        ));
        let response = err.as_response_error().error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = actix_web::body::to_bytes(response.into_body());
        let body = futures_body(body);
        assert_eq!(body, "Service Unavailable");
    }

    fn futures_body(
        body: impl std::future::Future<Output = Result<actix_web::web::Bytes, impl std::fmt::Debug>>,
    ) -> String {
        let bytes = actix_web::rt::System::new().block_on(body).unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}
