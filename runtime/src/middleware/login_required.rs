//! [`LoginRequired`]: deny by default, as Django's `LoginRequiredMiddleware`.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Once};

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};

use super::LocalBoxFuture;
use crate::access::{Require, Rule, check};
use crate::audit::{self, Route};

/// The rule a deny-by-default denial is logged and rendered with.
static DEFAULT_RULE: Rule = Rule {
    require: Require::Login,
    login_url: None,
    redirect_field: None,
    handler: "(deny by default)",
};

/// Deny by default: every route the app (or scope) it wraps matches needs an
/// authenticated, active user, except handlers marked
/// [`#[login_not_required]`](crate::login_not_required) and the paths listed
/// with [`LoginRequired::public`]. Anonymous requests get the login response
/// (the app's login redirect, or 403). A URL that matches no route is let
/// through, so it still answers 404 (or reaches the app's
/// `default_service`, which therefore stays public).
///
/// Wrap it *inside* [`Permit`](crate::Permit) (actix runs the last `.wrap`
/// first), on the app or on a [`Scope`](actix_web::Scope):
///
/// ```
/// use actix_permit::{LoginRequired, MemoryBackend, Permit, login_not_required};
/// use actix_session::{SessionMiddleware, storage::CookieSessionStore};
/// use actix_web::{App, cookie::Key, get};
///
/// #[login_not_required]
/// #[get("/")]
/// async fn home() -> &'static str {
///     "anyone"
/// }
///
/// #[get("/dashboard")]
/// async fn dashboard() -> &'static str {
///     "signed-in users only, without an attribute"
/// }
///
/// let app = App::new()
///     .service(home)
///     .service(dashboard)
///     .wrap(LoginRequired::new().public("/static/"))
///     .wrap(Permit::new(MemoryBackend::new()).login_url("/login"))
///     .wrap(SessionMiddleware::new(CookieSessionStore::default(), Key::generate()));
/// ```
///
/// # How it finds the handler
/// The decision is made before routing, so that a protected handler never
/// runs. The middleware asks actix's resource map which resource the path
/// matches first ([`ResourceMap::match_name`](actix_web::dev::ResourceMap::match_name)
/// and `match_pattern`, on the decoded path the router itself uses), and
/// compares it with what the attributes registered
/// ([`audit::handlers`](crate::audit::handlers)): the resource name (the fn
/// name, or the routing attribute's `name = ".."`), the end of the pattern
/// (scopes add prefixes) and the methods. An anonymous request goes on when
/// - that resource is a `#[login_not_required]` handler taking the request's
///   method, or
/// - that resource is one of ours that does not take the method (so the
///   router moves on to the next resource of the same path) and a
///   `#[login_not_required]` handler on the same path takes it (a `GET` form
///   and its `POST`).
///
/// (An unannotated resource registered *between* those two, on the same path
/// and method, would shadow the public one and be reached instead: the
/// middleware cannot see the methods of resources no attribute registered.
/// actix never routes to the public handler in that case, so it is dead
/// code; the audit lists both.)
///
/// Everything else needs a user. In particular the attribute can read the
/// route only when it sits **above** actix's routing attribute
/// (`#[login_not_required] #[get("/")]`); below it, on a handler routed by
/// hand (`web::resource(..).to(..)`), behind a resource routed by hand on
/// the same path, or with a custom `guard = ".."`, the handler stays
/// protected: the middleware fails closed and logs a warning once. List
/// such paths with [`LoginRequired::public`]. Resource names tell handlers
/// apart, so give a public handler a name no other resource on the same
/// path shares (the middleware warns when two registered handlers share
/// one).
#[derive(Clone)]
pub struct LoginRequired {
    public_paths: Arc<[String]>,
    known: Arc<Known>,
}

/// The registered handlers whose routes the attributes could read.
#[derive(Default)]
struct Known {
    /// By actix resource name: each route, and whether anonymous users may
    /// take it.
    by_resource: HashMap<&'static str, Vec<(&'static Route, bool)>>,
    /// The routes anonymous users may take.
    public: Vec<&'static Route>,
}

impl Default for LoginRequired {
    fn default() -> Self {
        Self::new()
    }
}

