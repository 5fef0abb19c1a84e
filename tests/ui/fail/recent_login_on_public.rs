use actix_permit::{login_not_required, recent_login_required};

#[recent_login_required(max_age = "10m")]
#[login_not_required]
async fn change_password() -> &'static str {
    ""
}

#[login_not_required]
#[actix_permit::recent_login_required(max_age = "10m")]
async fn create_token() -> &'static str {
    ""
}

fn main() {}
