//! API tokens: `Authorization: Bearer <token>` for scripts, CI jobs and
//! other services. A token belongs to a user, has a name, scopes
//! (permission names) and an optional expiry; what it may do is its scopes
//! ∩ the user's permissions at each request, on objects too, and nothing
//! once the user is inactive or gone, the token revoked or expired.
//!
//! A token reads `permit_<prefix>_<secret>`: 16 and 64 lowercase hex
//! digits, 8 and 32 random bytes. The prefix finds the stored token and
//! is shown in listings; the secret is shown once, at creation, and
//! stored only as its BLAKE2b-256 digest. The secret has 256 random bits,
//! so a fast digest is as safe as a password hash is for a password, and a
//! refused token costs no password hashing. An unknown prefix is compared
//! with a fixed digest, so it takes the same steps as a wrong secret for a
//! known one.
//!
//! [`BearerTokens`] is the identity source; the stores are the built-in
//! backends ([`MemoryBackend`](crate::backend::MemoryBackend), `SqlBackend`
//! with its exact cache), or any [`TokenStore`]. Put it beside the session
//! with [`OneOf`](crate::identity::OneOf), which refuses a request carrying
//! both.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use subtle::ConstantTimeEq;

use crate::backend::{AdminError, BackendError};
use crate::identity::{Claim, IdentifyError, IdentitySource, LoginError, Rejection};
use crate::permission::{self, PermissionSet};

/// What every token starts with, so that secret scanners can find one.
const TAG: &str = "permit_";
const PREFIX_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;
/// How long a token is, in characters.
pub const TOKEN_LEN: usize = TAG.len() + 2 * PREFIX_BYTES + 1 + 2 * SECRET_BYTES;

/// The most tokens a user may hold, the longest name and the most scopes
/// of one token: what a user can make the stores keep is bounded.
pub const MAX_TOKENS_PER_USER: usize = 50;
/// The longest token name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// The most scopes one token lists.
pub const MAX_SCOPES: usize = 64;
/// The longest expiry a token may be given (ten years).
pub const MAX_EXPIRY: Duration = Duration::from_secs(10 * 365 * 86_400);

/// How often at most a token's last use is written to the store: a token
/// request costs no write in between.
pub const LAST_USED_RESOLUTION: Duration = Duration::from_secs(60);

/// The digest of a secret (the hex text, under a label of ours).
pub(crate) type Digest32 = [u8; 32];

pub(crate) fn digest(secret: &str) -> Digest32 {
    let mut hasher = Blake2b::<U32>::new();
    hasher.update(b"actix-permit token v1\0");
    hasher.update(secret.as_bytes());
    hasher.finalize().into()
}

/// What an unknown prefix's secret is compared with.
const NO_DIGEST: Digest32 = [0x5a; 32];

pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// A digest as stored in a text column.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn digest_hex(digest: &Digest32) -> String {
    hex(digest)
}

/// A digest read back from its text column; `None` when it is not one.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn digest_from_hex(text: &str) -> Option<Digest32> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0; 32];
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// A new token's parts: the prefix, the whole token (shown once) and the
/// secret's digest (stored).
pub(crate) struct Issued {
    pub(crate) prefix: String,
    pub(crate) token: String,
    pub(crate) digest: Digest32,
}

pub(crate) fn issue() -> Issued {
    let mut prefix = [0; PREFIX_BYTES];
    let mut secret = [0; SECRET_BYTES];
    OsRng.fill_bytes(&mut prefix);
    OsRng.fill_bytes(&mut secret);
    let (prefix, secret) = (hex(&prefix), hex(&secret));
    Issued {
        token: format!("{TAG}{prefix}_{secret}"),
        digest: digest(&secret),
        prefix,
    }
}

/// A token's prefix and secret, when it has the form of one.
fn split(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TAG)?;
    let (prefix, secret) = rest.split_once('_')?;
    let lower_hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    (lower_hex(prefix, 2 * PREFIX_BYTES) && lower_hex(secret, 2 * SECRET_BYTES))
        .then_some((prefix, secret))
}

