//! [`DjangoSessions`]: the identity source that reads a Django site's own
//! logins, from its `db` or `cached_db` session engine (`django_session`)
//! or its `signed_cookies`, as Django's `get_user` reads them.

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use argon2::password_hash::rand_core::{OsRng, RngCore};
use serde_json::{Map, Value};
use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::backend::BackendError;
use crate::backend::exact::{CachedSession, Exact};
use crate::django::signing::{self, SecretKeys};
use crate::identity::{
    Claim, IdentifyError, IdentitySource, LoginError, from_millis, now_millis, set_cookie,
};
use crate::user::AuthUser;

/// The salt Django's database session store signs its data with.
const DB_SALT: &str = "django.contrib.sessions.SessionStore";

/// The salt of the `signed_cookies` engine's cookie.
const COOKIE_SALT: &str = "django.contrib.sessions.backends.signed_cookies";

/// The longest `signed_cookies` cookie read (browsers keep 4 KiB).
const MAX_COOKIE_BYTES: usize = 4096;

/// The key under which a session's data keeps when the password was last
/// proved here (milliseconds since the Unix epoch): written at a login
/// here and at a re-authentication. Django's own logins do not write it,
/// so `#[recent_login_required]` asks their users for the password once.
const PROVED_KEY: &str = "_permit_proved_at";

/// Where the site keeps its sessions (`SESSION_ENGINE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    /// `django.contrib.sessions.backends.db` (and `cached_db`, whose rows
    /// are the truth its cache copies).
    Db,
    /// `django.contrib.sessions.backends.signed_cookies`: the data is the
    /// cookie, signed.
    SignedCookies,
}

/// Who a request is, by the Django site's session cookie (`sessionid`,
/// Django's `db` and `cached_db` engines): the row in `django_session`
/// must exist and not have expired, its data must carry Django's signature
/// (under `SECRET_KEY` or a fallback), and name a backend the site allows;
/// then the user is loaded by [`DjangoBackend`](super::DjangoBackend) and
/// the session's `_auth_user_hash` checked against the user's password
/// field, under `SECRET_KEY` or a fallback. Anything else is anonymous;
/// a database that does not answer fails the request closed (503).
/// With the backend's exact cache on, a session read once is kept (until
/// its row changes or goes, or it expires) and a request makes no query.
///
/// [`login`](crate::login) writes a session Django accepts, as Django's
/// `login()` does: the same user's session gets a new key and keeps its
/// data, any other session is replaced by an empty one; the three auth
/// keys are set, the CSRF secret rotated (a new `csrftoken` cookie), and
/// `last_login` updated. [`logout`](crate::logout) deletes the row, which
/// ends the login for Django too (with `cached_db`, Django serves its
/// cached copy until that expires, unless [`cached_db`](Self::cached_db),
/// feature `redis`, deletes it too). [`signed_cookies`](Self::signed_cookies)
/// reads and writes Django's cookie-held sessions instead.
#[derive(Clone)]
pub struct DjangoSessions {
    pool: AnyPool,
    keys: SecretKeys,
    cookie: Arc<str>,
    backends: Arc<[String]>,
    users: Arc<str>,
    sqlite: bool,
    age_secs: u32,
    secure: bool,
    exact: Option<Arc<Exact>>,
    engine: Engine,
    #[cfg(feature = "redis")]
    cache: Option<Arc<RedisCache>>,
}

/// The Redis cache of Django's `cached_db` engine: where Django keeps a
/// copy of each session, under `KEY_PREFIX:VERSION:` and the engine's own
/// prefix.
#[cfg(feature = "redis")]
#[derive(Debug)]
struct RedisCache {
    client: redis::Client,
    prefix: String,
}

impl std::fmt::Debug for DjangoSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DjangoSessions")
            .field("cookie", &self.cookie)
            .field("engine", &self.engine)
            .field("backends", &self.backends)
            .finish_non_exhaustive()
    }
}

