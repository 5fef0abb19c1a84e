//! `LoginRequired`: every route needs a user unless its handler is
//! `#[login_not_required]` (above its routing attribute, registered on the
//! app or in `actix_permit::scope`s) or its path is listed as public;
//! unmatched URLs get the login response too (a `default_service` could
//! answer them). The invariant over generated apps is in `deny_model.rs`.

use std::sync::Arc;

use actix_permit::config::Config;
use actix_permit::{LoginRequired, Permit, login_not_required, permission_required, scope};
use actix_web::guard::GuardContext;
use actix_web::http::{Method, StatusCode};
use actix_web::{App, HttpResponse, get, post, route, test, web};

use crate::support::{Hits, backend, get, login_as, send, session, session_routes};

/// Counts the run and answers `body`.
fn ran(hits: &Hits, body: &'static str) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body(body)
}

#[login_not_required]
#[get("/")]
async fn home(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "home")
}

#[get("/dashboard")]
async fn dashboard(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "dashboard")
}

#[login_not_required]
#[get("/items")]
async fn list_items(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "items")
}

/// Same path as the public `list_items`, another method, no attribute.
#[post("/items")]
async fn create_item(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "created")
}

/// Below `#[get]` the attribute cannot see the route: stays protected.
#[get("/below")]
#[login_not_required]
async fn below(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "below")
}

fn always(_: &GuardContext<'_>) -> bool {
    true
}

/// A custom guard could let a request fall through; the sentinel after the
/// route catches what the guard refuses, so the route stays public.
#[login_not_required]
#[get("/guarded", guard = "always")]
async fn guarded(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "guarded")
}

#[login_not_required]
#[get("/about", name = "about_page")]
async fn about(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "about")
}

#[login_not_required]
#[route("/ping", method = "GET", method = "PUT")]
async fn ping(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "pong")
}

/// Two public handlers on one path: the router skips the first for a POST.
#[login_not_required]
#[get("/signin")]
async fn signin_form(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "form")
}

#[login_not_required]
#[post("/signin")]
async fn signin_submit(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "submitted")
}

/// Public, but behind a resource routed by hand on the same path, whose
/// methods nobody registered: stays protected.
#[login_not_required]
#[post("/contact")]
async fn contact_submit(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "sent")
}

#[get("/edit")]
#[permission_required("inventory.change_item")]
async fn edit(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "edit")
}

#[login_not_required]
#[get("/status")]
async fn api_status(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "status")
}

#[get("/secret")]
async fn api_secret(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "secret")
}

/// Public, but inside a `web::scope`, which could carry a guard: stays
/// protected.
#[login_not_required]
#[get("/status")]
async fn legacy_status(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "legacy status")
}

async fn unannotated(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "by hand")
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(home)
        .service(dashboard)
        .service(list_items)
        .service(create_item)
        .service(below)
        .service(guarded)
        .service(about)
        .service(ping)
        .service(edit)
        .service(signin_form)
        .service(signin_submit)
        .route("/contact", web::get().to(unannotated))
        .service(contact_submit)
        .service(actix_permit_tests::library_public)
        .route("/manual", web::get().to(unannotated))
        .route("/static/{file}", web::get().to(unannotated))
        .route("/staticky", web::get().to(unannotated))
        .service(scope("/api").service(scope("/v1").service(api_status).service(api_secret)))
        .service(web::scope("/legacy").service(legacy_status));
}

macro_rules! deny_by_default_app {
    ($hits:expr, $permit:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::from(Arc::clone(&$hits)))
                .configure(session_routes)
                .configure(routes)
                .wrap(
                    LoginRequired::new()
                        .public("/static/")
                        .public("/test/login/"),
                )
                .wrap($permit)
                .wrap(session()),
        )
        .await
    };
}

/// (method, path, anonymous may reach it)
const TABLE: [(&str, &str, bool); 22] = [
    ("GET", "/library/public", true),
    ("GET", "/signin", true),
    ("POST", "/signin", true),
    ("GET", "/contact", false),
    ("POST", "/contact", false),
    ("GET", "/", true),
    ("GET", "/dashboard", false),
    ("GET", "/items", true),
    ("POST", "/items", false),
    ("GET", "/below", false),
    ("GET", "/guarded", true),
    ("GET", "/about", true),
    ("GET", "/ping", true),
    ("PUT", "/ping", true),
    ("GET", "/edit", false),
    ("GET", "/manual", false),
    ("GET", "/static/app.css", true),
    ("GET", "/staticky", false),
    ("GET", "/api/v1/status", true),
    ("GET", "/api/v1/secret", false),
    ("GET", "/test/whoami", false),
    ("GET", "/legacy/status", false),
];

