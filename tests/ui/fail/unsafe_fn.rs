use actix_permit::login_required;

#[login_required]
async unsafe fn profile() -> &'static str {
    ""
}

fn main() {}