impl DjangoSessions {
    pub(super) fn new(
        pool: AnyPool,
        keys: SecretKeys,
        users: &str,
        sqlite: bool,
        exact: Option<Arc<Exact>>,
    ) -> Self {
        Self {
            pool,
            keys,
            cookie: Arc::from("sessionid"),
            backends: Arc::from(["django.contrib.auth.backends.ModelBackend".to_owned()]),
            users: Arc::from(users),
            sqlite,
            age_secs: 1_209_600,
            secure: false,
            exact,
            engine: Engine::Db,
            #[cfg(feature = "redis")]
            cache: None,
        }
    }

    /// Django's `cached_db` engine with its cache in Redis (`redis://…`,
    /// `CACHES["default"]` with Django's `RedisCache` or django-redis):
    /// sessions are read from their rows, which Django keeps current, and
    /// a logout or a login's new key here deletes Django's cached copy as
    /// well as the row, so that Django stops serving it too. `key_prefix`
    /// and `version` are the cache's `KEY_PREFIX` and `VERSION` (`""` and
    /// `1` by default). A Redis that does not answer fails the logout.
    ///
    /// # Errors
    /// When `url` is not a Redis URL.
    #[cfg(feature = "redis")]
    pub fn cached_db(
        mut self,
        url: &str,
        key_prefix: &str,
        version: u32,
    ) -> Result<Self, BackendError> {
        let client = redis::Client::open(url).map_err(BackendError::new)?;
        self.engine = Engine::Db;
        self.cache = Some(Arc::new(RedisCache {
            client,
            prefix: format!("{key_prefix}:{version}:django.contrib.sessions.cached_db"),
        }));
        Ok(self)
    }

    /// Deletes Django's cached copy of a session, with `cached_db`.
    async fn uncache(&self, key: &str) -> Result<(), BackendError> {
        #[cfg(feature = "redis")]
        if let Some(cache) = &self.cache {
            let mut redis = cache
                .client
                .get_multiplexed_async_connection()
                .await
                .map_err(BackendError::new)?;
            let () = redis::cmd("DEL")
                .arg(format!("{}{key}", cache.prefix))
                .query_async(&mut redis)
                .await
                .map_err(BackendError::new)?;
        }
        #[cfg(not(feature = "redis"))]
        let _ = key;
        Ok(())
    }

    /// Reads and writes the `signed_cookies` engine's sessions instead of
    /// rows: the cookie holds the data, signed under `SECRET_KEY` (or a
    /// fallback), and lasts `SESSION_COOKIE_AGE` from its signature (see
    /// [`cookie_age`](Self::cookie_age)). As in Django, nothing on the
    /// server can end such a session before then: a logout here (or in
    /// Django) removes the browser's cookie, and a password change ends it
    /// through the auth hash; a copy of the cookie kept elsewhere lives
    /// until it expires.
    pub fn signed_cookies(mut self) -> Self {
        self.engine = Engine::SignedCookies;
        self
    }

    /// How long a login made here lasts (`SESSION_COOKIE_AGE`; two weeks),
    /// and whether its cookie is `Secure` (`SESSION_COOKIE_SECURE`; no).
    pub fn cookie_age(mut self, secs: u32, secure: bool) -> Self {
        self.age_secs = secs;
        self.secure = secure;
        self
    }

