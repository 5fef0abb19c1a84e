//! What the app protects: every handler carrying one of the attributes is
//! registered when the program starts, so the app can list them
//! ([`handlers`]), and check at start that the permissions they name exist
//! ([`check_permissions`]).
//!
//! Registration goes through the [`inventory`](https://docs.rs/inventory)
//! crate: the attribute submits the handler's description, which a
//! constructor adds to the list before `main`, so nothing is listed by hand
//! and a handler cannot be forgotten. On a target where those constructors
//! do not run the crate does not compile (a `compile_error!` names the
//! target), and should one slip through, [`handlers`] panics at start
//! rather than answer an empty list.
//!
//! As with any link-time registration, handlers of a library crate are
//! listed when the program links that library's code, which it does as soon
//! as it uses something from it (a library nothing uses is not linked, and
//! its handlers cannot serve a request either).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::OnceLock;

use crate::backend::{Backend, BackendError};

pub use crate::access::{Require, Rule};

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
        crate::__private::Payload,
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
    /// where it registers the handler: see [`reachable`].
    pub fn anonymous_routes(&self) -> impl Iterator<Item = &'static Route> {
        let routes: &'static [Route] = if self.is_public() { self.routes } else { &[] };
        routes.iter().filter(|route| route.is_reserved())
    }

    /// Whether [`Handler::anonymous_routes`] lists any route.
    pub fn is_anonymous_reachable(&self) -> bool {
        self.anonymous_routes().next().is_some()
    }
}

/// The prefix of the reserved resource names; no resource of the app may
/// use it.
pub const RESERVED_PREFIX: &str = "__permit:";

impl Route {
    /// Whether [`Route::id`] is one of the reserved names.
    pub fn is_reserved(&self) -> bool {
        self.id.starts_with(RESERVED_PREFIX)
    }
}

/// The routes of public handlers that deny by default may prove: by their
/// reserved names, and in handler order. A name two handlers carry (a
/// `macro_rules!` that writes two handlers alike) is left out.
pub(crate) struct PublicRoutes {
    pub(crate) by_id: HashMap<&'static str, &'static Route>,
    ordered: Vec<(&'static Handler, &'static Route)>,
}

/// The [`PublicRoutes`] of the program, read once: the registry is complete
/// before `main`.
pub(crate) fn public_routes() -> &'static PublicRoutes {
    static ROUTES: OnceLock<PublicRoutes> = OnceLock::new();
    ROUTES.get_or_init(collect_public_routes)
}

/// Pairs of public handlers whose routes got the same reserved name (a
/// `macro_rules!` that writes two handlers alike): neither is trusted, so
/// both stay protected under [`LoginRequired`](crate::LoginRequired), which
/// names them in a warning when it is built.
pub fn route_collisions() -> Vec<(&'static Handler, &'static Handler)> {
    let mut seen: HashMap<&'static str, &'static Handler> = HashMap::new();
    let mut pairs = Vec::new();
    for handler in handlers() {
        for route in handler.anonymous_routes() {
            if let Some(first) = seen.insert(route.id, handler) {
                pairs.push((first, handler));
            }
        }
    }
    pairs
}

/// Names in a warning the handlers whose reserved route names collide.
pub(crate) fn warn_route_collisions() {
    for (first, second) in route_collisions() {
        tracing::warn!(
            target: "actix_permit",
            handler = %second.path(),
            other = %first.path(),
            "two #[login_not_required] handlers got the same reserved route name (written alike by one macro?); both stay protected under LoginRequired"
        );
    }
}

fn collect_public_routes() -> PublicRoutes {
    let all = handlers();
    let shared: HashSet<&'static str> = route_collisions()
        .into_iter()
        .flat_map(|(first, _)| first.anonymous_routes().map(|route| route.id))
        .collect();
    let ordered: Vec<_> = all
        .iter()
        .flat_map(|handler| {
            handler
                .anonymous_routes()
                .map(move |route| (*handler, route))
        })
        .filter(|(_, route)| !shared.contains(route.id))
        .collect();
    PublicRoutes {
        by_id: ordered
            .iter()
            .map(|(_, route)| (route.id, *route))
            .collect(),
        ordered,
    }
}

