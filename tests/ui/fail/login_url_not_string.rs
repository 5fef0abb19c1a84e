use actix_permit::login_required;

#[login_required(login_url = accounts::LOGIN)]
async fn profile() -> &'static str {
    ""
}

fn main() {}