    /// The session's data and when it expires (seconds since the Unix
    /// epoch), when it is current and signed: from its row, or from the
    /// cookie itself with `signed_cookies`.
    async fn data(&self, key: &str) -> Result<Option<(Map<String, Value>, i64)>, BackendError> {
        if self.engine == Engine::SignedCookies {
            return Ok(self.cookie_data(key));
        }
        let expires = if self.sqlite {
            "CAST(strftime('%s', expire_date) AS INTEGER)"
        } else {
            "CAST(FLOOR(EXTRACT(EPOCH FROM expire_date)) AS BIGINT)"
        };
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT session_data, {expires} AS expires FROM django_session \
             WHERE session_key = $1 AND expire_date > CURRENT_TIMESTAMP"
        )))
        .bind(key.to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(BackendError::new)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let data: String = row.try_get("session_data").map_err(BackendError::new)?;
        let expires: i64 = row.try_get("expires").map_err(BackendError::new)?;
        match signing::loads(&data, &self.keys, DB_SALT, None) {
            Ok(Value::Object(session)) => Ok(Some((session, expires))),
            Ok(_) => Ok(None),
            Err(err) => {
                tracing::info!(target: "actix_permit", error = %err, "a Django session that does not read; anonymous");
                Ok(None)
            }
        }
    }

    /// A `signed_cookies` session's data: signed under a key of the site's
    /// and younger than the cookie age. It cannot be changed before it
    /// expires, so it is read, not cached.
    fn cookie_data(&self, cookie: &str) -> Option<(Map<String, Value>, i64)> {
        match signing::loads(
            cookie,
            &self.keys,
            COOKIE_SALT,
            Some(u64::from(self.age_secs)),
        ) {
            Ok(Value::Object(session)) => Some((session, i64::MAX)),
            Ok(_) => None,
            Err(err) => {
                tracing::info!(target: "actix_permit", error = %err, "a Django session cookie that does not read; anonymous");
                None
            }
        }
    }

    /// Who the session says, when it names a user: from the exact cache
    /// when it may answer, otherwise from the row (and kept).
    async fn auth(&self, key: &str) -> Result<Option<Arc<CachedSession>>, BackendError> {
        let read = async {
            let Some((session, expires)) = self.data(key).await? else {
                return Ok(None);
            };
            let field = |name: &str| session.get(name).and_then(Value::as_str).map(str::to_owned);
            let (Some(user_id), Some(backend)) =
                (field("_auth_user_id"), field("_auth_user_backend"))
            else {
                return Ok(None);
            };
            Ok(Some(Arc::new(CachedSession {
                user_id,
                backend,
                auth_hash: field("_auth_user_hash").unwrap_or_default(),
                expires,
                proved_at: session.get(PROVED_KEY).and_then(Value::as_u64),
            })))
        };
        let exact = match self.engine {
            Engine::Db => self.exact.as_deref(),
            Engine::SignedCookies => None,
        };
        let session = Exact::through(
            exact,
            |cache| cache.session(key).map(Some),
            read,
            |cache, stamp, session| {
                if let Some(session) = session {
                    cache.put_session(stamp, key, session);
                }
            },
        )
        .await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Ok(session.filter(|session| session.expires > now))
    }

    /// Forgets a session this instance changed, at once (other instances
    /// hear of it through the triggers).
    fn forget(&self, key: &str) {
        if let Some(exact) = &self.exact {
            exact.cache.invalidate_session(key);
        }
    }

    /// The session cookie's name (`SESSION_COOKIE_NAME`; `sessionid`).
    pub fn cookie_name(mut self, name: &str) -> Self {
        self.cookie = Arc::from(name);
        self
    }

    /// The site's `AUTHENTICATION_BACKENDS`: a session logged in through
    /// another is anonymous, as in Django (default: `ModelBackend`).
    pub fn backends(mut self, backends: impl IntoIterator<Item = String>) -> Self {
        self.backends = backends.into_iter().collect();
        self
    }

    /// The session key of this request: Django's form (lower-case letters
    /// and digits, 8 to 40), or none.
    fn key(&self, req: &HttpRequest) -> Option<String> {
        let cookie = req.cookie(&self.cookie)?;
        let key = cookie.value();
        self.well_formed(key).then(|| key.to_owned())
    }

    /// A session key of this engine's form: Django's (lower-case letters
    /// and digits, 8 to 40) for rows, at most 4 KiB for a signed cookie.
    fn well_formed(&self, key: &str) -> bool {
        match self.engine {
            Engine::Db => {
                (8..=40).contains(&key.len())
                    && key
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            }
            Engine::SignedCookies => !key.is_empty() && key.len() <= MAX_COOKIE_BYTES,
        }
    }

    /// One value of a session's data (`_csrftoken`, say), read from its
    /// row: none when the key is not Django's form or the session is gone,
    /// expired or unsigned.
    pub(super) async fn value(&self, key: &str, name: &str) -> Result<Option<Value>, BackendError> {
        if !self.well_formed(key) {
            return Ok(None);
        }
        Ok(self
            .data(key)
            .await?
            .and_then(|(mut data, _)| data.remove(name)))
    }
}

