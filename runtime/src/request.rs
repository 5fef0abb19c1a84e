//! Per-request state: who the session says the user is, the user and their
//! permissions once loaded (each at most once per request), every backend
//! call bounded by the timeout and contained if it panics, the mark
//! [`LoginRequired`](crate::LoginRequired) leaves on an anonymous request it
//! lets through, and [`CurrentUser`], the extractor over all of it.
//!
//! Below the decision (`access`) and the middleware; above the model and
//! the backends.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{Future, Ready, poll_fn, ready};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use actix_web::guard::GuardContext;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse};
use tokio::sync::OnceCell;

use crate::backend::{BackendError, Dyn};
use crate::config::Config;
use crate::error::PermitError;
use crate::identity::Source;
use crate::password::{PasswordWork, constant_time_eq};
use crate::permission::PermissionSet;
use crate::throttle::Throttle;
use crate::user::AuthUser;

/// What [`Permit`](crate::Permit) shares with every request.
pub(crate) struct Shared {
    pub(crate) backend: Arc<dyn Dyn>,
    pub(crate) source: Source,
    pub(crate) config: Config,
    pub(crate) timeout: Option<Duration>,
    pub(crate) password_work: Arc<PasswordWork>,
    pub(crate) throttle: Option<Throttle>,
}

/// What the middleware keeps for one request: the user and permissions
/// once loaded.
pub(crate) struct RequestAuth {
    shared: Arc<Shared>,
    user: OnceCell<Result<Option<Arc<dyn AuthUser>>, BackendError>>,
    perms: OnceCell<Result<Arc<PermissionSet>, BackendError>>,
    /// The user's object permissions, per object, each loaded once (a
    /// request asks about one object, rarely a few); at most
    /// [`MAX_OBJECT_BYTES`] of ids are kept.
    objects: RefCell<Vec<(Box<str>, Rc<ObjectPerms>)>>,
}

/// The most bytes of object ids one request keeps answers for: past it
/// (a handler checking many, or long, ids a client sent), each further
/// object is asked again every time, so a request's memory does not grow
/// with what the client sends.
const MAX_OBJECT_BYTES: usize = 16 * 1024;

type ObjectPerms = OnceCell<Result<Arc<PermissionSet>, BackendError>>;

