//! What the attributes register: each handler with its routes and
//! requirement ([`Handler`]), collected before `main` through the
//! [`inventory`](https://docs.rs/inventory) crate ([`handlers`]).
//!
//! Beside the decision (`access`, whose rules it records), below the audit
//! built on it and the middleware.

use std::fmt;

use actix_web::{HttpRequest, HttpResponse};

use crate::access::{Require, Rule, check};

/// One handler carrying `#[login_required]`, `#[permission_required]`,
/// `#[user_passes_test]` or `#[login_not_required]`, as the attribute saw it.
/// Built by the attributes; read it through [`handlers`].
#[derive(Debug)]
pub struct Handler {
    /// The fn's name.
    pub name: &'static str,
    /// The module that holds it (`module_path!()`).
    pub module: &'static str,
    /// The name actix gives its resource: the `name = "..."` of its routing
    /// attribute, or the fn's name.
    pub resource: &'static str,
    /// Its routes, when the attribute sits above actix's routing attribute
    /// (`#[get]`, `#[route]`, `#[routes]`) and could read them; empty
    /// otherwise (below `#[get]`, or routed by hand with `.route(..)`).
    pub routes: &'static [Route],
    /// What it requires.
    pub access: Access,
    /// For a `#[login_not_required]` handler above a routing attribute: the
    /// handler as the sentinel of a same-path public route calls it (the
    /// request and its body in, the response out). `None` otherwise.
    pub entry: Option<Entry>,
}

/// A public handler, callable without knowing its argument or return
/// types: what [`Handler::entry`] holds.
pub type Entry =
    fn(
        actix_web::HttpRequest,
        actix_web::dev::Payload,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = actix_web::HttpResponse>>>;

/// A route of a [`Handler`], as its routing attribute gives it.
#[derive(Debug)]
pub struct Route {
    /// The HTTP methods, upper case (`["GET"]`).
    pub methods: &'static [&'static str],
    /// The path pattern, without any scope prefix (`"/items/{id}"`).
    pub path: &'static str,
    /// Whether the routing attribute adds its own `guard = ".."`: then a
    /// request may fall through to another resource with the same path.
    pub guarded: bool,
    /// The name the app gave the route (`name = ".."`), or the fn's name:
    /// what `url_for` takes.
    pub name: &'static str,
    /// The name actix's router knows the route by. For a
    /// `#[login_not_required]` handler above its routing attribute it is a
    /// reserved name (`__permit:...`) that no other resource carries, so
    /// that [`LoginRequired`](crate::LoginRequired) can tell which resource
    /// a path leads to, while [`Route::name`] stays usable with `url_for`.
    /// Otherwise the same as [`Route::name`].
    pub id: &'static str,
}

/// What a [`Handler`] requires.
#[derive(Debug)]
pub enum Access {
    /// `#[login_not_required]`: anyone, also under deny-by-default.
    Public,
    /// The checks of the stacked attributes, run top to bottom.
    Checks(&'static [Rule]),
}

impl Handler {
    /// The check at `index`, as the attribute's wrapper runs it (a public
    /// handler has none: deny by default's login rule stands in).
    pub(crate) fn rule(&'static self, index: usize) -> &'static Rule {
        match self.access {
            Access::Checks(rules) => rules.get(index).unwrap_or(&crate::access::DEFAULT_RULE),
            Access::Public => &crate::access::DEFAULT_RULE,
        }
    }

    /// `module::name`.
    pub fn path(&self) -> String {
        format!("{}::{}", self.module, self.name)
    }

    /// Whether the handler is `#[login_not_required]`.
    pub fn is_public(&self) -> bool {
        matches!(self.access, Access::Public)
    }

    /// The permissions its checks name, in order, each once.
    pub fn permissions(&self) -> Vec<&'static str> {
        let mut seen = Vec::new();
        if let Access::Checks(rules) = self.access {
            for rule in rules {
                if let Require::Perms(groups) = rule.require {
                    for perm in groups.iter().flat_map(|any| any.iter()) {
                        if !seen.contains(perm) {
                            seen.push(*perm);
                        }
                    }
                }
            }
        }
        seen
    }

