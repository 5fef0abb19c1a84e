//! Deny by default, in one wing. Under [`LoginRequired`], an anonymous
//! request runs a handler only when that handler carries
//! `#[login_not_required]` and the middleware can prove that actix's router
//! will pick it; anything it cannot prove is denied.
//!
//! How the proof works, file by file:
//! - `public.rs`: the attribute registers each public route under a
//!   reserved name (`__permit:…`), with a guard ([`routed`]) that notes the
//!   router picked it and a sentinel after it that catches what it
//!   refuses; [`scope`] builds scopes that cannot carry a guard, so the
//!   proof reaches inside them.
//! - `login_required.rs`: the middleware. It must wrap the router itself
//!   (nothing between it and the router may change the path): at start it
//!   compares, by `TypeId`, the service it wraps with the one actix's
//!   router is, and refuses to start otherwise. Per request it asks the
//!   resource map which resource the path leads to; a public one lets the
//!   request through with a [`Passed`] mark, anything else is the login
//!   response; after the router, a mark nobody set fails closed.
//! - `routes.rs`: the registry's public routes, read once, and what an app
//!   lets anonymous requests reach (the audit's [`reachable`]).
//!
//! The invariant is proven by a model-based property test over generated
//! apps (`tests/tests/behaviour/deny_model.rs`).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;

use actix_web::guard::GuardContext;

mod login_required;
mod public;
mod routes;

pub use login_required::LoginRequired;
pub use public::{PlainScope, register_public, scope};
pub use routes::{Reachable, reachable, route_collisions};

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// The mark `LoginRequired` leaves on an anonymous request it lets through
/// to a public route.
pub(crate) struct Passed {
    /// The reserved name of the route the resource map led to.
    pub(crate) route: &'static str,
    /// Set when the router reached that route or its sentinel.
    pub(crate) served: Cell<bool>,
}

impl Passed {
    pub(crate) fn new(route: &'static str) -> Self {
        Self {
            route,
            served: Cell::new(false),
        }
    }
}

/// The guard the attribute appends to a public route: notes that the
/// router picked it, and lets it through.
#[doc(hidden)]
pub fn routed(ctx: &GuardContext<'_>) -> bool {
    if let Some(passed) = ctx.req_data().get::<Passed>() {
        passed.served.set(true);
    }
    true
}
