//! Failing closed: a backend that errors, a missing middleware, a panicking
//! predicate. The handler never runs, the client never gets 200, and the
//! failure is logged.

use actix_permit::backend::{Authentication as _, Authorization as _};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_permit::{
    CurrentUser, Permit, PermitError, authenticate, login_required, permission_required,
    user_passes_test,
};
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, get, post, test, web};

use crate::support::{Flaky, Hits, Logs, PASSWORD, app, backend, get, login_as, send, session};

#[get("/login")]
#[login_required]
async fn needs_login(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

#[get("/perm")]
#[permission_required("inventory.change_item")]
async fn needs_perm(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

fn explodes(_: &CurrentUser) -> bool {
    panic!("predicate bug")
}

#[get("/panics")]
#[user_passes_test(explodes)]
async fn guarded_by_panic(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

async fn never_answers(_: &CurrentUser) -> bool {
    std::future::pending().await
}

async fn never_answers_on(_: &CurrentUser, _: &str) -> bool {
    std::future::pending().await
}

#[get("/hangs")]
#[user_passes_test(never_answers)]
async fn guarded_by_hang(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

#[get("/hangs/{id}")]
#[user_passes_test(never_answers_on, object = "id")]
async fn guarded_by_hang_on(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

/// Checks the password of `direct` through the backend.
#[post("/signin")]
async fn signin(req: HttpRequest, hits: web::Data<Hits>) -> Result<HttpResponse, PermitError> {
    let user = authenticate(&req, "direct", PASSWORD).await?;
    hits.hit();
    Ok(HttpResponse::Ok().body(if user.is_some() { "in" } else { "wrong" }))
}

/// Asks the backend about one object.
#[get("/object")]
#[login_required]
async fn object(user: CurrentUser, hits: web::Data<Hits>) -> Result<HttpResponse, PermitError> {
    let allowed = user.has_perm_on("inventory.delete_item", "7").await?;
    hits.hit();
    Ok(HttpResponse::Ok().body(if allowed { "yes" } else { "no" }))
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(needs_login)
        .service(needs_perm)
        .service(guarded_by_panic)
        .service(guarded_by_hang)
        .service(guarded_by_hang_on)
        .service(signin)
        .service(object);
}

#[actix_rt::test]
async fn a_failing_backend_gives_503_and_is_logged() {
    let (logs, _guard) = Logs::capture();
    let flaky = Flaky::new(backend());
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(flaky.clone()), hits.clone(), routes).await;
    let direct = login_as(&app, "direct").await;

    assert_eq!(
        get(&app, "/perm", direct.as_ref()).await.status,
        StatusCode::OK
    );
    assert_eq!(hits.get(), 1);

    flaky.fail_perms.store(true, Ordering::SeqCst);
    let seen = get(&app, "/perm", direct.as_ref()).await;
    assert_eq!(seen.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(seen.body, "Service Unavailable");
    assert!(
        !seen.body.contains("database"),
        "the error is not shown to the client"
    );
    // Loading the user still works, so login_required still passes.
    assert_eq!(
        get(&app, "/login", direct.as_ref()).await.status,
        StatusCode::OK
    );
    assert_eq!(hits.get(), 2);

    flaky.fail_users.store(true, Ordering::SeqCst);
    for path in ["/login", "/perm"] {
        let seen = get(&app, path, direct.as_ref()).await;
        assert_eq!(seen.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
    }
    assert_eq!(hits.get(), 2);
    let logs = logs.text();
    assert!(
        logs.contains("could not load the user's permissions"),
        "{logs}"
    );
    assert!(logs.contains("could not load the session's user"), "{logs}");
    assert!(logs.contains("database is down"), "{logs}");
}

#[actix_rt::test]
async fn a_panicking_predicate_gives_500_and_the_worker_lives_on() {
    let (logs, _guard) = Logs::capture();
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(backend()), hits.clone(), routes).await;
    let cookie = login_as(&app, "super").await;
    for _ in 0..3 {
        let seen = get(&app, "/panics", cookie.as_ref()).await;
        assert_eq!(seen.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    assert_eq!(
        get(&app, "/perm", cookie.as_ref()).await.status,
        StatusCode::OK
    );
    assert_eq!(hits.get(), 1);
    assert!(
        logs.text().contains("the access predicate panicked"),
        "{}",
        logs.text()
    );
}

/// Issue 25, part 5: an async predicate is bounded by the backend
/// timeout, as backend calls are, and a late one fails closed.
#[actix_rt::test]
async fn a_hanging_async_predicate_fails_closed_within_the_timeout() {
    let (logs, _guard) = Logs::capture();
    let hits = Arc::new(Hits::default());
    let permit = Permit::new(backend()).backend_timeout(Some(Duration::from_millis(100)));
    let app = app(permit, hits.clone(), routes).await;
    let cookie = login_as(&app, "super").await;
    for path in ["/hangs", "/hangs/7"] {
        let seen = get(&app, path, cookie.as_ref()).await;
        assert_eq!(seen.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
    }
    assert_eq!(hits.get(), 0);
    assert!(
        logs.text()
            .contains("the access predicate did not answer within 100ms"),
        "{}",
        logs.text()
    );
}

#[actix_rt::test]
async fn a_missing_middleware_gives_500_and_is_logged() {
    let (logs, _guard) = Logs::capture();
    let hits = Arc::new(Hits::default());
    let app = test::init_service(
        App::new()
            .app_data(web::Data::from(hits.clone()))
            .configure(routes)
            .route(
                "/who",
                web::get().to(|user: CurrentUser| async move {
                    HttpResponse::Ok().body(format!("{user:?}"))
                }),
            )
            .wrap(session()),
    )
    .await;
    for path in ["/login", "/perm", "/panics", "/who"] {
        let seen = get(&app, path, None).await;
        assert_eq!(seen.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
    }
    assert_eq!(hits.get(), 0);
    assert!(
        logs.text()
            .contains("Permit middleware does not wrap this route"),
        "{}",
        logs.text()
    );
}

/// A backend that hangs or panics, to order.
struct Misbehaving {
    inner: std::sync::Arc<actix_permit::backend::MemoryBackend>,
    mode: std::sync::Mutex<&'static str>,
}

impl Misbehaving {
    async fn act<T>(&self, on: &str, ok: impl std::future::Future<Output = T>) -> T {
        let mode = *self.mode.lock().unwrap();
        match mode.split_once(' ') {
            Some(("hang", what)) if what == on => std::future::pending().await,
            Some(("panic", what)) if what == on => panic!("backend bug"),
            _ => ok.await,
        }
    }
}

impl actix_permit::backend::Layer for Misbehaving {
    type Inner = std::sync::Arc<actix_permit::backend::MemoryBackend>;
    fn inner(&self) -> &Self::Inner {
        &self.inner
    }
    async fn get_user(&self, id: &str) -> actix_permit::backend::UserResult {
        self.act("user", self.inner.get_user(id)).await
    }
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> actix_permit::backend::UserResult {
        self.act("authenticate", self.inner.authenticate(username, password))
            .await
    }
    async fn user_permissions(
        &self,
        user: &dyn actix_permit::AuthUser,
    ) -> actix_permit::backend::PermsResult {
        self.act("perms", self.inner.user_permissions(user)).await
    }
    async fn object_permissions(
        &self,
        user: &dyn actix_permit::AuthUser,
        id: &str,
    ) -> actix_permit::backend::PermsResult {
        self.act("object", self.inner.object_permissions(user, id))
            .await
    }
}

#[actix_rt::test]
async fn a_hanging_or_panicking_backend_fails_closed_within_the_timeout() {
    let (logs, _guard) = Logs::capture();
    let backend = std::sync::Arc::new(Misbehaving {
        inner: backend(),
        mode: std::sync::Mutex::new("fine"),
    });
    let hits = Arc::new(Hits::default());
    let permit =
        Permit::new(backend.clone()).backend_timeout(Some(std::time::Duration::from_millis(100)));
    let app = app(permit, hits.clone(), routes).await;
    let direct = login_as(&app, "direct").await;
    assert_eq!(
        get(&app, "/perm", direct.as_ref()).await.status,
        StatusCode::OK
    );

    let signed_in = send(&app, test::TestRequest::post().uri("/signin"), None).await;
    assert_eq!(
        (signed_in.status, signed_in.body.as_str()),
        (StatusCode::OK, "in")
    );
    let checked = get(&app, "/object", direct.as_ref()).await;
    assert_eq!(
        (checked.status, checked.body.as_str()),
        (StatusCode::OK, "no")
    );
    let before = hits.get();
    for (mode, path) in [
        ("hang user", "/login"),
        ("hang perms", "/perm"),
        ("panic user", "/login"),
        ("panic perms", "/perm"),
        ("panic user", "/perm"),
        ("hang authenticate", "/signin"),
        ("panic authenticate", "/signin"),
        ("hang object", "/object"),
        ("panic object", "/object"),
    ] {
        *backend.mode.lock().unwrap() = mode;
        let started = std::time::Instant::now();
        let method = if path == "/signin" { "POST" } else { "GET" };
        let req = test::TestRequest::default()
            .method(method.parse().unwrap())
            .uri(path);
        let seen = send(&app, req, direct.as_ref()).await;
        assert_eq!(
            seen.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{mode} {path}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{mode}: bounded by the timeout"
        );
    }
    *backend.mode.lock().unwrap() = "fine";
    assert_eq!(
        get(&app, "/perm", direct.as_ref()).await.status,
        StatusCode::OK,
        "the worker lives on"
    );
    assert_eq!(hits.get(), before + 1, "no handler went on after a failure");
    let logs = logs.text();
    for message in [
        "authenticating timed out after 100ms",
        "the backend panicked while authenticating",
        "checking an object permission timed out after 100ms",
        "the backend panicked while checking an object permission",
    ] {
        assert!(logs.contains(message), "{message}: {logs}");
    }
    assert!(
        logs.contains("loading the user timed out after 100ms"),
        "{logs}"
    );
    assert!(
        logs.contains("loading permissions timed out after 100ms"),
        "{logs}"
    );
    assert!(
        logs.contains("the backend panicked while loading the user"),
        "{logs}"
    );
    assert!(
        logs.contains("the backend panicked while loading permissions"),
        "{logs}"
    );
}