    /// The routes on which deny-by-default can let anonymous requests
    /// through: those of a public handler whose attribute sits above its
    /// routing attribute, so that the route carries a reserved
    /// [`Route::id`]. Whether a given app really reaches them depends on
    /// where it registers the handler: see [`reachable`](crate::audit::reachable).
    pub fn anonymous_routes(&self) -> impl Iterator<Item = &'static Route> {
        let routes: &'static [Route] = if self.is_public() { self.routes } else { &[] };
        routes.iter().filter(|route| route.is_reserved())
    }

    /// Whether [`Handler::anonymous_routes`] lists any route.
    pub fn is_anonymous_reachable(&self) -> bool {
        self.anonymous_routes().next().is_some()
    }
}

/// `GET /items/{id}`, `GET|PUT /ping`, with ` (guarded)` after a route that
/// carries its own guard.
impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.methods.join("|"), self.path)?;
        if self.guarded {
            f.write_str(" (guarded)")?;
        }
        Ok(())
    }
}

/// The requirement column of the audit: `public`, `login`,
/// `perms: a.x and (b.y or c.z)`, `test: path::to::predicate`, stacked
/// checks joined by `; `; with `object = "id"`, `perms: a.x (or on {id})`
/// (the model permission, or the permission on that object) and
/// `test: path (given {id})`.
impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Public => f.write_str("public"),
            Access::Checks(rules) => {
                for (i, rule) in rules.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{}", rule.require)?;
                    match (&rule.require, rule.object) {
                        (Require::Perms(_), Some(segment)) => write!(f, " (or on {{{segment}}})")?,
                        (Require::Test(_), Some(segment)) => write!(f, " (given {{{segment}}})")?,
                        _ => {}
                    }
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Require {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Require::Login => f.write_str("login"),
            Require::Test(path) => write!(f, "test: {path}"),
            Require::RecentLogin(secs) => write!(f, "recent login: {}", MaxAge(*secs)),
            Require::Perms(groups) => {
                f.write_str("perms: ")?;
                for (i, any) in groups.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    let wrap = any.len() > 1 && groups.len() > 1;
                    if wrap {
                        f.write_str("(")?;
                    }
                    f.write_str(&any.join(" or "))?;
                    if wrap {
                        f.write_str(")")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// A `max_age` as the attribute writes it: `10m`, `1h30m`, `45s`.
pub(crate) struct MaxAge(pub(crate) u64);

impl fmt::Display for MaxAge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        if rest == 0 {
            return f.write_str("0s");
        }
        for (unit, secs) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if rest >= secs {
                write!(f, "{}{unit}", rest / secs)?;
                rest %= secs;
            }
        }
        Ok(())
    }
}

/// What the attributes submit to the registry: a handler's description.
#[doc(hidden)]
pub struct Registered(pub &'static Handler);

inventory::collect!(Registered);

/// Submitted once by this crate: its presence proves that registration runs
/// on this target.
struct Alive;

inventory::collect!(Alive);
inventory::submit!(Alive);

/// Every registered handler of the program, sorted by module and name.
///
/// # Panics
/// When registration did not run at start-up (a target where the
/// `inventory` crate's constructors are not called): an empty list would
/// make [`check_permissions`](crate::audit::check_permissions) report nothing missing and deny by default
/// refuse every public page, silently.
pub fn handlers() -> Vec<&'static Handler> {
    assert!(
        inventory::iter::<Alive>.into_iter().next().is_some(),
        "actix-permit: handler registration did not run at start-up on this target; \
         the audit and deny by default cannot work without it"
    );
    let mut all: Vec<&'static Handler> = inventory::iter::<Registered>
        .into_iter()
        .map(|registered| registered.0)
        .collect();
    all.sort_by(|a, b| (a.module, a.name).cmp(&(b.module, b.name)));
    all
}

/// Runs the `login_required` or `permission_required` rule at `index` of
/// `handler`, as the attributes' wrappers do (a reference and an index
/// rather than a method call in each of them: less code per handler).
#[doc(hidden)]
pub fn check_at<'r>(
    req: &'r HttpRequest,
    handler: &'static Handler,
    index: usize,
) -> impl Future<Output = Result<(), HttpResponse>> + 'r {
    check(req, handler.rule(index))
}

/// The rule at `index` of `handler`, for the predicate checks of the
/// attributes' wrappers.
#[doc(hidden)]
pub fn rule_at(handler: &'static Handler, index: usize) -> &'static Rule {
    handler.rule(index)
}
