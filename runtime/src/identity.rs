//! Where a request's user comes from: an [`IdentitySource`] reads the
//! request and yields a [`Claim`] (a user id, and the session auth hash
//! the login bound it to), or nothing. [`Sessions`], actix-session with
//! actix-identity, is the default; [`Permit::identity`](crate::Permit::identity)
//! puts another in its place.
//!
//! What follows the source is the same for every source: the user is
//! loaded from the backend, an inactive or deleted user is anonymous, a
//! claim whose hash no longer matches the user's ends (its source's
//! [`logout`](IdentitySource::logout)), and the checks, deny by default,
//! the caches and the audit do not know which source answered.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_identity::{Identity, IdentityExt};
use actix_session::SessionExt;
use actix_web::{HttpMessage, HttpRequest, ResponseError};

use crate::error::BackendError;
pub use crate::error::Rejection;
use crate::permission::PermissionSet;
use crate::user::AuthUser;

/// Who a request says it is. Built with [`Claim::new`], then
/// [`Claim::password_proved_at`] and [`Claim::limited_to`] where they
/// apply; its fields are read-only outside this crate, so that what a
/// claim carries can grow.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claim {
    /// The [`AuthUser::id`] to load.
    pub user_id: String,
    /// The [`AuthUser::session_auth_hash`] the login stored: the user is
    /// anonymous, and the claim is ended, unless it equals the user's (a
    /// password change ends the user's other sessions). A session that
    /// stored none carries `Some("")`, which only a user without a hash
    /// matches. `None`: the claim is not bound to the password (as an API
    /// token, which outlives password changes), and is credentials sent
    /// with each request: when its user is gone or inactive it is refused
    /// (401 `invalid_token`) rather than anonymous.
    pub auth_hash: Option<String>,
    /// When the user last proved their password on this claim: at login,
    /// or at a [`reauthenticate`](crate::reauthenticate). What
    /// `#[recent_login_required]` compares with its `max_age`. `None`:
    /// unknown, which never counts as recent.
    pub proved_at: Option<SystemTime>,
    /// What the claim may use of the user's permissions (an API token's
    /// scopes): every check then needs the permission both held by the
    /// user and listed here, a superuser included, on objects too.
    /// `None`: all of the user's (a login).
    pub scopes: Option<Arc<PermissionSet>>,
}

impl Claim {
    /// A claim for `user_id`, bound to the session auth hash `auth_hash`
    /// (see [`Claim::auth_hash`]), with no password proof on record.
    pub fn new(user_id: impl Into<String>, auth_hash: Option<String>) -> Self {
        Self {
            user_id: user_id.into(),
            auth_hash,
            proved_at: None,
            scopes: None,
        }
    }

    /// The claim, limited to `scopes` (permission names): what it may do
    /// is their intersection with what the user holds, at each request.
    #[must_use]
    pub fn limited_to<S: Into<Box<str>>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = Some(Arc::new(scopes.into_iter().collect()));
        self
    }

    /// The claim, with the user's password proved at `at`.
    #[must_use]
    pub fn password_proved_at(mut self, at: SystemTime) -> Self {
        self.proved_at = Some(at);
        self
    }
}

/// The id only: never the hash.
impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// Why a source could not say who a request is.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifyError {
    /// It could not answer (a store that is down, a timeout): the request
    /// fails closed with a 503.
    #[error(transparent)]
    Unavailable(#[from] BackendError),
    /// It refused the request's credentials: a 401 with the rejection's
    /// `WWW-Authenticate` challenge, counted against the client by the
    /// login throttle. Never anonymous: a client that sent a token it
    /// believes good learns that it is not.
    #[error("{0}")]
    Rejected(Rejection),
}

impl From<Rejection> for IdentifyError {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(rejection)
    }
}

/// Logging a user in or out could not be recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The [`Permit`](crate::Permit) middleware does not wrap this route.
    #[error("the actix_permit::Permit middleware does not wrap this route")]
    MissingMiddleware,
    /// The session store refused the value.
    #[error("could not store the login in the session: {0}")]
    Session(String),
    /// The identity source has no logins (API tokens, say).
    #[error("this identity source does not log users in")]
    Unsupported,
}

impl ResponseError for LoginError {}

