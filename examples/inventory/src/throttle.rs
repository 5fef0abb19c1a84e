//! The login throttle's counts in Redis, when the app keeps its sessions
//! there: every instance on that Redis shares them, at most 100,000 keys.

use std::time::Duration;

use actix_permit::throttle::{Failures, ThrottleStore};
use actix_permit::{backend::BackendError, throttle::BoxFuture};
use deadpool_redis::redis;

/// Counts under `permit:throttle:KEY`, each expiring with its window, and
/// at most 100,000 keys (each at most 48 bytes, so a few MB in Redis): past
/// that new keys are refused until a window ends, and no open window is
/// forgotten.
pub struct RedisThrottle {
    pool: deadpool_redis::Pool,
    prefix: String,
    max_keys: u64,
}

impl RedisThrottle {
    pub fn new(pool: deadpool_redis::Pool) -> Self {
        Self {
            pool,
            prefix: "permit:throttle:".to_owned(),
            max_keys: 100_000,
        }
    }

    async fn connection(&self) -> Result<deadpool_redis::Connection, BackendError> {
        self.pool.get().await.map_err(BackendError::new)
    }
}

impl RedisThrottle {
    fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The keys whose window is open, scored by when it ends: what bounds
    /// the store.
    fn index(&self) -> String {
        format!("{}index", self.prefix)
    }
}

/// `hit` as one atomic script. KEYS: the key, the index. ARGV: the window
/// in ms, the limit, the bound. Answers {count, ms left, counted}, or
/// {-1, 0, 0} when the store is full. With limit 0 it only reads.
const HIT: &str = "\
local n = redis.call('GET', KEYS[1]) \
if n then \
  n = tonumber(n) \
  local left = redis.call('PTTL', KEYS[1]) \
  if n < tonumber(ARGV[2]) then return {redis.call('INCR', KEYS[1]), left, 1} end \
  return {n, left, 0} \
end \
if tonumber(ARGV[2]) == 0 then return {0, 0, 0} end \
local t = redis.call('TIME') \
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) \
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) \
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return {-1, 0, 0} end \
redis.call('SET', KEYS[1], 1, 'PX', ARGV[1]) \
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), KEYS[1]) \
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end \
return {1, tonumber(ARGV[1]), 1}";

/// Takes one back, never below zero, never creating the key.
const UNDO: &str = "local n = redis.call('GET', KEYS[1]) \
    if n and tonumber(n) > 0 then return redis.call('DECR', KEYS[1]) end return 0";

impl ThrottleStore for RedisThrottle {
    fn hit<'a>(
        &'a self,
        key: &'a str,
        window: Duration,
        limit: u64,
    ) -> BoxFuture<'a, Result<Failures, BackendError>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            let millis = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
            let (count, left, counted): (i64, i64, i64) = redis::cmd("EVAL")
                .arg(HIT)
                .arg(2)
                .arg(self.name(key))
                .arg(self.index())
                .arg(millis)
                .arg(limit)
                .arg(self.max_keys)
                .query_async(&mut *conn)
                .await
                .map_err(BackendError::new)?;
            if count < 0 {
                return Err(BackendError::new(format!(
                    "the login throttle's Redis store is full ({} keys whose window is open); refusing new usernames and addresses until a window ends",
                    self.max_keys
                )));
            }
            Ok(Failures {
                count: u64::try_from(count).unwrap_or(0),
                remaining: Duration::from_millis(u64::try_from(left).unwrap_or(0)),
                counted: counted == 1,
            })
        })
    }

    fn undo<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            let _: i64 = redis::cmd("EVAL")
                .arg(UNDO)
                .arg(1)
                .arg(self.name(key))
                .query_async(&mut *conn)
                .await
                .map_err(BackendError::new)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    //! The Redis store answers as the runtime's memory store does (the
    //! throttle's invariants are proven over that one), for generated
    //! sequences of counts, reads and take-backs, a full store included.
    //! Needs `REDIS_URL` (CI sets it); otherwise it says so and passes.

    use std::time::Duration;

    use actix_permit::throttle::MemoryThrottle;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Hit(usize, u64),
        Undo(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0..6_usize, 0..4_u64).prop_map(|(key, limit)| Op::Hit(key, limit)),
            1 => (0..6_usize).prop_map(Op::Undo),
        ]
    }

    #[test]
    fn the_redis_store_answers_as_the_memory_store_does() {
        let Ok(url) = std::env::var("REDIS_URL") else {
            eprintln!("skipped: set REDIS_URL=redis://... to run");
            return;
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pool = deadpool_redis::Config::from_url(url)
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .unwrap();
        let window = Duration::from_secs(60);
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        let case = std::cell::Cell::new(0_u32);
        let outcome = runner.run(&proptest::collection::vec(op(), 1..40), |ops| {
            case.set(case.get() + 1);
            let redis = RedisThrottle {
                pool: pool.clone(),
                prefix: format!("permit:test:{}:{}:", std::process::id(), case.get()),
                max_keys: 4,
            };
            let memory = MemoryThrottle::with_max_bytes(4 * (MemoryThrottle::KEY_BYTES + 2));
            runtime.block_on(async {
                for op in &ops {
                    match *op {
                        Op::Hit(key, limit) => {
                            let key = format!("k{key}");
                            let seen = redis.hit(&key, window, limit).await;
                            let expected = memory.hit(&key, window, limit).await;
                            prop_assert_eq!(
                                seen.as_ref().map(|f| (f.count, f.counted)).ok(),
                                expected.as_ref().map(|f| (f.count, f.counted)).ok(),
                                "{:?}",
                                op
                            );
                        }
                        Op::Undo(key) => {
                            let key = format!("k{key}");
                            redis.undo(&key).await.unwrap();
                            memory.undo(&key).await.unwrap();
                        }
                    }
                }
                let mut conn = redis.connection().await.unwrap();
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{}*", redis.prefix))
                    .query_async(&mut *conn)
                    .await
                    .unwrap();
                // At most the bound's keys, and the index.
                prop_assert!(keys.len() <= 5, "{:?}", keys);
                if !keys.is_empty() {
                    let _: i64 = redis::cmd("DEL")
                        .arg(&keys)
                        .query_async(&mut *conn)
                        .await
                        .unwrap();
                }
                Ok(())
            })
        });
        if let Err(err) = outcome {
            panic!("{err}");
        }
    }
}
