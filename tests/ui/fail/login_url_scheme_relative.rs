use actix_permit::login_required;

#[login_required(login_url = "//sso.example.com/login")]
async fn profile() -> &'static str {
    ""
}

fn main() {}
