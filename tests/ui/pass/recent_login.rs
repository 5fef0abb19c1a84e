//! `recent_login_required` alone, above and below a routing attribute, and
//! stacked with the other checks.

use actix_permit::{login_required, permission_required, recent_login_required, user_passes_test};
use actix_web::{HttpResponse, delete, post, web};

fn is_staff(user: &actix_permit::CurrentUser) -> bool {
    let _ = user;
    true
}

#[recent_login_required(max_age = "10m")]
#[post("/accounts/password/")]
async fn change_password(form: web::Form<std::collections::HashMap<String, String>>) -> HttpResponse {
    HttpResponse::Ok().body(form.len().to_string())
}

#[delete("/items/{id}")]
#[permission_required("inventory.delete_item", object = "id")]
#[recent_login_required(max_age = "1h30m", login_url = "/accounts/login/")]
async fn delete_item(id: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().body(id.to_string())
}

#[login_required]
#[user_passes_test(is_staff)]
#[actix_permit::recent_login_required(max_age = "90s", redirect_field = "to")]
async fn tokens() -> &'static str {
    ""
}

fn main() {
    let _ = actix_web::App::new()
        .service(change_password)
        .service(delete_item)
        .route("/tokens", web::post().to(tokens));
}
