//! Public routes under deny by default: how a `#[login_not_required]`
//! handler is registered, and the plain scopes it may sit in.
//!
//! # Why this shape
//! `LoginRequired` decides before actix routes the request, and actix keeps
//! no public record of guards or default services. What it can see is
//! actix's resource map: the first resource, in router order, whose pattern
//! matches the path, ignoring guards. That resource is the one the router
//! picks when nothing between the app and it carries a guard. So:
//!
//! - a public handler's route gets a reserved resource name
//!   ([`Route::id`]) that no other resource has, so that the map's answer
//!   identifies it;
//! - the attribute wraps actix's registration and learns *where* the route
//!   is registered: directly on the app, or in [`scope`]s (which cannot
//!   carry a guard) all the way down. Anywhere else (a `web::scope`, which
//!   may carry a `Host` guard) the route is registered under a second
//!   reserved name that `LoginRequired` does not trust, and stays protected;
//! - right after each public route the attribute registers a *sentinel*
//!   with the same pattern. The route can still refuse a request the map
//!   sent to it (another method, its own `guard = ".."`); the router then
//!   moves on, and the sentinel is next. It takes every request
//!   `LoginRequired` marked for that route and either hands it to a public
//!   sibling on the same path at the same level (a login form's `GET` and
//!   `POST`) or answers the login response. A marked request never gets
//!   past it to a resource nobody annotated. The sentinel also carries the
//!   name the app gave the route, so `url_for` keeps working.
//! - nothing may change the path between `LoginRequired` and the router:
//!   `LoginRequired` must wrap the router directly (checked at start), and
//!   a [`scope`] checks the mark again right before its own routing.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::{Mutex, PoisonError};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{
    AppService, HttpServiceFactory, Service, ServiceFactory, ServiceRequest, ServiceResponse,
    Transform,
};
use actix_web::guard::{self, GuardContext};
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, Resource, Route, Scope};

use super::LocalBoxFuture;
use super::Passed;
use super::routes::same_path_sibling;
use crate::access::Payload;
use crate::access::{deny_anonymous, require_user};
use crate::registry::{Handler, Route as AuditRoute};

/// One plain [`scope`] of one app: the reserved names of the public routes
/// registered in it or in plain scopes below it.
#[derive(Default)]
pub(crate) struct Level {
    below: RefCell<HashSet<&'static str>>,
    parent: Option<Rc<Level>>,
}

impl Level {
    fn add(&self, handler: &'static Handler) {
        let mut level = Some(self);
        while let Some(here) = level {
            here.below
                .borrow_mut()
                .extend(handler.routes.iter().map(|route| route.id));
            level = here.parent.as_deref();
        }
    }
}

/// Where a service lands, as far as deny by default is concerned.
enum Place {
    /// Directly on the app.
    App,
    /// In a plain [`scope`] on a path of plain scopes.
    Plain(Rc<Level>),
    /// Anywhere else: below a `web::scope`, which may carry a guard.
    Unproven,
}

/// One [`scope`] being registered.
struct Frame {
    /// Its level, when the scope sits on a path of plain scopes.
    level: Option<Rc<Level>>,
    /// The address of the `AppService` actix registers its services with,
    /// noted by the first of them (a probe the scope adds first). Only
    /// compared, never followed.
    services: Option<*const AppService>,
}

