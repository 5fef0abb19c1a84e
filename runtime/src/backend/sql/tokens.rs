//! API tokens in the SQL backend (table `permit_tokens`): created, listed
//! and revoked here, looked up by [`BearerTokens`](crate::token::BearerTokens)
//! through the exact cache, which holds the whole table (or, past half its
//! bound, none of it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{SqlBackend, database, secs, time};
use crate::backend::exact::TokenTable;
use crate::backend::{AdminError, BackendError};
use crate::permission::PermissionSet;
use crate::token::{self, NewToken, StoredToken, TokenInfo, TokenStore};

/// A token query: the columns the readers below read, then `$tail`.
macro_rules! select_tokens {
    ($tail:literal) => {
        concat!(
            "SELECT prefix, user_id, name, digest, scopes, created, expires, last_used ",
            "FROM permit_tokens ",
            $tail
        )
    };
}

/// The prefix and the token of a row; a row whose digest does not read is
/// skipped (logged), as no secret can match it.
fn stored_from_row(row: &AnyRow) -> Result<Option<(String, StoredToken)>, sqlx::Error> {
    let prefix: String = row.try_get("prefix")?;
    let digest: String = row.try_get("digest")?;
    let Some(digest) = token::digest_from_hex(&digest) else {
        tracing::warn!(target: "actix_permit", prefix, "a token's digest does not read: it is refused");
        return Ok(None);
    };
    let user_id: i64 = row.try_get("user_id")?;
    let scopes: String = row.try_get("scopes")?;
    let stored = StoredToken::new(
        user_id.to_string(),
        digest,
        scopes.split_whitespace().collect::<PermissionSet>(),
        time(row, "expires")?,
        time(row, "last_used")?,
    );
    Ok(Some((prefix, stored)))
}

