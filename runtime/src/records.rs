//! Sessions a user can see and end: every login is a record on the server
//! (device, client address, created, last seen), also with cookie
//! sessions, and the session names its record. Ending the record ends the
//! session on its next request, on every instance, and with it any copy
//! of its cookie, which a plain cookie session cannot do.
//!
//! [`RecordedSessions`] is the identity source (actix-session with
//! actix-identity, as [`Sessions`], plus the record); the stores are the
//! built-in backends, whose `sessions`, `end_session` and `end_sessions`
//! list and end them. A password change ends the user's other sessions and
//! the list says so.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use actix_session::SessionExt;
use actix_web::HttpRequest;
use actix_web::http::header::{HeaderName, USER_AGENT};
use argon2::password_hash::rand_core::{OsRng, RngCore};

use crate::backend::BackendError;
use crate::identity::{Claim, IdentifyError, IdentitySource, LoginError, Sessions};
use crate::token::{from_unix_secs, unix_secs};
use crate::user::AuthUser;

/// The session key under which a session names its record.
const RECORD_KEY: &str = "actix_permit.record";

/// How often at most a session's last request is written to its record.
pub const LAST_SEEN_RESOLUTION: Duration = Duration::from_secs(60);

/// The most live sessions a user keeps: a login past it ends their least
/// recently seen one.
pub const MAX_SESSIONS_PER_USER: usize = 100;

/// How long an ended session stays in the list, to say why it ended (and
/// at most [`MAX_SESSIONS_PER_USER`] of them).
pub const ENDED_KEPT: Duration = Duration::from_secs(7 * 86_400);

/// The longest device description and address kept, in bytes.
pub const MAX_LABEL_BYTES: usize = 128;

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// Its user ended it (one, or "log out other devices").
    ByUser,
    /// An administrator ended it.
    ByAdministrator,
    /// The password changed (every other session of the user ends).
    PasswordChanged,
    /// Its user logged in more than [`MAX_SESSIONS_PER_USER`] times.
    TooMany,
}

impl EndReason {
    /// As stored and shown: `by_user`, `by_administrator`,
    /// `password_changed`, `too_many`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ByUser => "by_user",
            Self::ByAdministrator => "by_administrator",
            Self::PasswordChanged => "password_changed",
            Self::TooMany => "too_many",
        }
    }

    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "by_user" => Self::ByUser,
            "password_changed" => Self::PasswordChanged,
            "too_many" => Self::TooMany,
            _ => Self::ByAdministrator,
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ByUser => "ended by you",
            Self::ByAdministrator => "ended by an administrator",
            Self::PasswordChanged => "ended: the password changed",
            Self::TooMany => "ended: too many sessions",
        })
    }
}

/// A session as its user sees it listed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The record's id (what [`current`] answers for the session it is).
    pub id: String,
    /// The browser and system, from the user agent at login.
    pub device: String,
    /// The client address at login.
    pub address: String,
    /// When the user logged in (to the second).
    pub created: SystemTime,
    /// When it was last used, to the minute ([`LAST_SEEN_RESOLUTION`]).
    pub last_seen: SystemTime,
    /// When and why it ended; `None` while it lasts.
    pub ended: Option<(SystemTime, EndReason)>,
}

/// A record as the check reads it: whose, and whether it still holds.
pub struct SessionRecord {
    user_id: String,
    live: bool,
    /// Seconds since the Unix epoch.
    last_seen: AtomicU64,
}

impl SessionRecord {
    pub(crate) fn new(user_id: String, live: bool, last_seen: SystemTime) -> Self {
        Self {
            user_id,
            live,
            last_seen: AtomicU64::new(unix_secs(last_seen)),
        }
    }

    /// The user whose session it is.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// Whether it still holds.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// When its session was last seen.
    pub fn last_seen(&self) -> SystemTime {
        from_unix_secs(self.last_seen.load(Ordering::Relaxed))
    }

