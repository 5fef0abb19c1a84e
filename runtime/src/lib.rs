#![doc = include_str!("../../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// Handler registration runs constructors before `main` (the `inventory`
// crate): where it cannot, the audit and deny by default would silently
// see no handler. Refuse to build instead.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "dragonfly",
    target_os = "freebsd",
    target_os = "haiku",
    target_os = "illumos",
    target_os = "netbsd",
    target_os = "nto",
    target_os = "openbsd",
    target_os = "redox",
    target_os = "vxworks",
    target_os = "macos",
    target_os = "ios",
    windows,
)))]
compile_error!(
    "actix-permit registers handlers with constructors run before main (the inventory crate), which this target does not run; its audit and deny by default cannot work here"
);

mod access;
pub mod audit;
pub mod backend;
pub mod config;
pub mod error;
pub mod middleware;
pub mod password;
pub mod permission;
pub mod redirect;
pub mod session;
pub mod throttle;
pub mod user;

pub use access::Predicate;
#[cfg(feature = "cache")]
pub use backend::CachedBackend;
pub use backend::{
    AdminError, Backend, BackendError, BoxFuture, MemoryBackend, MemoryUser, StoredUser,
};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use backend::{SqlBackend, SqlUser};
pub use config::{Config, Denial, Reason};
pub use error::{PermissionDenied, PermitError};
pub use middleware::{
    DEFAULT_BACKEND_TIMEOUT, DEFAULT_SESSION_LIFETIME, LoginRequired, Permit, PlainScope, scope,
};
pub use permission::{InvalidPermission, PermissionSet};
pub use session::{LoginError, authenticate, login, logout};
pub use throttle::{MemoryThrottle, Throttle, ThrottleStore};
pub use user::{AuthUser, CurrentUser};

#[doc = include_str!("../docs/login_required.md")]
pub use actix_permit_macros::login_required;

#[doc = include_str!("../docs/permission_required.md")]
pub use actix_permit_macros::permission_required;

#[doc = include_str!("../docs/user_passes_test.md")]
pub use actix_permit_macros::user_passes_test;

#[doc = include_str!("../docs/login_not_required.md")]
pub use actix_permit_macros::login_not_required;

/// What the macros' generated code calls. Not a public API: it changes
/// without notice.
#[doc(hidden)]
pub mod __private {
    use std::future::{Ready, ready};

    use actix_web::FromRequest;

    pub use crate::__permit_register as register;
    pub use crate::access::{
        Async, AsyncPredicate, ErasedPredicate, Predicate, Require, Rule, Sync, check, check_test,
    };
    pub use crate::audit::Registered;
    pub use crate::audit::{Access, Entry, Handler, Route};
    pub use crate::middleware::{register_public, routed};
    pub use actix_web::dev::{AppService, HttpServiceFactory};
    pub use actix_web::{Either, HttpRequest, HttpResponse, Responder};
    pub use inventory;

    /// What an [`Entry`] returns.
    pub type EntryFuture = ::core::pin::Pin<Box<dyn ::core::future::Future<Output = HttpResponse>>>;

    /// A public handler's wrapper as an [`Entry`]: its future, answered as
    /// a response.
    pub fn erase<R: Responder + 'static>(
        handler: impl ::core::future::Future<Output = R> + 'static,
        req: HttpRequest,
    ) -> EntryFuture {
        Box::pin(async move { handler.await.respond_to(&req).map_into_boxed_body() })
    }

    /// The request body, taken whole and untouched so that the wrapper can
    /// hand it to the handler's own extractors after the check.
    pub struct Payload(actix_web::dev::Payload);

    impl Payload {
        /// The raw payload.
        pub fn into_inner(self) -> actix_web::dev::Payload {
            self.0
        }
    }

    impl FromRequest for Payload {
        type Error = actix_web::Error;
        type Future = Ready<Result<Self, Self::Error>>;

        fn from_request(_: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
            ready(Ok(Self(payload.take())))
        }
    }

    /// Runs the handler's own extractors, as actix would: an error becomes
    /// its response.
    pub async fn extract<T: FromRequest>(
        req: &HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Result<T, HttpResponse> {
        T::from_request(req, payload)
            .await
            .map_err(|err| HttpResponse::from_error(err.into()))
    }
}
