//! The [`Permit`] middleware: puts each request's state (who it is, once
//! asked; their permissions, once loaded) in its extensions, and renders
//! the errors handlers return. Deny by default is `deny/`.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_identity::IdentityMiddleware;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};

use crate::backend::{Backend, Dyn};
use crate::config::Config;
use crate::error::{PermissionDenied, PermitError};
use crate::identity::{IdentitySource, Source};
use crate::password::PasswordWork;
use crate::state::{RequestAuth, Shared};
use crate::throttle::Throttle;

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// The middleware that makes the checks work: wrap the app (or a scope) in
/// it, inside actix-session's `SessionMiddleware`.
///
/// It installs actix-identity's `IdentityMiddleware` itself (configured by
/// [`Permit::session_lifetime`] and [`Permit::idle_timeout`]), and puts a
/// per-request record in the request extensions. The user is loaded from the
/// backend the first time a check or [`CurrentUser`](crate::CurrentUser)
/// needs it, and their permissions the first time a permission is checked;
/// both at most once per request.
///
/// It also renders [`PermissionDenied`] and [`PermitError`] returned by a
/// handler through the app's [`Config`], like the macros' own denials.
///
/// `Send` and `Sync`: build it once and clone it into each worker's app.
///
/// ```
/// use actix_permit::backend::MemoryBackend;
/// use actix_permit::config::Config;
/// use actix_permit::Permit;
/// use actix_session::{SessionMiddleware, storage::CookieSessionStore};
/// use actix_web::{App, cookie::Key};
///
/// let key = Key::generate();
/// let app = App::new()
///     .wrap(Permit::new(MemoryBackend::new()).config(Config::default().login_url("/accounts/login/")))
///     .wrap(SessionMiddleware::new(CookieSessionStore::default(), key));
/// ```
#[derive(Clone)]
pub struct Permit {
    backend: Arc<dyn Dyn>,
    source: Source,
    config: Config,
    lifetime: Option<Duration>,
    idle: Option<Duration>,
    timeout: Option<Duration>,
    password_work: Arc<PasswordWork>,
    throttle: Option<Throttle>,
}

impl Permit {
    /// How long a login lasts by default (Django's `SESSION_COOKIE_AGE`):
    /// two weeks from the login, however active the session.
    pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(14 * 24 * 60 * 60);

    /// How long a backend call may take by default before the request
    /// fails closed with 503.
    pub const DEFAULT_BACKEND_TIMEOUT: Duration = Duration::from_secs(10);

    /// A middleware that takes users and permissions from `backend` (an
    /// `Arc` of one, to share it with the rest of the app).
    pub fn new(backend: impl Backend) -> Self {
        Self {
            backend: Arc::new(backend),
            source: Source::Sessions,
            config: Config::default(),
            lifetime: Some(Self::DEFAULT_SESSION_LIFETIME),
            idle: None,
            timeout: Some(Self::DEFAULT_BACKEND_TIMEOUT),
            password_work: Arc::new(PasswordWork::default()),
            throttle: None,
        }
    }

    /// Bounds the password hashing [`authenticate`](crate::authenticate)
    /// runs: at most `limit` at once, `queue` more waiting; past that a
    /// login is refused at once with 503 and `Retry-After` (and logged). The
    /// default is one per CPU and a queue four times as long.
    pub fn password_work(mut self, limit: usize, queue: usize) -> Self {
        self.password_work = Arc::new(PasswordWork::new(limit, queue));
        self
    }

    /// Throttles [`authenticate`](crate::authenticate): see [`Throttle`].
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// How long a login lasts, from the moment of login, however active
    /// the session ([`Permit::DEFAULT_SESSION_LIFETIME`], two weeks, by default);
    /// `None`: until logout. Applied through actix-identity's login
    /// deadline.
    pub fn session_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Ends a login after this long without a request (none by default).
    /// Applied through actix-identity's visit deadline.
    pub fn idle_timeout(mut self, idle: Option<Duration>) -> Self {
        self.idle = idle;
        self
    }

