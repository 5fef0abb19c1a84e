//! [`LoginRequired`]: deny by default, as Django's `LoginRequiredMiddleware`.

use std::any::TypeId;
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::sync::{Arc, Once, OnceLock};
use std::task::{Context, Poll, Waker};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{App, Error, HttpMessage};

use super::LocalBoxFuture;
use super::Passed;
use super::routes::{public_routes, warn_route_collisions};
use crate::access::{DEFAULT_RULE, deny_anonymous, principal, require_user};
use crate::registry::{self, Handler};

/// Deny by default: every handler the app (or scope) it wraps routes to
/// needs an authenticated, active user, except `#[login_not_required]`
/// handlers the middleware can prove a request reaches, and the paths
/// listed with [`LoginRequired::public`]. Anonymous requests get the login
/// response (the app's login redirect, or 403); so does a URL no resource
/// matches, since an app or scope `default_service` could answer it.
///
/// Make it the **first** `.wrap` (the innermost middleware), inside
/// [`Permit`](crate::Permit) (actix runs the last `.wrap` first); anywhere
/// else the app does not start, and the log says why:
///
/// ```
/// use actix_permit::backend::MemoryBackend;
/// use actix_permit::config::Config;
/// use actix_permit::{LoginRequired, Permit, login_not_required};
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
///     .wrap(Permit::new(MemoryBackend::new()).config(Config::default().login_url("/login")))
///     .wrap(SessionMiddleware::new(CookieSessionStore::default(), Key::generate()));
/// ```
///
/// # The invariant
/// An anonymous request never runs a handler that carries no attribute,
/// nor a protected one. Where the middleware cannot be certain which
/// handler actix's router will pick, it denies. It decides before routing:
/// it asks actix's resource map which resource the path leads to first,
/// and lets the request go on only when that is a route of a
/// `#[login_not_required]` handler that
/// - sits **above** its routing attribute (`#[login_not_required]
///   #[get("/")]`), which gives the route a reserved resource name, and
/// - is registered on the app itself or in [`scope`](crate::scope)s all the
///   way down (they cannot carry guards). A `web::scope` may carry one (a
///   `Host` guard, say); a request it refuses goes on to whatever comes
///   next, so a public handler inside one stays protected, and is named in
///   a warning when the app starts.
///
/// Right after each such route sits a sentinel the attribute registers: if
/// the route refuses the request (another method, its own guard), the
/// sentinel hands it to a public handler on the same path at the same level
/// (a login form's `GET` and `POST`), or answers the login response.
/// Handlers routed by hand, below `#[get]`, and `default_service`s are
/// never public: list such paths with [`LoginRequired::public`], which
/// trusts whatever serves them.
///
/// The middleware must wrap the router directly: any middleware between it
/// and the router could change the path after the decision. When it does
/// not (another `.wrap` was added before it), it logs an error at start and
/// lets anonymous requests through to listed paths only. On a
/// `web::scope` it protects that scope and lets anonymous requests through
/// to listed paths only; on a [`scope`](crate::scope) it works as on the
/// app.
#[derive(Clone)]
pub struct LoginRequired {
    public_paths: Arc<[String]>,
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
        static WARN: Once = Once::new();
        WARN.call_once(|| warn_unreachable(&registry::handlers()));
        warn_route_collisions();
        Self {
            public_paths: Arc::from(Vec::new()),
        }
    }

    /// Also lets anonymous requests through to `path`: a path ending in `/`
    /// covers everything below it (`"/static/"`), any other only itself
    /// (`"/favicon.ico"`). `"/"` is the home page alone: a prefix that
    /// covers every path would switch deny by default off. Whatever serves
    /// a listed path is trusted: a handler without an attribute, a
    /// `default_service`, static files.
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

    /// What the middleware may do with an anonymous request, before routing.
    fn classify(&self, req: &ServiceRequest, proves: bool) -> Verdict {
        // The path as the router sees it (percent-decoded where it may be),
        // not the raw one: `/it%65ms` is routed to `/items`.
        let path = req.match_info().as_str();
        if self.public_paths.iter().any(|public| {
            if public.ends_with('/') && public != "/" {
                path.starts_with(public.as_str())
            } else {
                path == public
            }
        }) {
            return Verdict::Listed;
        }
        if !proves {
            return Verdict::Protected;
        }
        let Some(route) = req
            .resource_map()
            .match_name(path)
            .and_then(|name| public_routes().by_id.get(name))
        else {
            return Verdict::Protected;
        };
        Verdict::Public {
            route: route.id,
            direct: !route.guarded && route.methods.contains(&req.method().as_str()),
        }
    }
}

/// What [`LoginRequired`] does with a request.
enum Verdict {
    /// A listed public path: on, unmarked.
    Listed,
    /// The path leads to this public route first. `direct`: the route takes
    /// the request's method and has no guard of its own, so the router
    /// picks it; otherwise it may pass the request on to its sentinel.
    Public { route: &'static str, direct: bool },
    /// Needs a user.
    Protected,
}

/// Where the middleware sits, from the type of the service it wraps.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Wraps {
    /// actix's router of an app, or of a plain [`scope`](crate::scope)
    /// (which checks again before routing): it can prove public routes.
    Router,
    /// A `web::scope`'s router: it proves nothing.
    WebScope,
    /// Anything else: another middleware sits between it and the router,
    /// and could change the path after it decided.
    Other,
}