impl IdentitySource for DjangoSessions {
    async fn identify(&self, req: &HttpRequest) -> Result<Option<Claim>, IdentifyError> {
        let Some(key) = self.key(req) else {
            return Ok(None);
        };
        let Some(session) = self.auth(&key).await? else {
            return Ok(None);
        };
        if !self.backends.contains(&session.backend) {
            tracing::debug!(target: "actix_permit", backend = session.backend, "a Django session of a backend this site does not allow; anonymous");
            return Ok(None);
        }
        let claim = Claim::new(session.user_id.clone(), Some(session.auth_hash.clone()));
        Ok(Some(match session.proved_at.and_then(from_millis) {
            Some(at) => claim.password_proved_at(at),
            None => claim,
        }))
    }

    async fn login(&self, req: &HttpRequest, user: &dyn AuthUser) -> Result<(), LoginError> {
        let failed = |err: &dyn std::fmt::Display| LoginError::Session(err.to_string());
        let old = self.key(req);
        let mut session = match &old {
            Some(key) => self
                .data(key)
                .await
                .map_err(|e| failed(&e))?
                .map(|(data, _)| data)
                .unwrap_or_default(),
            None => Map::new(),
        };
        // Another user's session, or one whose hash no longer holds, starts
        // empty (Django's flush); the same user's keeps its data under a
        // new key (Django's cycle_key).
        let hash = session
            .get("_auth_user_hash")
            .and_then(Value::as_str)
            .unwrap_or("");
        let same = session.get("_auth_user_id").and_then(Value::as_str) == Some(user.id())
            && user.session_hash_matches(hash);
        if !same {
            session.clear();
        }
        session.insert("_auth_user_id".into(), user.id().into());
        session.insert(
            "_auth_user_backend".into(),
            self.backends.first().cloned().unwrap_or_default().into(),
        );
        session.insert("_auth_user_hash".into(), user.session_auth_hash().into());
        session.insert(PROVED_KEY.into(), now_millis().into());
        let key = match self.engine {
            Engine::Db => self
                .write_row(old.as_deref(), session)
                .await
                .map_err(|e| failed(&e))?,
            Engine::SignedCookies => {
                signing::dumps(&Value::Object(session), &self.keys, COOKIE_SALT)
            }
        };
        if let Ok(id) = user.id().parse::<i64>() {
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE {} SET last_login = CURRENT_TIMESTAMP WHERE id = $1",
                self.users
            )))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| failed(&e))?;
        }
        set_cookie(req, self.cookie_for(self.cookie.to_string(), key, true));
        // Django rotates the CSRF secret at login (the csrftoken cookie is
        // readable by the page's scripts, as Django sets it).
        let csrf = random_string(
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
            crate::django::csrf::SECRET_LENGTH,
        );
        set_cookie(req, self.cookie_for("csrftoken".to_owned(), csrf, false));
        Ok(())
    }

    /// Deletes the session's row: the login ends for Django too. With
    /// `signed_cookies`, removes the browser's cookie.
    async fn logout(&self, req: &HttpRequest) -> Result<(), LoginError> {
        if self.engine == Engine::SignedCookies {
            let mut removal = Cookie::build(self.cookie.to_string(), "")
                .path("/")
                .finish();
            removal.make_removal();
            set_cookie(req, removal);
            return Ok(());
        }
        let Some(key) = self.key(req) else {
            return Ok(());
        };
        self.delete_row(&key)
            .await
            .map_err(|err| LoginError::Session(err.to_string()))
    }

    /// Writes the time into the session's data, under the same key (and
    /// user): its row (this instance's copy forgotten, Django's cached
    /// copy deleted), or a new signature of the cookie.
    async fn password_proved(&self, req: &HttpRequest) -> Result<(), LoginError> {
        let failed = |err: &dyn std::fmt::Display| LoginError::Session(err.to_string());
        let gone = || LoginError::Session("the request carries no current Django session".into());
        let key = self.key(req).ok_or_else(gone)?;
        let (mut session, _) = self
            .data(&key)
            .await
            .map_err(|e| failed(&e))?
            .ok_or_else(gone)?;
        session.insert(PROVED_KEY.into(), now_millis().into());
        match self.engine {
            Engine::Db => self
                .rewrite_row(&key, session)
                .await
                .map_err(|e| failed(&e)),
            Engine::SignedCookies => {
                let value = signing::dumps(&Value::Object(session), &self.keys, COOKIE_SALT);
                set_cookie(req, self.cookie_for(self.cookie.to_string(), value, true));
                Ok(())
            }
        }
    }
}

