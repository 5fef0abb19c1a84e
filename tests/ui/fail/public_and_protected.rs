use actix_permit::{login_not_required, login_required};

#[login_required]
#[login_not_required]
async fn items() -> &'static str {
    ""
}

fn main() {}
