#![deny(warnings)]
// What the user wrote stays: inner attributes stay in the body, attributes
// on parameters stay on them, and attributes stacked under a renamed crate
// merge into one wrapper.

mod deps {
    pub use actix_permit as permit;
}

use actix_permit::{login_not_required, login_required, permission_required};
use actix_web::{get, web, HttpResponse};

/// An inner attribute in the body.
#[login_required]
#[get("/inner")]
async fn inner() -> HttpResponse {
    #![allow(unused_variables)]
    let unused = 1;
    HttpResponse::Ok().finish()
}

/// An inner attribute in a public handler's body.
#[login_not_required]
#[get("/inner-public")]
async fn inner_public() -> HttpResponse {
    #![allow(unused_variables)]
    let unused = 1;
    HttpResponse::Ok().finish()
}

/// An attribute on a parameter.
#[permission_required("app.view")]
#[get("/param/{id}")]
async fn param(#[allow(unused_variables)] id: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().finish()
}

/// The same in a public handler.
#[login_not_required]
#[get("/param-public/{id}")]
async fn param_public(#[allow(unused_variables)] id: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().finish()
}

/// Stacked under a renamed crate: one wrapper, both checks.
#[deps::permit::login_required(crate = "crate::deps::permit")]
#[deps::permit::permission_required("app.view", crate = "crate::deps::permit")]
async fn renamed_stack() -> HttpResponse {
    HttpResponse::Ok().finish()
}

fn main() {
    let _app = actix_web::App::new()
        .service(inner)
        .service(inner_public)
        .service(param)
        .service(param_public)
        .route("/renamed", web::get().to(renamed_stack));
}
