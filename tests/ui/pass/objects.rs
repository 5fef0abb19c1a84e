#![deny(warnings)]
// `object = "id"`: on a permission (alone, with `any`, stacked) and on a
// predicate (plain and async), above the route that has the segment, in a
// `#[routes]` stack and below `#[get]` (checked at run time there).

use actix_permit::{permission_required, user_passes_test, CurrentUser};
use actix_web::{get, post, routes, web, HttpResponse};

#[permission_required("inventory.change_item", object = "id")]
#[get("/items/{id}")]
async fn one(id: web::Path<u32>) -> String {
    format!("{id}")
}

#[permission_required("app.view", any("inventory.change_item", "inventory.delete_item"), object = "item")]
#[permission_required("app.perm", login_url = "/login/")]
#[post("/shelves/{shelf}/items/{item:\\d+}")]
async fn stacked(path: web::Path<(String, u32)>) -> HttpResponse {
    let (shelf, item) = path.into_inner();
    HttpResponse::Ok().body(format!("{shelf} {item}"))
}

#[permission_required("inventory.change_item", object = "id")]
#[routes]
#[get("/a/{id}")]
#[post("/b/{id}/edit")]
async fn several() -> &'static str {
    ""
}

#[get("/c/{id}")]
#[permission_required("inventory.change_item", object = "id")]
async fn below() -> &'static str {
    ""
}

fn is_owner(user: &CurrentUser, id: &str) -> bool {
    user.id() == Some(id)
}

async fn is_owner_async(user: &CurrentUser, id: &str) -> bool {
    user.id() == Some(id)
}

#[user_passes_test(is_owner, object = "id")]
#[get("/owned/{id}")]
async fn owned() -> &'static str {
    ""
}

#[user_passes_test(is_owner_async, object = "id")]
#[get("/owned-async/{id}")]
async fn owned_async() -> &'static str {
    ""
}

fn main() {
    let _app = actix_web::App::new()
        .service(one)
        .service(stacked)
        .service(several)
        .service(below)
        .service(owned)
        .service(owned_async);
}
