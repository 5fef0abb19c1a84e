//! Handlers that live in a library crate, as in an app split into crates:
//! the audit registry must list them too (`tests/behaviour/audit.rs`).

use actix_permit::{login_not_required, permission_required};
use actix_web::{HttpResponse, get};

/// Public, from a library.
#[login_not_required]
#[get("/library/public")]
pub async fn library_public() -> HttpResponse {
    HttpResponse::Ok().body("library public")
}

/// Protected, from a library; no test routes it.
#[permission_required("app.view")]
#[get("/library/protected")]
pub async fn library_protected() -> HttpResponse {
    HttpResponse::Ok().body("library protected")
}
