//! Password hashing (Argon2id) and the session auth hash derived from it.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString, rand_core::OsRng};
use blake2::{Blake2b512, Digest};

/// Hashing a password failed (the parameters or the random source).
#[derive(Debug, thiserror::Error)]
#[error("could not hash the password: {0}")]
pub struct PasswordError(String);

/// Hashes `password` with Argon2id and a random salt, as a PHC string
/// (`$argon2id$v=19$...`).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError(e.to_string()))
}

/// Whether `password` matches the PHC string `hash` (Argon2id, Argon2i or
/// Argon2d, as the string says), compared in constant time; a malformed
/// `hash` never matches.
///
/// The hash's working memory (about 19 MiB with the default parameters) is
/// a buffer kept per thread and reused, not allocated per call: a flood of
/// logins then costs no allocator churn, and the memory a process holds
/// for verifications is one buffer per hashing thread.
pub fn verify_password(password: &str, hash: &str) -> bool {
    thread_local! {
        static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_bytes = [0_u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = [0_u8; 64];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    let count = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let hashed = BLOCKS.with_borrow_mut(|blocks| {
        if blocks.len() < count {
            blocks.resize(count, argon2::Block::default());
        }
        argon.hash_password_into_with_memory(password.as_bytes(), salt, out, &mut blocks[..count])
    });
    hashed.is_ok() && constant_time_eq_bytes(out, expected.as_bytes())
}

/// Whether `hash` was made otherwise than [`hash_password`] makes hashes
/// now (another Argon2 variant or version, other costs, or not a PHC
/// string). After a successful check the backends store a new hash of the
/// password in its place, so a stored hash ends up costing what the dummy
/// hash of an unknown username costs: a weaker one verifies faster, and
/// would tell that the username exists.
pub fn needs_rehash(hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return true;
    };
    let now = argon2::Params::default();
    parsed.algorithm != argon2::Algorithm::Argon2id.ident()
        || parsed.version != Some(argon2::Version::V0x13.into())
        || argon2::Params::try_from(&parsed).map_or(true, |params| {
            (params.m_cost(), params.t_cost(), params.p_cost())
                != (now.m_cost(), now.t_cost(), now.p_cost())
        })
}

/// Spends the same work as [`verify_password`] on a fixed dummy hash and
/// returns `false`, so that a login for an unknown user takes as long as one
/// with a wrong password (Django does the same).
pub fn verify_dummy(password: &str) -> bool {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    match DUMMY.get_or_init(|| hash_password("actix-permit dummy password").ok()) {
        Some(hash) => {
            let _ = verify_password(password, hash);
            false
        }
        None => false,
    }
}

/// The session auth hash for a user with this password hash: a digest that
/// changes whenever the password does. It is stored in the session at login
/// and compared on every request, so a password change ends the user's other
/// sessions.
pub fn session_auth_hash(password_hash: &str) -> String {
    let digest = Blake2b512::new_with_prefix(b"actix-permit session auth hash\0")
        .chain_update(password_hash.as_bytes())
        .finalize();
    digest[..32].iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `work` on one of the process's hashing threads (one per CPU,
/// started on first use); `None` if it panicked.
///
/// Not on tokio's blocking pool: Argon2 allocates about 19 MiB per hash, and
/// once such a block is freed the allocator keeps it in the arena of the
/// thread that used it. Spread over the blocking pool's many threads (up to
/// 512) that memory adds up to gigabytes; on a few fixed threads it stays a
/// few blocks.
pub(crate) async fn on_hashing_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    type Job = Box<dyn FnOnce() + Send>;
    static JOBS: OnceLock<Option<std::sync::Mutex<std::sync::mpsc::Sender<Job>>>> = OnceLock::new();
    let jobs = JOBS.get_or_init(|| {
        let (send, receive) = std::sync::mpsc::channel::<Job>();
        let receive = std::sync::Arc::new(std::sync::Mutex::new(receive));
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let mut started = 0;
        for index in 0..threads {
            let receive = std::sync::Arc::clone(&receive);
            let spawned = std::thread::Builder::new()
                .name(format!("permit-hash-{index}"))
                .spawn(move || {
                    loop {
                        let job = match receive.lock() {
                            Ok(receive) => receive.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        // A panicking job drops its answer; the thread goes on.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            started += usize::from(spawned.is_ok());
        }
        (started > 0).then(|| std::sync::Mutex::new(send))
    });
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = answer.send(work());
    });
    jobs.as_ref()?.lock().ok()?.send(job).ok()?;
    answered.await.ok()
}

/// [`hash_password`] on a hashing thread, so that the ~20 ms of Argon2 do
/// not stall the async worker.
pub async fn hash_password_blocking(password: &str) -> Result<String, PasswordError> {
    let password = password.to_owned();
    on_hashing_thread(move || hash_password(&password))
        .await
        .unwrap_or_else(|| Err(PasswordError("the hashing thread failed".to_owned())))
}

/// [`verify_password`] on a hashing thread; `false` if it could not run.
pub async fn verify_password_blocking(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    on_hashing_thread(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

/// [`verify_dummy`] on a hashing thread.
pub async fn verify_dummy_blocking(password: &str) -> bool {
    let password = password.to_owned();
    on_hashing_thread(move || verify_dummy(&password))
        .await
        .unwrap_or(false)
}

/// Bounds the password hashing that requests can start (each Argon2
/// verification holds about 19 MiB for tens of milliseconds): at most
/// `limit` at once and `queue` more waiting for a turn; past that a request
/// is refused at once ([`Busy`]), so that a login flood costs bounded memory
/// and the rest of the app keeps answering. [`Permit`](crate::Permit) holds
/// one ([`Permit::password_work`](crate::Permit::password_work)) and
/// [`authenticate`](crate::authenticate) takes a turn from it.
#[derive(Debug)]
pub(crate) struct PasswordWork {
    slots: tokio::sync::Semaphore,
    queue: usize,
    waiting: std::sync::atomic::AtomicUsize,
}

/// [`PasswordWork`] has no turn free and its queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks at once; try again shortly")]
pub(crate) struct Busy;

/// A turn at hashing, from [`PasswordWork::turn`]; the next waiter goes on
/// when it is dropped.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Default for PasswordWork {
    /// One turn per CPU, and a queue four times as long.
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Self::new(cpus, 4 * cpus)
    }
}

impl PasswordWork {
    /// At most `limit` (at least one) hashings at once, `queue` more waiting.
    pub(crate) fn new(limit: usize, queue: usize) -> Self {
        let limit = limit.max(1);
        Self {
            slots: tokio::sync::Semaphore::new(limit),
            queue,
            waiting: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// A turn, now or after the ones queued before; [`Busy`] at once when
    /// the queue is full.
    pub(crate) async fn turn(&self) -> Result<Turn<'_>, Busy> {
        use std::sync::atomic::Ordering;
        if let Ok(permit) = self.slots.try_acquire() {
            return Ok(Turn { _permit: permit });
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy);
        }
        // Leaves the queue however the wait ends (a client that goes away
        // drops this future).
        struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            }
        }
        let _waiting = Waiting(&self.waiting);
        let permit = self.slots.acquire().await.map_err(|_| Busy)?;
        Ok(Turn { _permit: permit })
    }
}

/// Compares two strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    constant_time_eq_bytes(a.as_bytes(), b.as_bytes())
}

