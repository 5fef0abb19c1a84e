//! Every macro form × every kind of user: status, `Location`, and whether
//! the handler body ran.

use std::sync::Arc;

use actix_permit::{
    CurrentUser, Permit, backend::MemoryUser, login_required, permission_required, user_passes_test,
};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};

use crate::support::{Hits, USERS, app, backend, get, sessions};

#[get("/login")]
#[login_required]
async fn login_only(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("login only")
}

#[get("/login-redirect")]
#[login_required(login_url = "/accounts/login/")]
async fn login_redirect(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("login redirect")
}

#[get("/items/{id}/edit")]
#[permission_required("inventory.change_item", login_url = "/accounts/login/")]
async fn edit_item(id: web::Path<u32>, hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body(format!("edit {id}"))
}

#[get("/all")]
#[permission_required("inventory.change_item", "inventory.view_item")]
async fn all_perms(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("all")
}

#[get("/any")]
#[permission_required(any("inventory.delete_item", "inventory.change_item"))]
async fn any_perm(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("any")
}

fn is_grouped(user: &CurrentUser) -> bool {
    user.downcast::<MemoryUser>()
        .is_some_and(|u| u.username() == "grouped")
}

#[get("/test-sync")]
#[user_passes_test(is_grouped)]
async fn test_sync(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("sync test")
}

async fn can_view(user: &CurrentUser) -> bool {
    user.has_perm("inventory.view_item").await.unwrap_or(false)
}

#[get("/test-async")]
#[user_passes_test(can_view, login_url = "/login/?a=b", redirect_field = "to")]
async fn test_async(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("async test")
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(login_only)
        .service(login_redirect)
        .service(edit_item)
        .service(all_perms)
        .service(any_perm)
        .service(test_sync)
        .service(test_async);
}

/// What a user should see.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Ok,
    Forbidden,
    Redirect(&'static str),
}
use Expect::{Forbidden as F, Ok as O, Redirect as R};

const EDIT_LOGIN: &str = "/accounts/login/?next=/items/3/edit%3Fx%3D1";
const LOGIN_REDIRECT: &str = "/accounts/login/?next=/login-redirect";
const ASYNC_LOGIN: &str = "/login/?a=b&to=/test-async";

/// Rows: path, then one answer per user of `USERS`
/// (anonymous, plain, direct, grouped, super, inactive).
const MATRIX: [(&str, [Expect; 6]); 7] = [
    ("/login", [F, O, O, O, O, F]),
    (
        "/login-redirect",
        [R(LOGIN_REDIRECT), O, O, O, O, R(LOGIN_REDIRECT)],
    ),
    (
        "/items/3/edit?x=1",
        [R(EDIT_LOGIN), F, O, O, O, R(EDIT_LOGIN)],
    ),
    ("/all", [F, F, F, O, O, F]),
    ("/any", [F, F, O, O, O, F]),
    ("/test-sync", [F, F, F, O, F, F]),
    ("/test-async", [R(ASYNC_LOGIN), F, F, O, O, R(ASYNC_LOGIN)]),
];

#[actix_rt::test]
async fn every_macro_form_for_every_kind_of_user() {
    let backend = backend();
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(backend.clone()), hits.clone(), routes).await;
    let sessions = sessions(&app, &backend).await;
    assert_eq!(sessions.len(), USERS.len());

    for (path, row) in MATRIX {
        for ((user, cookie), expect) in sessions.iter().zip(row) {
            let before = hits.get();
            let seen = get(&app, path, cookie.as_ref()).await;
            let ran = hits.get() - before;
            let context = format!("{user} GET {path}: {seen:?}");
            match expect {
                Expect::Ok => {
                    assert_eq!(seen.status, StatusCode::OK, "{context}");
                    assert_eq!(ran, 1, "{context}");
                }
                Expect::Forbidden => {
                    assert_eq!(seen.status, StatusCode::FORBIDDEN, "{context}");
                    assert_eq!(seen.body, "Forbidden", "{context}");
                    assert_eq!(seen.location, None, "{context}");
                    assert_eq!(ran, 0, "{context}");
                }
                Expect::Redirect(location) => {
                    assert_eq!(seen.status, StatusCode::FOUND, "{context}");
                    assert_eq!(seen.location.as_deref(), Some(location), "{context}");
                    assert_eq!(ran, 0, "{context}");
                }
            }
        }
    }
}

