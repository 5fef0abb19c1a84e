use actix_permit::login_not_required;

#[login_not_required(login_url = "/login/")]
async fn health() -> &'static str {
    "ok"
}

fn main() {}
