use actix_permit::recent_login_required;

#[recent_login_required(max_age = "ten minutes")]
async fn change_password() -> &'static str {
    ""
}

#[recent_login_required(max_age = "1m1h")]
async fn create_token() -> &'static str {
    ""
}

#[recent_login_required(max_age = 600)]
async fn delete_item() -> &'static str {
    ""
}

fn main() {}
