use actix_permit::permission_required;

#[permission_required("inventory.view_item", krate = "::actix_permit")]
async fn items() -> &'static str {
    ""
}

fn main() {}
