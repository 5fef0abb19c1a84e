//! The access decision: the rules the macros generate, the checks that run
//! them, and the one place where a denial is logged and rendered.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::{HttpRequest, HttpResponse};
use percent_encoding::percent_decode_str;

use crate::config::{Config, Denial, Reason, default_response};
use crate::error::{BackendError, PermitError};
use crate::redirect::login_redirect;
use crate::request::{CurrentUser, RequestAuth, catch_panic};

/// One check of a handler: what it requires and where it sends anonymous
/// users. Built by the attributes as a constant; listed by
/// [`audit::handlers`](crate::audit::handlers).
#[derive(Debug)]
pub struct Rule {
    /// The requirement.
    pub require: Require,
    /// The macro's `login_url`, overriding the app's.
    pub login_url: Option<&'static str>,
    /// The macro's `redirect_field`, overriding the app's.
    pub redirect_field: Option<&'static str>,
    /// The handler's name, for logs.
    pub handler: &'static str,
    /// `object = "id"`: the route segment whose value is the object's id,
    /// decoded as `web::Path` decodes it. A permission then also counts
    /// when held on that object; a predicate gets the id. A request whose
    /// matched path has no segment of that name, or several (a scope's and
    /// the handler's), is refused with a 500.
    pub object: Option<&'static str>,
}

/// The requirement of a [`Rule`].
#[derive(Debug)]
pub enum Require {
    /// An authenticated, active user.
    Login,
    /// Every inner list needs at least one of its permissions held:
    /// `"a.x", "b.y"` is `[["a.x"], ["b.y"]]`, `any("a.x", "b.y")` is
    /// `[["a.x", "b.y"]]`.
    Perms(&'static [&'static [&'static str]]),
    /// A predicate (named here for logs) must pass.
    Test(&'static str),
}

/// Runs a `login_required` or `permission_required` rule.
pub(crate) async fn check(req: &HttpRequest, rule: &'static Rule) -> Result<(), HttpResponse> {
    let (auth, user) = principal(req, rule).await?;
    let Some(user) = user else {
        return Err(deny(req, &auth, rule, Reason::LoginRequired, &[]));
    };
    let Require::Perms(groups) = rule.require else {
        return Ok(());
    };
    if user.is_superuser() {
        return Ok(());
    }
    let held = match auth.permissions(Some(&user)).await {
        Ok(held) => held,
        Err(err) => return Err(deny_error(req, &auth, &err)),
    };
    let Some(missing) = groups
        .iter()
        .find(|any| !any.iter().any(|perm| held.contains(perm)))
    else {
        return Ok(());
    };
    if rule.object.is_none() {
        return Err(deny(req, &auth, rule, Reason::Forbidden, missing));
    }
    // What the model permissions leave open, the object's may allow.
    let Some(object) = object_id(req, rule) else {
        return Err(render(req, &auth, Reason::Error, &[], None, None));
    };
    let on = match auth.object_permissions(&user, &object).await {
        Ok(on) => on,
        Err(err) => return Err(deny_error(req, &auth, &err)),
    };
    match groups.iter().find(|any| {
        !any.iter()
            .any(|perm| held.contains(perm) || on.contains(perm))
    }) {
        None => Ok(()),
        Some(missing) => Err(deny(req, &auth, rule, Reason::Forbidden, missing)),
    }
}

/// The object's id: the value of the rule's route segment, decoded exactly
/// as the handler's own extractor decodes it (`web::Path` percent-decodes
/// every escape, `%2F`, `%25` and `%2B` too, which the router keeps
/// encoded), so the check and the handler always name the same object.
/// Nothing is extracted. A route without that segment, or with several of
/// that name (a scope's and the handler's), is the app's mistake: logged
/// here naming the handler, and the caller answers 500.
fn object_id<'r>(req: &'r HttpRequest, rule: &Rule) -> Option<Cow<'r, str>> {
    let segment = rule.object.unwrap_or_default();
    let mut values = req
        .match_info()
        .iter()
        .filter(|(name, _)| *name == segment)
        .map(|(_, value)| value);
    let problem = match (values.next(), values.next()) {
        (Some(raw), None) => return Some(percent_decode_str(raw).decode_utf8_lossy()),
        (None, _) => "names no segment of this route",
        (Some(_), Some(_)) => {
            "names several segments of this route (a scope's and the handler's?), so which object the handler acts on is ambiguous"
        }
    };
    tracing::error!(
        target: "actix_permit",
        handler = rule.handler,
        route = %RouteOf(req),
        "object = \"{segment}\" {problem}; failing closed"
    );
    None
}

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

type Principal = Option<std::sync::Arc<dyn crate::user::AuthUser>>;

/// The request's record and its user, or the rendered failure.
pub(crate) async fn principal(
    req: &HttpRequest,
    rule: &Rule,
) -> Result<(Rc<RequestAuth>, Principal), HttpResponse> {
    let auth = match RequestAuth::of(req) {
        Ok(auth) => auth,
        Err(err) => {
            tracing::error!(target: "actix_permit", handler = rule.handler, path = req.path(), "{err}; denying");
            return Err(default_response(&Denial {
                reason: err.reason(),
                login_redirect: None,
                missing: &[],
                user: None,
            }));
        }
    };
    match auth.principal(req).await {
        Ok(user) => Ok((auth, user)),
        Err(err) => Err(deny_error(req, &auth, &err)),
    }
}

/// Logs a denial and renders it with the app's config.
fn deny(
    req: &HttpRequest,
    auth: &RequestAuth,
    rule: &Rule,
    reason: Reason,
    missing: &[&str],
) -> HttpResponse {
    tracing::info!(
        target: "actix_permit",
        reason = reason.as_str(),
        user = %UserOf(auth),
        route = %RouteOf(req),
        handler = rule.handler,
        missing = ?missing,
        "request denied"
    );
    render(
        req,
        auth,
        reason,
        missing,
        rule.login_url,
        rule.redirect_field,
    )
}

/// Renders an error from a check in code, or a backend failure, with the
/// app's config.
pub(crate) fn deny_error(req: &HttpRequest, auth: &RequestAuth, err: &PermitError) -> HttpResponse {
    let reason = err.reason();
    if matches!(reason, Reason::LoginRequired | Reason::Forbidden) {
        tracing::info!(
            target: "actix_permit",
            reason = reason.as_str(),
            user = %UserOf(auth),
            route = %RouteOf(req),
            "request denied by the handler"
        );
    } else {
        tracing::error!(target: "actix_permit", reason = reason.as_str(), path = req.path(), error = %err, "request failed closed");
    }
    let mut response = render(req, auth, reason, &[], None, None);
    err.add_retry_after(&mut response);
    response
}

/// The user id for logs, formatted only when a log is written (some crates
/// turn on `tracing`'s `log` fallback, which builds the fields eagerly).
struct UserOf<'a>(&'a RequestAuth);

