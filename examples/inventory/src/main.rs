//! The inventory example: a small site whose items users may view, add,
//! change and delete according to their permissions.
//!
//! This first version keeps its data in memory; see the README.

use std::sync::{Arc, Mutex};

use actix_permit::{
    CurrentUser, MemoryBackend, Permit, authenticate, login, login_not_required, logout,
    permission_required,
};
use actix_session::{SessionMiddleware, storage::CookieSessionStore};
use actix_web::cookie::Key;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, get, post, web};
use serde::Deserialize;

const DEMO_PASSWORD: &str = "permit-demo";

struct Items(Mutex<Vec<(u32, String, u32)>>);

fn demo_backend() -> Result<MemoryBackend, actix_permit::MemoryError> {
    let backend = MemoryBackend::new();
    for name in ["alice", "bob", "carol", "dave", "erin"] {
        backend.add_user(name, DEMO_PASSWORD)?;
    }
    backend.set_superuser("alice", true)?;
    backend.add_group("viewers", ["inventory.view_item"])?;
    backend.add_user_to_group("bob", "viewers")?;
    for perm in [
        "inventory.view_item",
        "inventory.add_item",
        "inventory.change_item",
    ] {
        backend.grant("carol", perm)?;
    }
    backend.set_superuser("dave", true)?;
    backend.set_active("dave", false)?;
    Ok(backend)
}

fn page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
        ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
}

#[get("/accounts/login/")]
#[login_not_required]
async fn login_form() -> HttpResponse {
    page(
        "Log in",
        r#"<form method="post"><label>Username <input name="username"></label>
<label>Password <input name="password" type="password"></label><button>Log in</button></form>"#,
    )
}

#[post("/accounts/login/")]
#[login_not_required]
async fn login_submit(
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> actix_web::Result<HttpResponse> {
    match authenticate(&req, &form.username, &form.password).await? {
        Some(user) => {
            login(&req, &*user)?;
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/items/"))
                .finish())
        }
        None => Ok(page("Log in", "<p>Wrong username or password.</p>")),
    }
}

#[post("/accounts/logout/")]
#[login_not_required]
async fn logout_submit(req: HttpRequest) -> HttpResponse {
    logout(&req);
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/accounts/login/"))
        .finish()
}

#[get("/items/")]
#[permission_required("inventory.view_item", login_url = "/accounts/login/")]
async fn list_items(user: CurrentUser, items: web::Data<Items>) -> HttpResponse {
    let rows: String = items
        .0
        .lock()
        .map(|items| {
            items
                .iter()
                .map(|(id, name, qty)| format!("<li>{id}: {} ({qty})</li>", escape(name)))
                .collect()
        })
        .unwrap_or_default();
    page(
        "Items",
        &format!(
            "<p>Logged in as user {}.</p><ul>{rows}</ul>",
            user.id().unwrap_or("?")
        ),
    )
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let backend = Arc::new(demo_backend().map_err(std::io::Error::other)?);
    let items = web::Data::new(Items(Mutex::new(vec![
        (1, "Bolt".to_owned(), 120),
        (2, "Nut".to_owned(), 80),
    ])));
    let key = Key::generate();
    let bind = std::env::var("PERMIT_BIND").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    println!(
        "inventory listening on http://{bind}/items/ (demo users: alice, bob, carol, dave, erin; password {DEMO_PASSWORD})"
    );
    HttpServer::new(move || {
        App::new()
            .app_data(items.clone())
            .service(login_form)
            .service(login_submit)
            .service(logout_submit)
            .service(list_items)
            .wrap(Permit::from_arc(backend.clone()).login_url("/accounts/login/"))
            .wrap(
                SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                    .cookie_secure(false)
                    .build(),
            )
    })
    .bind(bind)?
    .run()
    .await
}
