use actix_permit::login_required;

#[login_required]
struct Handler;

fn main() {}
