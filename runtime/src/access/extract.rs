//! After a check passes: the request body, untouched, and the handler's
//! own extractors run as actix would run them.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, HttpResponse};

/// The request body, taken whole and untouched so that a handler's wrapper
/// can hand it to the handler's own extractors after the check.
#[doc(hidden)]
pub struct Payload(actix_web::dev::Payload);

impl Payload {
    /// The raw payload.
    pub fn into_inner(self) -> actix_web::dev::Payload {
        self.0
    }
}

impl From<actix_web::dev::Payload> for Payload {
    fn from(payload: actix_web::dev::Payload) -> Self {
        Self(payload)
    }
}

impl FromRequest for Payload {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(_: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        ready(Ok(Self(payload.take())))
    }
}

/// Runs the handler's own extractors, as actix would: an error becomes its
/// response.
#[doc(hidden)]
pub async fn extract<T: FromRequest>(
    req: &HttpRequest,
    payload: &mut actix_web::dev::Payload,
) -> Result<T, HttpResponse> {
    T::from_request(req, payload)
        .await
        .map_err(|err| HttpResponse::from_error(err.into()))
}
