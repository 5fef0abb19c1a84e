#![deny(warnings)]

use actix_permit::{CurrentUser, login_required, permission_required};
use actix_web::{Either, HttpRequest as R, HttpResponse, web};

/// Sixteen extractors: actix-web's own limit, kept by the macros.
#[login_required]
#[allow(clippy::too_many_arguments)]
async fn crowded(
    _a: R, _b: R, _c: R, _d: R, _e: R, _f: R, _g: R, _h: R,
    _i: R, _j: R, _k: R, _l: R, _m: R, _n: R, _o: R, _p: CurrentUser,
) -> &'static str {
    "sixteen"
}

/// The request, the body, and `Either` as the responder.
#[permission_required("app.upload")]
async fn upload(req: R, body: web::Bytes) -> Either<HttpResponse, String> {
    if body.is_empty() {
        Either::Left(HttpResponse::BadRequest().finish())
    } else {
        Either::Right(format!("{} bytes to {}", body.len(), req.path()))
    }
}

/// Mutable bindings and tuple patterns.
#[permission_required("app.view")]
async fn patterns((path, mut query): (web::Path<u32>, web::Query<Vec<(String, String)>>)) -> String {
    query.0.push(("id".to_owned(), path.to_string()));
    format!("{:?}", query.0)
}

fn main() {
    let _app = actix_web::App::new()
        .route("/a", web::get().to(crowded))
        .route("/b", web::post().to(upload))
        .route("/c/{id}", web::get().to(patterns));
}
