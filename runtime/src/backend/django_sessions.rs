//! [`DjangoSessions`]: the identity source that reads a Django site's own
//! logins, from its `db` session engine (`django_session`), as Django's
//! `get_user` reads them.

use std::sync::Arc;

use actix_web::HttpRequest;
use sqlx::{AnyPool, Row};

use super::BackendError;
use crate::django::signing::{self, SecretKeys};
use crate::identity::{Claim, IdentitySource, LoginError};
use crate::user::AuthUser;

/// The salt Django's database session store signs its data with.
const DB_SALT: &str = "django.contrib.sessions.SessionStore";

/// Who a request is, by the Django site's session cookie (`sessionid`,
/// Django's `db` and `cached_db` engines): the row in `django_session`
/// must exist and not have expired, its data must carry Django's signature
/// (under `SECRET_KEY` or a fallback), and name a backend the site allows;
/// then the user is loaded by [`DjangoBackend`](super::DjangoBackend) and
/// the session's `_auth_user_hash` checked against the user's password
/// field, under `SECRET_KEY` or a fallback. Anything else is anonymous;
/// a database that does not answer fails the request closed (503).
///
/// [`logout`](crate::logout) deletes the row, which ends the login for
/// Django too (with `cached_db`, Django serves its cached copy until that
/// expires: delete the cache key as well, or use `db`). Logging in through
/// this service is not supported yet ([`LoginError::Unsupported`]).
#[derive(Clone)]
pub struct DjangoSessions {
    pool: AnyPool,
    keys: SecretKeys,
    cookie: Arc<str>,
    backends: Arc<[String]>,
}

impl std::fmt::Debug for DjangoSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DjangoSessions")
            .field("cookie", &self.cookie)
            .field("backends", &self.backends)
            .finish_non_exhaustive()
    }
}

impl DjangoSessions {
    pub(super) fn new(pool: AnyPool, keys: SecretKeys) -> Self {
        Self {
            pool,
            keys,
            cookie: Arc::from("sessionid"),
            backends: Arc::from(["django.contrib.auth.backends.ModelBackend".to_owned()]),
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
        let valid = (8..=40).contains(&key.len())
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        valid.then(|| key.to_owned())
    }
}

impl IdentitySource for DjangoSessions {
    async fn identify(&self, req: &HttpRequest) -> Result<Option<Claim>, BackendError> {
        let Some(key) = self.key(req) else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT session_data FROM django_session \
             WHERE session_key = $1 AND expire_date > CURRENT_TIMESTAMP",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(BackendError::new)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let data: String = row.try_get("session_data").map_err(BackendError::new)?;
        let session = match signing::loads(&data, &self.keys, DB_SALT, None) {
            Ok(session) => session,
            Err(err) => {
                tracing::info!(target: "actix_permit", error = %err, "a Django session that does not read; anonymous");
                return Ok(None);
            }
        };
        let field = |name: &str| {
            session
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let (Some(user_id), Some(backend)) = (field("_auth_user_id"), field("_auth_user_backend"))
        else {
            return Ok(None);
        };
        if !self.backends.contains(&backend) {
            tracing::debug!(target: "actix_permit", backend, "a Django session of a backend this site does not allow; anonymous");
            return Ok(None);
        }
        Ok(Some(Claim {
            user_id,
            auth_hash: Some(field("_auth_user_hash").unwrap_or_default()),
        }))
    }

    async fn login(&self, _: &HttpRequest, _: &dyn AuthUser) -> Result<(), LoginError> {
        Err(LoginError::Unsupported)
    }

    /// Deletes the session's row: the login ends for Django too.
    async fn logout(&self, req: &HttpRequest) -> Result<(), LoginError> {
        let Some(key) = self.key(req) else {
            return Ok(());
        };
        sqlx::query("DELETE FROM django_session WHERE session_key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|err| LoginError::Session(err.to_string()))
    }
}
