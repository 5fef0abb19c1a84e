//! What a check costs per request, side by side in one run: no check, the
//! same check written by hand, our macros, and actix-web-grants' `#[protect]`
//! on the same permission set; an object permission beside the model one;
//! then the SQL backend on a SQLite file, with its exact cache and without.
//!
//! Every variant is served by the same `App` (cookie sessions + `Permit`),
//! for the same logged-in user, warm. Run: `cargo bench -p actix-permit --bench checks`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

mod shared;

use actix_permit::backend::{
    Authentication, Backend, Layer, MemoryBackend, PermsResult, SqlBackend, SqlOptions, UserResult,
};
use actix_permit::{
    AuthUser, CurrentUser, LoginRequired, Permit, PermitError, authenticate, login,
    login_not_required, login_required, permission_required,
};
use actix_session::SessionMiddleware;
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Cookie, Key};
use actix_web::dev::Service;
use actix_web::{App, HttpRequest, HttpResponse, test, web};
use criterion::{Criterion, criterion_group, criterion_main};
use shared::{by_grants, by_hand, by_macro, by_model_on_route, by_object, grants_extractor, open};

const PASSWORD: &str = "bench password";

// Every handler answers the same idiomatic `&'static str` (200, text/plain).

/// The same check for a permission the `denied` user holds: tells a user's
/// cost from the denial's.
#[permission_required("app.filler_0")]
async fn by_macro_other() -> &'static str {
    "ok"
}

#[login_required]
async fn by_login() -> &'static str {
    "ok"
}

/// Public under deny-by-default.
#[login_not_required]
#[actix_web::get("/public")]
async fn public_open() -> &'static str {
    "ok"
}

/// Ten permissions; the user holds only the last.
#[permission_required(any(
    "app.p0",
    "app.p1",
    "app.p2",
    "app.p3",
    "app.p4",
    "app.p5",
    "app.p6",
    "app.p7",
    "app.p8",
    "app.filler_198"
))]
async fn by_any() -> &'static str {
    "ok"
}

/// Several checks on one request: two macros and one in the body.
#[permission_required("app.perm")]
#[permission_required(any("app.filler_1", "app.filler_2"))]
async fn several(user: CurrentUser) -> Result<&'static str, PermitError> {
    user.require_perm("app.filler_3").await?;
    Ok("ok")
}

async fn test_login(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    match authenticate(&req, &name, PASSWORD).await {
        Ok(Some(user)) => match login(&req, &*user).await {
            Ok(()) => HttpResponse::Ok().finish(),
            Err(_) => HttpResponse::Unauthorized().finish(),
        },
        _ => HttpResponse::Unauthorized().finish(),
    }
}

/// Counts what the backend is asked.
struct Counting<B> {
    inner: B,
    users: AtomicUsize,
    perms: AtomicUsize,
}

impl<B: Backend> Layer for Counting<B> {
    type Inner = B;
    fn inner(&self) -> &B {
        &self.inner
    }
    async fn get_user(&self, id: &str) -> UserResult {
        self.users.fetch_add(1, Ordering::Relaxed);
        self.inner.get_user(id).await
    }
    async fn user_permissions(&self, user: &dyn AuthUser) -> PermsResult {
        self.perms.fetch_add(1, Ordering::Relaxed);
        self.inner.user_permissions(user).await
    }
    async fn object_permissions(&self, user: &dyn AuthUser, object: &str) -> PermsResult {
        self.perms.fetch_add(1, Ordering::Relaxed);
        self.inner.object_permissions(user, object).await
    }
}

fn perms() -> Vec<String> {
    (0..199).map(|i| format!("app.filler_{i}")).collect()
}

fn memory_backend() -> MemoryBackend {
    let backend = MemoryBackend::new();
    let fillers = perms();
    for (name, main) in [("allowed", Some("app.perm")), ("denied", None)] {
        backend.add_user(name, PASSWORD).unwrap();
        for perm in fillers.iter().map(String::as_str).chain(main) {
            backend.grant(name, perm).unwrap();
        }
    }
    backend
        .grant_object("allowed", "app.object_perm", "7")
        .unwrap();
    backend
}

