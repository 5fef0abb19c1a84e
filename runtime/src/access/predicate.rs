//! `user_passes_test`: the predicate's shapes and the checks that run it,
//! bounded by the backend timeout and contained if it panics.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::{HttpRequest, HttpResponse};

use super::{CurrentUser, Rule, deny, deny_error, object_id, principal, render};
use crate::config::Reason;
use crate::error::{BackendError, PermitError};
use crate::state::{RequestAuth, catch_panic};

/// Runs a `user_passes_test` rule: the predicate sees the current user
/// (anonymous too); when it answers no, anonymous users get the login
/// response and others 403. A panicking predicate is a 500.
#[doc(hidden)]
pub async fn check_test(
    req: &HttpRequest,
    rule: &Rule,
    predicate: ErasedPredicate<'_>,
) -> Result<(), HttpResponse> {
    let (auth, user) = principal(req, rule).await?;
    let user = CurrentUser::from_parts(Rc::clone(&auth), user);
    let verdict = match predicate {
        ErasedPredicate::Sync(test) => catch_unwind(AssertUnwindSafe(|| test(&user))).ok(),
        ErasedPredicate::Async(test) => match bounded_predicate(&auth, test.call(&user)).await {
            Ok(verdict) => verdict,
            Err(err) => return Err(deny_error(req, &auth, &err)),
        },
    };
    refusal(req, &auth, rule, &user, verdict).map_or(Ok(()), Err)
}

/// Runs a `user_passes_test(.., object = "id")` rule: as [`check_test`],
/// with the object's id from the route handed to the predicate.
#[doc(hidden)]
pub async fn check_test_on(
    req: &HttpRequest,
    rule: &Rule,
    predicate: ErasedObjectPredicate<'_>,
) -> Result<(), HttpResponse> {
    let (auth, user) = principal(req, rule).await?;
    let Some(object) = object_id(req, rule) else {
        return Err(render(req, &auth, Reason::Error, &[], None, None));
    };
    let user = CurrentUser::from_parts(Rc::clone(&auth), user);
    let verdict = match predicate {
        ErasedObjectPredicate::Sync(test) => {
            catch_unwind(AssertUnwindSafe(|| test(&user, &object))).ok()
        }
        ErasedObjectPredicate::Async(test) => {
            match bounded_predicate(&auth, test.call(&user, &object)).await {
                Ok(verdict) => verdict,
                Err(err) => return Err(deny_error(req, &auth, &err)),
            }
        }
    };
    refusal(req, &auth, rule, &user, verdict).map_or(Ok(()), Err)
}

/// Runs an async predicate under the backend timeout, as every backend
/// call is: its answer, `None` when it panicked, an error (503) when it did
/// not answer in time.
async fn bounded_predicate(
    auth: &RequestAuth,
    call: impl Future<Output = bool>,
) -> Result<Option<bool>, PermitError> {
    let call = catch_panic(call);
    match auth.shared().timeout {
        None => Ok(call.await.ok()),
        Some(limit) => match tokio::time::timeout(limit, call).await {
            Ok(verdict) => Ok(verdict.ok()),
            Err(_) => Err(PermitError::Backend(BackendError::new(format!(
                "the access predicate did not answer within {limit:?}"
            )))),
        },
    }
}

/// The response refusing the request for a predicate's answer (`None`: it
/// panicked), or `None` when it passed.
fn refusal(
    req: &HttpRequest,
    auth: &RequestAuth,
    rule: &Rule,
    user: &CurrentUser,
    verdict: Option<bool>,
) -> Option<HttpResponse> {
    match verdict {
        Some(true) => None,
        Some(false) if user.is_anonymous() => {
            Some(deny(req, auth, rule, Reason::LoginRequired, &[]))
        }
        Some(false) => Some(deny(req, auth, rule, Reason::Forbidden, &[])),
        None => {
            tracing::error!(target: "actix_permit", handler = rule.handler, predicate = ?rule.require, "the access predicate panicked");
            Some(deny_error(req, auth, &PermitError::PredicatePanicked))
        }
    }
}

