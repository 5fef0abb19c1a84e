//! The errors a handler can return to deny a request: [`PermissionDenied`]
//! (Django's `raise PermissionDenied`) and [`PermitError`].
//!
//! Both render as plain responses on their own; under the
//! [`Permit`](crate::Permit) middleware they are rendered by the app's
//! [`Config`](crate::config::Config) instead, like a denial from the macros.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};

use crate::config::{Reason, plain_response};

/// The user may not do this: a 403 Forbidden. Return it from any handler,
/// as Django's `raise PermissionDenied`:
///
/// ```
/// use actix_permit::PermissionDenied;
/// use actix_web::{HttpResponse, get, web};
///
/// #[get("/reports/{year}")]
/// async fn report(year: web::Path<u16>) -> Result<HttpResponse, PermissionDenied> {
///     if *year < 2000 {
///         Err(PermissionDenied)?
///     }
///     Ok(HttpResponse::Ok().body("report"))
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, thiserror::Error)]
#[error("permission denied")]
pub struct PermissionDenied;

impl ResponseError for PermissionDenied {
    fn status_code(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    fn error_response(&self) -> HttpResponse {
        plain_response(Reason::Forbidden)
    }
}

/// Why a check in code could not let the request through.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PermitError {
    /// Nobody is logged in: the app's login response (403, or a redirect to
    /// the login page when one is configured).
    #[error("login required")]
    LoginRequired,
    /// The user lacks a permission: 403.
    #[error(transparent)]
    Denied(#[from] PermissionDenied),
    /// The backend could not answer: 503, and the handler does not go on.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The [`Permit`](crate::Permit) middleware does not wrap this route: 500.
    #[error("the actix_permit::Permit middleware does not wrap this route")]
    MissingMiddleware,
    /// A `user_passes_test` predicate panicked: 500.
    #[error("the access predicate panicked")]
    PredicatePanicked,
    /// Too many failed logins for this username or from this client: 429,
    /// with `Retry-After`. See [`Throttle`](crate::throttle::Throttle).
    #[error("too many failed logins; try again in {} seconds", .retry_after.as_secs().max(1))]
    Throttled {
        /// How long until the next attempt is allowed.
        retry_after: Duration,
    },
    /// The password hashing queue is full: 503, with `Retry-After`. See
    /// [`Permit::password_work`](crate::Permit::password_work).
    #[error("too many logins at once; try again shortly")]
    Overloaded,
    /// The request's credentials were refused (a bad or unknown API token,
    /// or two credentials on one request): 401 with `WWW-Authenticate`.
    #[error("the request's credentials were refused: {0}")]
    Rejected(Rejection),
}

/// Credentials an [`IdentitySource`](crate::identity::IdentitySource)
/// refused: the request is answered 401 with a `WWW-Authenticate`
/// challenge (RFC 6750's form), not treated as anonymous, and the refusal
/// is counted against the client by the [`Throttle`](crate::throttle::Throttle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    error: &'static str,
    description: &'static str,
}

impl Rejection {
    /// A token that is malformed, unknown, revoked, expired, or whose user
    /// can no longer use it: `Bearer error="invalid_token"`.
    pub fn invalid_token() -> Self {
        Self {
            error: "invalid_token",
            description: "the token is malformed, unknown, revoked or expired",
        }
    }

    /// A request whose credentials cannot be read as one (two of them, a
    /// session cookie and a token, say): `Bearer error="invalid_request"`.
    pub fn invalid_request(description: &'static str) -> Self {
        Self {
            error: "invalid_request",
            description,
        }
    }

    /// The `WWW-Authenticate` value: `Bearer error="invalid_token"`.
    pub fn challenge(&self) -> String {
        format!("Bearer error=\"{}\"", self.error)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.error, self.description)
    }
}

impl PermitError {
    /// The reason a denial response gives for this error.
    pub fn reason(&self) -> Reason {
        match self {
            Self::LoginRequired => Reason::LoginRequired,
            Self::Denied(_) => Reason::Forbidden,
            Self::Backend(_) | Self::Overloaded => Reason::Unavailable,
            Self::MissingMiddleware | Self::PredicatePanicked => Reason::Error,
            Self::Throttled { .. } => Reason::Throttled,
            Self::Rejected(_) => Reason::InvalidCredentials,
        }
    }

    /// How long the client should wait before trying again, for the errors
    /// that say so (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after } => Some(*retry_after),
            Self::Overloaded => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    /// Adds `Retry-After` to `response` when this error says how long to
    /// wait, and `WWW-Authenticate` when it refused credentials.
    pub(crate) fn add_headers(&self, response: &mut HttpResponse) {
        if let Self::Rejected(rejection) = self
            && let Ok(value) = header::HeaderValue::from_str(&rejection.challenge())
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(wait) = self.retry_after() {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs.max(1)));
        }
    }
}

impl ResponseError for PermitError {
    fn status_code(&self) -> StatusCode {
        self.reason().status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = plain_response(self.reason());
        self.add_headers(&mut response);
        response
    }
}

/// A boxed, `Send` future: what [`Backend`](crate::backend::Backend) methods return, so that the
/// trait stays dyn-compatible.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A backend could not answer (a database that is down, a timeout). The
/// request fails closed: the handler does not run and the client gets 503.
/// Cheap to clone, so one failure can answer every check of a request.
#[derive(Clone)]
pub struct BackendError {
    inner: Arc<dyn StdError + Send + Sync>,
}

impl BackendError {
    /// Wraps the underlying error.
    pub fn new(err: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            inner: Arc::from(err.into()),
        }
    }

    /// The underlying error, to downcast.
    pub fn inner(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.inner
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BackendError").field(&self.inner).finish()
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "backend error: {}", self.inner)
    }
}

impl StdError for BackendError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.inner)
    }
}
