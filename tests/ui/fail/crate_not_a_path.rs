use actix_permit::login_required;

#[login_required(crate = "actix permit")]
async fn profile() -> &'static str {
    ""
}

fn main() {}
