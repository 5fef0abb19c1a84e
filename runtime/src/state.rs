//! Per-request state: the user and their permissions once loaded (each at
//! most once per request, the user from the identity source's claim), and
//! every backend call bounded by the timeout and contained if it panics.
//!
//! Below the decision (`access`) and the middleware; above the model, the
//! backends and the identity sources.

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime};

use actix_web::{HttpMessage, HttpRequest};
use tokio::sync::OnceCell;

use crate::backend::{BackendError, Dyn};
use crate::config::Config;
use crate::error::PermitError;
use crate::identity::{IdentifyError, Rejection, Source};
use crate::password::PasswordWork;
use crate::permission::PermissionSet;
use crate::rules::{self, Standing};
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
    user: OnceCell<Result<Option<Arc<dyn AuthUser>>, PermitError>>,
    perms: OnceCell<Result<Arc<PermissionSet>, BackendError>>,
    /// The user's object permissions, per object, each loaded once (a
    /// request asks about one object, rarely a few); at most
    /// [`MAX_OBJECT_BYTES`] of ids are kept.
    objects: RefCell<Vec<(Box<str>, Rc<ObjectPerms>)>>,
    /// When the user proved their password, as the claim said; set with
    /// the user.
    proved_at: Cell<Option<SystemTime>>,
    /// The claim's scopes, set with the user: `None`, all of the user's.
    scopes: RefCell<Option<Arc<PermissionSet>>>,
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
            proved_at: Cell::new(None),
            scopes: RefCell::new(None),
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
        loaded.clone()
    }

    async fn load_user(&self, req: &HttpRequest) -> Result<Option<Arc<dyn AuthUser>>, PermitError> {
        // The session is read at once; another source is a call like any
        // backend call, bounded.
        let claim = match self.shared.source.ready_claim(req) {
            Some(claim) => Ok(claim),
            None => self
                .bounded("identifying the request", async {
                    Ok(self.shared.source.identify(req).await)
                })
                .await
                .unwrap_or_else(|err| Err(IdentifyError::Unavailable(err))),
        };
        let claim = match claim {
            Ok(Some(claim)) => claim,
            Ok(None) => return Ok(None),
            Err(IdentifyError::Rejected(rejection)) => {
                return Err(self.refused(req, rejection).await);
            }
            Err(IdentifyError::Unavailable(err)) => {
                tracing::error!(target: "actix_permit", error = %err, "could not identify the request");
                return Err(PermitError::Backend(err));
            }
        };
        let id = claim.user_id.as_str();
        let user = match self
            .bounded("loading the user", self.shared.backend.get_user(id))
            .await
        {
            Ok(Some(user)) => user,
            Ok(None) if claim.auth_hash.is_none() => {
                return Err(self.refused(req, Rejection::invalid_token()).await);
            }
            Ok(None) => {
                tracing::debug!(target: "actix_permit", user = id, "the session's user no longer exists; anonymous");
                return Ok(None);
            }
            Err(err) => {
                tracing::error!(target: "actix_permit", user = id, error = %err, "could not load the session's user");
                return Err(PermitError::Backend(err));
            }
        };
        // Credentials sent with each request (a token) whose user cannot
        // use them are refused, as a revoked token is; a session's are
        // anonymous.
        if !user.is_active() && claim.auth_hash.is_none() {
            return Err(self.refused(req, Rejection::invalid_token()).await);
        }
        if !user.is_active() {
            tracing::debug!(target: "actix_permit", user = id, "the session's user is inactive; anonymous");
            return Ok(None);
        }
        if let Some(stored) = &claim.auth_hash
            && !user.session_auth_hash().is_empty()
            && !user.session_hash_matches(stored)
        {
            tracing::info!(target: "actix_permit", user = id, "session auth hash does not match (password changed?); ending the session");
            if let Err(err) = self.shared.source.logout(req).await {
                tracing::error!(target: "actix_permit", user = id, error = %err, "could not end the stale session; anonymous all the same");
            }
            return Ok(None);
        }
        self.proved_at.set(claim.proved_at);
        *self.scopes.borrow_mut() = claim.scopes;
        Ok(Some(user))
    }

    /// The error for credentials a source refused: the rejection, counted
    /// against the client by the throttle (a 429 once it has had too
    /// many); a throttle store that does not answer fails closed.
    async fn refused(&self, req: &HttpRequest, rejection: Rejection) -> PermitError {
        tracing::info!(target: "actix_permit", path = req.path(), %rejection, "credentials refused");
        let Some(throttle) = &self.shared.throttle else {
            return PermitError::Rejected(rejection);
        };
        match self
            .bounded("counting refused credentials", throttle.refuse_client(req))
            .await
        {
            Ok(None) => PermitError::Rejected(rejection),
            Ok(Some(retry_after)) => {
                tracing::warn!(target: "actix_permit", retry_after_secs = retry_after.as_secs(), "credentials refused: too many from this client");
                PermitError::Throttled { retry_after }
            }
            Err(err) => PermitError::Backend(err),
        }
    }

    /// What `user` (this request's principal) counts as: as
    /// [`rules::standing`] says, except that a superuser whose claim is
    /// limited to scopes counts as a member holding exactly those.
    pub(crate) fn standing(&self, user: Option<&dyn AuthUser>) -> Standing {
        match rules::standing(user) {
            Standing::Superuser if self.scopes.borrow().is_some() => Standing::Member,
            standing => standing,
        }
    }

    /// Whether the claim is limited to scopes (an API token's).
    pub(crate) fn is_scoped(&self) -> bool {
        self.scopes.borrow().is_some()
    }

    /// Whether the claim's scopes allow `perm` (always, without scopes).
    pub(crate) fn in_scope(&self, perm: &str) -> bool {
        self.scopes
            .borrow()
            .as_ref()
            .is_none_or(|scopes| scopes.contains(perm))
    }

    /// `held`, cut to the claim's scopes when it has them: the smaller set
    /// is walked (a token names a few scopes; a user may hold hundreds).
    fn scoped(&self, held: Arc<PermissionSet>) -> Arc<PermissionSet> {
        match &*self.scopes.borrow() {
            None => held,
            Some(scopes) => {
                let (walked, other) = if scopes.len() <= held.len() {
                    (&**scopes, &*held)
                } else {
                    (&*held, &**scopes)
                };
                Arc::new(walked.iter().filter(|perm| other.contains(perm)).collect())
            }
        }
    }

    /// When the loaded user last proved their password on this request's
    /// claim; `None` before [`RequestAuth::principal`] answered a user,
    /// or when the source keeps no record.
    pub(crate) fn proved_at(&self) -> Option<SystemTime> {
        self.proved_at.get()
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
    /// loaded once; empty for anonymous and inactive users; with a scoped
    /// claim, only those in its scopes (a superuser's: the scopes).
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
                // A scoped superuser holds exactly the scopes; nothing to load.
                if rules::standing(Some(&**user)) == Standing::Superuser
                    && let Some(scopes) = &*self.scopes.borrow()
                {
                    return Ok(Arc::clone(scopes));
                }
                let result = self
                    .bounded("loading permissions", self.shared.backend.user_permissions(&**user))
                    .await
                    .map(|held| self.scoped(held));
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
                    .await
                    .map(|on| self.scoped(on));
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