    /// Marks a request at `now`; whether the store should write it (once
    /// per [`LAST_SEEN_RESOLUTION`], one caller).
    pub(crate) fn mark_seen(&self, now: SystemTime) -> bool {
        crate::token::due(&self.last_seen, now, LAST_SEEN_RESOLUTION)
    }

    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn bytes(&self, id: &str) -> usize {
        160 + id.len() + self.user_id.len()
    }
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("user_id", &self.user_id)
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

/// Where [`RecordedSessions`] keeps records: the built-in backends (and an
/// `Arc` of one).
pub trait RecordStore: Send + Sync + 'static {
    /// The record `id`, or `None` (never made, or deleted at logout).
    fn record(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Arc<SessionRecord>>, BackendError>> + Send;

    /// Makes a record for a login of `user_id` and answers its id; ends
    /// the user's least recently seen session past
    /// [`MAX_SESSIONS_PER_USER`].
    fn open_record(
        &self,
        user_id: &str,
        device: &str,
        address: &str,
    ) -> impl Future<Output = Result<String, BackendError>> + Send;

    /// Deletes the record of a session that logged out (one already ended
    /// stays, to say why).
    fn close_record(&self, id: &str) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Writes when the session was last seen (once a minute at most).
    fn record_seen(&self, id: &str, at: SystemTime) -> impl Future<Output = ()> + Send;
}

impl<S: RecordStore> RecordStore for Arc<S> {
    fn record(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Arc<SessionRecord>>, BackendError>> + Send {
        (**self).record(id)
    }

    fn open_record(
        &self,
        user_id: &str,
        device: &str,
        address: &str,
    ) -> impl Future<Output = Result<String, BackendError>> + Send {
        (**self).open_record(user_id, device, address)
    }

    fn close_record(&self, id: &str) -> impl Future<Output = Result<(), BackendError>> + Send {
        (**self).close_record(id)
    }

    fn record_seen(&self, id: &str, at: SystemTime) -> impl Future<Output = ()> + Send {
        (**self).record_seen(id, at)
    }
}

/// A new record's id: 16 random bytes, in hex.
pub(crate) fn new_id() -> String {
    let mut bytes = [0; 16];
    OsRng.fill_bytes(&mut bytes);
    crate::token::hex(&bytes)
}

/// `text` cut to at most [`MAX_LABEL_BYTES`] on a character boundary,
/// without control characters.
pub(crate) fn label(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_LABEL_BYTES {
            break;
        }
        out.push(c);
    }
    out
}

/// A short description of the device a user agent names: the browser and
/// the system (`Firefox on Linux`, `Chrome on Android`, `curl`), or the
/// agent itself, cut short, when neither is known. A label for people,
/// not a fingerprint: the header is the client's to say.
pub fn device(user_agent: &str) -> String {
    let has = |needle: &str| user_agent.contains(needle);
    let browser = if has("Edg/") {
        Some("Edge")
    } else if has("OPR/") || has("Opera") {
        Some("Opera")
    } else if has("Firefox/") {
        Some("Firefox")
    } else if has("Chromium/") {
        Some("Chromium")
    } else if has("Chrome/") || has("HeadlessChrome/") {
        Some("Chrome")
    } else if has("Safari/") {
        Some("Safari")
    } else if user_agent.starts_with("curl/") {
        Some("curl")
    } else {
        None
    };
    let system = if has("Android") {
        Some("Android")
    } else if has("iPhone") || has("iPad") {
        Some("iOS")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Linux") {
        Some("Linux")
    } else {
        None
    };
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(system)) => format!("a browser on {system}"),
        (None, None) if user_agent.trim().is_empty() => "unknown device".to_owned(),
        (None, None) => label(user_agent.split('/').next().unwrap_or(user_agent)),
    }
}

/// The record the session of `req` names, if any: the id the listing
/// gives it, to mark the session the user is looking from.
pub fn current(req: &HttpRequest) -> Option<String> {
    req.get_session().get::<String>(RECORD_KEY).ok().flatten()
}

/// The identity source for cookie (or Redis) sessions whose logins are
/// recorded: [`Sessions`], and a record per login in `store`. A session
/// whose record is gone, ended, or another user's is anonymous and its
/// cookie is removed (a copy of it is dead too); a session from before
/// records (no record named) as well. Each request reads the record from
/// the store's exact cache: no query in steady state, and last seen is
/// written once a minute at most.
pub struct RecordedSessions<S> {
    store: S,
    client_header: Option<HeaderName>,
}