impl RequestAuth {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            user: OnceCell::new(),
            perms: OnceCell::new(),
            objects: RefCell::default(),
        }
    }

    /// The record the middleware left for this request.
    pub(crate) fn of(req: &HttpRequest) -> Result<Rc<Self>, PermitError> {
        req.extensions()
            .get::<Rc<Self>>()
            .cloned()
            .ok_or(PermitError::MissingMiddleware)
    }

    pub(crate) fn config(&self) -> &Config {
        &self.shared.config
    }

    pub(crate) fn backend(&self) -> &dyn Dyn {
        &*self.shared.backend
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The user, when loading it has happened and succeeded.
    pub(crate) fn principal_if_loaded(&self) -> Option<&Arc<dyn AuthUser>> {
        self.user.get()?.as_ref().ok()?.as_ref()
    }

    /// The active user of this request, `None` for anonymous; loaded once,
    /// from what the identity source says of `req` (this request).
    pub(crate) async fn principal(
        &self,
        req: &HttpRequest,
    ) -> Result<Option<Arc<dyn AuthUser>>, PermitError> {
        let loaded = self.user.get_or_init(|| self.load_user(req)).await;
        loaded.clone().map_err(PermitError::Backend)
    }

    async fn load_user(
        &self,
        req: &HttpRequest,
    ) -> Result<Option<Arc<dyn AuthUser>>, BackendError> {
        let claim = self
            .bounded("identifying the request", self.shared.source.identify(req))
            .await;
        let claim = match claim {
            Ok(Some(claim)) => claim,
            Ok(None) => return Ok(None),
            Err(err) => {
                tracing::error!(target: "actix_permit", error = %err, "could not identify the request");
                return Err(err);
            }
        };
        let id = claim.user_id.as_str();
        let user = match self
            .bounded("loading the user", self.shared.backend.get_user(id))
            .await
        {
            Ok(Some(user)) => user,
            Ok(None) => {
                tracing::debug!(target: "actix_permit", user = id, "the session's user no longer exists; anonymous");
                return Ok(None);
            }
            Err(err) => {
                tracing::error!(target: "actix_permit", user = id, error = %err, "could not load the session's user");
                return Err(err);
            }
        };
        if !user.is_active() {
            tracing::debug!(target: "actix_permit", user = id, "the session's user is inactive; anonymous");
            return Ok(None);
        }
        let expected = user.session_auth_hash();
        if let Some(stored) = &claim.auth_hash
            && !expected.is_empty()
            && !constant_time_eq(stored, expected)
        {
            tracing::info!(target: "actix_permit", user = id, "session auth hash does not match (password changed?); ending the session");
            self.shared.source.logout(req);
            return Ok(None);
        }
        Ok(Some(user))
    }

    /// Runs a backend call under the timeout, turning a panic or a timeout
    /// into a `BackendError` (the request then fails closed). Every call to
    /// the backend, or to a throttle store, goes through here.
    pub(crate) async fn bounded<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        let mut call = pin!(catch_panic(call));
        // A call answered at once (from a cache) needs no timer.
        let first = poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
        let outcome = match (first, self.shared.timeout) {
            (Poll::Ready(outcome), _) => outcome,
            (Poll::Pending, Some(limit)) => tokio::time::timeout(limit, call)
                .await
                .map_err(|_| BackendError::new(format!("{what} timed out after {limit:?}")))?,
            (Poll::Pending, None) => call.await,
        };
        outcome.map_err(|()| BackendError::new(format!("the backend panicked while {what}")))?
    }

    /// The effective permissions of `user` (the principal of this request),
    /// loaded once; empty for anonymous and inactive users.
    pub(crate) async fn permissions(
        &self,
        user: Option<&Arc<dyn AuthUser>>,
    ) -> Result<Arc<PermissionSet>, PermitError> {
        let Some(user) = user else {
            return Ok(Arc::default());
        };
        let loaded = self
            .perms
            .get_or_init(|| async {
                let result = self
                    .bounded("loading permissions", self.shared.backend.user_permissions(&**user))
                    .await;
                if let Err(err) = &result {
                    tracing::error!(target: "actix_permit", user = user.id(), error = %err, "could not load the user's permissions");
                }
                result
            })
            .await;
        loaded.clone().map_err(PermitError::Backend)
    }

    /// The object permissions of `user` (the principal of this request) on
    /// one object, loaded once per object however many checks ask.
    pub(crate) async fn object_permissions(
        &self,
        user: &Arc<dyn AuthUser>,
        object: &str,
    ) -> Result<Arc<PermissionSet>, PermitError> {
        let cell = {
            let mut objects = self.objects.borrow_mut();
            match objects.iter().find(|(id, _)| **id == *object) {
                Some((_, cell)) => Rc::clone(cell),
                None => {
                    let cell = Rc::new(ObjectPerms::new());
                    let kept: usize = objects.iter().map(|(id, _)| id.len()).sum();
                    if kept + object.len() <= MAX_OBJECT_BYTES {
                        objects.push((object.into(), Rc::clone(&cell)));
                    }
                    cell
                }
            }
        };
        let loaded = cell
            .get_or_init(|| async {
                let result = self
                    .bounded(
                        "checking an object permission",
                        self.shared.backend.object_permissions(&**user, object),
                    )
                    .await;
                if let Err(err) = &result {
                    tracing::error!(target: "actix_permit", user = user.id(), object, error = %err, "could not load the user's object permissions");
                }
                result
            })
            .await;
        loaded.clone().map_err(PermitError::Backend)
    }
}

/// Polls `fut`, turning a panic inside it into `Err(())`: a bug in a
/// backend or a predicate fails the request, never the worker.
pub(crate) async fn catch_panic<F: Future>(fut: F) -> Result<F::Output, ()> {
    let mut fut = pin!(fut);
    poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(poll) => poll.map(Ok),
            Err(_) => Poll::Ready(Err(())),
        },
    )
    .await
}

/// The mark `LoginRequired` leaves on an anonymous request it lets through
/// to a public route.
pub(crate) struct Passed {
    /// The reserved name of the route the resource map led to.
    pub(crate) route: &'static str,
    /// Set when the router reached that route or its sentinel.
    pub(crate) served: Cell<bool>,
}