/// The types of the services `LoginRequired` may wrap, as actix builds
/// them. actix does not name its routers publicly (and `type_name` is not
/// stable), so they are found by type identity: once per process, a probe
/// middleware is wrapped around a throwaway app, plain scope and
/// `web::scope`, and notes the `TypeId` of the service it is given.
struct Routers {
    app: Option<TypeId>,
    plain_scope: Option<TypeId>,
    web_scope: Option<TypeId>,
}

fn routers() -> &'static Routers {
    static ROUTERS: OnceLock<Routers> = OnceLock::new();
    ROUTERS.get_or_init(|| Routers {
        app: seen_by_probe(|probe| App::new().wrap(probe)),
        plain_scope: seen_by_probe(|probe| {
            App::new().service(super::public::scope("/p").wrap(probe))
        }),
        web_scope: seen_by_probe(|probe| {
            App::new().service(actix_web::web::scope("/p").wrap(probe))
        }),
    })
}

/// Builds the app `build` makes around a [`TypeProbe`] and answers the
/// type the probe wrapped; `None` if building did not finish at once
/// (nothing is then proven: deny by default denies).
fn seen_by_probe<T, B>(build: impl FnOnce(TypeProbe) -> App<T>) -> Option<TypeId>
where
    T: actix_service::ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    use actix_service::{IntoServiceFactory, ServiceFactory};
    let seen = Rc::new(Cell::new(None));
    let factory = build(TypeProbe(Rc::clone(&seen))).into_factory();
    let mut init = std::pin::pin!(factory.new_service(actix_web::dev::AppConfig::default()));
    let mut cx = Context::from_waker(Waker::noop());
    match init.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(_)) => seen.get(),
        _ => None,
    }
}

/// Notes the type of the service it wraps, and passes it on unchanged.
struct TypeProbe(Rc<Cell<Option<TypeId>>>);

impl<S> Transform<S, ServiceRequest> for TypeProbe
where
    S: Service<ServiceRequest, Error = Error> + 'static,
{
    type Response = S::Response;
    type Error = Error;
    type Transform = S;
    type InitError = ();
    type Future = std::future::Ready<Result<S, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        self.0.set(Some(TypeId::of::<S>()));
        std::future::ready(Ok(service))
    }
}

fn wraps<S: 'static>() -> Wraps {
    let id = Some(TypeId::of::<S>());
    let routers = routers();
    if id == routers.app || id == routers.plain_scope {
        Wraps::Router
    } else if id == routers.web_scope {
        Wraps::WebScope
    } else {
        Wraps::Other
    }
}

/// Says once which `#[login_not_required]` handlers stay protected because
/// the attribute cannot see their routes.
fn warn_unreachable(handlers: &[&'static Handler]) {
    for handler in handlers {
        if handler.is_public() && !handler.is_anonymous_reachable() {
            tracing::warn!(
                target: "actix_permit",
                handler = %handler.path(),
                "#[login_not_required] handler stays protected under LoginRequired: its attribute cannot see the route; put the attribute above #[get] or list the path with LoginRequired::public"
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
        let wraps = wraps::<S>();
        if wraps == Wraps::Other {
            tracing::error!(
                target: "actix_permit",
                wraps = std::any::type_name::<S>(),
                "LoginRequired does not wrap the router directly: a middleware added with .wrap() before it runs after it, and could change the path after LoginRequired decided. Make LoginRequired the first .wrap() of the app or scope; the app does not start until then"
            );
            return std::future::ready(Err(()));
        }
        std::future::ready(Ok(LoginRequiredService {
            service: Rc::new(service),
            config: self.clone(),
            proves: wraps == Wraps::Router,
        }))
    }
}

/// The service [`LoginRequired`] builds; see there.
#[allow(unreachable_pub)] // named only as a `Transform::Transform`
pub struct LoginRequiredService<S> {
    service: Rc<S>,
    config: LoginRequired,
    /// Whether it wraps a router, so that it may prove public routes.
    proves: bool,
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
        let verdict = self.config.classify(&req, self.proves);
        Box::pin(async move {
            let mark = match verdict {
                Verdict::Listed => None,
                Verdict::Public {
                    route,
                    direct: true,
                } => Some(route),
                Verdict::Public { route, .. } => {
                    match principal(req.request(), &DEFAULT_RULE).await {
                        Ok((_, Some(_))) => None,
                        Ok((_, None)) => Some(route),
                        Err(response) => {
                            return Ok(req.into_response(response).map_into_right_body());
                        }
                    }
                }
                Verdict::Protected => match require_user(req.request()).await {
                    Ok(()) => None,
                    Err(response) => return Ok(req.into_response(response).map_into_right_body()),
                },
            };
            let Some(route) = mark else {
                return Ok(service.call(req).await?.map_into_left_body());
            };
            req.extensions_mut().insert(Passed::new(route));
            let res = service.call(req).await?;
            let strayed = res
                .request()
                .extensions()
                .get::<Passed>()
                .is_some_and(|passed| !passed.served.get());
            if !strayed {
                return Ok(res.map_into_left_body());
            }
            // The router went somewhere the proof did not lead: a bug, or a
            // change to the request after the decision. Refuse the answer.
            tracing::error!(target: "actix_permit", path = res.request().path(), route, "an anonymous request LoginRequired let through was routed elsewhere than the public route it proved; refusing the response");
            let (req, _) = res.into_parts();
            let response = deny_anonymous(&req).await;
            Ok(ServiceResponse::new(req, response).map_into_right_body())
        })
    }
}
