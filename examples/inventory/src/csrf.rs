//! Token-less cross-site request forgery protection, as modern frameworks do
//! it: an unsafe request (POST, PUT, PATCH, DELETE) that a browser marks as
//! cross-site (`Sec-Fetch-Site: cross-site`) or that carries an `Origin`
//! other than this site is refused with 403 before anything else runs.
//! Requests with neither header (curl, scripts) pass, and so do requests
//! with an API token (`Authorization: Bearer`); the session cookie's
//! `SameSite=Lax` covers old browsers.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

/// The middleware function; install with `middleware::from_fn(csrf::guard)`.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if is_cross_site(&req) {
        tracing::warn!(
            method = %req.method(),
            path = req.path(),
            origin = ?req.headers().get(header::ORIGIN),
            "refused a cross-site request"
        );
        let response = HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("Forbidden (cross-site request)");
        return Ok(req.into_response(response).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

fn is_cross_site(req: &ServiceRequest) -> bool {
    if matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return false;
    }
    let headers = req.headers();
    // An API token is no ambient credential: a browser never sends one by
    // itself, so a request carrying one cannot be forged cross-site (and
    // one that carries the session cookie too is refused by the app).
    if headers.get(header::AUTHORIZATION).is_some_and(|value| {
        value
            .as_bytes()
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case(b"bearer "))
    }) {
        return false;
    }
    if headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (origin.to_str().ok().and_then(origin_authority), host) {
        (Some(origin), Some(host)) => !origin.eq_ignore_ascii_case(host),
        // `Origin: null`, an unreadable origin, or no Host to compare with.
        _ => true,
    }
}

/// `https://host:port` → `host:port`.
fn origin_authority(origin: &str) -> Option<&str> {
    let (scheme, authority) = origin.split_once("://")?;
    let ok =
        matches!(scheme, "http" | "https") && !authority.is_empty() && !authority.contains('/');
    ok.then_some(authority)
}