/// Where a request's user comes from, as Django's authentication middleware
/// reading the session, or DRF's authentication classes: one per
/// [`Permit`](crate::Permit). `Send + Sync`, built once.
pub trait IdentitySource: Send + Sync + 'static {
    /// What the request claims, `Ok(None)` when it claims nothing
    /// (anonymous). Called at most once per request, the first time a check
    /// or [`CurrentUser`](crate::CurrentUser) needs the user, under the
    /// backend timeout. Never a panic on what the client sent: a session
    /// that does not read is `Ok(None)` (logged); credentials the client
    /// presents and that do not hold (an API token) are
    /// [`IdentifyError::Rejected`] (401); a store that cannot answer is
    /// [`IdentifyError::Unavailable`] (503). A [`BackendError`] converts
    /// with `?`.
    fn identify(
        &self,
        req: &HttpRequest,
    ) -> impl Future<Output = Result<Option<Claim>, IdentifyError>>;

    /// Records that `user` is now logged in on this request's client (what
    /// [`login`](crate::login) does).
    fn login(
        &self,
        req: &HttpRequest,
        user: &dyn AuthUser,
    ) -> impl Future<Output = Result<(), LoginError>>;

    /// Ends the claim this request carries (what [`logout`](crate::logout)
    /// does, and what happens to a claim whose hash no longer matches); a
    /// server-side session is deleted here, and an error says it was not.
    fn logout(&self, req: &HttpRequest) -> impl Future<Output = Result<(), LoginError>>;

    /// Records that the user of this request's claim proved their password
    /// now (what [`reauthenticate`](crate::reauthenticate) does once the
    /// password checked out), so that the next [`identify`](IdentitySource::identify)
    /// carries it in [`Claim::proved_at`]. The claim's user stays the
    /// same. A source that cannot record it answers
    /// [`LoginError::Unsupported`] (the default), and
    /// `#[recent_login_required]` then never passes on its claims.
    fn password_proved(&self, req: &HttpRequest) -> impl Future<Output = Result<(), LoginError>> {
        let _ = req;
        async { Err(LoginError::Unsupported) }
    }
}

/// The session key under which the session auth hash is kept.
const SESSION_HASH_KEY: &str = "actix_permit.auth_hash";

/// The session key under which the time of the last re-authentication is
/// kept, in milliseconds since the Unix epoch (absent until the first).
const SESSION_PROVED_KEY: &str = "actix_permit.proved_at";

/// The session key under which actix-identity keeps the time of login, in
/// seconds since the Unix epoch (its default, set by `Permit` so that it
/// is ours to read): a login proves the password too. Kept only while the
/// login has a deadline ([`Permit::session_lifetime`](crate::Permit::session_lifetime)).
pub(crate) const LOGIN_TIME_KEY: &str = "actix_identity.logged_in_at";

/// The time `millis` milliseconds after the Unix epoch, if it is one.
pub(crate) fn from_millis(millis: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_millis(millis))
}

/// Now, in milliseconds since the Unix epoch (0 before it).
pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The default source: the user id that actix-identity keeps in the
/// actix-session session, and the session auth hash stored beside it at
/// login. [`Permit`](crate::Permit) installs actix-identity itself; the
/// session middleware is the app's (`SessionMiddleware`, with the cookie
/// or the Redis store).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sessions;

impl Sessions {
    /// What the session claims; reading it cannot wait or fail.
    pub(crate) fn claim(req: &HttpRequest) -> Option<Claim> {
        let user_id = match req.get_identity().and_then(|identity| identity.id()) {
            Ok(id) => id,
            Err(actix_identity::error::GetIdentityError::MissingIdentityError(_)) => return None,
            Err(err) => {
                tracing::warn!(target: "actix_permit", error = %err, "unreadable identity in the session; treating the request as anonymous");
                return None;
            }
        };
        let session = req.get_session();
        let stored = session.get::<String>(SESSION_HASH_KEY);
        // The later of the login and the last re-authentication; one that
        // does not read (a value of another type) is no proof. Nothing is
        // written at login, so a session cookie does not grow (and cost
        // every request) for apps that never ask.
        let reauthenticated = session
            .get::<u64>(SESSION_PROVED_KEY)
            .ok()
            .flatten()
            .and_then(from_millis);
        let logged_in = session
            .get::<u64>(LOGIN_TIME_KEY)
            .ok()
            .flatten()
            .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)));
        let proved_at = reauthenticated.max(logged_in);
        Some(Claim {
            user_id,
            auth_hash: Some(stored.ok().flatten().unwrap_or_default()),
            proved_at,
            scopes: None,
        })
    }
}

