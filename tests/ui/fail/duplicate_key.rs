use actix_permit::login_required;

#[login_required(login_url = "/accounts/login/", login_url = "/login/")]
async fn profile() -> &'static str {
    ""
}

fn main() {}
