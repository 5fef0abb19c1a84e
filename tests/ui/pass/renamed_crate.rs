#![deny(warnings)]

mod deps {
    pub use actix_permit as permit;
}

use deps::permit::{login_not_required, login_required, permission_required};

#[login_required(crate = "crate::deps::permit")]
async fn a() -> &'static str {
    "a"
}

#[permission_required("app.view", crate = "crate::deps::permit")]
async fn b() -> &'static str {
    "b"
}

#[login_not_required(crate = "crate::deps::permit")]
async fn c() -> &'static str {
    "c"
}

fn main() {
    let _app = actix_web::App::new()
        .route("/a", actix_web::web::get().to(a))
        .route("/b", actix_web::web::get().to(b))
        .route("/c", actix_web::web::get().to(c));
}