/// The library's handler and the test login routes count no hits.
fn counts_hits(path: &str) -> bool {
    !path.starts_with("/library/") && path != "/test/whoami"
}

#[actix_web::test]
async fn anonymous_requests_reach_only_public_handlers() {
    let hits = Arc::new(Hits::default());
    let app = deny_by_default_app!(hits, Permit::new(backend()));
    for (method, path, public) in TABLE {
        let before = hits.get();
        let seen = send(
            &app,
            test::TestRequest::default()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri(path),
            None,
        )
        .await;
        let ran = hits.get() - before;
        if public {
            assert_eq!(seen.status, StatusCode::OK, "{method} {path}: {seen:?}");
            assert_eq!(ran, usize::from(counts_hits(path)), "{method} {path}");
        } else {
            assert_eq!(
                seen.status,
                StatusCode::FORBIDDEN,
                "{method} {path}: {seen:?}"
            );
            assert_eq!(seen.body, "Forbidden", "{method} {path}");
            assert_eq!(ran, 0, "{method} {path} ran for an anonymous user");
        }
    }
}

#[actix_web::test]
async fn signed_in_users_reach_every_route_their_checks_allow() {
    let hits = Arc::new(Hits::default());
    let app = deny_by_default_app!(hits, Permit::new(backend()));
    let plain = login_as(&app, "plain").await;
    let direct = login_as(&app, "direct").await;
    for (method, path, _) in TABLE {
        let before = hits.get();
        let seen = send(
            &app,
            test::TestRequest::default()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri(path),
            plain.as_ref(),
        )
        .await;
        // The one permission check still applies on top.
        let expected = if path == "/edit" {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        };
        assert_eq!(seen.status, expected, "{method} {path}: {seen:?}");
        let counted = path != "/edit" && counts_hits(path);
        assert_eq!(hits.get() - before, usize::from(counted), "{method} {path}");
    }
    let seen = get(&app, "/edit", direct.as_ref()).await;
    assert_eq!(seen.status, StatusCode::OK);
    let seen = get(&app, "/test/whoami", plain.as_ref()).await;
    assert_ne!(seen.body, "anonymous");
}

#[actix_web::test]
async fn unmatched_urls_need_a_user_and_then_answer_404() {
    let hits = Arc::new(Hits::default());
    let app = deny_by_default_app!(
        hits,
        Permit::new(backend()).config(Config::default().login_url("/login"))
    );
    let plain = login_as(&app, "plain").await;
    for path in ["/nope", "/api/nope", "/api/v1/nope", "/items/1/more"] {
        let seen = get(&app, path, None).await;
        assert_eq!(seen.status, StatusCode::FOUND, "{path}: {seen:?}");
        let next = format!("/login?next={path}");
        assert_eq!(seen.location.as_deref(), Some(next.as_str()), "{path}");
        let seen = get(&app, path, plain.as_ref()).await;
        assert_eq!(seen.status, StatusCode::NOT_FOUND, "{path}: {seen:?}");
    }
    // A matched path with a method no route takes is not public.
    let seen = send(&app, test::TestRequest::delete().uri("/"), None).await;
    assert_eq!(seen.status, StatusCode::FOUND, "{seen:?}");
    assert_eq!(hits.get(), 0);
}

#[actix_web::test]
async fn anonymous_users_get_the_configured_login_redirect() {
    let hits = Arc::new(Hits::default());
    let app = deny_by_default_app!(
        hits,
        Permit::new(backend()).config(Config::default().login_url("/accounts/login/"))
    );
    let seen = get(&app, "/api/v1/secret?page=2", None).await;
    assert_eq!(seen.status, StatusCode::FOUND);
    assert_eq!(
        seen.location.as_deref(),
        Some("/accounts/login/?next=/api/v1/secret%3Fpage%3D2")
    );
    assert_eq!(
        get(&app, "/api/v1/status", None).await.status,
        StatusCode::OK
    );
    assert_eq!(hits.get(), 1);
}

#[actix_web::test]
async fn percent_encoded_paths_are_looked_up_as_the_router_sees_them() {
    let hits = Arc::new(Hits::default());
    let app = deny_by_default_app!(hits, Permit::new(backend()));
    // The router decodes `%61` to `a`: this is /dashboard, not an unknown URL.
    let seen = get(&app, "/d%61shboard", None).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN, "{seen:?}");
    let seen = get(&app, "/%73tatic/app.css", None).await;
    assert_eq!(seen.status, StatusCode::OK, "{seen:?}");
    assert_eq!(hits.get(), 1);
}

#[login_not_required]
#[get("/panel")]
async fn admin_public(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "admin public")
}

