use actix_permit::permission_required;
use actix_web::get;

#[permission_required("inventory.change_item", object = "{id}")]
#[get("/items/{id}")]
async fn edit() -> &'static str {
    ""
}

#[permission_required("inventory.change_item", object = 3)]
#[get("/things/{id}")]
async fn number() -> &'static str {
    ""
}

fn main() {}