#[get("/plain-login")]
#[login_required]
async fn plain_login(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

#[get("/own-field")]
#[permission_required("inventory.view_item", redirect_field = "return_to")]
async fn own_field(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

#[get("/own-url")]
#[login_required(login_url = "/sso/")]
async fn own_url(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

#[get("/elsewhere")]
#[login_required(login_url = "https://sso.example.com/login")]
async fn elsewhere(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

#[actix_rt::test]
async fn app_wide_login_url_and_macro_overrides() {
    let hits = Arc::new(Hits::default());
    let permit = Permit::new(backend()).config(
        actix_permit::config::Config::default()
            .login_url("/signin?a=b&next=stale")
            .site_origin("https://shop.example"),
    );
    let app = app(permit, hits.clone(), |cfg| {
        cfg.service(plain_login)
            .service(own_field)
            .service(own_url)
            .service(elsewhere);
    })
    .await;
    let cases = [
        (
            "/plain-login?q=%20x",
            "/signin?a=b&next=/plain-login%3Fq%3D%2520x",
        ),
        ("/own-field", "/signin?a=b&next=stale&return_to=/own-field"),
        ("/own-url", "/sso/?next=/own-url"),
        (
            "/elsewhere",
            "https://sso.example.com/login?next=https%3A//shop.example/elsewhere",
        ),
    ];
    for (path, location) in cases {
        let seen = get(&app, path, None).await;
        assert_eq!(seen.status, StatusCode::FOUND, "{path}");
        assert_eq!(seen.location.as_deref(), Some(location), "{path}");
    }
    assert_eq!(hits.get(), 0);

    // A logged-in user who lacks the permission is never sent to the login page.
    let cookie = crate::support::login_as(&app, "plain").await;
    let seen = get(&app, "/own-field", cookie.as_ref()).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN);
    assert_eq!(seen.location, None);
    assert_eq!(hits.get(), 0);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, failure_persistence: None, ..Default::default() })]

    /// Issue 25, part 4: whatever `Host`, `X-Forwarded-Host`,
    /// `X-Forwarded-Proto` and `Forwarded` a request carries, a login page
    /// on another site is sent back to the configured origin, or (with
    /// none configured) to the path alone: never to a host the client chose.
    #[test]
    fn the_absolute_next_never_comes_from_the_request_headers(
        headers in proptest::collection::vec(
            (
                proptest::sample::select(vec!["host", "x-forwarded-host", "x-forwarded-proto", "forwarded"]),
                "[a-z.:=;0-9-]{1,30}",
            ),
            0..4,
        ),
        origin in proptest::option::of(proptest::sample::select(vec!["https://shop.example", "http://127.0.0.1:8080"])),
    ) {
        let system = actix_rt::System::new();
        system.block_on(async {
            let mut config = actix_permit::config::Config::default();
            if let Some(origin) = origin {
                config = config.site_origin(origin);
            }
            let app = app(Permit::new(backend()).config(config), Arc::default(), |cfg| {
                cfg.service(elsewhere);
            })
            .await;
            let mut req = actix_web::test::TestRequest::get().uri("/elsewhere?x=1");
            for (name, value) in &headers {
                let value = if *name == "forwarded" { format!("host={value};proto=https") } else { value.clone() };
                req = req.append_header((*name, value));
            }
            let seen = crate::support::send(&app, req, None).await;
            let location = seen.location.unwrap_or_default();
            let next = location
                .strip_prefix("https://sso.example.com/login?next=")
                .map(|next| percent_encoding::percent_decode_str(next).decode_utf8_lossy().into_owned());
            let expected = format!("{}/elsewhere?x=1", origin.unwrap_or(""));
            proptest::prop_assert_eq!(next.as_deref(), Some(expected.as_str()), "{:?}", headers);
            Ok(())
        })?;
    }
}
