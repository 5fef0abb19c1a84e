//! The SQL backend on an in-memory SQLite database (and on PostgreSQL when
//! `DATABASE_URL` names one): Django's permission rules through a real App.

use std::sync::Arc;

use actix_permit::{AdminError, Permit, SqlBackend, permission_required};
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
    let app = app(Permit::from_arc(backend.clone()), hits.clone(), |cfg| {
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
