use actix_permit::permission_required;

#[permission_required("inventory.view_item", login_url = "accounts/login/")]
async fn items() -> &'static str {
    ""
}

fn main() {}
