#![deny(warnings)]
// The registration the attributes emit compiles in a crate that forbids
// unsafe code.
#![forbid(unsafe_code)]

use actix_permit::{
    login_not_required, login_required, permission_required, user_passes_test, CurrentUser,
};
use actix_web::{get, routes, web, HttpResponse, Responder};

/// `impl Responder`, above `#[get]`.
#[permission_required("app.view")]
#[get("/a")]
async fn impl_responder(path: web::Path<u32>) -> impl Responder {
    format!("{path}")
}

/// A concrete type, below `#[get]`.
#[get("/b")]
#[login_required(login_url = "/login/")]
async fn concrete() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[derive(Debug)]
struct Oops;

impl std::fmt::Display for Oops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("oops")
    }
}

impl actix_web::ResponseError for Oops {}

fn fallible(n: u32) -> Result<u32, Oops> {
    if n > 3 { Err(Oops) } else { Ok(n) }
}

/// `Result` with `?` (the error type needs the annotation) and early return.
#[get("/c/{n}")]
#[permission_required("app.change", any("app.x", "app.y"))]
async fn result(n: web::Path<u32>) -> Result<HttpResponse, actix_web::Error> {
    if *n == 0 {
        return Ok(HttpResponse::NoContent().finish());
    }
    let n = fallible(*n)?;
    Ok(HttpResponse::Ok().body(n.to_string()))
}

/// `Result<impl Responder, E>`.
#[permission_required("app.change")]
async fn result_impl(n: web::Path<u32>) -> Result<impl Responder, Oops> {
    Ok(fallible(*n)?.to_string())
}

trait Store: 'static {
    fn name(&self) -> String;
}

/// Generic with a `where` clause.
#[permission_required("app.view")]
pub async fn generic<S>(store: web::Data<S>) -> String
where
    S: Store + Send + Sync,
{
    store.name()
}

fn staff(user: &CurrentUser) -> bool {
    user.is_superuser()
}

async fn staff_async(user: &CurrentUser) -> bool {
    user.has_perm("app.staff").await.unwrap_or(false)
}

/// Stacked, both orders, with `#[routes]`.
#[routes]
#[get("/d")]
#[get("/e")]
#[login_required]
#[user_passes_test(staff)]
#[permission_required("app.view", login_url = "/login/")]
async fn stacked() -> &'static str {
    "stacked"
}

#[user_passes_test(staff_async)]
#[login_required]
#[get("/f")]
async fn stacked_rev() -> &'static str {
    "stacked"
}

struct Handlers;

impl Handlers {
    /// An associated fn that names `Self`.
    #[permission_required("app.view")]
    pub(crate) async fn associated(data: web::Data<String>) -> String {
        Self::prefix() + &data
    }

    fn prefix() -> String {
        "data: ".to_owned()
    }
}

/// No arguments, no return type annotation beyond the responder.
#[login_required]
async fn no_args() -> &'static str {
    "no args"
}

/// Public, above and below `#[get]`, and with nothing to route it.
#[login_not_required]
#[get("/public")]
async fn public_above() -> &'static str {
    "public"
}

#[get("/public-below")]
#[login_not_required]
async fn public_below() -> &'static str {
    "public"
}

#[login_not_required]
async fn public_by_hand() -> &'static str {
    "public"
}

struct Named;
impl Store for Named {
    fn name(&self) -> String {
        "named".to_owned()
    }
}

fn main() {
    let _app = actix_web::App::new()
        .service(impl_responder)
        .service(concrete)
        .service(result)
        .service(stacked)
        .service(stacked_rev)
        .route("/g", web::get().to(result_impl))
        .route("/h", web::get().to(generic::<Named>))
        .route("/i", web::get().to(Handlers::associated))
        .route("/j", web::get().to(no_args))
        .service(public_above)
        .service(public_below)
        .route("/k", web::get().to(public_by_hand));
}
