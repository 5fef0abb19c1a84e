//! The access decision: the rules the macros generate and the checks that
//! run them (here), the object a check is about (`object.rs`), predicates
//! (`predicate.rs`), the one place where a denial is logged and rendered
//! (`denial.rs`), Django's `request.user` (`current_user.rs`) and the
//! extraction that runs after a check (`extract.rs`). What the rules are
//! is `rules.rs`.

use std::rc::Rc;

use actix_web::{HttpRequest, HttpResponse};

use crate::config::{Denial, Reason, default_response};
use crate::rules::{self, Standing};
use crate::state::RequestAuth;

mod current_user;
mod denial;
mod extract;
mod object;
mod predicate;

pub use current_user::CurrentUser;
pub(crate) use denial::deny_error;
use denial::{deny, render};
pub use extract::{Payload, extract};
use object::object_id;
pub use predicate::{ObjectPredicate, Predicate, check_test, check_test_on};

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
    /// `#[recent_login_required(max_age = "..")]`: the user proved their
    /// password (logged in, or [`reauthenticate`](crate::reauthenticate)d)
    /// at most this many seconds ago.
    RecentLogin(u64),
}

/// Runs a `login_required` or `permission_required` rule.
pub(crate) async fn check(req: &HttpRequest, rule: &'static Rule) -> Result<(), HttpResponse> {
    let (auth, user) = principal(req, rule).await?;
    let Some(user) = user else {
        return Err(deny(req, &auth, rule, Reason::LoginRequired, &[]));
    };
    let groups = match rule.require {
        Require::Perms(groups) => groups,
        Require::RecentLogin(max_age) => {
            let max_age = std::time::Duration::from_secs(max_age);
            let now = std::time::SystemTime::now();
            if rules::proved_within(auth.proved_at(), now, max_age) {
                return Ok(());
            }
            return Err(deny(
                req,
                &auth,
                rule,
                Reason::ReauthenticationRequired,
                &[],
            ));
        }
        Require::Login | Require::Test(_) => return Ok(()),
    };
    if auth.standing(Some(&*user)) == Standing::Superuser {
        return Ok(());
    }
    let held = match auth.permissions(Some(&user)).await {
        Ok(held) => held,
        Err(err) => return Err(deny_error(req, &auth, &err)),
    };
    let Some(missing) = rules::first_unmet(groups, |perm| held.contains(perm)) else {
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
    match rules::first_unmet(groups, |perm| held.contains(perm) || on.contains(perm)) {
        None => Ok(()),
        Some(missing) => Err(deny(req, &auth, rule, Reason::Forbidden, missing)),
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