impl IdentitySource for Sessions {
    async fn identify(&self, req: &HttpRequest) -> Result<Option<Claim>, IdentifyError> {
        Ok(Self::claim(req))
    }

    /// The id and the session auth hash go into the session, and the
    /// session gets a new key (so a session id fixed before login is
    /// useless). When the session belonged to another user, it starts
    /// empty: nothing of theirs carries over (Django flushes it too).
    async fn login(&self, req: &HttpRequest, user: &dyn AuthUser) -> Result<(), LoginError> {
        let previous = req.get_identity().ok().and_then(|id| id.id().ok());
        if previous.is_some_and(|previous| previous != user.id()) {
            req.get_session().clear();
        }
        Identity::login(&req.extensions(), user.id().to_owned())
            .map_err(|e| LoginError::Session(e.to_string()))?;
        req.get_session()
            .insert(SESSION_HASH_KEY, user.session_auth_hash())
            .map_err(|e| LoginError::Session(e.to_string()))
    }

    /// The whole session is removed, server and client side.
    async fn logout(&self, req: &HttpRequest) -> Result<(), LoginError> {
        req.get_session().purge();
        Ok(())
    }

    /// The time goes into the session beside the id; the session keeps
    /// its key and its user.
    async fn password_proved(&self, req: &HttpRequest) -> Result<(), LoginError> {
        req.get_session()
            .insert(SESSION_PROVED_KEY, now_millis())
            .map_err(|e| LoginError::Session(e.to_string()))
    }
}

/// Two sources on one app (the session for browsers, API tokens for
/// scripts): the request is whoever the one that finds a claim says. A
/// request that both claim (a session cookie and a token) is refused as
/// ambiguous (401, `invalid_request`): which user, and which scopes, it
/// meant cannot be told, and a token must not borrow a cookie's ambient
/// authority or the other way round. Credentials either refuses are
/// refused.
///
/// Logins go to `first` (the one that logs users in; `second` when
/// `first` has no logins); a re-authentication to the one that claims the
/// request; a logout to both (each ends what it holds).
#[derive(Debug, Clone, Default)]
pub struct OneOf<A, B> {
    first: A,
    second: B,
}

impl<A: IdentitySource, B: IdentitySource> OneOf<A, B> {
    /// `first` and `second`, neither preferred: both are asked.
    pub fn new(first: A, second: B) -> Self {
        Self { first, second }
    }
}

impl<A: IdentitySource, B: IdentitySource> IdentitySource for OneOf<A, B> {
    async fn identify(&self, req: &HttpRequest) -> Result<Option<Claim>, IdentifyError> {
        let first = self.first.identify(req).await?;
        let second = self.second.identify(req).await?;
        match (first, second) {
            (Some(_), Some(_)) => Err(IdentifyError::Rejected(Rejection::invalid_request(
                "the request carries two credentials (a session and a token); send one",
            ))),
            (claim, None) | (None, claim) => Ok(claim),
        }
    }

    async fn login(&self, req: &HttpRequest, user: &dyn AuthUser) -> Result<(), LoginError> {
        match self.first.login(req, user).await {
            Err(LoginError::Unsupported) => self.second.login(req, user).await,
            done => done,
        }
    }

    async fn logout(&self, req: &HttpRequest) -> Result<(), LoginError> {
        let first = self.first.logout(req).await;
        let second = self.second.logout(req).await;
        first.and(second)
    }

    async fn password_proved(&self, req: &HttpRequest) -> Result<(), LoginError> {
        match self.first.identify(req).await {
            Ok(Some(_)) => self.first.password_proved(req).await,
            _ => self.second.password_proved(req).await,
        }
    }
}

