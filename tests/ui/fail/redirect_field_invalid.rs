use actix_permit::login_required;

#[login_required(redirect_field = "return to")]
async fn profile() -> &'static str {
    ""
}

fn main() {}
