//! Checks written in handler bodies: `CurrentUser`, `PermissionDenied`,
//! object permissions, the render hook, and the once-per-request cache.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use actix_permit::backend::{Layer, PermsResult};
use actix_permit::{
    AuthUser, CurrentUser, PermissionDenied, Permit, PermitError,
    backend::MemoryBackend,
    config::{Config, Reason},
    login_required,
    permission::PermissionSet,
    permission_required,
};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};

use crate::support::{Flaky, Hits, app, backend, get, login_as};

#[get("/stacked")]
#[permission_required("inventory.change_item")]
#[permission_required(any("inventory.view_item", "inventory.delete_item"))]
async fn stacked(user: CurrentUser, hits: web::Data<Hits>) -> Result<HttpResponse, PermitError> {
    hits.hit();
    let can_view = user.has_perm("inventory.view_item").await?;
    let both = user
        .has_perms(&["inventory.view_item", "inventory.change_item"])
        .await?;
    let any = user
        .has_any_perm(&["inventory.delete_item", "nothing.here"])
        .await?;
    Ok(HttpResponse::Ok().body(format!("{can_view} {both} {any}")))
}

#[get("/in-body")]
async fn in_body(user: CurrentUser, hits: web::Data<Hits>) -> Result<HttpResponse, PermitError> {
    user.require_perm("inventory.change_item").await?;
    hits.hit();
    Ok(HttpResponse::Ok().body("changed"))
}

#[get("/raise/{n}")]
#[login_required]
async fn raise(n: web::Path<u32>, hits: web::Data<Hits>) -> Result<HttpResponse, PermissionDenied> {
    if *n > 10 {
        Err(PermissionDenied)?;
    }
    hits.hit();
    Ok(HttpResponse::Ok().body(n.to_string()))
}

#[get("/whoami-full")]
async fn whoami_full(user: CurrentUser) -> HttpResponse {
    let perms = user
        .permissions()
        .await
        .map(|p| p.to_string())
        .unwrap_or_default();
    HttpResponse::Ok().body(format!(
        "{} auth={} super={} perms=[{perms}]",
        user.id().unwrap_or("-"),
        user.is_authenticated(),
        user.is_superuser(),
    ))
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(stacked)
        .service(in_body)
        .service(raise)
        .service(whoami_full)
        .service(edit_owned);
}

#[actix_rt::test]
async fn several_checks_on_one_request_load_permissions_once() {
    let flaky = Flaky::new(backend());
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(flaky.clone()), hits.clone(), routes).await;
    let grouped = login_as(&app, "grouped").await;
    let direct = login_as(&app, "direct").await;

    let loads = || flaky.perm_loads.load(Ordering::SeqCst);
    let users = || flaky.user_loads.load(Ordering::SeqCst);
    let (before, users_before) = (loads(), users());
    let seen = get(&app, "/stacked", grouped.as_ref()).await;
    assert_eq!(
        (seen.status, seen.body.as_str()),
        (StatusCode::OK, "true true false")
    );
    assert_eq!(
        loads() - before,
        1,
        "two macros and three in-body checks, one query"
    );
    assert_eq!(users() - users_before, 1);

    let before = loads();
    let seen = get(&app, "/stacked", direct.as_ref()).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN);
    assert_eq!(loads() - before, 1);
    assert_eq!(hits.get(), 1);

    // Anonymous users and superusers cost no permission query.
    let before = loads();
    let superuser = login_as(&app, "super").await;
    assert_eq!(
        get(&app, "/stacked", superuser.as_ref()).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, "/stacked", None).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(loads() - before, 0);
}

#[actix_rt::test]
async fn checks_in_code_and_permission_denied() {
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(backend()), hits.clone(), routes).await;
    let direct = login_as(&app, "direct").await;
    let plain = login_as(&app, "plain").await;

    assert_eq!(
        get(&app, "/in-body", direct.as_ref()).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, "/in-body", plain.as_ref()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&app, "/in-body", None).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(hits.get(), 1);

    assert_eq!(get(&app, "/raise/3", plain.as_ref()).await.body, "3");
    let seen = get(&app, "/raise/11", plain.as_ref()).await;
    assert_eq!(
        (seen.status, seen.body.as_str()),
        (StatusCode::FORBIDDEN, "Forbidden")
    );
    assert_eq!(hits.get(), 2);

    let seen = get(&app, "/whoami-full", direct.as_ref()).await;
    assert_eq!(
        seen.body,
        "2 auth=true super=false perms=[inventory.change_item]"
    );
    let seen = get(&app, "/whoami-full", None).await;
    assert_eq!(seen.body, "- auth=false super=false perms=[]");
}

