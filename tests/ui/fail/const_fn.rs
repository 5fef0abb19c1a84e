use actix_permit::login_required;

#[login_required]
const fn profile() -> &'static str {
    ""
}

fn main() {}
