//! Sessions: logout, password changes, tampered cookies, deleted and
//! deactivated users.

use std::sync::Arc;

use actix_permit::{Permit, login_required};
use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, test, web};

use crate::support::{Hits, app, backend, get, login_as, send};

#[get("/private")]
#[login_required]
async fn private(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("private")
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(private);
}

#[actix_rt::test]
async fn logout_password_change_and_deactivation_end_sessions() {
    let backend = backend();
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(backend.clone()), hits.clone(), routes).await;

    let first = login_as(&app, "plain").await;
    let second = login_as(&app, "plain").await;
    assert_ne!(
        first.as_ref().map(Cookie::value),
        second.as_ref().map(Cookie::value)
    );
    for cookie in [&first, &second] {
        assert_eq!(
            get(&app, "/private", cookie.as_ref()).await.status,
            StatusCode::OK
        );
        assert_eq!(get(&app, "/test/whoami", cookie.as_ref()).await.body, "1");
    }

    // Logout removes the session client side.
    let seen = send(
        &app,
        test::TestRequest::post().uri("/test/logout"),
        first.as_ref(),
    )
    .await;
    let removal = seen.cookie.expect("logout sends a removal cookie");
    assert_eq!(removal.value(), "");

    // A password change ends every session of the user.
    backend.set_password("plain", "new password").unwrap();
    assert_eq!(
        get(&app, "/private", second.as_ref()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&app, "/test/whoami", second.as_ref()).await.body,
        "anonymous"
    );
    backend
        .set_password("plain", crate::support::PASSWORD)
        .unwrap();
    // The old session stays dead even when the password is set back.
    assert_eq!(
        get(&app, "/private", second.as_ref()).await.status,
        StatusCode::FORBIDDEN
    );

    // Deactivation and deletion make the session anonymous on the next request.
    let grouped = login_as(&app, "grouped").await;
    assert_eq!(
        get(&app, "/private", grouped.as_ref()).await.status,
        StatusCode::OK
    );
    backend.set_active("grouped", false).unwrap();
    assert_eq!(
        get(&app, "/private", grouped.as_ref()).await.status,
        StatusCode::FORBIDDEN
    );
    backend.set_active("grouped", true).unwrap();
    assert_eq!(
        get(&app, "/private", grouped.as_ref()).await.status,
        StatusCode::OK
    );
    backend.remove_user("grouped").unwrap();
    assert_eq!(
        get(&app, "/private", grouped.as_ref()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(hits.get(), 4);
}

#[actix_rt::test]
async fn tampered_or_foreign_cookies_are_anonymous() {
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(backend()), hits.clone(), routes).await;
    let cookie = login_as(&app, "super").await.unwrap();
    assert_eq!(
        get(&app, "/private", Some(&cookie)).await.status,
        StatusCode::OK
    );

    let value = cookie.value().to_owned();
    let mut flipped = value.clone().into_bytes();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    let variants = [
        String::from_utf8(flipped).unwrap(),
        value[..value.len() / 2].to_owned(),
        String::new(),
        "%%%not-a-cookie%%%".to_owned(),
        format!("{value}{value}"),
    ];
    for variant in variants {
        let bad = Cookie::new(cookie.name().to_owned(), variant.clone());
        let seen = get(&app, "/private", Some(&bad)).await;
        assert_eq!(seen.status, StatusCode::FORBIDDEN, "{variant}");
    }

    // A cookie made with another key is someone else's session: anonymous.
    let other_app = test::init_service(
        actix_web::App::new()
            .configure(crate::support::session_routes)
            .wrap(Permit::new(backend()))
            .wrap(
                actix_session::SessionMiddleware::builder(
                    actix_session::storage::CookieSessionStore::default(),
                    actix_web::cookie::Key::from(&[9; 64]),
                )
                .cookie_secure(false)
                .build(),
            ),
    )
    .await;
    let foreign = login_as(&other_app, "super").await.unwrap();
    assert_eq!(
        get(&app, "/private", Some(&foreign)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(hits.get(), 1);
}

#[get("/perm")]
#[actix_permit::permission_required("inventory.change_item")]
async fn perm(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

#[actix_rt::test]
async fn the_opt_in_permission_cache_is_stale_for_at_most_its_ttl() {
    let backend = backend();
    // Long enough that the request right after the revocation is surely
    // inside it, even on a loaded machine.
    let ttl = std::time::Duration::from_secs(3);
    let cached = actix_permit::backend::CachedBackend::new(backend.clone(), ttl);
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(cached), hits.clone(), |cfg| {
        cfg.service(private).service(perm);
    })
    .await;
    let direct = login_as(&app, "direct").await;
    assert_eq!(
        get(&app, "/perm", direct.as_ref()).await.status,
        StatusCode::OK
    );

    // Revoked: the cached set still answers until the TTL runs out...
    backend.revoke("direct", "inventory.change_item").unwrap();
    assert_eq!(
        get(&app, "/perm", direct.as_ref()).await.status,
        StatusCode::OK
    );
    // ...and no longer after it.
    actix_rt::time::sleep(ttl + std::time::Duration::from_millis(200)).await;
    assert_eq!(
        get(&app, "/perm", direct.as_ref()).await.status,
        StatusCode::FORBIDDEN
    );

    // Users are not cached: deactivation holds on the next request.
    backend.grant("direct", "inventory.change_item").unwrap();
    actix_rt::time::sleep(ttl + std::time::Duration::from_millis(200)).await;
    assert_eq!(
        get(&app, "/perm", direct.as_ref()).await.status,
        StatusCode::OK
    );
    backend.set_active("direct", false).unwrap();
    assert_eq!(
        get(&app, "/perm", direct.as_ref()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(hits.get(), 3);
}
