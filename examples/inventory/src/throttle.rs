//! The login throttle's counts in Redis, when the app keeps its sessions
//! there: every instance on that Redis shares them.

use std::time::Duration;

use actix_permit::throttle::{Failures, ThrottleStore};
use actix_permit::{BackendError, BoxFuture};
use deadpool_redis::redis;

/// Counts under `permit:throttle:KEY`, each expiring with its window.
pub struct RedisThrottle {
    pool: deadpool_redis::Pool,
}

impl RedisThrottle {
    pub fn new(pool: deadpool_redis::Pool) -> Self {
        Self { pool }
    }

    async fn connection(&self) -> Result<deadpool_redis::Connection, BackendError> {
        self.pool.get().await.map_err(BackendError::new)
    }
}

fn name(key: &str) -> String {
    format!("permit:throttle:{key}")
}

/// Takes one back, never below zero, never creating the key.
const UNDO: &str = "local n = redis.call('GET', KEYS[1]) \
    if n and tonumber(n) > 0 then return redis.call('DECR', KEYS[1]) end return 0";

impl ThrottleStore for RedisThrottle {
    fn hit<'a>(
        &'a self,
        key: &'a str,
        window: Duration,
    ) -> BoxFuture<'a, Result<Failures, BackendError>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            let millis = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
            let (count, ttl): (u64, i64) = redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(name(key))
                .arg(0)
                .arg("PX")
                .arg(millis)
                .arg("NX")
                .ignore()
                .cmd("INCR")
                .arg(name(key))
                .cmd("PTTL")
                .arg(name(key))
                .query_async(&mut *conn)
                .await
                .map_err(BackendError::new)?;
            Ok(Failures {
                count,
                remaining: Duration::from_millis(u64::try_from(ttl).unwrap_or(0)),
            })
        })
    }

    fn undo<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            let _: i64 = redis::cmd("EVAL")
                .arg(UNDO)
                .arg(1)
                .arg(name(key))
                .query_async(&mut *conn)
                .await
                .map_err(BackendError::new)?;
            Ok(())
        })
    }

    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            let _: i64 = redis::cmd("DEL")
                .arg(name(key))
                .query_async(&mut *conn)
                .await
                .map_err(BackendError::new)?;
            Ok(())
        })
    }
}
