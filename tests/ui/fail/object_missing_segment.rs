use actix_permit::permission_required;
use actix_web::get;

#[permission_required("inventory.change_item", object = "id")]
#[get("/items/{item}/edit")]
async fn edit() -> &'static str {
    ""
}

#[permission_required("inventory.change_item", object = "ids")]
#[get("/things/{id}")]
async fn typo() -> &'static str {
    ""
}

fn main() {}
