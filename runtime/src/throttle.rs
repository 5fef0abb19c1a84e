//! Login throttling, as django-axes does for Django: after too many failed
//! logins for one username, or from one client address, within a window,
//! further attempts are refused until the window ends, **without** running
//! the password hash.
//!
//! The counts live in a [`ThrottleStore`]: [`MemoryThrottle`] for one
//! process, the app's [`SqlBackend`](crate::backend::SqlBackend) (a table of its
//! own) so that every instance on one database shares them, or any store
//! the app implements the trait for (the example app keeps them in Redis
//! when it keeps its sessions there).
//!
//! An attempt is counted *before* its password is checked and uncounted
//! when it turns out not to be a failure, so that a burst of concurrent
//! guesses runs the hash at most the allowed number of times. What holds
//! whatever the client sends (proven over generated attacks in the tests):
//!
//! - **No username gets more than `per_user` failed password checks in one
//!   window.** Usernames are keyed after Unicode compatibility caseless
//!   matching (`alice`, `ALICE` and `ａｌｉｃｅ` share one count), so a
//!   backend that folds case or width cannot be guessed at through the
//!   variants; a successful login takes back its own attempt but resets
//!   nothing, so logging in to one's own account never unlocks another's.
//! - **An attempt that is refused creates nothing.** The client's count is
//!   read before anything is counted, and a username is counted only below
//!   its limit: a flood of refused attempts cannot grow the store, and a
//!   full store refuses new keys (a 503) rather than forget a live one.
//! - **Every key is at most 48 bytes** (the username is hashed), so a store
//!   bounded in keys is bounded in bytes.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::header::HeaderName;
use blake2::{Blake2b512, Digest};
use caseless::Caseless;
use unicode_normalization::UnicodeNormalization;

use crate::error::BackendError;
pub use crate::error::BoxFuture;

/// What a [`ThrottleStore`] keeps for one key, as [`ThrottleStore::hit`]
/// answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// Attempts counted in the current window (this one included when
    /// `counted`); 0 when no window is open.
    pub count: u64,
    /// How long the window still lasts.
    pub remaining: Duration,
    /// Whether this call counted an attempt.
    pub counted: bool,
}

