use actix_permit::permission_required;

#[permission_required(any("inventory.view_item", true))]
async fn edit() -> &'static str {
    ""
}

fn main() {}
