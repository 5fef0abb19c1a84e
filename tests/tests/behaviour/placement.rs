//! Every handler shape the macros promise, registered every way actix
//! offers, allowed and denied.

use std::marker::PhantomData;
use std::sync::Arc;

use actix_permit::{CurrentUser, login_required, permission_required, user_passes_test};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, Responder, get, routes, web};

use crate::support::{Hits, app, backend, get, login_as};

/// Above `#[get]`.
#[permission_required("inventory.change_item")]
#[get("/above")]
async fn above(hits: web::Data<Hits>) -> impl Responder {
    hits.hit();
    "above"
}

/// Below `#[get]`, with a doc comment and an attribute of its own.
#[get("/below")]
#[permission_required("inventory.change_item")]
#[allow(clippy::unused_async)]
async fn below(hits: web::Data<Hits>) -> &'static str {
    hits.hit();
    "below"
}

#[routes]
#[get("/multi/a")]
#[get("/multi/b")]
#[permission_required("inventory.change_item")]
async fn multi(hits: web::Data<Hits>) -> String {
    hits.hit();
    "multi".to_owned()
}

/// Two of ours, in both orders.
#[get("/two")]
#[login_required]
#[permission_required("inventory.change_item")]
async fn two(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("two")
}

fn not_plain(user: &CurrentUser) -> bool {
    user.id() != Some("1")
}

#[get("/two-rev")]
#[user_passes_test(not_plain)]
#[login_required]
async fn two_rev(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("two-rev")
}

trait Greeting: 'static {
    const TEXT: &'static str;
}

struct Hello;
impl Greeting for Hello {
    const TEXT: &'static str = "hello";
}

/// Generic, with a `where` clause.
#[permission_required("inventory.change_item")]
async fn generic<G>(hits: web::Data<Hits>, _marker: Option<web::Data<PhantomData<G>>>) -> String
where
    G: Greeting,
{
    hits.hit();
    G::TEXT.to_owned()
}

#[derive(Debug)]
struct AppError;

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("app error")
    }
}

impl actix_web::ResponseError for AppError {}

fn parse_even(n: u32) -> Result<u32, AppError> {
    if n.is_multiple_of(2) {
        Ok(n)
    } else {
        Err(AppError)
    }
}

/// `Result` with `?` and an early `return`.
#[get("/result/{n}")]
#[permission_required("inventory.change_item")]
async fn result(n: web::Path<u32>, hits: web::Data<Hits>) -> Result<impl Responder, AppError> {
    hits.hit();
    if *n == 0 {
        return Ok(HttpResponse::NoContent().finish());
    }
    let n = parse_even(*n)?;
    Ok(HttpResponse::Ok().body(n.to_string()))
}

struct Handlers;

impl Handlers {
    /// An associated fn, using `Self`.
    #[permission_required("inventory.change_item")]
    async fn associated(hits: web::Data<Hits>) -> HttpResponse {
        hits.hit();
        HttpResponse::Ok().body(Self::NAME)
    }

    const NAME: &'static str = "associated";
}

/// Destructuring patterns and `mut` bindings in the arguments.
#[permission_required("inventory.change_item")]
async fn patterns((path, mut hits): (web::Path<(u32, u32)>, web::Data<Hits>)) -> String {
    let _ = &mut hits;
    hits.hit();
    let (a, b) = path.into_inner();
    (a + b).to_string()
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(above)
        .service(below)
        .service(multi)
        .service(two)
        .service(two_rev)
        .service(result)
        .route("/generic", web::get().to(generic::<Hello>))
        .route("/associated", web::get().to(Handlers::associated))
        .route("/add/{a}/{b}", web::get().to(patterns));
}

#[actix_rt::test]
async fn every_shape_allows_and_denies() {
    let hits = Arc::new(Hits::default());
    let app = app(actix_permit::Permit::new(backend()), hits.clone(), routes).await;
    let direct = login_as(&app, "direct").await;
    let plain = login_as(&app, "plain").await;
    let cases = [
        ("/above", "above"),
        ("/below", "below"),
        ("/multi/a", "multi"),
        ("/multi/b", "multi"),
        ("/two", "two"),
        ("/two-rev", "two-rev"),
        ("/generic", "hello"),
        ("/result/4", "4"),
        ("/result/0", ""),
        ("/associated", "associated"),
        ("/add/2/3", "5"),
    ];
    for (path, _) in cases {
        let seen = get(&app, path, plain.as_ref()).await;
        assert_eq!(seen.status, StatusCode::FORBIDDEN, "plain {path}");
        let seen = get(&app, path, None).await;
        assert_eq!(seen.status, StatusCode::FORBIDDEN, "anonymous {path}");
    }
    assert_eq!(hits.get(), 0);
    for (path, body) in cases {
        let seen = get(&app, path, direct.as_ref()).await;
        assert!(seen.status.is_success(), "direct {path}: {seen:?}");
        assert_eq!(seen.body, body, "direct {path}");
    }
    assert_eq!(hits.get(), cases.len());
    let seen = get(&app, "/result/3", direct.as_ref()).await;
    assert_eq!(
        (seen.status, seen.body.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "app error")
    );
    let seen = get(&app, "/result/0", direct.as_ref()).await;
    assert_eq!(seen.status, StatusCode::NO_CONTENT);
}
