use actix_permit::recent_login_required;

#[recent_login_required(max_age = "0m")]
async fn change_password() -> &'static str {
    ""
}

#[recent_login_required(max_age = "400d")]
async fn create_token() -> &'static str {
    ""
}

fn main() {}