impl fmt::Display for UserOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.principal_if_loaded() {
            Some(user) => f.write_str(user.id()),
            None => f.write_str("anonymous"),
        }
    }
}

/// The matched route pattern (or the path), formatted only when logged.
struct RouteOf<'a>(&'a HttpRequest);

impl fmt::Display for RouteOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.match_pattern() {
            Some(pattern) => f.write_str(&pattern),
            None => f.write_str(self.0.path()),
        }
    }
}

fn render(
    req: &HttpRequest,
    auth: &RequestAuth,
    reason: Reason,
    missing: &[&str],
    login_url: Option<&str>,
    redirect_field: Option<&str>,
) -> HttpResponse {
    let config = auth.config();
    let login_redirect = match (reason, login_url.or(config.login_url.as_deref())) {
        (Reason::LoginRequired, Some(url)) => {
            let field = redirect_field.unwrap_or(&config.redirect_field);
            let next = next_url(req, url, config);
            Some(login_redirect(url, field, &next))
        }
        _ => None,
    };
    config.render(
        req,
        &Denial {
            reason,
            login_redirect,
            missing,
            user: auth.principal_if_loaded(),
        },
    )
}

/// The URL to come back to, as Django's `redirect_to_login` gets it: the
/// path and query as the request carried them (a bare trailing `?`
/// dropped); prefixed with the configured site origin when the login page
/// is on another site. Never built from forwarded headers.
fn next_url(req: &HttpRequest, login_url: &str, config: &Config) -> String {
    let uri = req.uri();
    let path = match uri.query() {
        Some(query) if !query.is_empty() => {
            uri.path_and_query().map_or(uri.path(), |pq| pq.as_str())
        }
        _ => uri.path(),
    };
    let Some(at) = login_url.find("://") else {
        return path.to_owned();
    };
    let login_origin = login_url[at + 3..]
        .find(['/', '?', '#'])
        .map_or(login_url, |end| &login_url[..at + 3 + end]);
    match config.site_origin.as_deref() {
        Some(origin) if origin.eq_ignore_ascii_case(login_origin) => path.to_owned(),
        Some(origin) => format!("{origin}{path}"),
        None => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(target: "actix_permit", login_url, "the login URL is on another site but no Config::site_origin is set: its `next` is the path alone");
            });
            path.to_owned()
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

/// The rule a deny-by-default denial is logged and rendered with.
pub(crate) static DEFAULT_RULE: Rule = Rule {
    require: Require::Login,
    login_url: None,
    redirect_field: None,
    handler: "(deny by default)",
    object: None,
};

/// The login response for a request that has no user, or, when it turns
/// out to have one, a 500: the request reached a place only anonymous
/// requests marked by `LoginRequired` should reach.
pub(crate) async fn deny_anonymous(req: &HttpRequest) -> HttpResponse {
    match check(req, &DEFAULT_RULE).await {
        Err(response) => response,
        Ok(()) => {
            tracing::error!(target: "actix_permit", path = req.path(), "a signed-in request was routed like an anonymous one LoginRequired let through; failing closed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// What `#[login_required]` runs: the user, or the login response (500
/// without `Permit`, 503 when the backend fails).
pub(crate) async fn require_user(req: &HttpRequest) -> Result<(), HttpResponse> {
    check(req, &DEFAULT_RULE).await
}
