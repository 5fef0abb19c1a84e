//! The SQL backend on an in-memory SQLite database (and on PostgreSQL when
//! `DATABASE_URL` names one): Django's permission rules through a real App.

use std::sync::Arc;

use actix_permit::{
    Permit,
    backend::{AdminError, SqlBackend},
    permission_required,
};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};

use crate::support::{Hits, PASSWORD, app, get, login_as};

#[get("/edit")]
#[permission_required("shop.change_item")]
async fn edit(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

async fn seeded(url: &str) -> Arc<SqlBackend> {
    let backend = SqlBackend::connect(url).await.unwrap();
    for perm in ["shop.change_item", "shop.view_item"] {
        backend.create_permission(perm, perm).await.unwrap();
    }
    for user in ["plain", "direct", "grouped", "super"] {
        backend.create_user(user, PASSWORD).await.unwrap();
    }
    backend.grant("direct", "shop.change_item").await.unwrap();
    backend
        .create_group("editors", &["shop.change_item", "shop.view_item"])
        .await
        .unwrap();
    backend
        .add_user_to_group("grouped", "editors")
        .await
        .unwrap();
    backend.set_superuser("super", true).await.unwrap();
    Arc::new(backend)
}

#[actix_rt::test]
async fn sqlite_follows_django_rules() {
    let backend = seeded("sqlite::memory:").await;
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(backend.clone()), hits.clone(), |cfg| {
        cfg.service(edit);
    })
    .await;
    let expected = [
        ("anonymous", StatusCode::FORBIDDEN),
        ("plain", StatusCode::FORBIDDEN),
        ("direct", StatusCode::OK),
        ("grouped", StatusCode::OK),
        ("super", StatusCode::OK),
    ];
    let mut cookies = Vec::new();
    for (user, status) in expected {
        let cookie = login_as(&app, user).await;
        assert_eq!(
            get(&app, "/edit", cookie.as_ref()).await.status,
            status,
            "{user}"
        );
        cookies.push((user, cookie));
    }
    assert_eq!(hits.get(), 3);

    // Changes hold from the next request on.
    backend.revoke("direct", "shop.change_item").await.unwrap();
    backend.set_active("super", false).await.unwrap();
    for (user, cookie) in &cookies {
        let status = get(&app, "/edit", cookie.as_ref()).await.status;
        let expected = if *user == "grouped" {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(status, expected, "{user}");
    }

    // Management errors name what is wrong.
    assert!(matches!(
        backend.grant("plain", "shop.delete_item").await,
        Err(AdminError::UnknownPermission(p)) if p == "shop.delete_item"
    ));
    assert!(matches!(
        backend.grant("nobody", "shop.view_item").await,
        Err(AdminError::UnknownUser(_))
    ));
    assert!(matches!(
        backend.create_user("plain", "x").await,
        Err(AdminError::DuplicateUser(_))
    ));
    assert!(matches!(
        backend.create_permission("nodot", "x").await,
        Err(AdminError::InvalidPermission(_))
    ));
    assert_eq!(
        backend.permission_names().await.unwrap(),
        vec!["shop.change_item".to_owned(), "shop.view_item".to_owned()]
    );
    // Migrations are idempotent.
    backend.migrate().await.unwrap();
}

/// Issue 25, part 5: a stored hash weaker than today's parameters verifies
/// faster than the dummy hash an unknown username costs, so it would tell
/// that the username exists; the first successful login replaces it.
#[actix_rt::test]
async fn a_weaker_stored_hash_is_replaced_at_the_next_login() {
    use argon2::PasswordHasher;
    let backend = seeded("sqlite::memory:").await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(1024, 1, 1, None).unwrap(),
    )
    .hash_password(
        PASSWORD.as_bytes(),
        &argon2::password_hash::SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap(),
    )
    .unwrap()
    .to_string();
    let stored = async || -> String {
        sqlx::query_scalar("SELECT password_hash FROM permit_users WHERE username = 'plain'")
            .fetch_one(backend.pool())
            .await
            .unwrap()
    };
    sqlx::query("UPDATE permit_users SET password_hash = $1 WHERE username = 'plain'")
        .bind(&weak)
        .execute(backend.pool())
        .await
        .unwrap();
    assert_eq!(stored().await, weak);
    let app = app(Permit::new(backend.clone()), Arc::default(), |cfg| {
        cfg.service(edit);
    })
    .await;
    login_as(&app, "plain")
        .await
        .expect("the weak hash still logs in");
    let now = stored().await;
    assert!(now.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{now}");
    // The new hash logs in too, and stays.
    login_as(&app, "plain").await.expect("the new hash logs in");
    assert_eq!(stored().await, now);
}
