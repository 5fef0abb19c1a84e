//! The site: HTML pages, the JSON API, and how denials look.

use std::sync::Arc;

use actix_permit::redirect::is_safe_redirect;
use actix_permit::{
    CurrentUser, LoginRequired, Permit, PermitError, authenticate,
    backend::{AdminError, CacheState, SqlBackend, SqlUser},
    config::{Config, Denial, Reason},
    login, login_not_required, login_required, logout, permission_required, reauthenticate,
    recent_login_required,
    throttle::Throttle,
    user_passes_test,
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

mod accounts;
mod admin;
mod api;
mod items;
mod session_list;
mod tokens;

use accounts::*;
use admin::*;
use api::*;
use items::*;
use session_list::*;
use tokens::*;

pub(crate) use tokens::when;

pub(crate) use admin::{access_matrix, matrix_json};

/// Everything the handlers share.
#[derive(Clone)]
pub struct Site {
    templates: Arc<Environment<'static>>,
    items: Items,
    /// For changes (passwords).
    backend: Arc<SqlBackend>,
    /// The checks, on the backend or on the backend behind a permission
    /// cache; each worker's app adds its pages and throttle.
    permit: Permit,
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
        permit: Permit,
        items: Items,
        allowed_hosts: Vec<String>,
        demo: bool,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("../../templates/base.html")),
            ("login.html", include_str!("../../templates/login.html")),
            ("items.html", include_str!("../../templates/items.html")),
            ("item.html", include_str!("../../templates/item.html")),
            (
                "item_form.html",
                include_str!("../../templates/item_form.html"),
            ),
            (
                "password.html",
                include_str!("../../templates/password.html"),
            ),
            (
                "item_delete.html",
                include_str!("../../templates/item_delete.html"),
            ),
            (
                "reauthenticate.html",
                include_str!("../../templates/reauthenticate.html"),
            ),
            ("tokens.html", include_str!("../../templates/tokens.html")),
            (
                "sessions.html",
                include_str!("../../templates/sessions.html"),
            ),
            ("error.html", include_str!("../../templates/error.html")),
            ("access.html", include_str!("../../templates/access.html")),
        ] {
            env.add_template(name, source)?;
        }
        Ok(Self {
            templates: Arc::new(env),
            items,
            backend,
            permit,
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

    /// Throttles logins (see `actix_permit::throttle::Throttle`).
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
    let mut permit = site.permit.clone().config(
        Config::default()
            .login_url("/accounts/login/")
            .reauthentication_url("/accounts/reauthenticate/")
            .render_with(move |req, denial| render_denial(&pages, req, denial)),
    );
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
        .service(reauthenticate_page)
        .service(reauthenticate_submit)
        .service(api_reauthenticate)
        .service(tokens_page)
        .service(create_token)
        .service(revoke_token)
        .service(sessions_page)
        .service(end_session)
        .service(end_other_sessions)
        .service(list_items)
        .service(new_item)
        .service(create_item)
        .service(show_item)
        .service(edit_item)
        .service(update_item)
        .service(confirm_delete)
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
        Reason::ReauthenticationRequired => "Please confirm your password to do this.",
        Reason::InvalidCredentials => "The credentials sent with this request were refused.",
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
fn admin_error(err: actix_permit::backend::AdminError) -> Error {
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

/// The session cookie's name.
const SESSION_COOKIE: &str = "inventory_session";

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
        assert_eq!(report.secured.len(), 7, "{report:?}");
    }

    #[test]
    fn a_failed_change_tells_the_client_nothing() {
        let err = admin_error(actix_permit::backend::AdminError::Database(
            actix_permit::backend::BackendError::new(
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