impl LoginRequired {
    /// Deny by default, with the `#[login_not_required]` handlers of the
    /// program as the only public ones.
    pub fn new() -> Self {
        let mut known = Known::default();
        let handlers = audit::handlers();
        for handler in &handlers {
            for route in handler.routes {
                let open = handler.is_public() && !route.guarded;
                known
                    .by_resource
                    .entry(handler.resource)
                    .or_default()
                    .push((route, open));
                if open {
                    known.public.push(route);
                }
            }
        }
        static WARN: Once = Once::new();
        WARN.call_once(|| warn_unreachable(&handlers));
        Self {
            public_paths: Arc::from(Vec::new()),
            known: Arc::new(known),
        }
    }

    /// Also lets anonymous requests through to `path`: a path ending in `/`
    /// covers everything below it (`"/static/"`), any other only itself
    /// (`"/favicon.ico"`).
    pub fn public(mut self, path: impl Into<String>) -> Self {
        let mut paths = self.public_paths.to_vec();
        paths.push(path.into());
        self.public_paths = Arc::from(paths);
        self
    }

    /// The paths given to [`LoginRequired::public`].
    pub fn public_paths(&self) -> &[String] {
        &self.public_paths
    }

    /// Whether an anonymous request may go on without a user.
    fn lets_through(&self, req: &ServiceRequest) -> bool {
        // The path as the router sees it (percent-decoded where it may be),
        // not the raw one: `/it%65ms` is routed to `/items`.
        let path = req.match_info().as_str();
        if self.public_paths.iter().any(|public| {
            if public.ends_with('/') {
                path.starts_with(public.as_str())
            } else {
                path == public
            }
        }) {
            return true;
        }
        let rmap = req.resource_map();
        let Some(name) = rmap.match_name(path) else {
            // No resource at all: let it 404. A resource without a name
            // (routed by hand) is protected.
            return !rmap.has_resource(path);
        };
        let Some(routes) = self.known.by_resource.get(name) else {
            return false;
        };
        let Some(pattern) = rmap.match_pattern(path) else {
            return false;
        };
        let method = req.method().as_str();
        // The first resource on this path, as the attributes registered it.
        let here = || {
            routes
                .iter()
                .filter(|(route, _)| pattern.ends_with(route.path))
        };
        let mut taking = here().filter(|(route, _)| route.methods.contains(&method));
        match taking.next() {
            Some(&(_, open)) => open && taking.all(|&(_, open)| open),
            // Its method guard refuses this request, so the router goes on
            // to the next resource of the same path: public only when a
            // public handler on that path takes this method.
            None => self.known.public.iter().any(|public| {
                public.methods.contains(&method)
                    && here().any(|(route, _)| route.path == public.path)
            }),
        }
    }
}

/// Says once which `#[login_not_required]` handlers stay protected, and
/// which resource names are ambiguous.
fn warn_unreachable(handlers: &[&'static audit::Handler]) {
    for handler in handlers {
        if handler.is_public()
            && (handler.routes.is_empty() || handler.routes.iter().any(|r| r.guarded))
        {
            tracing::warn!(
                target: "actix_permit",
                handler = %handler.path(),
                "#[login_not_required] handler stays protected under LoginRequired on the routes it cannot see or that carry a guard; put the attribute above #[get] or list the path with LoginRequired::public"
            );
        }
        let twin = handlers
            .iter()
            .find(|other| other.resource == handler.resource && other.module != handler.module);
        if let Some(twin) = twin.filter(|_| handler.is_public()) {
            tracing::warn!(
                target: "actix_permit",
                handler = %handler.path(),
                other = %twin.path(),
                resource = handler.resource,
                "two handlers share an actix resource name; LoginRequired tells resources apart by name, path and method: give the public one a unique name (#[get(\"..\", name = \"..\")])"
            );
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for LoginRequired
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = LoginRequiredService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(LoginRequiredService {
            service: Rc::new(service),
            config: self.clone(),
        }))
    }
}

/// The service [`LoginRequired`] builds; see there.
pub struct LoginRequiredService<S> {
    service: Rc<S>,
    config: LoginRequired,
}

impl<S, B> Service<ServiceRequest> for LoginRequiredService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let public = self.config.lets_through(&req);
        Box::pin(async move {
            // Otherwise what `#[login_required]` runs: the user, or the
            // login response (500 without `Permit`, 503 when the backend fails).
            if !public && let Err(response) = check(req.request(), &DEFAULT_RULE).await {
                return Ok(req.into_response(response).map_into_right_body());
            }
            Ok(service.call(req).await?.map_into_left_body())
        })
    }
}