impl<S: RecordStore> RecordedSessions<S> {
    /// Sessions recorded in `store` (an `Arc` of the app's backend).
    pub fn new(store: S) -> Self {
        Self {
            store,
            client_header: None,
        }
    }

    /// Records the client address from this header (its last entry, as a
    /// proxy appends it) instead of the peer's address. Set it only
    /// behind a proxy that sets it.
    #[must_use]
    pub fn client_header(mut self, name: HeaderName) -> Self {
        self.client_header = Some(name);
        self
    }

    fn address(&self, req: &HttpRequest) -> String {
        let from_header = self.client_header.as_ref().and_then(|name| {
            let value = req.headers().get_all(name).last()?.to_str().ok()?;
            let last = value.rsplit(',').next()?.trim();
            (!last.is_empty()).then(|| label(last))
        });
        from_header.unwrap_or_else(|| {
            req.peer_addr()
                .map_or_else(|| "unknown".to_owned(), |addr| addr.ip().to_string())
        })
    }
}

impl<S> fmt::Debug for RecordedSessions<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecordedSessions")
    }
}

impl<S: RecordStore> IdentitySource for RecordedSessions<S> {
    async fn identify(&self, req: &HttpRequest) -> Result<Option<Claim>, IdentifyError> {
        let Some(claim) = Sessions::claim(req) else {
            return Ok(None);
        };
        let record = match current(req) {
            Some(id) => self.store.record(&id).await?.map(|record| (id, record)),
            None => None,
        };
        match record {
            Some((id, record)) if record.live && record.user_id == claim.user_id => {
                let now = SystemTime::now();
                if record.mark_seen(now) {
                    self.store.record_seen(&id, now).await;
                }
                Ok(Some(claim))
            }
            _ => {
                tracing::info!(target: "actix_permit", user = claim.user_id, "the session's record is gone or ended; ending the session");
                req.get_session().purge();
                Ok(None)
            }
        }
    }

    /// The session's previous record (another login on this browser) is
    /// closed, the login recorded, and the session names the new record.
    async fn login(&self, req: &HttpRequest, user: &dyn AuthUser) -> Result<(), LoginError> {
        if let Some(previous) = current(req) {
            self.store
                .close_record(&previous)
                .await
                .map_err(|e| LoginError::Session(e.to_string()))?;
        }
        let agent = req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let id = self
            .store
            .open_record(user.id(), &label(&device(agent)), &self.address(req))
            .await
            .map_err(|e| LoginError::Session(e.to_string()))?;
        IdentitySource::login(&Sessions, req, user).await?;
        req.get_session()
            .insert(RECORD_KEY, id)
            .map_err(|e| LoginError::Session(e.to_string()))
    }

    /// The record is deleted (a logout is not listed), then the session.
    async fn logout(&self, req: &HttpRequest) -> Result<(), LoginError> {
        if let Some(id) = current(req) {
            self.store
                .close_record(&id)
                .await
                .map_err(|e| LoginError::Session(e.to_string()))?;
        }
        IdentitySource::logout(&Sessions, req).await
    }

    async fn password_proved(&self, req: &HttpRequest) -> Result<(), LoginError> {
        IdentitySource::password_proved(&Sessions, req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_seen_is_written_once_a_minute_at_most() {
        let start = from_unix_secs(1_000_000);
        let record = SessionRecord::new("7".into(), true, start);
        assert!(!record.mark_seen(start + Duration::from_secs(59)));
        assert!(record.mark_seen(start + Duration::from_secs(60)));
        assert_eq!(record.last_seen(), start + Duration::from_secs(60));
        assert!(!record.mark_seen(start + Duration::from_secs(119)));
        assert!(record.mark_seen(start + Duration::from_secs(500)));
    }

    #[test]
    fn devices_are_named_by_browser_and_system() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(device(firefox), "Firefox on Linux");
        let chrome = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36";
        assert_eq!(device(chrome), "Chrome on Android");
        assert_eq!(device("curl/8.5.0"), "curl");
        assert_eq!(device(""), "unknown device");
        assert_eq!(device(&"x".repeat(500)).len(), MAX_LABEL_BYTES);
    }
}