/// Cookies a source asked to set on the response ([`set_cookie`]), which
/// [`Permit`](crate::Permit) adds once the handler has answered.
#[derive(Default)]
struct PendingCookies(std::cell::RefCell<Vec<actix_web::cookie::Cookie<'static>>>);

/// Sets `cookie` on the response to `req` (a source's login writing its
/// session cookie, say); [`Permit`](crate::Permit) adds it once the
/// handler has answered.
pub fn set_cookie(req: &HttpRequest, cookie: actix_web::cookie::Cookie<'static>) {
    let mut extensions = req.extensions_mut();
    if extensions.get::<PendingCookies>().is_none() {
        extensions.insert(PendingCookies::default());
    }
    if let Some(pending) = extensions.get::<PendingCookies>() {
        pending.0.borrow_mut().push(cookie);
    }
}

/// The cookies sources asked for on this request, taken.
pub(crate) fn take_cookies(req: &HttpRequest) -> Vec<actix_web::cookie::Cookie<'static>> {
    req.extensions()
        .get::<PendingCookies>()
        .map(|pending| std::mem::take(&mut *pending.0.borrow_mut()))
        .unwrap_or_default()
}

type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The form [`Permit`](crate::Permit) holds a source in: the default
/// called directly, any other through a box.
#[derive(Clone)]
pub(crate) enum Source {
    Sessions,
    Other(std::sync::Arc<dyn Dyn>),
}

impl Source {
    pub(crate) fn new<S: IdentitySource>(source: S) -> Self {
        match (&source as &dyn std::any::Any).downcast_ref::<Sessions>() {
            Some(_) => Self::Sessions,
            None => Self::Other(std::sync::Arc::new(source)),
        }
    }

    /// The default source's claim at once; `None` when the source is
    /// another, which [`Source::identify`] asks.
    pub(crate) fn ready_claim(&self, req: &HttpRequest) -> Option<Option<Claim>> {
        match self {
            Self::Sessions => Some(Sessions::claim(req)),
            Self::Other(_) => None,
        }
    }

    pub(crate) async fn identify(&self, req: &HttpRequest) -> Result<Option<Claim>, IdentifyError> {
        match self {
            Self::Sessions => Ok(Sessions::claim(req)),
            Self::Other(source) => source.identify(req).await,
        }
    }

    pub(crate) async fn login(
        &self,
        req: &HttpRequest,
        user: &dyn AuthUser,
    ) -> Result<(), LoginError> {
        match self {
            Self::Sessions => IdentitySource::login(&Sessions, req, user).await,
            Self::Other(source) => source.login(req, user).await,
        }
    }

    pub(crate) async fn logout(&self, req: &HttpRequest) -> Result<(), LoginError> {
        match self {
            Self::Sessions => IdentitySource::logout(&Sessions, req).await,
            Self::Other(source) => source.logout(req).await,
        }
    }

    pub(crate) async fn password_proved(&self, req: &HttpRequest) -> Result<(), LoginError> {
        match self {
            Self::Sessions => IdentitySource::password_proved(&Sessions, req).await,
            Self::Other(source) => source.password_proved(req).await,
        }
    }
}

/// [`IdentitySource`] with its future boxed.
pub(crate) trait Dyn: Send + Sync + 'static {
    fn identify<'a>(
        &'a self,
        req: &'a HttpRequest,
    ) -> LocalBoxFuture<'a, Result<Option<Claim>, IdentifyError>>;
    fn login<'a>(
        &'a self,
        req: &'a HttpRequest,
        user: &'a dyn AuthUser,
    ) -> LocalBoxFuture<'a, Result<(), LoginError>>;
    fn logout<'a>(&'a self, req: &'a HttpRequest) -> LocalBoxFuture<'a, Result<(), LoginError>>;
    fn password_proved<'a>(
        &'a self,
        req: &'a HttpRequest,
    ) -> LocalBoxFuture<'a, Result<(), LoginError>>;
}

impl<S: IdentitySource> Dyn for S {
    fn identify<'a>(
        &'a self,
        req: &'a HttpRequest,
    ) -> LocalBoxFuture<'a, Result<Option<Claim>, IdentifyError>> {
        Box::pin(IdentitySource::identify(self, req))
    }
    fn login<'a>(
        &'a self,
        req: &'a HttpRequest,
        user: &'a dyn AuthUser,
    ) -> LocalBoxFuture<'a, Result<(), LoginError>> {
        Box::pin(IdentitySource::login(self, req, user))
    }
    fn logout<'a>(&'a self, req: &'a HttpRequest) -> LocalBoxFuture<'a, Result<(), LoginError>> {
        Box::pin(IdentitySource::logout(self, req))
    }
    fn password_proved<'a>(
        &'a self,
        req: &'a HttpRequest,
    ) -> LocalBoxFuture<'a, Result<(), LoginError>> {
        Box::pin(IdentitySource::password_proved(self, req))
    }
}