impl DjangoSessions {
    /// A cookie of this site's: path `/`, `SameSite=Lax`, `Secure` as
    /// configured, lasting the cookie age.
    fn cookie_for(&self, name: String, value: String, http_only: bool) -> Cookie<'static> {
        Cookie::build(name, value)
            .path("/")
            .http_only(http_only)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::seconds(i64::from(
                self.age_secs,
            )))
            .finish()
    }

    /// Replaces the data of the row `key` (its expiry and key kept), for
    /// every reader: this instance's copy is forgotten and Django's cached
    /// copy deleted, as for a deletion.
    async fn rewrite_row(
        &self,
        key: &str,
        session: Map<String, Value>,
    ) -> Result<(), BackendError> {
        let data = signing::dumps(&Value::Object(session), &self.keys, DB_SALT);
        let written =
            sqlx::query("UPDATE django_session SET session_data = $1 WHERE session_key = $2")
                .bind(data)
                .bind(key.to_owned())
                .execute(&self.pool)
                .await;
        self.forget(key);
        written.map_err(BackendError::new)?;
        self.uncache(key).await
    }

    /// Writes `session` under a new key, deletes the `old` row, and answers
    /// the new key.
    async fn write_row(
        &self,
        old: Option<&str>,
        session: Map<String, Value>,
    ) -> Result<String, BackendError> {
        let key = random_string(b"abcdefghijklmnopqrstuvwxyz0123456789", 32);
        let data = signing::dumps(&Value::Object(session), &self.keys, DB_SALT);
        let expires = if self.sqlite {
            format!("datetime('now', '+{} seconds')", self.age_secs)
        } else {
            format!("CURRENT_TIMESTAMP + interval '{} seconds'", self.age_secs)
        };
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO django_session (session_key, session_data, expire_date) VALUES ($1, $2, {expires})"
        )))
        .bind(key.clone())
        .bind(data)
        .execute(&self.pool)
        .await
        .map_err(BackendError::new)?;
        if let Some(old) = old {
            self.delete_row(old).await?;
        }
        Ok(key)
    }

    /// Ends a session for every reader: its row, this instance's cached
    /// copy, and Django's cached copy with `cached_db`.
    async fn delete_row(&self, key: &str) -> Result<(), BackendError> {
        let deleted = sqlx::query("DELETE FROM django_session WHERE session_key = $1")
            .bind(key.to_owned())
            .execute(&self.pool)
            .await;
        // After the row went: a read that raced the delete keeps nothing.
        self.forget(key);
        deleted.map_err(BackendError::new)?;
        self.uncache(key).await
    }
}

/// `len` characters of `alphabet`, from the operating system's randomness,
/// without bias (bytes past the last whole multiple are drawn again).
fn random_string(alphabet: &[u8], len: usize) -> String {
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(len);
    let mut byte = [0u8; 1];
    while out.len() < len {
        OsRng.fill_bytes(&mut byte);
        if usize::from(byte[0]) < limit {
            out.push(char::from(alphabet[usize::from(byte[0]) % alphabet.len()]));
        }
    }
    out
}