/// A route that anonymous requests reach in one app, as [`reachable`]
/// finds it.
#[derive(Debug, Clone)]
pub struct Reachable {
    /// The handler.
    pub handler: &'static Handler,
    /// Its route, as the attribute read it.
    pub route: &'static Route,
    /// The methods that reach it: the route's own, less those a public route
    /// registered before it on the same path takes first.
    pub methods: Vec<&'static str>,
    /// The full path, scope prefixes included, when the pattern has no
    /// dynamic segment; `None` for a pattern such as `/items/{id}`.
    pub path: Option<String>,
}

/// The public routes that deny by default lets anonymous requests reach in
/// the app that serves `req`: each route of a `#[login_not_required]`
/// handler registered there directly or in [`scope`](crate::scope)s all
/// the way down, that the resource map leads a path to first, or that the
/// sentinel of the route it leads to hands the request to
/// ([`same_path_sibling`]). Handlers registered inside a `web::scope` are
/// missing: their scope could carry a guard the middleware cannot see, so
/// they stay protected. A route with a guard of its own is listed with the
/// methods it takes when the guard lets the request through.
pub fn reachable(req: &actix_web::HttpRequest) -> Vec<Reachable> {
    use actix_web::error::UrlGenerationError;
    let rmap = req.resource_map();
    let public = &public_routes().by_id;
    let mut found = Vec::new();
    for &(handler, route) in &public_routes().ordered {
        {
            let path = match rmap.url_for(req, route.id, std::iter::empty::<&str>()) {
                Ok(url) => Some(url.path().to_owned()),
                Err(UrlGenerationError::NotEnoughElements) => None,
                Err(_) => continue,
            };
            let methods = match &path {
                // A dynamic pattern: listed when registered, as its own.
                None => route.methods.to_vec(),
                Some(path) => {
                    let Some(first) = rmap.match_name(path).and_then(|id| public.get(id)) else {
                        continue;
                    };
                    if first.id == route.id {
                        route.methods.to_vec()
                    } else if first.guarded {
                        Vec::new()
                    } else {
                        route
                            .methods
                            .iter()
                            .copied()
                            .filter(|method| !first.methods.contains(method))
                            .filter(|method| {
                                same_path_sibling(req, path, method, &[], first)
                                    .is_some_and(|sibling| std::ptr::eq(sibling, handler))
                            })
                            .collect()
                    }
                }
            };
            if !methods.is_empty() {
                found.push(Reachable {
                    handler,
                    route,
                    methods,
                    path,
                });
            }
        }
    }
    found
}

/// The public handler that the sentinel after route `of` hands an
/// anonymous request to, when `of` refused it: the first public route
/// (in handler order) of another handler with the same pattern as `of`,
/// no guard or middleware of its own, that takes `method` and that the
/// app registers where the request's path is (its `url_for`, with the
/// request's segment values `elements`, is `path`).
pub fn same_path_sibling(
    req: &actix_web::HttpRequest,
    path: &str,
    method: &str,
    elements: &[&str],
    of: &Route,
) -> Option<&'static Handler> {
    let rmap = req.resource_map();
    public_routes()
        .ordered
        .iter()
        .find(|(handler, route)| {
            handler.entry.is_some()
                && route.id != of.id
                && route.path == of.path
                && !route.guarded
                && route.methods.contains(&method)
                && rmap
                    .url_for(req, route.id, elements)
                    .is_ok_and(|url| url.path() == path)
        })
        .map(|(handler, _)| *handler)
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
/// checks joined by `; `.
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
/// make [`check_permissions`] report nothing missing and deny by default
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

/// A permission that some handler names and the backend does not define:
/// that route would answer 403 to everyone but superusers, forever.
#[derive(Debug, Clone)]
pub struct MissingPermission {
    /// The permission, as the handler names it.
    pub permission: &'static str,
    /// The handlers that name it.
    pub handlers: Vec<&'static Handler>,
}

impl fmt::Display for MissingPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "permission {:?} is not defined in the backend; named by ",
            self.permission
        )?;
        for (i, handler) in self.handlers.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", handler.path())?;
        }
        Ok(())
    }
}

/// What [`check_permissions`] does when a permission is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMissing {
    /// Log each one (`warn`, target `actix_permit`) and go on.
    Warn,
    /// Return [`CheckError::Missing`]: the app should refuse to start.
    Refuse,
}

/// Why [`check_permissions`] failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Handlers name permissions the backend does not define.
    #[error("{} permission(s) named by handlers are not defined: {}", .0.len(), Listed(.0))]
    Missing(Vec<MissingPermission>),
    /// The backend could not list its permissions.
    #[error("cannot check the permissions handlers name: {0}")]
    Backend(#[from] BackendError),
}