#[get("/users")]
async fn admin_users(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "admin users")
}

#[get("/open")]
async fn open(hits: web::Data<Hits>) -> HttpResponse {
    ran(&hits, "open")
}

#[actix_web::test]
async fn on_a_scope_it_guards_that_scope_and_the_ones_inside() {
    let hits = Arc::new(Hits::default());
    let app = test::init_service(
        App::new()
            .app_data(web::Data::from(Arc::clone(&hits)))
            .configure(session_routes)
            .service(open)
            .service(
                scope("/admin")
                    .service(admin_public)
                    .service(web::scope("/deep").service(admin_users))
                    .wrap(LoginRequired::new()),
            )
            .wrap(Permit::new(backend()))
            .wrap(session()),
    )
    .await;
    let cases = [
        ("/open", StatusCode::OK),
        ("/admin/panel", StatusCode::OK),
        ("/admin/deep/users", StatusCode::FORBIDDEN),
        ("/admin/deep/nope", StatusCode::FORBIDDEN),
        ("/admin/nope", StatusCode::FORBIDDEN),
        ("/nope", StatusCode::NOT_FOUND),
    ];
    for (path, status) in cases {
        assert_eq!(get(&app, path, None).await.status, status, "{path}");
    }
    assert_eq!(hits.get(), 2);
    let plain = login_as(&app, "plain").await;
    let seen = get(&app, "/admin/deep/users", plain.as_ref()).await;
    assert_eq!(
        (seen.status, seen.body.as_str()),
        (StatusCode::OK, "admin users")
    );
}

#[actix_web::test]
async fn without_permit_it_fails_closed() {
    let hits = Arc::new(Hits::default());
    let app = test::init_service(
        App::new()
            .app_data(web::Data::from(Arc::clone(&hits)))
            .service(dashboard)
            .service(home)
            .wrap(LoginRequired::new()),
    )
    .await;
    let seen = get(&app, "/dashboard", None).await;
    assert_eq!(seen.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(hits.get(), 0);
    assert_eq!(get(&app, "/", None).await.status, StatusCode::OK);
}

/// Issue 25, part 5: `public("/")` lists the home page, not every path.
#[actix_web::test]
async fn listing_the_home_page_makes_no_other_path_public() {
    let hits = Arc::new(Hits::default());
    let app = test::init_service(
        App::new()
            .app_data(web::Data::from(Arc::clone(&hits)))
            .route("/", web::get().to(unannotated))
            .route("/manual", web::get().to(unannotated))
            .route("/static/{file}", web::get().to(unannotated))
            .wrap(LoginRequired::new().public("/"))
            .wrap(Permit::new(backend()))
            .wrap(session()),
    )
    .await;
    assert_eq!(get(&app, "/", None).await.status, StatusCode::OK);
    for path in ["/manual", "/static/app.css", "//manual"] {
        let seen = get(&app, path, None).await;
        assert_eq!(seen.status, StatusCode::FORBIDDEN, "{path}: {seen:?}");
    }
    assert_eq!(hits.get(), 1);
}

/// Whether an app's service can be built: every middleware accepted its
/// place.
macro_rules! starts {
    ($app:expr) => {{
        use actix_service::IntoServiceFactory;
        use actix_web::dev::ServiceFactory;
        $app.into_factory()
            .new_service(actix_web::dev::AppConfig::default())
            .await
            .is_ok()
    }};
}

/// Issue 26: where `LoginRequired` sits is known by type, not by a type's
/// name: on an app, a plain scope or a `web::scope` the app starts; behind
/// another middleware, which could change the path after it decided, the
/// app does not start, and the log says what to change.
#[actix_web::test]
async fn behind_another_middleware_the_app_does_not_start() {
    let (logs, _guard) = crate::support::Logs::capture();
    let started = starts!(
        App::new()
            .service(open)
            .wrap(actix_web::middleware::NormalizePath::trim())
            .wrap(LoginRequired::new())
            .wrap(Permit::new(backend()))
            .wrap(session())
    );
    assert!(!started, "the app started");
    assert!(
        logs.text()
            .contains("Make LoginRequired the first .wrap() of the app or scope"),
        "{}",
        logs.text()
    );
    for started in [
        starts!(App::new().service(open).wrap(LoginRequired::new())),
        starts!(
            App::new().service(
                scope("/admin")
                    .service(admin_public)
                    .wrap(LoginRequired::new())
            )
        ),
        starts!(
            App::new().service(
                web::scope("/admin")
                    .service(admin_users)
                    .wrap(LoginRequired::new())
            )
        ),
    ] {
        assert!(started, "{}", logs.text());
    }
}
