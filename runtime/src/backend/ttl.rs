//! [`CachedBackend`]: an opt-in cache of users' permission sets across
//! requests, bounded by a time to live.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Backend, Layer, PermsResult};
use crate::permission::PermissionSet;
use crate::user::AuthUser;

/// Wraps a backend and keeps each user's permission set for at most `ttl`.
///
/// For custom backends that cannot tell when their data changes. The SQL
/// backend has an exact cache of its own, on by default, which needs no TTL
/// (see `SqlBackend`).
///
/// Off by default: without it a permission change holds from the next
/// request on, on every instance. With it, a **revoked or granted permission
/// may go unnoticed for up to `ttl`** on each instance (each instance has its
/// own cache). Users are not cached: deactivation, deletion and password
/// changes still hold from the next request on. Use it when the permission
/// query is the cost that matters and a delay of `ttl` is acceptable. At
/// most 64 MiB of sets are kept (each counted with its id and names); the
/// least used go first.
///
/// ```
/// use std::time::Duration;
/// use actix_permit::{Permit, backend::{CachedBackend, MemoryBackend}};
///
/// let permit = Permit::new(CachedBackend::new(MemoryBackend::new(), Duration::from_secs(5)));
/// ```
pub struct CachedBackend<B> {
    inner: B,
    perms: moka::sync::Cache<String, Arc<PermissionSet>>,
    ttl: Duration,
    /// Bumped by every invalidation: a set loaded across one is not kept,
    /// since it may predate the change that caused it.
    generation: AtomicU64,
}

/// At most this many bytes of sets are kept (each counted with its user id
/// and names); the least used go first.
const MAX_BYTES: u64 = 64 << 20;

/// What one cached set costs: its id, its names, and the entry around them.
fn weight(id: &str, set: &PermissionSet) -> u32 {
    let bytes = 160 + id.len() + set.iter().map(|name| name.len() + 24).sum::<usize>();
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

impl<B: Backend> CachedBackend<B> {
    /// Caches `inner`'s permission sets for `ttl`.
    pub fn new(inner: B, ttl: Duration) -> Self {
        Self {
            inner,
            perms: moka::sync::Cache::builder()
                .max_capacity(MAX_BYTES)
                .weigher(|id: &String, set: &Arc<PermissionSet>| weight(id, set))
                .time_to_live(ttl)
                .build(),
            ttl,
            generation: AtomicU64::new(0),
        }
    }

    /// The longest a permission change can go unnoticed.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Forgets every cached set (after a bulk change, say). A lookup that
    /// is under way meanwhile does not put its set back.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.perms.invalidate_all();
    }

    /// Forgets the cached set of the user with this id (after changing
    /// their permissions or groups). A lookup that is under way meanwhile
    /// does not put its set back.
    pub fn invalidate(&self, user_id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.perms.invalidate(user_id);
    }
}

/// Keeps permission sets; users, object permissions and everything else
/// are asked of the inner backend.
impl<B: Backend> Layer for CachedBackend<B> {
    type Inner = B;

    fn inner(&self) -> &B {
        &self.inner
    }

    async fn user_permissions(&self, user: &dyn AuthUser) -> PermsResult {
        if let Some(set) = self.perms.get(user.id()) {
            return Ok(set);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let set = self.inner.user_permissions(user).await?;
        if self.generation.load(Ordering::Acquire) == generation {
            self.perms.insert(user.id().to_owned(), Arc::clone(&set));
            // An invalidation between the check and the insert: take the
            // set back out (a later one removes it itself).
            if self.generation.load(Ordering::Acquire) != generation {
                self.perms.invalidate(user.id());
            }
        }
        Ok(set)
    }
}