/// A fresh SQLite file, with the exact cache on or off.
async fn sql_backend(name: &str, exact_cache: bool) -> SqlBackend {
    let path = std::env::temp_dir().join(format!(
        "actix-permit-bench-{name}-{}.db",
        std::process::id()
    ));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = format!("sqlite://{}", path.display());
    let options = SqlOptions::new().exact_cache(exact_cache);
    let backend = SqlBackend::connect_with(&url, options).await.unwrap();
    let mut all = perms();
    all.push("app.perm".to_owned());
    for perm in all.iter().map(String::as_str).chain(["app.object_perm"]) {
        backend.create_permission(perm, perm).await.unwrap();
    }
    for name in ["allowed", "denied"] {
        backend.create_user(name, PASSWORD).await.unwrap();
    }
    for perm in &all {
        backend.grant("allowed", perm).await.unwrap();
    }
    // `denied` holds the fillers through a group, not `app.perm`.
    let fillers: Vec<&str> = all[..199].iter().map(String::as_str).collect();
    backend.create_group("fillers", &fillers).await.unwrap();
    backend
        .add_user_to_group("denied", "fillers")
        .await
        .unwrap();
    backend
        .grant_object("allowed", "app.object_perm", "7")
        .await
        .unwrap();
    backend
}

fn bench_app(
    c: &mut Criterion,
    group_name: &str,
    permit: Permit,
    counting: Option<&Counting<Arc<SqlBackend>>>,
    rt: &actix_rt::SystemRunner,
) {
    let app = rt.block_on(test::init_service(
        App::new()
            .route("/login/{name}", web::post().to(test_login))
            .route("/open", web::get().to(open))
            .route("/hand", web::get().to(by_hand))
            .route("/macro", web::get().to(by_macro))
            .route("/other", web::get().to(by_macro_other))
            .route("/login", web::get().to(by_login))
            .route("/any", web::get().to(by_any))
            .route("/several", web::get().to(several))
            .route("/model/{id}", web::get().to(by_model_on_route))
            .route("/object/{id}", web::get().to(by_object))
            .service(
                // The same scope without the middleware: the baseline.
                actix_permit::scope("/scoped")
                    .route("/open", web::get().to(open))
                    .route("/macro", web::get().to(by_macro))
                    .service(public_open),
            )
            .service(
                actix_permit::scope("/deny")
                    .route("/open", web::get().to(open))
                    .route("/macro", web::get().to(by_macro))
                    .service(public_open)
                    .wrap(LoginRequired::new()),
            )
            .service(
                web::scope("/grants")
                    .wrap(actix_web_grants::GrantsMiddleware::with_extractor(
                        grants_extractor,
                    ))
                    .route("/protect", web::get().to(by_grants)),
            )
            .wrap(permit)
            .wrap(
                SessionMiddleware::builder(CookieSessionStore::default(), Key::from(&[3; 64]))
                    .cookie_secure(false)
                    .build(),
            ),
    ));
    let cookie = |name: &str| -> Cookie<'static> {
        let res = rt.block_on(test::call_service(
            &app,
            test::TestRequest::post()
                .uri(&format!("/login/{name}"))
                .to_request(),
        ));
        assert!(res.status().is_success(), "login {name}");
        res.response().cookies().next().unwrap().into_owned()
    };
    let allowed = cookie("allowed");
    let denied = cookie("denied");
    let anonymous = Cookie::new("unrelated", "anonymous");
    let call = |path: &str, cookie: &Cookie<'static>| {
        let req = test::TestRequest::get()
            .uri(path)
            .cookie(cookie.clone())
            .to_request();
        let res = rt.block_on(app.call(req)).unwrap();
        black_box(res.status())
    };
    let variants: &[(&str, &str, &Cookie<'static>, u16)] = &[
        ("unprotected", "/open", &allowed, 200),
        ("by_hand/allowed", "/hand", &allowed, 200),
        ("by_hand/denied", "/hand", &denied, 403),
        ("permission_required/allowed", "/macro", &allowed, 200),
        ("permission_required/denied", "/macro", &denied, 403),
        (
            "permission_required/allowed_denied_user",
            "/other",
            &denied,
            200,
        ),
        ("login_required", "/login", &allowed, 200),
        ("grants_protect/allowed", "/grants/protect", &allowed, 200),
        ("grants_protect/denied", "/grants/protect", &denied, 403),
        ("any_of_10_holding_200", "/any", &allowed, 200),
        ("several_checks", "/several", &allowed, 200),
        ("model_permission_on_route", "/model/7", &allowed, 200),
        ("object_permission/allowed", "/object/7", &allowed, 200),
        ("object_permission/denied", "/object/8", &allowed, 403),
        ("scoped/open", "/scoped/open", &allowed, 200),
        ("scoped/open_anonymous", "/scoped/public", &anonymous, 200),
        ("scoped/permission_required", "/scoped/macro", &allowed, 200),
        ("deny_by_default/unannotated", "/deny/open", &allowed, 200),
        (
            "deny_by_default/public_anonymous",
            "/deny/public",
            &anonymous,
            200,
        ),
        (
            "deny_by_default/anonymous_denied",
            "/deny/open",
            &anonymous,
            403,
        ),
        (
            "deny_by_default/permission_required",
            "/deny/macro",
            &allowed,
            200,
        ),
    ];
    let mut group = c.benchmark_group(group_name);
    for (name, path, cookie, status) in variants {
        assert_eq!(call(path, cookie).as_u16(), *status, "{name}");
        group.bench_function(*name, |b| b.iter(|| call(path, cookie)));
    }
    group.finish();

    if let Some(counting) = counting {
        for (name, path) in [
            ("object_permission", "/object/7"),
            ("several_checks", "/several"),
            ("permission_required", "/macro"),
            ("login_required", "/login"),
            ("unprotected", "/open"),
        ] {
            let (users, perms) = (
                counting.users.load(Ordering::Relaxed),
                counting.perms.load(Ordering::Relaxed),
            );
            const N: usize = 100;
            for _ in 0..N {
                call(path, &allowed);
            }
            let users = counting.users.load(Ordering::Relaxed) - users;
            let perms = counting.perms.load(Ordering::Relaxed) - perms;
            let queries = counting.inner.cache_stats().map(|stats| stats.queries);
            for _ in 0..N {
                call(path, &allowed);
            }
            let queries = match (queries, counting.inner.cache_stats()) {
                (Some(before), Some(after)) => {
                    format!("{:.2}", (after.queries - before) as f64 / N as f64)
                }
                _ => "every backend call (no cache)".to_owned(),
            };
            println!(
                "{group_name}/{name}: backend calls per request: user {:.2}, permissions (model and object) {:.2}; \
                 database queries per request: {queries}",
                users as f64 / N as f64,
                perms as f64 / N as f64
            );
        }
    }
}

