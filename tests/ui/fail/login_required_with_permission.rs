use actix_permit::login_required;

#[login_required("inventory.view_item")]
async fn items() -> &'static str {
    ""
}

fn main() {}
