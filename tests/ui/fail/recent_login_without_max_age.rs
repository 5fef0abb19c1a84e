use actix_permit::recent_login_required;

#[recent_login_required]
async fn change_password() -> &'static str {
    ""
}

#[recent_login_required(max_agee = "10m")]
async fn create_token() -> &'static str {
    ""
}

fn main() {}