    /// Bounds every backend call (loading the user, loading permissions):
    /// past `timeout` the request fails closed with 503. The default is
    /// [`Permit::DEFAULT_BACKEND_TIMEOUT`] (10 s); `None` waits as long as the
    /// backend does.
    pub fn backend_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Replaces the whole [`Config`].
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Takes the request's user from `source` instead of the session
    /// ([`identity::Sessions`](crate::identity::Sessions), the default).
    /// [`login`](crate::login) and [`logout`](crate::logout) go to it too.
    pub fn identity(mut self, source: impl IdentitySource) -> Self {
        self.source = Source::new(source);
        self
    }
}

/// The service erased behind [`PermitService`]: actix-identity's middleware
/// around [`PermitInner`].
type ErasedService<B> = dyn Service<
        ServiceRequest,
        Response = ServiceResponse<EitherBody<B>>,
        Error = Error,
        Future = LocalBoxFuture<Result<ServiceResponse<EitherBody<B>>, Error>>,
    >;

impl<S, B> Transform<S, ServiceRequest> for Permit
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = PermitService<B>;
    type InitError = ();
    type Future = LocalBoxFuture<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let inner = PermitInner {
            service: Rc::new(service),
            shared: Arc::new(Shared {
                backend: Arc::clone(&self.backend),
                source: self.source.clone(),
                config: self.config.clone(),
                timeout: self.timeout,
                password_work: Arc::clone(&self.password_work),
                throttle: self.throttle.clone(),
            }),
        };
        let identity = IdentityMiddleware::builder()
            .login_unix_timestamp_key(crate::identity::LOGIN_TIME_KEY)
            .login_deadline(self.lifetime)
            .visit_deadline(self.idle)
            .build();
        let identity = identity.new_transform(inner);
        Box::pin(async move {
            let service = identity.await?;
            Ok(PermitService {
                service: Rc::new(service) as Rc<ErasedService<B>>,
            })
        })
    }
}

/// The service [`Permit`] builds; see there.
pub struct PermitService<B> {
    service: Rc<ErasedService<B>>,
}

impl<B> Service<ServiceRequest> for PermitService<B> {
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        self.service.call(req)
    }
}

#[doc(hidden)]
#[allow(unreachable_pub)] // named only as `Permit`'s `Transform::Transform`
pub struct PermitInner<S> {
    service: Rc<S>,
    shared: Arc<Shared>,
}

impl<S, B> Service<ServiceRequest> for PermitInner<S>
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
        let auth = Rc::new(RequestAuth::new(Arc::clone(&self.shared)));
        req.extensions_mut().insert(Rc::clone(&auth));
        let fut = self.service.call(req);
        Box::pin(async move {
            let mut res = fut.await?;
            for cookie in crate::identity::take_cookies(res.request()) {
                res.response_mut().add_cookie(&cookie)?;
            }
            Ok(render_handler_denial(res, &auth))
        })
    }
}

/// Renders a `PermissionDenied` or `PermitError` that a handler returned
/// through the app's config, so that it looks like the macros' denials.
fn render_handler_denial<B>(
    res: ServiceResponse<B>,
    auth: &RequestAuth,
) -> ServiceResponse<EitherBody<B>> {
    let error = match res.response().error() {
        Some(err) => {
            if err.as_error::<PermissionDenied>().is_some() {
                Some(PermitError::Denied(PermissionDenied))
            } else {
                err.as_error::<PermitError>().cloned()
            }
        }
        None => None,
    };
    match error {
        None => res.map_into_left_body(),
        Some(error) => {
            let (req, _) = res.into_parts();
            let response = crate::access::deny_error(&req, auth, &error);
            ServiceResponse::new(req, response).map_into_right_body()
        }
    }
}

#[cfg(test)]
mod tests {
    /// Built once, outside `HttpServer::new`, and cloned into each worker.
    #[test]
    fn permit_is_send_and_sync() {
        fn shared<T: Send + Sync + Clone>() {}
        shared::<super::Permit>();
    }
}
