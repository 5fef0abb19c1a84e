use actix_permit::login_required;

#[login_required(login_uri = "/accounts/login/")]
async fn edit() -> &'static str {
    ""
}

fn main() {}