thread_local! {
    /// The [`scope`]s being registered on this thread, innermost last.
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// Where a service registered with `config` lands.
fn place_of(config: &AppService) -> Place {
    if config.is_root() {
        return Place::App;
    }
    let here: *const AppService = config;
    FRAMES.with_borrow(|frames| {
        frames
            .last()
            .filter(|frame| frame.services == Some(here))
            .and_then(|frame| frame.level.clone())
            .map_or(Place::Unproven, Place::Plain)
    })
}

/// Handlers already named in a warning.
static WARNED: Mutex<Vec<&'static Handler>> = Mutex::new(Vec::new());

/// Registers a `#[login_not_required]` handler that sits above its routing
/// attribute: `proven` (its routes under their reserved names) when it
/// lands on a path of plain scopes, `unproven` otherwise, then a sentinel
/// after each route.
#[doc(hidden)]
pub fn register_public(
    config: &mut AppService,
    handler: &'static Handler,
    proven: impl HttpServiceFactory,
    unproven: impl HttpServiceFactory,
) {
    let proved = match place_of(config) {
        Place::App => true,
        Place::Plain(level) => {
            level.add(handler);
            true
        }
        Place::Unproven => false,
    };
    if proved {
        proven.register(config);
    } else {
        warn_unproven(handler);
        unproven.register(config);
    }
    for route in handler.routes {
        let id = if proved { route.id } else { "" };
        let sentinel = Resource::new(route.path)
            .name(route.name)
            .guard(guard::fn_guard(move |ctx| catches(ctx, id)))
            .to(move |req: HttpRequest, payload: Payload| sentinel(req, payload, route));
        sentinel.register(config);
    }
}

fn warn_unproven(handler: &'static Handler) {
    let mut warned = WARNED.lock().unwrap_or_else(PoisonError::into_inner);
    if warned.iter().any(|seen| std::ptr::eq(*seen, handler)) {
        return;
    }
    warned.push(handler);
    tracing::warn!(
        target: "actix_permit",
        handler = %handler.path(),
        "#[login_not_required] handler registered inside a web::scope stays protected under LoginRequired: the scope could carry a guard (a Host guard, say) that LoginRequired cannot see, and a request refused by it would go on to other handlers. Register it in actix_permit::scope(..), which cannot carry guards, or list its path with LoginRequired::public"
    );
}

/// Whether the sentinel of `route` takes this request: one that
/// `LoginRequired` marked for that route.
fn catches(ctx: &GuardContext<'_>, route: &str) -> bool {
    match ctx.req_data().get::<Passed>() {
        Some(passed) if !route.is_empty() && passed.route == route => {
            passed.served.set(true);
            true
        }
        _ => false,
    }
}

/// A marked request the public route refused: a public sibling on the same
/// path takes it ([`same_path_sibling`]), or the request gets the
/// login response.
async fn sentinel(req: HttpRequest, payload: Payload, route: &'static AuditRoute) -> HttpResponse {
    let path = req.match_info().as_str();
    let elements: Vec<&str> = req.match_info().iter().map(|(_, value)| value).collect();
    let sibling = same_path_sibling(&req, path, req.method().as_str(), &elements, route);
    if let Some(entry) = sibling.and_then(|sibling| sibling.entry) {
        return entry(req, payload.into_inner()).await;
    }
    deny_anonymous(&req).await
}

/// A scope that cannot carry a guard, so that `LoginRequired` can prove
/// which handler inside it a path leads to. Build it with [`scope`]; it
/// offers what [`actix_web::Scope`] offers, except `guard`.
pub struct PlainScope<T> {
    inner: Scope<T>,
    slot: Rc<RefCell<Option<Rc<Level>>>>,
}

/// A [`PlainScope`] under `path`: use it instead of `web::scope` for scopes
/// that hold `#[login_not_required]` handlers, so that deny by default can
/// let anonymous requests reach them.
///
/// ```
/// use actix_permit::{login_not_required, scope};
/// use actix_web::{App, get};
///
/// #[login_not_required]
/// #[get("/login")]
/// async fn login_page() -> &'static str {
///     "log in"
/// }
///
/// let app = App::new().service(scope("/accounts").service(login_page));
/// ```
pub fn scope(
    path: &str,
) -> PlainScope<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<EitherBody<actix_web::body::BoxBody>>,
        Error = Error,
        InitError = (),
    >,
> {
    let slot = Rc::new(RefCell::new(None));
    let inner = Scope::new(path).service(Probe).wrap(ScopeCheck {
        slot: Rc::clone(&slot),
    });
    PlainScope { inner, slot }
}

impl<T> PlainScope<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = Error, InitError = ()>,
{
    /// See [`Scope::app_data`].
    pub fn app_data<U: 'static>(self, data: U) -> Self {
        self.map(|inner| inner.app_data(data))
    }

    /// See [`Scope::configure`].
    pub fn configure<F>(self, cfg_fn: F) -> Self
    where
        F: FnOnce(&mut actix_web::web::ServiceConfig),
    {
        self.map(|inner| inner.configure(cfg_fn))
    }

    /// See [`Scope::service`].
    pub fn service<F>(self, factory: F) -> Self
    where
        F: HttpServiceFactory + 'static,
    {
        self.map(|inner| inner.service(factory))
    }

    /// See [`Scope::route`].
    pub fn route(self, path: &str, route: Route) -> Self {
        self.map(|inner| inner.route(path, route))
    }

    /// See [`Scope::default_service`].
    pub fn default_service<F, U>(self, f: F) -> Self
    where
        F: actix_service::IntoServiceFactory<U, ServiceRequest>,
        U: ServiceFactory<ServiceRequest, Config = (), Response = ServiceResponse, Error = Error>
            + 'static,
        U::InitError: std::fmt::Debug,
    {
        self.map(|inner| inner.default_service(f))
    }

    /// See [`Scope::wrap`]. Path-rewriting middleware is fine here: the
    /// scope checks, right before its own routing, that the path still
    /// leads where `LoginRequired` proved it did.
    pub fn wrap<M, B>(
        self,
        mw: M,
    ) -> PlainScope<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        >,
    >
    where
        M: Transform<
                T::Service,
                ServiceRequest,
                Response = ServiceResponse<B>,
                Error = Error,
                InitError = (),
            > + 'static,
        B: MessageBody,
    {
        PlainScope {
            inner: self.inner.wrap(mw),
            slot: self.slot,
        }
    }

    fn map(self, f: impl FnOnce(Scope<T>) -> Scope<T>) -> Self {
        Self {
            inner: f(self.inner),
            slot: self.slot,
        }
    }
}

