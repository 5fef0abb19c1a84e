use actix_permit::login_required;

#[login_required]
extern "C" fn profile() -> i32 {
    0
}

fn main() {}