/// Where [`Throttle`] counts attempts. Every operation is atomic for one
/// key, across every instance that shares the store.
///
/// The keys [`Throttle`] passes are at most 48 bytes. A store must hold a
/// bound of its own (in keys or bytes): when it is full, `hit` answers an
/// error for a key it does not hold (the login then fails closed with a
/// 503) rather than forget a key whose window is still open.
pub trait ThrottleStore: Send + Sync + 'static {
    /// Counts one attempt for `key` when fewer than `limit` are counted in
    /// its open window, opening a window of `window` when none is open.
    /// With `limit` 0 it only reads: nothing is counted or created.
    fn hit<'a>(
        &'a self,
        key: &'a str,
        window: Duration,
        limit: u64,
    ) -> BoxFuture<'a, Result<Failures, BackendError>>;

    /// Takes one counted attempt back (it was refused, or it succeeded).
    fn undo<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BackendError>>;
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
    /// Whether the shared-address warning was logged already.
    warned: Arc<AtomicBool>,
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
    ///
    /// Behind a reverse proxy, or on a Unix socket, every client has the
    /// same peer address: one attacker's failures then lock out everyone's
    /// logins. Set [`client_header`](Self::client_header) there; without
    /// it, the first login attempt whose peer is a loopback or private
    /// address, or has none, logs a warning saying so.
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
            warned: Arc::default(),
        }
    }

    /// Failed logins allowed for one username within the window.
    pub fn per_user(mut self, failures: u64) -> Self {
        self.per_user = failures.max(1);
        self
    }

    /// Failed logins allowed from one client address within the window.
    /// IPv6 clients are counted per /64 network (one host usually holds a
    /// whole /64).
    pub fn per_client(mut self, failures: u64) -> Self {
        self.per_client = failures.max(1);
        self
    }

    /// How long failures count, from the first one; also the cool-off.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Takes the client address from this header instead of the peer
    /// address: the last entry of its last line, the one your proxy added
    /// (repeated lines are one list, RFC 9110 section 5.3, so a proxy that
    /// appends a line of its own is read right too). Set it only behind a
    /// proxy that adds the header: a client can write any value into it.
    /// A request whose header has no address there is counted under the
    /// peer address, with a warning.
    pub fn client_header(mut self, name: HeaderName) -> Self {
        self.client_header = Some(name);
        self
    }

    /// The store's keys for this attempt: the username's and the client's.
    pub(crate) fn keys(&self, req: &HttpRequest, username: &str) -> [String; 2] {
        [user_key(username), format!("client:{}", self.client(req))]
    }

    /// The client's address, as counted.
    fn client(&self, req: &HttpRequest) -> String {
        let forwarded = self.client_header.as_ref().map(|name| {
            req.headers()
                .get_all(name)
                .next_back()
                .and_then(|line| line.to_str().ok())
                .and_then(|line| line.rsplit(',').next())
                .and_then(|entry| entry.trim().parse::<IpAddr>().ok())
        });
        let peer = req.peer_addr().map(|addr| addr.ip());
        let address = match (forwarded, peer) {
            (Some(Some(address)), _) => Some(address),
            (Some(None), _) => {
                self.warn_once("the client header has no address in its last entry; counting the attempt under the peer address, which every client behind the proxy shares");
                peer
            }
            (None, Some(peer)) if is_proxy_like(peer) => {
                self.warn_once("the peer address is a loopback or private address: behind a proxy every client shares it, so one client's failures lock out everyone's logins; set Throttle::client_header");
                Some(peer)
            }
            (None, None) => {
                self.warn_once("the request has no peer address (a Unix socket?): every client shares one address count; set Throttle::client_header");
                None
            }
            (None, peer) => peer,
        };
        address.map_or_else(|| "unknown".to_owned(), counted_address)
    }

    fn warn_once(&self, message: &str) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(target: "actix_permit", "login throttle: {message}");
        }
    }

    /// Counts the attempt, or refuses it; a refused attempt leaves every
    /// count as it was and creates no key.
    pub(crate) async fn reserve(&self, keys: &[String; 2]) -> Result<Option<Locked>, BackendError> {
        let [user, client] = keys;
        let seen = self.store.hit(client, self.window, 0).await?;
        if seen.count >= self.per_client {
            return Ok(Some(Locked::Client(seen.remaining)));
        }
        let counted = self.store.hit(user, self.window, self.per_user).await?;
        if !counted.counted {
            return Ok(Some(Locked::User(counted.remaining)));
        }
        let from = match self.store.hit(client, self.window, self.per_client).await {
            Ok(from) => from,
            Err(err) => {
                self.store.undo(user).await?;
                return Err(err);
            }
        };
        if !from.counted {
            self.store.undo(user).await?;
            return Ok(Some(Locked::Client(from.remaining)));
        }
        Ok(None)
    }

    /// Counts a failure against the client of `req` alone (credentials an
    /// identity source refused: there is no username to count); how long
    /// it must wait when it has had too many.
    pub(crate) async fn refuse_client(
        &self,
        req: &HttpRequest,
    ) -> Result<Option<Duration>, BackendError> {
        let client = format!("client:{}", self.client(req));
        let counted = self
            .store
            .hit(&client, self.window, self.per_client)
            .await?;
        Ok((!counted.counted).then_some(counted.remaining))
    }

    /// Takes the attempt back: it was never checked, or it succeeded.
    pub(crate) async fn release(&self, keys: &[String; 2]) -> Result<(), BackendError> {
        self.store.undo(&keys[0]).await?;
        self.store.undo(&keys[1]).await
    }
}

/// The key of a username: `user:` and 32 hex digits of a hash of its
/// compatibility caseless form (NFKD of the case fold of NFKD of the case
/// fold of NFD, Unicode section 3.13), computed as it streams.
fn user_key(username: &str) -> String {
    let mut hash = Blake2b512::new_with_prefix(b"actix-permit throttle username\0");
    let mut buf = [0; 4];
    for c in username
        .chars()
        .nfd()
        .default_case_fold()
        .nfkd()
        .default_case_fold()
        .nfkd()
    {
        hash.update(c.encode_utf8(&mut buf).as_bytes());
    }
    let digest = hash.finalize();
    let mut key = String::with_capacity(37);
    key.push_str("user:");
    for byte in &digest[..16] {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}

/// An address as counted: IPv4 whole (an IPv4-mapped IPv6 address too),
/// IPv6 by its /64 network.
fn counted_address(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
    }
}

/// A peer address a reverse proxy would have: loopback or private.
fn is_proxy_like(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
    }
}

/// A [`ThrottleStore`] in this process's memory: for one instance.
///
/// Bounded in bytes (16 MiB by default, [`MemoryThrottle::with_max_bytes`]):
/// each key costs [`MemoryThrottle::KEY_BYTES`] plus its length. Keys leave
/// when their window ends; a full store refuses new keys until one does,
/// and never forgets a key whose window is open.
pub struct MemoryThrottle {
    max_bytes: usize,
    state: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    keys: HashMap<Arc<str>, Count>,
    /// Every key once, in the order their windows end (for one window
    /// length; a key whose window was renewed goes to the back again).
    ends: VecDeque<(Instant, Arc<str>)>,
    bytes: usize,
}

struct Count {
    count: u64,
    ends: Instant,
}

impl Default for MemoryThrottle {
    fn default() -> Self {
        Self::with_max_bytes(16 << 20)
    }
}

impl MemoryThrottle {
    /// What one key costs besides its own bytes, an upper bound of what
    /// the map, the expiry queue and their growth take (measured by the
    /// tests with a counting allocator).
    pub const KEY_BYTES: usize = 192;

