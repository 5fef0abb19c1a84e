//! Every shim the macros' generated code calls, and nothing else: the one
//! boundary between the attributes and the runtime (`macros/src/expand.rs`
//! names only `::actix_permit::__private::...`). Nothing in the runtime
//! uses this module.

pub use crate::access::{
    ObjectPredicate, Payload, Predicate, Require, Rule, check_test, check_test_on, extract,
};
pub use crate::deny::{register_public, routed};
pub use crate::registry::{Access, Handler, Registered, Route, check_at, rule_at};
pub use actix_web::dev::Payload as RawPayload;
pub use actix_web::dev::{AppService, HttpServiceFactory};
pub use actix_web::{Either, HttpRequest, HttpResponse, Responder};
pub use inventory;

/// What an [`Entry`](crate::audit::Entry) returns.
pub type EntryFuture = ::core::pin::Pin<Box<dyn ::core::future::Future<Output = HttpResponse>>>;

/// A public handler's wrapper as an [`Entry`](crate::audit::Entry): its
/// future, answered as a response.
pub fn erase<R: Responder + 'static>(
    handler: impl ::core::future::Future<Output = R> + 'static,
    req: HttpRequest,
) -> EntryFuture {
    Box::pin(async move { handler.await.respond_to(&req).map_into_boxed_body() })
}