/// A `user_passes_test` predicate: `fn(&CurrentUser) -> bool` or
/// `async fn(&CurrentUser) -> bool`. `M` tells the two apart; it is inferred.
/// Implemented for every such function; there is nothing to implement.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a `user_passes_test` predicate",
    label = "expected `fn(&CurrentUser) -> bool` or `async fn(&CurrentUser) -> bool`",
    note = "the predicate receives `&actix_permit::CurrentUser` and answers `bool`, directly or from an `async fn`"
)]
pub trait Predicate<M> {
    /// The predicate as the check calls it.
    #[doc(hidden)]
    fn __erase(&self) -> ErasedPredicate<'_>;
}

/// A predicate with its type erased, so that a wrong one is one error at the
/// macro's argument and nothing after.
#[doc(hidden)]
pub enum ErasedPredicate<'a> {
    Sync(&'a dyn Fn(&CurrentUser) -> bool),
    Async(&'a dyn AsyncPredicate),
}

/// An async predicate, callable through `dyn`.
#[doc(hidden)]
pub trait AsyncPredicate {
    fn call<'a>(&'a self, user: &'a CurrentUser) -> Pin<Box<dyn Future<Output = bool> + 'a>>;
}

impl<F: std::ops::AsyncFn(&CurrentUser) -> bool> AsyncPredicate for F {
    fn call<'a>(&'a self, user: &'a CurrentUser) -> Pin<Box<dyn Future<Output = bool> + 'a>> {
        Box::pin(self(user))
    }
}

/// Marks [`Predicate`] impls for plain functions.
#[doc(hidden)]
pub enum PlainFn {}

/// Marks [`Predicate`] impls for async functions.
#[doc(hidden)]
pub enum AsyncFn {}

impl<F: Fn(&CurrentUser) -> bool> Predicate<PlainFn> for F {
    fn __erase(&self) -> ErasedPredicate<'_> {
        ErasedPredicate::Sync(self)
    }
}

impl<F: std::ops::AsyncFn(&CurrentUser) -> bool> Predicate<AsyncFn> for F {
    fn __erase(&self) -> ErasedPredicate<'_> {
        ErasedPredicate::Async(self)
    }
}

/// A `user_passes_test(.., object = "id")` predicate:
/// `fn(&CurrentUser, &str) -> bool` or `async fn(&CurrentUser, &str) ->
/// bool`, given the user and the object's id. Implemented for every such
/// function; there is nothing to implement.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a `user_passes_test` predicate with `object = ..`",
    label = "expected `fn(&CurrentUser, &str) -> bool` or `async fn(&CurrentUser, &str) -> bool`",
    note = "with `object = \"segment\"` the predicate receives `&actix_permit::CurrentUser` and the object's id as `&str`, and answers `bool`"
)]
pub trait ObjectPredicate<M> {
    /// The predicate as the check calls it.
    #[doc(hidden)]
    fn __erase(&self) -> ErasedObjectPredicate<'_>;
}

/// An object predicate with its type erased.
#[doc(hidden)]
pub enum ErasedObjectPredicate<'a> {
    Sync(&'a dyn Fn(&CurrentUser, &str) -> bool),
    Async(&'a dyn AsyncObjectPredicate),
}

/// An async object predicate, callable through `dyn`.
#[doc(hidden)]
pub trait AsyncObjectPredicate {
    fn call<'a>(
        &'a self,
        user: &'a CurrentUser,
        object: &'a str,
    ) -> Pin<Box<dyn Future<Output = bool> + 'a>>;
}

impl<F: std::ops::AsyncFn(&CurrentUser, &str) -> bool> AsyncObjectPredicate for F {
    fn call<'a>(
        &'a self,
        user: &'a CurrentUser,
        object: &'a str,
    ) -> Pin<Box<dyn Future<Output = bool> + 'a>> {
        Box::pin(self(user, object))
    }
}

impl<F: Fn(&CurrentUser, &str) -> bool> ObjectPredicate<PlainFn> for F {
    fn __erase(&self) -> ErasedObjectPredicate<'_> {
        ErasedObjectPredicate::Sync(self)
    }
}

impl<F: std::ops::AsyncFn(&CurrentUser, &str) -> bool> ObjectPredicate<AsyncFn> for F {
    fn __erase(&self) -> ErasedObjectPredicate<'_> {
        ErasedObjectPredicate::Async(self)
    }
}