/// `subtle`'s comparison: the time taken does not depend on where the two
/// differ (only on their lengths).
fn constant_time_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let hash = hash_password("s3cret").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &hash));
        assert!(!verify_password("s3cret ", &hash));
        assert!(!verify_password("s3cret", "not a hash"));
        // Hashes made elsewhere, with other parameters and variants.
        for variant in [argon2::Algorithm::Argon2i, argon2::Algorithm::Argon2d] {
            let params = argon2::Params::new(4096, 2, 1, Some(24)).unwrap();
            let other = Argon2::new(variant, argon2::Version::V0x13, params);
            let salt = SaltString::generate(&mut OsRng);
            let hash = other.hash_password(b"pw", &salt).unwrap().to_string();
            assert!(verify_password("pw", &hash), "{hash}");
            assert!(!verify_password("pW", &hash), "{hash}");
        }
        assert!(!verify_dummy("s3cret"));
    }

    #[test]
    fn password_work_queues_then_refuses() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let work = PasswordWork::new(1, 1);
            let first = work.turn().await.unwrap();
            // One may wait; it gets the turn when the first is done.
            let mut second = Box::pin(work.turn());
            assert!(futures_poll(&mut second).is_none());
            assert_eq!(work.turn().await.unwrap_err(), Busy);
            drop(first);
            assert!(futures_poll(&mut second).is_some());
        });
    }

    /// Polls a future once.
    fn futures_poll<F: std::future::Future + Unpin>(fut: &mut F) -> Option<F::Output> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match std::pin::Pin::new(fut).poll(&mut cx) {
            std::task::Poll::Ready(out) => Some(out),
            std::task::Poll::Pending => None,
        }
    }

    #[test]
    fn session_hash_follows_the_password_hash() {
        let a = session_auth_hash("$argon2id$a");
        assert_eq!(a, session_auth_hash("$argon2id$a"));
        assert_ne!(a, session_auth_hash("$argon2id$b"));
        assert_eq!(a.len(), 64);
        assert!(constant_time_eq(&a, &a.clone()));
        assert!(!constant_time_eq(&a, &session_auth_hash("x")));
        assert!(!constant_time_eq("ab", "abc"));
    }
}