/// Seconds since the Unix epoch (0 before it).
pub(crate) fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(crate) fn from_unix_secs(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Moves `last` (seconds since the Unix epoch) to `now` when at least
/// `every` has passed since it, and says whether this caller did (one
/// caller per interval, however many race): what keeps a last use from
/// being written on every request.
pub(crate) fn due(last: &AtomicU64, now: SystemTime, every: Duration) -> bool {
    let now = unix_secs(now);
    let seen = last.load(Ordering::Relaxed);
    now >= seen.saturating_add(every.as_secs())
        && last
            .compare_exchange(seen, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// A token as a store hands it to [`BearerTokens`]: whose it is, the
/// secret's digest, its scopes and expiry. Made by the built-in stores,
/// which alone issue tokens.
pub struct StoredToken {
    user_id: String,
    digest: Digest32,
    scopes: Arc<PermissionSet>,
    expires: Option<SystemTime>,
    /// When a use was last recorded, in seconds since the Unix epoch (0:
    /// never).
    last_used: AtomicU64,
}

impl StoredToken {
    /// A token of the user `user_id`, whose secret has the digest `digest`,
    /// limited to `scopes`, valid until `expires` (`None`: until revoked),
    /// last used at `last_used`.
    pub(crate) fn new(
        user_id: String,
        digest: Digest32,
        scopes: PermissionSet,
        expires: Option<SystemTime>,
        last_used: Option<SystemTime>,
    ) -> Self {
        Self {
            user_id,
            digest,
            scopes: Arc::new(scopes),
            expires,
            last_used: AtomicU64::new(last_used.map_or(0, unix_secs)),
        }
    }

    /// The same token with other scopes.
    pub(crate) fn with_scopes(&self, scopes: &[String]) -> Self {
        Self {
            user_id: self.user_id.clone(),
            digest: self.digest,
            scopes: Arc::new(scopes.iter().map(String::as_str).collect()),
            expires: self.expires,
            last_used: AtomicU64::new(self.last_used.load(Ordering::Relaxed)),
        }
    }

    /// The user it belongs to ([`AuthUser::id`](crate::AuthUser::id)).
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// When it stops working; `None`: when it is revoked.
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires
    }

    /// When a use was last recorded.
    pub fn last_used(&self) -> Option<SystemTime> {
        match self.last_used.load(Ordering::Relaxed) {
            0 => None,
            secs => Some(from_unix_secs(secs)),
        }
    }

    /// Marks a use at `now`, and says whether the store should write it:
    /// once per [`LAST_USED_RESOLUTION`] (only one caller is told so).
    pub fn mark_used(&self, now: SystemTime) -> bool {
        due(&self.last_used, now, LAST_USED_RESOLUTION)
    }

    /// What the cache counts it as (a few hundred bytes with its scopes).
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn bytes(&self, prefix: &str) -> usize {
        256 + prefix.len()
            + self.user_id.len()
            + self.scopes.iter().map(|s| s.len() + 24).sum::<usize>()
    }
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("user_id", &self.user_id)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// A token as its owner sees it listed: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenInfo {
    /// The name its owner gave it, unique among their tokens.
    pub name: String,
    /// The first part of the token (`permit_<prefix>_…`).
    pub prefix: String,
    /// The permission names it may use (of those its owner holds).
    pub scopes: Vec<String>,
    /// When it was created (to the second).
    pub created: SystemTime,
    /// When it was last used, to the minute ([`LAST_USED_RESOLUTION`]).
    pub last_used: Option<SystemTime>,
    /// When it stops working; `None`: when it is revoked.
    pub expires: Option<SystemTime>,
}

impl TokenInfo {
    /// Whether it had expired at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }
}

/// A token just created: what it is, and the token itself, which is shown
/// now and never again (only its digest is stored).
#[non_exhaustive]
pub struct NewToken {
    /// What the listing will show.
    pub info: TokenInfo,
    token: String,
}

impl NewToken {
    pub(crate) fn new(info: TokenInfo, token: String) -> Self {
        Self { info, token }
    }

    /// The token, for `Authorization: Bearer <token>`.
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// The name and prefix only: never the token.
impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// A token request checked: its scopes and its expiry, as a time.
pub(crate) struct Checked {
    pub(crate) scopes: Vec<String>,
    pub(crate) created: SystemTime,
    pub(crate) expires: Option<SystemTime>,
}

/// Checks what a new token asks for: a name of 1 to 64 bytes without
/// control characters, at most 64 well-formed scopes (duplicates dropped),
/// an expiry of one second to ten years.
pub(crate) fn check_request<'s>(
    name: &str,
    scopes: impl IntoIterator<Item = &'s str>,
    expires_in: Option<Duration>,
) -> Result<Checked, AdminError> {
    if name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || name.chars().any(char::is_control)
        || name.trim() != name
    {
        return Err(AdminError::InvalidToken(format!(
            "a token name is 1 to {MAX_NAME_BYTES} bytes, without control characters or outer spaces"
        )));
    }
    let mut list = Vec::new();
    for scope in scopes {
        permission::validate(scope)?;
        if !list.iter().any(|s: &String| s == scope) {
            list.push(scope.to_owned());
        }
    }
    if list.len() > MAX_SCOPES {
        return Err(AdminError::InvalidToken(format!(
            "a token has at most {MAX_SCOPES} scopes"
        )));
    }
    list.sort();
    let created = from_unix_secs(unix_secs(SystemTime::now()));
    let expires = match expires_in {
        None => None,
        Some(after) if after >= Duration::from_secs(1) && after <= MAX_EXPIRY => {
            Some(created + Duration::from_secs(after.as_secs()))
        }
        Some(_) => {
            return Err(AdminError::InvalidToken(
                "a token expires between one second and ten years after its creation".into(),
            ));
        }
    };
    Ok(Checked {
        scopes: list,
        created,
        expires,
    })
}

/// Where [`BearerTokens`] finds tokens: the built-in backends (and an
/// `Arc` of one), which issue them.
pub trait TokenStore: Send + Sync + 'static {
    /// The token whose prefix is `prefix`, or `None` (unknown, revoked).
    /// An expired one may be returned: it is refused by the caller.
    fn token(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Option<Arc<StoredToken>>, BackendError>> + Send;

    /// Records that `token` was used now, after [`StoredToken::mark_used`]
    /// said to (once a minute at most). The default records nothing.
    fn record_use(&self, prefix: &str, token: &StoredToken) -> impl Future<Output = ()> + Send {
        let _ = (prefix, token);
        async {}
    }
}

impl<S: TokenStore> TokenStore for Arc<S> {
    fn token(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Option<Arc<StoredToken>>, BackendError>> + Send {
        (**self).token(prefix)
    }

    fn record_use(&self, prefix: &str, token: &StoredToken) -> impl Future<Output = ()> + Send {
        (**self).record_use(prefix, token)
    }
}

/// The identity source for `Authorization: Bearer <token>`: a claim of
/// the token's user, limited to its scopes, and bound to no password (a
/// password change does not end a token; revoke it). A request with no
/// `Authorization` header, or another scheme, claims nothing here; a
/// bearer token that is malformed, unknown, revoked or expired is refused
/// (401 `invalid_token`, counted by the throttle), with no password
/// hashing and the same steps for an unknown prefix as for a wrong secret.
/// It logs no one in: [`login`](crate::login) answers
/// [`LoginError::Unsupported`], and so `#[recent_login_required]` never
/// passes on a token (so a token cannot create tokens where creating one
/// asks for the password).
pub struct BearerTokens<S> {
    store: S,
}

impl<S: TokenStore> BearerTokens<S> {
    /// Tokens from `store` (an `Arc` of the app's backend, say).
    pub fn new(store: S) -> Self {
        Self { store }
    }
}

impl<S> fmt::Debug for BearerTokens<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerTokens")
    }
}

/// What the `Authorization` headers say: nothing for us (`Ok(None)`), a
/// bearer token, or a refusal (two headers, a bearer value that is not
/// text).
fn bearer(req: &HttpRequest) -> Result<Option<&str>, Rejection> {
    let mut values = req.headers().get_all(AUTHORIZATION);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::invalid_request(
            "more than one Authorization header",
        ));
    }
    let bytes = value.as_bytes();
    let (scheme, credentials) = bytes.split_at(bytes.len().min(6));
    let is_bearer =
        scheme.eq_ignore_ascii_case(b"bearer") && matches!(credentials.first(), None | Some(b' '));
    if !is_bearer {
        return Ok(None);
    }
    // `Bearer` with nothing after it is a bearer token that does not read.
    let text = std::str::from_utf8(credentials).map_err(|_| Rejection::invalid_token())?;
    Ok(Some(text.trim_matches(' ')))
}

