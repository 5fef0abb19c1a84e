//! The login throttle's counts in the SQL backend's database.

use sqlx::Row;

use super::SqlBackend;
use crate::backend::{BackendError, BoxFuture};
use crate::throttle::{Failures, ThrottleStore};

/// Unix milliseconds now.
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// The login throttle's counts, in the table `permit_login_failures`: every
/// instance on this database shares them. Rows whose window ended are
/// deleted whenever a window opens, and at most
/// [`SqlOptions::throttle_rows`](super::SqlOptions::throttle_rows) are kept.
impl ThrottleStore for SqlBackend {
    fn hit<'a>(
        &'a self,
        key: &'a str,
        window: std::time::Duration,
        limit: u64,
    ) -> BoxFuture<'a, Result<Failures, BackendError>> {
        Box::pin(async move {
            let now = now_millis();
            let ends = now.saturating_add(i64::try_from(window.as_millis()).unwrap_or(i64::MAX));
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            // Counted only below the limit: the WHERE of the upsert leaves a
            // row at its limit as it is, and then returns nothing.
            let counted = if limit == 0 {
                None
            } else {
                sqlx::query(
                    "INSERT INTO permit_login_failures (key, failures, expires_at) VALUES ($1, 1, $2) \
                     ON CONFLICT (key) DO UPDATE SET \
                     failures = CASE WHEN permit_login_failures.expires_at <= $3 THEN 1 \
                         ELSE permit_login_failures.failures + 1 END, \
                     expires_at = CASE WHEN permit_login_failures.expires_at <= $3 THEN $2 \
                         ELSE permit_login_failures.expires_at END \
                     WHERE permit_login_failures.expires_at <= $3 \
                         OR permit_login_failures.failures < $4 \
                     RETURNING failures, expires_at",
                )
                .bind(key)
                .bind(ends)
                .bind(now)
                .bind(limit)
                .fetch_optional(&self.pool)
                .await
                .map_err(BackendError::new)?
            };
            let (row, counted) = match counted {
                Some(row) => (Some(row), true),
                None => (
                    sqlx::query(
                        "SELECT failures, expires_at FROM permit_login_failures \
                         WHERE key = $1 AND expires_at > $2",
                    )
                    .bind(key)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(BackendError::new)?,
                    false,
                ),
            };
            let Some(row) = row else {
                return Ok(Failures {
                    count: 0,
                    remaining: std::time::Duration::ZERO,
                    counted: false,
                });
            };
            let count: i64 = row.try_get("failures").map_err(BackendError::new)?;
            let expires: i64 = row.try_get("expires_at").map_err(BackendError::new)?;
            if counted && count == 1 {
                self.bound_throttle(key, now).await?;
            }
            Ok(Failures {
                count: u64::try_from(count).unwrap_or(0),
                remaining: std::time::Duration::from_millis(
                    u64::try_from(expires.saturating_sub(now)).unwrap_or(0),
                ),
                counted,
            })
        })
    }

    fn undo<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            sqlx::query(
                "UPDATE permit_login_failures SET failures = failures - 1 \
                 WHERE key = $1 AND failures > 0",
            )
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(BackendError::new)?;
            Ok(())
        })
    }
}

impl SqlBackend {
    /// After `key` opened a window: deletes the rows whose window ended,
    /// and takes `key`'s row back out when the table is over its bound.
    async fn bound_throttle(&self, key: &str, now: i64) -> Result<(), BackendError> {
        sqlx::query("DELETE FROM permit_login_failures WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(BackendError::new)?;
        let rows: i64 = sqlx::query("SELECT COUNT(*) AS n FROM permit_login_failures")
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get("n"))
            .map_err(BackendError::new)?;
        if rows <= self.throttle_rows {
            return Ok(());
        }
        sqlx::query("DELETE FROM permit_login_failures WHERE key = $1 AND failures <= 1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(BackendError::new)?;
        Err(BackendError::new(format!(
            "the login throttle's table is full ({rows} rows whose window is open); refusing new usernames and addresses until a window ends"
        )))
    }
}