impl Passed {
    pub(crate) fn new(route: &'static str) -> Self {
        Self {
            route,
            served: Cell::new(false),
        }
    }
}

/// The guard the attribute appends to a public route: notes that the
/// router picked it, and lets it through.
#[doc(hidden)]
pub fn routed(ctx: &GuardContext<'_>) -> bool {
    if let Some(passed) = ctx.req_data().get::<Passed>() {
        passed.served.set(true);
    }
    true
}

/// The user making the request: authenticated or anonymous.
///
/// Extract it in a handler to check permissions in code, Django's
/// `request.user`:
///
/// ```
/// use actix_permit::{CurrentUser, PermitError};
/// use actix_web::{HttpResponse, post};
///
/// #[post("/items/{id}/publish")]
/// async fn publish(user: CurrentUser) -> Result<HttpResponse, PermitError> {
///     user.require_perm("inventory.publish_item").await?;
///     Ok(HttpResponse::Ok().body("published"))
/// }
/// ```
///
/// Extraction fails with a 500 when the [`Permit`](crate::Permit) middleware
/// is missing, and with a 503 when the backend cannot load the user.
#[derive(Clone)]
pub struct CurrentUser {
    auth: Rc<RequestAuth>,
    user: Option<Arc<dyn AuthUser>>,
}

impl CurrentUser {
    pub(crate) async fn load(
        auth: Rc<RequestAuth>,
        req: &HttpRequest,
    ) -> Result<Self, PermitError> {
        let user = auth.principal(req).await?;
        Ok(Self { auth, user })
    }

    pub(crate) fn from_parts(auth: Rc<RequestAuth>, user: Option<Arc<dyn AuthUser>>) -> Self {
        Self { auth, user }
    }

    /// The authenticated, active user; `None` for anonymous.
    pub fn user(&self) -> Option<&Arc<dyn AuthUser>> {
        self.user.as_ref()
    }

    /// The user as your app's type `U`, when authenticated and of that type.
    pub fn downcast<U: AuthUser>(&self) -> Option<&U> {
        let user: &dyn Any = &**self.user.as_ref()?;
        user.downcast_ref::<U>()
    }

    /// The user's id; `None` for anonymous.
    pub fn id(&self) -> Option<&str> {
        self.user.as_deref().map(AuthUser::id)
    }

    /// Whether an active user is logged in.
    pub fn is_authenticated(&self) -> bool {
        self.user.is_some()
    }

    /// Whether nobody is logged in (or the session's user is inactive).
    pub fn is_anonymous(&self) -> bool {
        self.user.is_none()
    }

    /// Whether the user is an active superuser.
    pub fn is_superuser(&self) -> bool {
        self.user.as_deref().is_some_and(AuthUser::is_superuser)
    }

    /// The user's effective permissions (own and groups'), loaded at most
    /// once per request. Empty for anonymous; a superuser's set is what the
    /// backend stores, though [`has_perm`](Self::has_perm) answers yes to anything.
    pub async fn permissions(&self) -> Result<Arc<PermissionSet>, PermitError> {
        self.auth.permissions(self.user.as_ref()).await
    }

    /// Whether the user holds `perm` (`"app_label.codename"`), as Django's
    /// `user.has_perm`: no for anonymous, yes for an active superuser,
    /// otherwise the user's own and group permissions decide.
    pub async fn has_perm(&self, perm: &str) -> Result<bool, PermitError> {
        self.has_perms(&[perm]).await
    }

    /// Whether the user holds every one of `perms`.
    pub async fn has_perms(&self, perms: &[&str]) -> Result<bool, PermitError> {
        match &self.user {
            None => Ok(false),
            Some(user) if user.is_superuser() => Ok(true),
            Some(_) => Ok(self
                .permissions()
                .await?
                .contains_all(perms.iter().copied())),
        }
    }

    /// Whether the user holds at least one of `perms`.
    pub async fn has_any_perm(&self, perms: &[&str]) -> Result<bool, PermitError> {
        match &self.user {
            None => Ok(false),
            Some(user) if user.is_superuser() => Ok(true),
            Some(_) => {
                let set = self.permissions().await?;
                Ok(perms.iter().any(|p| set.contains(p)))
            }
        }
    }