impl<S: TokenStore> IdentitySource for BearerTokens<S> {
    async fn identify(&self, req: &HttpRequest) -> Result<Option<Claim>, IdentifyError> {
        let Some(token) = bearer(req)? else {
            return Ok(None);
        };
        let Some((prefix, secret)) = split(token) else {
            return Err(Rejection::invalid_token().into());
        };
        let presented = digest(secret);
        let stored = self.store.token(prefix).await?;
        let expected = stored.as_deref().map_or(&NO_DIGEST, |token| &token.digest);
        let same = bool::from(presented.ct_eq(expected));
        let now = SystemTime::now();
        match stored {
            Some(token) if same && token.expires.is_none_or(|at| now < at) => {
                if token.mark_used(now) {
                    self.store.record_use(prefix, &token).await;
                }
                let mut claim = Claim::new(token.user_id.clone(), None);
                claim.scopes = Some(Arc::clone(&token.scopes));
                Ok(Some(claim))
            }
            _ => Err(Rejection::invalid_token().into()),
        }
    }

    async fn login(
        &self,
        _req: &HttpRequest,
        _user: &dyn crate::user::AuthUser,
    ) -> Result<(), LoginError> {
        Err(LoginError::Unsupported)
    }

    /// A token ends only by revocation or expiry: nothing to do.
    async fn logout(&self, _req: &HttpRequest) -> Result<(), LoginError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_is_written_at_the_first_and_then_once_a_minute_at_most() {
        let token = StoredToken::new("7".into(), [0; 32], PermissionSet::new(), None, None);
        let start = from_unix_secs(1_000_000);
        assert!(token.mark_used(start));
        assert!(!token.mark_used(start + Duration::from_secs(59)));
        assert!(token.mark_used(start + Duration::from_secs(60)));
        assert_eq!(token.last_used(), Some(start + Duration::from_secs(60)));
    }

    #[test]
    fn an_issued_token_splits_into_its_prefix_and_a_secret_of_its_digest() {
        let issued = issue();
        assert_eq!(issued.token.len(), TOKEN_LEN);
        let (prefix, secret) = split(&issued.token).unwrap_or(("", ""));
        assert_eq!(prefix, issued.prefix);
        assert_eq!(digest(secret), issued.digest);
        assert_eq!(
            digest_from_hex(&digest_hex(&issued.digest)),
            Some(issued.digest)
        );
        assert!(split(&issued.token.to_uppercase()).is_none());
        assert!(split(&issued.token[..TOKEN_LEN - 1]).is_none());
    }
}
