use actix_permit::login_required;
use actix_web::get;

#[login_required(object = "id")]
#[get("/items/{id}")]
async fn edit() -> &'static str {
    ""
}

fn main() {}
