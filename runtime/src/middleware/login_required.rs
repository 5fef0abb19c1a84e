//! [`LoginRequired`]: deny by default, as Django's `LoginRequiredMiddleware`.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Once};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};

use super::{LocalBoxFuture, RequestAuth};
use crate::access::{Require, Rule, deny, deny_error};
use crate::audit::{self, Route};
use crate::config::{Denial, Reason, default_response};

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
/// through, so it still answers 404.
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
/// matches ([`ResourceMap::match_name`](actix_web::dev::ResourceMap::match_name),
/// on the decoded path the router itself uses), and lets an anonymous
/// request through only when that resource is a `#[login_not_required]`
/// handler that the attribute registered with its route:
/// - the resource's name is the handler's (its fn name, or the routing
///   attribute's `name = ".."`),
/// - the matched pattern ends with the route's path (scopes add prefixes),
/// - the request's method is one of the route's methods.
///
/// The attribute can read the route only when it sits **above** actix's
/// routing attribute (`#[login_not_required] #[get("/")]`). Below it, on a
/// handler routed by hand (`web::resource(..).to(..)`), or with a custom
/// `guard = ".."` (a request could then fall through to another resource of
/// the same path), the handler stays protected: the middleware fails closed
/// and logs a warning once. List such paths with [`LoginRequired::public`].
/// [`audit::handlers`](crate::audit::handlers) shows what is reachable.
#[derive(Clone)]
pub struct LoginRequired {
    public_paths: Arc<[String]>,
    public_handlers: Arc<HashMap<&'static str, Vec<&'static Route>>>,
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
        let mut public_handlers: HashMap<&'static str, Vec<&'static Route>> = HashMap::new();
        for handler in audit::handlers() {
            if handler.is_anonymous_reachable() {
                public_handlers
                    .entry(handler.resource)
                    .or_default()
                    .extend(handler.anonymous_routes());
            }
        }
        static WARN: Once = Once::new();
        WARN.call_once(|| {
            for handler in audit::handlers() {
                if handler.is_public() && handler.routes.iter().any(|r| r.guarded) || handler.is_public() && handler.routes.is_empty() {
                    tracing::warn!(
                        target: "actix_permit",
                        handler = %handler.path(),
                        "#[login_not_required] handler stays protected under LoginRequired: its route is unknown or guarded; put the attribute above #[get] or list the path with LoginRequired::public"
                    );
                }
            }
        });
        Self {
            public_paths: Arc::from(Vec::new()),
            public_handlers: Arc::new(public_handlers),
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
            return rmap.match_pattern(path).is_none();
        };
        let Some(routes) = self.public_handlers.get(name) else {
            return false;
        };
        let Some(pattern) = rmap.match_pattern(path) else {
            return false;
        };
        let method = req.method().as_str();
        routes
            .iter()
            .any(|route| pattern.ends_with(route.path) && route.methods.contains(&method))
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
        if self.config.lets_through(&req) {
            return Box::pin(async move { Ok(service.call(req).await?.map_into_left_body()) });
        }
        let auth = req.extensions().get::<Rc<RequestAuth>>().cloned();
        Box::pin(async move {
            let Some(auth) = auth else {
                tracing::error!(target: "actix_permit", path = req.path(), "LoginRequired runs outside Permit (wrap Permit after it); denying");
                let response = default_response(&Denial {
                    reason: Reason::Error,
                    login_redirect: None,
                    missing: &[],
                });
                return Ok(req.into_response(response).map_into_right_body());
            };
            let response = match auth.principal().await {
                Ok(Some(_)) => return Ok(service.call(req).await?.map_into_left_body()),
                Ok(None) => deny(
                    req.request(),
                    &auth,
                    &DEFAULT_RULE,
                    Reason::LoginRequired,
                    &[],
                ),
                Err(err) => deny_error(req.request(), &auth, &err),
            };
            Ok(req.into_response(response).map_into_right_body())
        })
    }
}