/// A failed login takes as long for an unknown user as for a wrong
/// password (a dummy hash is verified), so its timing tells nothing.
fn login_timing(c: &mut Criterion, rt: &actix_rt::SystemRunner) {
    let backend = memory_backend();
    let mut group = c.benchmark_group("login");
    group.sample_size(30);
    for (name, user, password) in [
        ("unknown_user", "nobody", "wrong"),
        ("wrong_password", "allowed", "wrong"),
        ("right_password", "allowed", PASSWORD),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    rt.block_on(backend.authenticate(user, password))
                        .unwrap()
                        .is_some(),
                )
            })
        });
    }
    group.finish();
}

fn checks(c: &mut Criterion) {
    let rt = actix_rt::System::new();
    login_timing(c, &rt);
    bench_app(c, "memory", Permit::new(memory_backend()), None, &rt);

    for (group, exact_cache) in [("sqlite", true), ("sqlite_uncached", false)] {
        let sql = Arc::new(rt.block_on(sql_backend(group, exact_cache)));
        let counting = Arc::new(Counting {
            inner: sql,
            users: AtomicUsize::new(0),
            perms: AtomicUsize::new(0),
        });
        bench_app(
            c,
            group,
            Permit::new(counting.clone()),
            Some(&counting),
            &rt,
        );
    }
}

criterion_group!(benches, checks);
criterion_main!(benches);
