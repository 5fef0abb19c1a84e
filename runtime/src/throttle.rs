//! Login throttling, as django-axes does for Django: after too many failed
//! logins for one username, or from one client address, within a window,
//! further attempts are refused until the window ends, **without** running
//! the password hash.
//!
//! The counts live in a [`ThrottleStore`]: [`MemoryThrottle`] for one
//! process, the app's [`SqlBackend`](crate::SqlBackend) (a table of its
//! own) so that every instance on one database shares them, or any store
//! the app implements the trait for (the example app keeps them in Redis
//! when it keeps its sessions there).
//!
//! An attempt is counted *before* its password is checked and uncounted
//! when it turns out not to be a failure, so that a burst of concurrent
//! guesses runs the hash at most the allowed number of times.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::header::HeaderName;

use crate::error::{BackendError, BoxFuture};

/// What a [`ThrottleStore`] keeps for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// Attempts counted in the current window.
    pub count: u64,
    /// How long the window still lasts.
    pub remaining: Duration,
}

/// Where [`Throttle`] counts attempts. Every operation is atomic for one
/// key, across every instance that shares the store.
pub trait ThrottleStore: Send + Sync + 'static {
    /// Counts one attempt for `key`, opening a window of `window` when none
    /// is open, and answers the count with it.
    fn hit<'a>(
        &'a self,
        key: &'a str,
        window: Duration,
    ) -> BoxFuture<'a, Result<Failures, BackendError>>;

    /// Takes one counted attempt back (it was refused, or it succeeded).
    fn undo<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BackendError>>;

    /// Forgets `key` (a successful login resets its username).
    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BackendError>>;
}

/// The throttle [`Permit::throttle`](crate::Permit::throttle) applies to
/// [`authenticate`](crate::authenticate).
#[derive(Clone)]
pub struct Throttle {
    pub(crate) store: Arc<dyn ThrottleStore>,
    per_user: u64,
    per_client: u64,
    window: Duration,
    client_header: Option<HeaderName>,
}

/// Why [`Throttle`] refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locked {
    /// Too many failures for this username.
    User(Duration),
    /// Too many failures from this client address.
    Client(Duration),
}

impl Throttle {
    /// 5 failures per username and 20 per client address within 15 minutes,
    /// counted in `store`; the client address is the peer's.
    pub fn new(store: impl ThrottleStore) -> Self {
        Self::from_arc(Arc::new(store))
    }

    /// Like [`Throttle::new`], with a store that is shared already.
    pub fn from_arc(store: Arc<dyn ThrottleStore>) -> Self {
        Self {
            store,
            per_user: 5,
            per_client: 20,
            window: Duration::from_secs(15 * 60),
            client_header: None,
        }
    }

    /// Failed logins allowed for one username within the window.
    pub fn per_user(mut self, failures: u64) -> Self {
        self.per_user = failures.max(1);
        self
    }

    /// Failed logins allowed from one client address within the window.
    pub fn per_client(mut self, failures: u64) -> Self {
        self.per_client = failures.max(1);
        self
    }

    /// How long failures count, from the first one; also the cool-off.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Takes the client address from this header (its last entry, the one
    /// your proxy added) instead of the peer address. Set it only behind a
    /// proxy that sets the header: a client can write any value into it.
    pub fn client_header(mut self, name: HeaderName) -> Self {
        self.client_header = Some(name);
        self
    }

    /// The store's keys for this attempt: the username's and the client's.
    pub(crate) fn keys(&self, req: &HttpRequest, username: &str) -> [String; 2] {
        let client = self
            .client_header
            .as_ref()
            .and_then(|name| req.headers().get(name))
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
            .or_else(|| req.peer_addr().map(|addr| addr.ip().to_string()))
            .unwrap_or_else(|| "unknown".to_owned());
        [
            format!("user:{}", username.to_lowercase()),
            format!("client:{client}"),
        ]
    }

    /// Counts the attempt; refuses it (uncounted) when either key is over
    /// its limit.
    pub(crate) async fn reserve(&self, keys: &[String; 2]) -> Result<Option<Locked>, BackendError> {
        let user = self.store.hit(&keys[0], self.window).await?;
        let client = match self.store.hit(&keys[1], self.window).await {
            Ok(client) => client,
            Err(err) => {
                self.store.undo(&keys[0]).await?;
                return Err(err);
            }
        };
        let locked = if user.count > self.per_user {
            Some(Locked::User(user.remaining))
        } else if client.count > self.per_client {
            Some(Locked::Client(client.remaining))
        } else {
            None
        };
        if locked.is_some() {
            self.release(keys).await?;
        }
        Ok(locked)
    }

    /// Takes the attempt back: it was never checked.
    pub(crate) async fn release(&self, keys: &[String; 2]) -> Result<(), BackendError> {
        self.store.undo(&keys[0]).await?;
        self.store.undo(&keys[1]).await
    }

    /// After the password was checked: a success resets the username and
    /// does not count against the client; a failure stays counted.
    pub(crate) async fn settle(
        &self,
        keys: &[String; 2],
        success: bool,
    ) -> Result<(), BackendError> {
        if success {
            self.store.clear(&keys[0]).await?;
            self.store.undo(&keys[1]).await?;
        }
        Ok(())
    }
}

/// A [`ThrottleStore`] in this process's memory: for one instance. Keeps at
/// most 100,000 keys; past that, expired ones go first, then the oldest.
#[derive(Default)]
pub struct MemoryThrottle {
    keys: Mutex<HashMap<String, (u64, Instant)>>,
}

const MAX_KEYS: usize = 100_000;

impl MemoryThrottle {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl ThrottleStore for MemoryThrottle {
    fn hit<'a>(
        &'a self,
        key: &'a str,
        window: Duration,
    ) -> BoxFuture<'a, Result<Failures, BackendError>> {
        let now = Instant::now();
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= MAX_KEYS && !keys.contains_key(key) {
            keys.retain(|_, (_, ends)| *ends > now);
            if keys.len() >= MAX_KEYS
                && let Some(oldest) = keys
                    .iter()
                    .min_by_key(|(_, (_, ends))| *ends)
                    .map(|(key, _)| key.clone())
            {
                keys.remove(&oldest);
            }
        }
        let entry = keys.entry(key.to_owned()).or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 += 1;
        let failures = Failures {
            count: entry.0,
            remaining: entry.1 - now,
        };
        Box::pin(std::future::ready(Ok(failures)))
    }

    fn undo<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = keys.get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn clear<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<F: std::future::Future>(fut: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(fut)
    }

    #[test]
    fn counts_within_the_window_and_forgets_after_it() {
        block(async {
            let store = MemoryThrottle::new();
            let window = Duration::from_millis(50);
            assert_eq!(store.hit("k", window).await.unwrap().count, 1);
            assert_eq!(store.hit("k", window).await.unwrap().count, 2);
            store.undo("k").await.unwrap();
            assert_eq!(store.hit("k", window).await.unwrap().count, 2);
            tokio::time::sleep(window).await;
            assert_eq!(store.hit("k", window).await.unwrap().count, 1);
            store.clear("k").await.unwrap();
            assert_eq!(store.hit("k", window).await.unwrap().count, 1);
        });
    }
}