    /// An empty store of at most 16 MiB.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store of at most `max_bytes`.
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            state: Mutex::default(),
        }
    }

    /// The bytes the store's keys cost now, as counted against its bound.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Counts {
    /// Forgets the keys whose window has ended: amortized O(1) a call.
    fn expire(&mut self, now: Instant) {
        while let Some((ends, _)) = self.ends.front()
            && *ends <= now
        {
            let Some((_, key)) = self.ends.pop_front() else {
                break;
            };
            match self.keys.get(&key) {
                Some(count) if count.ends > now => self.ends.push_back((count.ends, key)),
                _ => {
                    if self.keys.remove(&key).is_some() {
                        self.bytes -= MemoryThrottle::KEY_BYTES + key.len();
                    }
                }
            }
        }
    }
}

impl ThrottleStore for MemoryThrottle {
    fn hit<'a>(
        &'a self,
        key: &'a str,
        window: Duration,
        limit: u64,
    ) -> BoxFuture<'a, Result<Failures, BackendError>> {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        state.expire(now);
        let answer = match state.keys.get_mut(key) {
            Some(entry) if entry.ends > now => {
                let counted = entry.count < limit;
                entry.count += u64::from(counted);
                Ok(Failures {
                    count: entry.count,
                    remaining: entry.ends - now,
                    counted,
                })
            }
            _ if limit == 0 => Ok(Failures {
                count: 0,
                remaining: Duration::ZERO,
                counted: false,
            }),
            // Ended, not yet expired (another window length came first).
            Some(entry) => {
                *entry = Count {
                    count: 1,
                    ends: now + window,
                };
                Ok(Failures {
                    count: 1,
                    remaining: window,
                    counted: true,
                })
            }
            None if state.bytes + Self::KEY_BYTES + key.len() > self.max_bytes => {
                Err(BackendError::new(format!(
                    "the login throttle's memory store is full ({} bytes of keys whose window is open); refusing new usernames and addresses until a window ends",
                    state.bytes
                )))
            }
            None => {
                let key: Arc<str> = Arc::from(key);
                let ends = now + window;
                state.bytes += Self::KEY_BYTES + key.len();
                state.ends.push_back((ends, Arc::clone(&key)));
                state.keys.insert(key, Count { count: 1, ends });
                Ok(Failures {
                    count: 1,
                    remaining: window,
                    counted: true,
                })
            }
        };
        Box::pin(std::future::ready(answer))
    }

    fn undo<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        if let Some(entry) = self.lock().keys.get_mut(key) {
            entry.count = entry.count.saturating_sub(1);
        }
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
    fn counts_below_the_limit_within_the_window_and_forgets_after_it() {
        block(async {
            let store = MemoryThrottle::new();
            let window = Duration::from_millis(50);
            assert_eq!(store.hit("k", window, 0).await.unwrap().count, 0);
            assert_eq!(store.bytes(), 0, "reading creates nothing");
            assert_eq!(store.hit("k", window, 2).await.unwrap().count, 1);
            assert_eq!(store.hit("k", window, 2).await.unwrap().count, 2);
            let over = store.hit("k", window, 2).await.unwrap();
            assert_eq!((over.count, over.counted), (2, false));
            store.undo("k").await.unwrap();
            assert!(store.hit("k", window, 2).await.unwrap().counted);
            tokio::time::sleep(window).await;
            assert_eq!(store.hit("k", window, 2).await.unwrap().count, 1);
        });
    }

    #[test]
    fn a_full_store_refuses_new_keys_and_keeps_the_open_ones() {
        block(async {
            let window = Duration::from_secs(60);
            let store = MemoryThrottle::with_max_bytes(10 * (MemoryThrottle::KEY_BYTES + 2));
            for i in 0..10 {
                store.hit(&format!("k{i}"), window, 5).await.unwrap();
            }
            assert!(store.hit("new", window, 5).await.is_err());
            for i in 0..10 {
                assert_eq!(
                    store.hit(&format!("k{i}"), window, 5).await.unwrap().count,
                    2
                );
            }
        });
    }

    #[test]
    fn usernames_are_keyed_caselessly_and_in_a_bounded_size() {
        assert_eq!(user_key("alice"), user_key("ALICE"));
        assert_eq!(user_key("alice"), user_key("ａｌｉｃｅ"));
        assert_eq!(user_key("strasse"), user_key("STRAẞE"));
        assert_eq!(user_key("kelvin"), user_key("\u{212a}elvin"));
        assert_ne!(user_key("alice"), user_key("alice2"));
        assert!(user_key(&"x".repeat(1 << 16)).len() <= 48);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(counted_address(a), counted_address(b));
        assert_ne!(counted_address(a), counted_address(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(counted_address(mapped), "10.0.0.1");
    }
}
