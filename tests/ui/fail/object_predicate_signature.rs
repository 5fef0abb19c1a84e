use actix_permit::{user_passes_test, CurrentUser};
use actix_web::get;

fn is_staff(user: &CurrentUser) -> bool {
    user.is_superuser()
}

#[user_passes_test(is_staff, object = "id")]
#[get("/items/{id}")]
async fn edit() -> &'static str {
    ""
}

fn main() {}
