//! The public routes deny by default may prove, read once from the
//! registry: by reserved name, in handler order, collisions left out; the
//! sibling a sentinel hands a request to; and what an app lets anonymous
//! requests reach ([`reachable`], for the audit).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use crate::registry::{Handler, Route, handlers};

/// The prefix of the reserved resource names; no resource of the app may
/// use it.
pub(crate) const RESERVED_PREFIX: &str = "__permit:";

impl Route {
    /// Whether [`Route::id`] is one of the reserved names.
    pub(crate) fn is_reserved(&self) -> bool {
        self.id.starts_with(RESERVED_PREFIX)
    }
}

/// The routes of public handlers that deny by default may prove: by their
/// reserved names, and in handler order. A name two handlers carry (a
/// `macro_rules!` that writes two handlers alike) is left out.
pub(crate) struct PublicRoutes {
    pub(crate) by_id: HashMap<&'static str, &'static Route>,
    pub(crate) ordered: Vec<(&'static Handler, &'static Route)>,
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

/// The public handler that the sentinel after route `of` hands an
/// anonymous request to, when `of` refused it: the first public route
/// (in handler order) of another handler with the same pattern as `of`,
/// no guard or middleware of its own, that takes `method` and that the
/// app registers where the request's path is (its `url_for`, with the
/// request's segment values `elements`, is `path`).
pub(crate) fn same_path_sibling(
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
/// (a public route of another handler on the same path). Handlers registered inside a `web::scope` are
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
