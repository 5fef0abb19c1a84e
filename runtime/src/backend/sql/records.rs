//! Session records in the SQL backend (table `permit_sessions`): made at
//! login, read by [`RecordedSessions`](crate::records::RecordedSessions)
//! through the exact cache, listed and ended here.

use std::sync::Arc;
use std::time::SystemTime;

use sqlx::Row;

use super::{SqlBackend, database, secs, time};
use crate::backend::{AdminError, BackendError};
use crate::records::{self, EndReason, RecordStore, SessionInfo, SessionRecord};

impl SqlBackend {
    /// Runs a statement that ends sessions, and forgets what this
    /// instance cached of them (the others hear of it by the triggers).
    async fn end_where(&self, query: super::AnyQuery<'_>) -> Result<u64, AdminError> {
        let done = query.execute(&self.pool).await;
        self.changed();
        Ok(done.map_err(database)?.rows_affected())
    }

    /// A user's sessions: those that last, and those ended within
    /// [`records::ENDED_KEPT`] (older ones are deleted here), newest
    /// first.
    pub async fn sessions(&self, username: &str) -> Result<Vec<SessionInfo>, AdminError> {
        let user = self.user_id(username).await?;
        let now = SystemTime::now();
        let oldest = secs(now.checked_sub(records::ENDED_KEPT).unwrap_or(now));
        sqlx::query("DELETE FROM permit_sessions WHERE user_id = $1 AND ended < $2")
            .bind(user)
            .bind(oldest)
            .execute(&self.pool)
            .await
            .map_err(database)?;
        let rows = sqlx::query(
            "SELECT id, device, address, created, last_seen, ended, ended_why \
             FROM permit_sessions WHERE user_id = $1 ORDER BY created DESC, id",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter()
            .map(|row| {
                let why: Option<String> = row.try_get("ended_why")?;
                Ok(SessionInfo {
                    id: row.try_get("id")?,
                    device: row.try_get("device")?,
                    address: row.try_get("address")?,
                    created: time(row, "created")?.unwrap_or(std::time::UNIX_EPOCH),
                    last_seen: time(row, "last_seen")?.unwrap_or(std::time::UNIX_EPOCH),
                    ended: time(row, "ended")?
                        .map(|at| (at, EndReason::parse(why.as_deref().unwrap_or("")))),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(database)
    }

    /// Ends one of a user's sessions: from its next request on it is
    /// anonymous, and its cookie with it, on every instance.
    pub async fn end_session(
        &self,
        username: &str,
        id: &str,
        reason: EndReason,
    ) -> Result<(), AdminError> {
        let user = self.user_id(username).await?;
        let ended = self
            .end_where(
                sqlx::query(
                    "UPDATE permit_sessions SET ended = $1, ended_why = $2 \
                     WHERE user_id = $3 AND id = $4 AND ended IS NULL",
                )
                .bind(secs(SystemTime::now()))
                .bind(reason.as_str())
                .bind(user)
                .bind(id),
            )
            .await?;
        if ended == 0 {
            let exists =
                sqlx::query("SELECT id FROM permit_sessions WHERE user_id = $1 AND id = $2")
                    .bind(user)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(database)?;
            if exists.is_none() {
                return Err(AdminError::UnknownSession(id.to_owned()));
            }
        }
        Ok(())
    }

    /// Ends every session of a user but `except` (the one asking, for "log
    /// out other devices"); how many ended.
    pub async fn end_sessions(
        &self,
        username: &str,
        except: Option<&str>,
        reason: EndReason,
    ) -> Result<u64, AdminError> {
        let user = self.user_id(username).await?;
        self.end_user_sessions(user, except, reason).await
    }

    pub(super) async fn end_user_sessions(
        &self,
        user: i64,
        except: Option<&str>,
        reason: EndReason,
    ) -> Result<u64, AdminError> {
        self.end_where(
            sqlx::query(
                "UPDATE permit_sessions SET ended = $1, ended_why = $2 \
                 WHERE user_id = $3 AND ended IS NULL AND id <> $4",
            )
            .bind(secs(SystemTime::now()))
            .bind(reason.as_str())
            .bind(user)
            .bind(except.unwrap_or("")),
        )
        .await
    }
}

impl RecordStore for SqlBackend {
    async fn record(&self, id: &str) -> Result<Option<Arc<SessionRecord>>, BackendError> {
        let cache = self.cache();
        if let Some(record) = cache.and_then(|cache| cache.record(id)) {
            return Ok(Some(record));
        }
        let stamp = cache.map(super::ExactCache::stamp);
        self.note_query();
        let row =
            sqlx::query("SELECT user_id, last_seen, ended FROM permit_sessions WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(BackendError::new)?;
        let Some(row) = row else { return Ok(None) };
        let read = || -> Result<SessionRecord, sqlx::Error> {
            let user: i64 = row.try_get("user_id")?;
            let ended: Option<i64> = row.try_get("ended")?;
            Ok(SessionRecord::new(
                user.to_string(),
                ended.is_none(),
                time(&row, "last_seen")?.unwrap_or(std::time::UNIX_EPOCH),
            ))
        };
        let record = Arc::new(read().map_err(BackendError::new)?);
        if let (Some(cache), Some(stamp)) = (cache, stamp) {
            cache.put_record(stamp, id, Arc::clone(&record));
        }
        Ok(Some(record))
    }

    async fn open_record(
        &self,
        user_id: &str,
        device: &str,
        address: &str,
    ) -> Result<String, BackendError> {
        let user: i64 = user_id.parse().map_err(BackendError::new)?;
        let now = secs(SystemTime::now());
        let live = sqlx::query(
            "SELECT id FROM permit_sessions WHERE user_id = $1 AND ended IS NULL \
             ORDER BY last_seen, created",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await
        .map_err(BackendError::new)?;
        if live.len() >= records::MAX_SESSIONS_PER_USER
            && let Some(oldest) = live.first()
        {
            let oldest: String = oldest.try_get("id").map_err(BackendError::new)?;
            sqlx::query("UPDATE permit_sessions SET ended = $1, ended_why = $2 WHERE id = $3")
                .bind(now)
                .bind(EndReason::TooMany.as_str())
                .bind(&oldest)
                .execute(&self.pool)
                .await
                .map_err(BackendError::new)?;
            if let Some(exact) = &self.exact {
                exact.cache.invalidate_record(&oldest);
            }
        }
        // Ended sessions are kept a week, and the last 100 at most.
        let oldest = now.saturating_sub(i64::try_from(records::ENDED_KEPT.as_secs()).unwrap_or(0));
        sqlx::query(
            "DELETE FROM permit_sessions WHERE user_id = $1 AND ended IS NOT NULL \
             AND (ended < $2 OR id NOT IN (SELECT id FROM permit_sessions \
             WHERE user_id = $1 AND ended IS NOT NULL ORDER BY ended DESC, id LIMIT $3))",
        )
        .bind(user)
        .bind(oldest)
        .bind(i64::try_from(records::MAX_SESSIONS_PER_USER).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await
        .map_err(BackendError::new)?;
        let id = records::new_id();
        sqlx::query(
            "INSERT INTO permit_sessions (id, user_id, device, address, created, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(user)
        .bind(device)
        .bind(address)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(BackendError::new)?;
        Ok(id)
    }

    async fn close_record(&self, id: &str) -> Result<(), BackendError> {
        let done = sqlx::query("DELETE FROM permit_sessions WHERE id = $1 AND ended IS NULL")
            .bind(id)
            .execute(&self.pool)
            .await;
        if let Some(exact) = &self.exact {
            exact.cache.invalidate_record(id);
        }
        done.map(drop).map_err(BackendError::new)
    }

    /// One `UPDATE` of `last_seen` (no trigger fires for it); a failure is
    /// logged and the request goes on.
    async fn record_seen(&self, id: &str, at: SystemTime) {
        let done = sqlx::query("UPDATE permit_sessions SET last_seen = $1 WHERE id = $2")
            .bind(secs(at))
            .bind(id)
            .execute(&self.pool)
            .await;
        if let Err(err) = done {
            tracing::warn!(target: "actix_permit", error = %err, "could not record when a session was last seen");
        }
    }
}
