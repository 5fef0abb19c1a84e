use actix_permit::login_required;

#[login_required]
async fn profile(user: impl actix_web::FromRequest) -> &'static str {
    let _ = user;
    ""
}

fn main() {}
