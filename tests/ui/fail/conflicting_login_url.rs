use actix_permit::{login_required, permission_required};

#[login_required(login_url = "/accounts/login/")]
#[permission_required("inventory.view_item", login_url = "/login/")]
async fn items() -> &'static str {
    ""
}

fn main() {}