struct Listed<'a>(&'a [MissingPermission]);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, missing) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { "" } else { "; " })?;
            write!(f, "{missing}")?;
        }
        Ok(())
    }
}

/// Django's system check for permissions: every permission a registered
/// handler names must be defined by the backend
/// ([`Backend::defined_permissions`]). Returns the missing ones (empty when
/// all exist, or when the backend does not define permissions).
///
/// ```no_run
/// # async fn start(backend: actix_permit::MemoryBackend) -> Result<(), Box<dyn std::error::Error>> {
/// use actix_permit::audit::{OnMissing, check_permissions};
///
/// check_permissions(&backend, OnMissing::Refuse).await?; // before HttpServer::new
/// # Ok(()) }
/// ```
pub async fn check_permissions(
    backend: &dyn Backend,
    on_missing: OnMissing,
) -> Result<Vec<MissingPermission>, CheckError> {
    let Some(defined) = backend.defined_permissions().await? else {
        return Ok(Vec::new());
    };
    let missing = missing_from(&handlers(), &defined.into_iter().collect());
    for each in &missing {
        tracing::warn!(target: "actix_permit", permission = each.permission, "{each}");
    }
    match on_missing {
        OnMissing::Refuse if !missing.is_empty() => Err(CheckError::Missing(missing)),
        _ => Ok(missing),
    }
}

fn missing_from(
    handlers: &[&'static Handler],
    defined: &HashSet<String>,
) -> Vec<MissingPermission> {
    let mut missing: BTreeMap<&'static str, Vec<&'static Handler>> = BTreeMap::new();
    for handler in handlers {
        for perm in handler.permissions() {
            if !defined.contains(perm) {
                missing.entry(perm).or_default().push(handler);
            }
        }
    }
    missing
        .into_iter()
        .map(|(permission, handlers)| MissingPermission {
            permission,
            handlers,
        })
        .collect()
}

/// Registers the handler static named by the argument; emitted by the
/// attributes inside the handler. It goes through the `inventory` crate's
/// `submit!`, from a macro of this crate, so that the user's crate needs no
/// dependency of its own and still compiles under `#![forbid(unsafe_code)]`
/// (lints do not look into other crates' macros).
#[doc(hidden)]
#[macro_export]
macro_rules! __permit_register {
    ($handler:ident) => {
        $crate::__private::inventory::submit!($crate::__private::Registered(&$handler));
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    static EDIT: Handler = Handler {
        name: "edit",
        module: "app::items",
        resource: "edit",
        routes: &[Route {
            methods: &["GET", "POST"],
            path: "/items/{id}",
            guarded: false,
            name: "edit",
            id: "edit",
        }],
        access: Access::Checks(&[
            Rule {
                require: Require::Login,
                login_url: None,
                redirect_field: None,
                handler: "edit",
            },
            Rule {
                require: Require::Perms(&[&["app.change"], &["app.a", "app.b"]]),
                login_url: None,
                redirect_field: None,
                handler: "edit",
            },
            Rule {
                require: Require::Test("crate::is_staff"),
                login_url: None,
                redirect_field: None,
                handler: "edit",
            },
        ]),
        entry: None,
    };

    static HOME: Handler = Handler {
        name: "home",
        module: "app",
        resource: "home",
        routes: &[],
        access: Access::Public,
        entry: None,
    };

    #[test]
    fn audit_columns() {
        assert_eq!(EDIT.path(), "app::items::edit");
        assert_eq!(EDIT.routes[0].to_string(), "GET|POST /items/{id}");
        assert_eq!(
            EDIT.access.to_string(),
            "login; perms: app.change and (app.a or app.b); test: crate::is_staff"
        );
        assert_eq!(EDIT.permissions(), ["app.change", "app.a", "app.b"]);
        assert_eq!(HOME.access.to_string(), "public");
        assert!(!HOME.is_anonymous_reachable(), "route unknown: fail closed");
        let any = Require::Perms(&[&["a.x", "a.y"]]);
        assert_eq!(any.to_string(), "perms: a.x or a.y");
    }

    #[test]
    fn missing_permissions_name_their_handlers() {
        let defined: HashSet<String> = ["app.change".to_owned(), "app.a".to_owned()].into();
        let missing = missing_from(&[&EDIT, &HOME], &defined);
        assert_eq!(missing.len(), 1);
        assert_eq!(
            missing[0].to_string(),
            "permission \"app.b\" is not defined in the backend; named by app::items::edit"
        );
    }
}