impl SqlBackend {
    /// Creates an API token for a user: `name` (unique among theirs),
    /// `scopes` (defined permission names; what it may do is these ∩ what
    /// the user holds, at each request), expiring `expires_in` from now or
    /// never. The token is in the answer and nowhere else: the table keeps
    /// its digest (see [`crate::token`]).
    pub async fn create_token<'s>(
        &self,
        username: &str,
        name: &str,
        scopes: impl IntoIterator<Item = &'s str>,
        expires_in: Option<Duration>,
    ) -> Result<NewToken, AdminError> {
        let checked = token::check_request(name, scopes, expires_in)?;
        let user = self.user_id(username).await?;
        for scope in &checked.scopes {
            self.permission_id(scope).await?;
        }
        let names = self.token_names(user).await?;
        if names.iter().any(|held| held == name) {
            return Err(AdminError::DuplicateToken(name.to_owned()));
        }
        if names.len() >= token::MAX_TOKENS_PER_USER {
            return Err(AdminError::InvalidToken(format!(
                "{username:?} holds {} tokens, the most one may",
                names.len()
            )));
        }
        let issued = token::issue();
        let done = sqlx::query(
            "INSERT INTO permit_tokens (user_id, name, prefix, digest, scopes, created, expires) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(user)
        .bind(name)
        .bind(&issued.prefix)
        .bind(token::digest_hex(&issued.digest))
        .bind(checked.scopes.join(" "))
        .bind(secs(checked.created))
        .bind(checked.expires.map(secs))
        .execute(&self.pool)
        .await;
        self.tokens_changed();
        // Two creations racing for one name: the table's constraint says no.
        if done.is_err() && self.token_names(user).await?.iter().any(|n| n == name) {
            return Err(AdminError::DuplicateToken(name.to_owned()));
        }
        done.map_err(database)?;
        let info = TokenInfo {
            name: name.to_owned(),
            prefix: issued.prefix,
            scopes: checked.scopes,
            created: checked.created,
            last_used: None,
            expires: checked.expires,
        };
        Ok(NewToken::new(info, issued.token))
    }

    async fn token_names(&self, user: i64) -> Result<Vec<String>, AdminError> {
        let rows = sqlx::query("SELECT name FROM permit_tokens WHERE user_id = $1")
            .bind(user)
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        rows.iter()
            .map(|row| row.try_get("name").map_err(database))
            .collect()
    }

    /// A user's tokens, by name; their last use is as this and the other
    /// instances last wrote it (once a minute at most).
    pub async fn tokens(&self, username: &str) -> Result<Vec<TokenInfo>, AdminError> {
        let user = self.user_id(username).await?;
        let rows = sqlx::query(select_tokens!("WHERE user_id = $1 ORDER BY name"))
            .bind(user)
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        rows.iter()
            .map(|row| {
                let scopes: String = row.try_get("scopes")?;
                Ok(TokenInfo {
                    name: row.try_get("name")?,
                    prefix: row.try_get("prefix")?,
                    scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                    created: time(row, "created")?.unwrap_or(std::time::UNIX_EPOCH),
                    last_used: time(row, "last_used")?,
                    expires: time(row, "expires")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(database)
    }

    /// Changes what a user's token may use: its scopes become `scopes`
    /// (defined permission names), from the next request on, on every
    /// instance. Its secret, expiry and name stay.
    pub async fn set_token_scopes<'s>(
        &self,
        username: &str,
        name: &str,
        scopes: impl IntoIterator<Item = &'s str>,
    ) -> Result<(), AdminError> {
        let checked = token::check_request(name, scopes, None)?;
        let user = self.user_id(username).await?;
        for scope in &checked.scopes {
            self.permission_id(scope).await?;
        }
        let done =
            sqlx::query("UPDATE permit_tokens SET scopes = $1 WHERE user_id = $2 AND name = $3")
                .bind(checked.scopes.join(" "))
                .bind(user)
                .bind(name)
                .execute(&self.pool)
                .await;
        self.tokens_changed();
        if done.map_err(database)?.rows_affected() == 0 {
            return Err(AdminError::UnknownToken(name.to_owned()));
        }
        Ok(())
    }

    /// Revokes (deletes) a user's token: refused from the next request on,
    /// on every instance (through the triggers).
    pub async fn revoke_token(&self, username: &str, name: &str) -> Result<(), AdminError> {
        let user = self.user_id(username).await?;
        let done = sqlx::query("DELETE FROM permit_tokens WHERE user_id = $1 AND name = $2")
            .bind(user)
            .bind(name)
            .execute(&self.pool)
            .await;
        self.tokens_changed();
        if done.map_err(database)?.rows_affected() == 0 {
            return Err(AdminError::UnknownToken(name.to_owned()));
        }
        Ok(())
    }

    /// Drops this instance's token table after a change it made (the
    /// others hear of it through the triggers).
    fn tokens_changed(&self) {
        if let Some(exact) = &self.exact {
            exact.cache.invalidate_tokens();
        }
    }

    /// Loads the whole token table for the cache: `None` when it costs
    /// more than `max_bytes` (then only a count of rows past it is read).
    async fn load_tokens(
        &self,
        max_bytes: usize,
    ) -> Result<Option<(HashMap<String, Arc<StoredToken>>, usize)>, BackendError> {
        // Each token costs at least 256 bytes: read no more rows than fit.
        let limit = i64::try_from(max_bytes / 256 + 1).unwrap_or(i64::MAX);
        let rows = sqlx::query(select_tokens!("LIMIT $1"))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(BackendError::new)?;
        let mut table = HashMap::with_capacity(rows.len());
        let mut bytes = 0;
        for row in &rows {
            if let Some((prefix, stored)) = stored_from_row(row).map_err(BackendError::new)? {
                bytes += stored.bytes(&prefix);
                table.insert(prefix, Arc::new(stored));
            }
            if bytes > max_bytes {
                return Ok(None);
            }
        }
        Ok(Some((table, bytes)))
    }
}

impl TokenStore for SqlBackend {
    /// From the exact cache's whole table, loaded by one query after each
    /// change; without the cache (off, bypassed, the table too big), one
    /// query for the prefix.
    async fn token(&self, prefix: &str) -> Result<Option<Arc<StoredToken>>, BackendError> {
        if let Some(cache) = self.cache() {
            match cache.tokens() {
                TokenTable::Loaded(table, _) => return Ok(table.get(prefix).cloned()),
                TokenTable::Unknown => {
                    let stamp = cache.stamp();
                    self.note_query();
                    let loaded = self.load_tokens(cache.token_bytes()).await?;
                    let found = loaded.as_ref().map(|(table, _)| table.get(prefix).cloned());
                    cache.put_tokens(stamp, loaded);
                    if let Some(found) = found {
                        return Ok(found);
                    }
                }
                TokenTable::TooBig => {}
            }
        }
        self.note_query();
        let row = sqlx::query(select_tokens!("WHERE prefix = $1"))
            .bind(prefix)
            .fetch_optional(&self.pool)
            .await
            .map_err(BackendError::new)?;
        let Some(row) = row else { return Ok(None) };
        Ok(stored_from_row(&row)
            .map_err(BackendError::new)?
            .map(|(_, stored)| Arc::new(stored)))
    }

    /// One `UPDATE` of `last_used` (no trigger fires for it); a failure
    /// is logged and the request goes on.
    async fn record_use(&self, prefix: &str, token: &StoredToken) {
        let at = token.last_used().map_or(0, secs);
        let done = sqlx::query("UPDATE permit_tokens SET last_used = $1 WHERE prefix = $2")
            .bind(at)
            .bind(prefix)
            .execute(&self.pool)
            .await;
        if let Err(err) = done {
            tracing::warn!(target: "actix_permit", error = %err, "could not record a token's last use");
        }
    }
}
