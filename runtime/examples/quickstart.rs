//! The quick start of both READMEs, exactly (a test in `tests/` checks that they
//! stay the same): `cargo run -p actix-permit --example quickstart`.

use actix_permit::backend::MemoryBackend;
use actix_permit::{CurrentUser, Permit, login_required, permission_required};
use actix_session::{SessionMiddleware, storage::CookieSessionStore};
use actix_web::{App, HttpServer, Responder, cookie::Key, get, web};

#[permission_required("inventory.change_item", login_url = "/accounts/login/")]
#[get("/items/{id}/edit")]
async fn edit_item(id: web::Path<u32>) -> impl Responder {
    format!("editing item {id}")
}

#[login_required]
#[get("/me")]
async fn me(user: CurrentUser) -> impl Responder {
    format!("you are user {}", user.id().unwrap_or_default())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let backend = MemoryBackend::new();
    backend.add_user("carol", "s3cret").expect("a new user");
    backend
        .grant("carol", "inventory.change_item")
        .expect("a valid permission");
    let permit = Permit::new(backend);
    let key = Key::generate();
    HttpServer::new(move || {
        App::new()
            .service(edit_item)
            .service(me)
            .wrap(permit.clone())
            .wrap(SessionMiddleware::new(
                CookieSessionStore::default(),
                key.clone(),
            ))
    })
    .bind(("127.0.0.1", 8080))?
    .run()
    .await
}