impl<T, B> HttpServiceFactory for PlainScope<T>
where
    Scope<T>: HttpServiceFactory,
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    fn register(self, config: &mut AppService) {
        let level = match place_of(config) {
            Place::App => Some(Rc::new(Level::default())),
            Place::Plain(parent) => Some(Rc::new(Level {
                parent: Some(parent),
                ..Level::default()
            })),
            Place::Unproven => None,
        };
        *self.slot.borrow_mut() = level.clone();
        FRAMES.with_borrow_mut(|frames| {
            frames.push(Frame {
                level,
                services: None,
            });
        });
        self.inner.register(config);
        FRAMES.with_borrow_mut(|frames| frames.pop());
    }
}

/// The first service of every [`scope`]: notes which `AppService` the
/// scope's own services are registered with. Registers nothing.
struct Probe;

impl HttpServiceFactory for Probe {
    fn register(self, config: &mut AppService) {
        let here: *const AppService = config;
        FRAMES.with_borrow_mut(|frames| {
            if let Some(frame) = frames.last_mut() {
                frame.services.get_or_insert(here);
            }
        });
    }
}

/// The innermost middleware of every [`scope`]: a request `LoginRequired`
/// marked must still lead, by its path as the scope's router will see it,
/// to the route it was marked for, and that route must be registered in
/// this scope. Otherwise the mark goes, and the request needs a user.
struct ScopeCheck {
    slot: Rc<RefCell<Option<Rc<Level>>>>,
}

impl<S, B> Transform<S, ServiceRequest> for ScopeCheck
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = ScopeCheckService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(ScopeCheckService {
            service: Rc::new(service),
            level: self.slot.borrow().clone(),
        }))
    }
}

#[doc(hidden)]
#[allow(unreachable_pub)] // named only as a `Transform::Transform`
pub struct ScopeCheckService<S> {
    service: Rc<S>,
    level: Option<Rc<Level>>,
}

impl<S, B> Service<ServiceRequest> for ScopeCheckService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Error>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let stray = req.extensions().get::<Passed>().is_some_and(|passed| {
            let here = req.resource_map().match_name(req.match_info().as_str());
            here != Some(passed.route)
                || !self
                    .level
                    .as_ref()
                    .is_some_and(|level| level.below.borrow().contains(passed.route))
        });
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            if stray {
                req.extensions_mut().remove::<Passed>();
                tracing::warn!(target: "actix_permit", path = req.path(), "an anonymous request no longer leads to the public route LoginRequired let it through for; it needs a user");
                if let Err(response) = require_user(req.request()).await {
                    return Ok(req.into_response(response).map_into_right_body());
                }
            }
            Ok(service.call(req).await?.map_into_left_body())
        })
    }
}