#[actix_rt::test]
async fn the_render_hook_answers_every_denial() {
    let hits = Arc::new(Hits::default());
    let permit =
        Permit::new(backend()).config(Config::default().login_url("/accounts/login/").render_with(
            |req, denial| {
                let status = match denial.reason() {
                    Reason::LoginRequired => StatusCode::UNAUTHORIZED,
                    other => other.status(),
                };
                HttpResponse::build(status).json(serde_json::json!({
                    "reason": denial.reason().as_str(),
                    "login": denial.login_redirect(),
                    "missing": denial.missing_permissions(),
                    "path": req.path(),
                }))
            },
        ));
    let app = app(permit, hits.clone(), routes).await;
    let plain = login_as(&app, "plain").await;

    let seen = get(&app, "/stacked", None).await;
    assert_eq!(seen.status, StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"reason": "login_required", "login": "/accounts/login/?next=/stacked", "missing": [], "path": "/stacked"})
    );

    let seen = get(&app, "/stacked", plain.as_ref()).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN);
    let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"reason": "forbidden", "login": null, "missing": ["inventory.change_item"], "path": "/stacked"})
    );

    // Errors a handler returns are rendered by the same hook.
    for (path, reason) in [("/raise/99", "forbidden"), ("/in-body", "forbidden")] {
        let seen = get(&app, path, plain.as_ref()).await;
        assert_eq!(seen.status, StatusCode::FORBIDDEN, "{path}");
        let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
        assert_eq!(body["reason"], reason, "{path}");
    }
    let seen = get(&app, "/in-body", None).await;
    let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(body["login"], "/accounts/login/?next=/in-body");
    assert_eq!(hits.get(), 0);
}

/// The memory backend, plus: a user holds change_item on the object whose
/// id is their own (a backend with a rule of its own, not a table).
struct Owners(Arc<MemoryBackend>);

impl Layer for Owners {
    type Inner = Arc<MemoryBackend>;
    fn inner(&self) -> &Arc<MemoryBackend> {
        &self.0
    }
    async fn object_permissions(&self, user: &dyn AuthUser, object: &str) -> PermsResult {
        let mut set = PermissionSet::new();
        if object == user.id() {
            set.insert("inventory.change_item");
        }
        Ok(Arc::new(set))
    }
}

#[get("/owned/{owner}")]
async fn edit_owned(
    user: CurrentUser,
    owner: web::Path<String>,
) -> Result<HttpResponse, PermitError> {
    if user.has_perm_on("inventory.change_item", &owner).await? {
        Ok(HttpResponse::Ok().body("yours"))
    } else {
        Err(PermissionDenied.into())
    }
}

#[actix_rt::test]
async fn object_permissions_go_through_the_backend() {
    let hits = Arc::new(Hits::default());
    // The default backend grants no object permissions.
    let app = app(Permit::new(backend()), hits.clone(), routes).await;
    let plain = login_as(&app, "plain").await; // id 1
    assert_eq!(
        get(&app, "/owned/1", plain.as_ref()).await.status,
        StatusCode::FORBIDDEN
    );

    let app = app_with_owners().await;
    let plain = login_as(&app, "plain").await; // id 1, holds nothing
    let direct = login_as(&app, "direct").await; // the model permission
    let superuser = login_as(&app, "super").await;
    for (cookie, path, status) in [
        (&plain, "/owned/1", StatusCode::OK),
        (&plain, "/owned/3", StatusCode::FORBIDDEN),
        (&direct, "/owned/3", StatusCode::OK),
        (&superuser, "/owned/3", StatusCode::OK),
        (&None, "/owned/1", StatusCode::FORBIDDEN),
    ] {
        assert_eq!(
            get(&app, path, cookie.as_ref()).await.status,
            status,
            "{path}"
        );
    }
}

async fn app_with_owners() -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
> {
    app(
        Permit::new(Owners(backend())),
        Arc::new(Hits::default()),
        routes,
    )
    .await
}
