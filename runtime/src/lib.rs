#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
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
mod deny;
#[cfg(feature = "django")]
pub mod django;
mod error;
pub mod identity;
mod middleware;
#[cfg(feature = "utoipa")]
pub mod openapi;
pub mod password;
pub mod permission;
pub mod records;
pub mod redirect;
mod registry;
mod rules;
mod session;
mod state;
pub mod throttle;
pub mod token;
mod user;

pub use access::CurrentUser;
pub use access::{ObjectPredicate, Predicate};
pub use deny::{LoginRequired, PlainScope, scope};
pub use error::{PermissionDenied, PermitError};
pub use identity::LoginError;
pub use middleware::Permit;
pub use session::{authenticate, login, logout, reauthenticate};
pub use user::AuthUser;

#[doc = include_str!("../docs/login_required.md")]
pub use actix_permit_macros::login_required;

#[doc = include_str!("../docs/permission_required.md")]
pub use actix_permit_macros::permission_required;

#[doc = include_str!("../docs/user_passes_test.md")]
pub use actix_permit_macros::user_passes_test;

#[doc = include_str!("../docs/recent_login_required.md")]
pub use actix_permit_macros::recent_login_required;

#[doc = include_str!("../docs/login_not_required.md")]
pub use actix_permit_macros::login_not_required;

/// The guide: topic pages, in the order an app meets them. Their examples
/// are compiled (and run, where they need no server) as doctests.
pub mod guide {
    #[doc = include_str!("../docs/guide/setup.md")]
    pub mod setup {}
    #[doc = include_str!("../docs/guide/backends.md")]
    pub mod backends {}
    #[doc = include_str!("../docs/guide/identity.md")]
    pub mod identity {}
    #[doc = include_str!("../docs/guide/object_permissions.md")]
    pub mod object_permissions {}
    #[doc = include_str!("../docs/guide/deny_by_default.md")]
    pub mod deny_by_default {}
    #[doc = include_str!("../docs/guide/openapi.md")]
    pub mod openapi {}
    #[doc = include_str!("../docs/guide/matrix.md")]
    pub mod matrix {}
    #[doc = include_str!("../docs/guide/several_instances.md")]
    pub mod several_instances {}
    #[doc = include_str!("../docs/guide/beside_django.md")]
    pub mod beside_django {}
    #[doc = include_str!("../docs/guide/decisions.md")]
    pub mod decisions {}
    #[doc = include_str!("../docs/guide/how_it_is_built.md")]
    pub mod how_it_is_built {}
}

/// What the macros' generated code calls. Not a public API: it changes
/// without notice.
#[doc(hidden)]
pub mod __private;