    /// `Ok(())` when the user holds `perm`, otherwise an error that renders
    /// as the app's login response (anonymous) or 403 (authenticated).
    pub async fn require_perm(&self, perm: &str) -> Result<(), PermitError> {
        if self.has_perm(perm).await? {
            Ok(())
        } else if self.is_anonymous() {
            Err(PermitError::LoginRequired)
        } else {
            Err(PermitError::Denied(crate::error::PermissionDenied))
        }
    }

    /// The user, or an error that renders as the app's login response.
    pub fn require_login(&self) -> Result<&Arc<dyn AuthUser>, PermitError> {
        self.user.as_ref().ok_or(PermitError::LoginRequired)
    }

    /// Whether the user holds `perm` on the object whose id is `object`: as
    /// `#[permission_required(perm, object = "id")]` decides, yes for an
    /// active superuser, no for anonymous users, otherwise yes when they
    /// hold `perm` as a model permission (every object) or as an object
    /// permission on this object, directly or through a group. (Django's
    /// `ModelBackend` answers no for every object; this is
    /// django-guardian's question asked together with the model one.)
    pub async fn has_perm_on(&self, perm: &str, object: &str) -> Result<bool, PermitError> {
        let Some(user) = &self.user else {
            return Ok(false);
        };
        if user.is_superuser() || self.permissions().await?.contains(perm) {
            return Ok(true);
        }
        Ok(self
            .auth
            .object_permissions(user, object)
            .await?
            .contains(perm))
    }

    /// The permissions the user holds on the object whose id is `object`
    /// as object permissions only (no model permissions; empty for
    /// anonymous users), loaded once per request and object.
    pub async fn object_permissions(
        &self,
        object: &str,
    ) -> Result<Arc<PermissionSet>, PermitError> {
        match &self.user {
            None => Ok(Arc::default()),
            Some(user) => self.auth.object_permissions(user, object).await,
        }
    }

    /// The objects the user may act on with `perm`, for list pages
    /// (django-guardian's `get_objects_for_user`): [`Objects::All`] for an
    /// active superuser or a holder of the model permission, otherwise the
    /// ids of the objects they hold `perm` on (none for anonymous users).
    ///
    /// [`Objects::All`]: crate::permission::Objects::All
    pub async fn objects_for(&self, perm: &str) -> Result<crate::permission::Objects, PermitError> {
        let Some(user) = &self.user else {
            return Ok(crate::permission::Objects::Only(Vec::new()));
        };
        if user.is_superuser() || self.permissions().await?.contains(perm) {
            return Ok(crate::permission::Objects::All);
        }
        let mut ids = self
            .auth
            .bounded(
                "listing objects",
                self.auth.backend().objects_with_permission(&**user, perm),
            )
            .await?;
        ids.sort_unstable();
        ids.dedup();
        Ok(crate::permission::Objects::Only(ids))
    }
}

/// The id and flags only: never a password or session hash, whatever the
/// app's user type prints.
impl fmt::Debug for CurrentUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.user {
            Some(user) => f
                .debug_struct("CurrentUser")
                .field("id", &user.id())
                .field("active", &user.is_active())
                .field("superuser", &user.is_superuser())
                .finish(),
            None => f.write_str("CurrentUser(Anonymous)"),
        }
    }
}

impl FromRequest for CurrentUser {
    type Error = PermitError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PermitError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let auth = RequestAuth::of(req);
        let req = req.clone();
        Box::pin(async move { CurrentUser::load(auth?, &req).await })
    }
}

/// The request body, taken whole and untouched so that a handler's wrapper
/// can hand it to the handler's own extractors after the check.
#[doc(hidden)]
pub struct Payload(actix_web::dev::Payload);

impl Payload {
    /// The raw payload.
    pub fn into_inner(self) -> actix_web::dev::Payload {
        self.0
    }
}

impl FromRequest for Payload {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(_: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        ready(Ok(Self(payload.take())))
    }
}

/// Runs the handler's own extractors, as actix would: an error becomes its
/// response.
#[doc(hidden)]
pub async fn extract<T: FromRequest>(
    req: &HttpRequest,
    payload: &mut actix_web::dev::Payload,
) -> Result<T, HttpResponse> {
    T::from_request(req, payload)
        .await
        .map_err(|err| HttpResponse::from_error(err.into()))
}
