//! [`CachedBackend`]: an opt-in cache of users' permission sets across
//! requests, bounded by a time to live.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Backend, BackendError, BoxFuture, UserResult};
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
/// use actix_permit::{CachedBackend, MemoryBackend, Permit};
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

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }
}

impl<B: Backend> Backend for CachedBackend<B> {
    fn get_user<'a>(&'a self, id: &'a str) -> BoxFuture<'a, UserResult> {
        self.inner.get_user(id)
    }

    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, UserResult> {
        self.inner.authenticate(username, password)
    }

    fn user_permissions<'a>(
        &'a self,
        user: &'a dyn AuthUser,
    ) -> BoxFuture<'a, Result<Arc<PermissionSet>, BackendError>> {
        if let Some(set) = self.perms.get(user.id()) {
            return Box::pin(std::future::ready(Ok(set)));
        }
        let generation = self.generation.load(Ordering::Acquire);
        Box::pin(async move {
            let set = self.inner.user_permissions(user).await?;
            if self.generation.load(Ordering::Acquire) == generation {
                self.perms.insert(user.id().to_owned(), Arc::clone(&set));
                // An invalidation between the check and the insert: take
                // the set back out (a later one removes it itself).
                if self.generation.load(Ordering::Acquire) != generation {
                    self.perms.invalidate(user.id());
                }
            }
            Ok(set)
        })
    }

    /// Not kept: object permissions are asked of the inner backend (once
    /// per request and object).
    fn object_permissions<'a>(
        &'a self,
        user: &'a dyn AuthUser,
        object: &'a str,
    ) -> BoxFuture<'a, Result<Arc<PermissionSet>, BackendError>> {
        self.inner.object_permissions(user, object)
    }

    fn objects_with_permission<'a>(
        &'a self,
        user: &'a dyn AuthUser,
        perm: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, BackendError>> {
        self.inner.objects_with_permission(user, perm)
    }

    fn permission_sources<'a>(
        &'a self,
        user: &'a dyn AuthUser,
    ) -> BoxFuture<'a, Result<Option<Vec<super::PermissionSource>>, BackendError>> {
        self.inner.permission_sources(user)
    }

    fn defined_permissions(&self) -> BoxFuture<'_, Result<Option<Vec<String>>, BackendError>> {
        self.inner.defined_permissions()
    }
}
