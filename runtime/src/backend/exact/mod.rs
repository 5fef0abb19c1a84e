//! The exact cache: users and permission sets kept across requests, dropped
//! the moment the database says they changed, and not used at all while the
//! channel that says so is down.
//!
//! A watch tells the cache whether it may trust what it holds: the
//! PostgreSQL listener (`postgres.rs`: `LISTEN permit_auth`, fed by triggers) or SQLite's
//! `data_version` with a counter the triggers bump (`sqlite.rs`). Every entry is stamped
//! with the cache's generation when its query started; any invalidation
//! bumps the generation, so a query that raced a change never puts its
//! (possibly older) answer back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::permission::PermissionSet;
use crate::records::SessionRecord;
use crate::token::StoredToken;
use crate::user::AuthUser;

/// What one entry costs besides its keys and names: the map slots and
/// their growth, the `Arc` and the set's own table (an upper estimate).
const ENTRY_BYTES: usize = 160;

/// What a cached user costs besides its id: a `SqlUser` (username, hash,
/// session auth hash) and its `Arc`.
const USER_BYTES: usize = 512;

/// Object ids longer than this are never kept: each request naming one
/// queries, so long ids cannot fill the cache quickly.
const MAX_OBJECT_ID: usize = 1024;

/// What a [`SqlBackend`](super::SqlBackend)'s exact cache is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheState {
    /// Turned off: every request queries the database.
    Off,
    /// Its invalidation channel is up: requests are answered from memory.
    Exact,
    /// Its invalidation channel is down (the PostgreSQL listener is
    /// reconnecting, SQLite's change check failed): every request queries
    /// the database until the channel is back, and the cache starts empty.
    Bypassed,
}

/// How many requests the exact cache answered and how many queried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// User or permission lookups answered from memory.
    pub hits: u64,
    /// User or permission lookups that queried the database.
    pub queries: u64,
}

#[derive(Default)]
struct Entries {
    users: HashMap<String, Arc<dyn AuthUser>>,
    perms: HashMap<String, Arc<PermissionSet>>,
    /// Object permissions per user, then per object.
    objects: HashMap<String, HashMap<String, Arc<PermissionSet>>>,
    /// A Django site's sessions, by session key.
    sessions: HashMap<String, Arc<CachedSession>>,
    /// The API tokens: all of them, or none.
    tokens: TokenTable,
    /// Session records, by id.
    records: HashMap<String, Arc<SessionRecord>>,
    /// What the entries cost, as counted against the cache's bound.
    bytes: usize,
}

/// The API tokens as the cache holds them: the whole table, so that an
/// unknown prefix is answered from memory as a known one is (no query,
/// no timing difference, nothing a client can make it keep).
#[derive(Clone, Default)]
pub(crate) enum TokenTable {
    /// Not loaded since the last change.
    #[default]
    Unknown,
    /// Every token, by prefix, and what the table costs.
    Loaded(Arc<HashMap<String, Arc<StoredToken>>>, usize),
    /// Larger than half the cache's bound: each lookup queries its row,
    /// until the next change.
    TooBig,
}

/// What a permission set costs in the cache.
fn set_bytes(set: &PermissionSet) -> usize {
    ENTRY_BYTES + set.iter().map(|name| name.len() + 24).sum::<usize>()
}

/// What each kind of entry costs, counted once here for keeping and for
/// forgetting it.
fn user_bytes(id: &str) -> usize {
    ENTRY_BYTES + USER_BYTES + id.len()
}

fn perms_bytes(id: &str, set: &PermissionSet) -> usize {
    set_bytes(set) + id.len()
}

fn object_bytes(id: &str, object: &str, set: &PermissionSet) -> usize {
    set_bytes(set) + ENTRY_BYTES + id.len() + object.len()
}

/// What a Django session says, as the exact cache keeps it: who, through
/// which backend, with which password hash, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedSession {
    pub(crate) user_id: String,
    pub(crate) backend: String,
    pub(crate) auth_hash: String,
    /// `expire_date`, in seconds since the Unix epoch.
    pub(crate) expires: i64,
    /// When the password was last proved on this session here, in
    /// milliseconds since the Unix epoch (our key in the session's data).
    pub(crate) proved_at: Option<u64>,
}

fn session_bytes(key: &str, session: &CachedSession) -> usize {
    ENTRY_BYTES
        + key.len()
        + session.user_id.len()
        + session.backend.len()
        + session.auth_hash.len()
}

/// The cache proper; shared by the backend's clones and its watcher.
pub(crate) struct ExactCache {
    entries: RwLock<Entries>,
    max_bytes: usize,
    generation: AtomicU64,
    /// Whether the invalidation channel is up (set by the watcher).
    healthy: AtomicBool,
    hits: AtomicU64,
    queries: AtomicU64,
}

/// A generation read before a query: [`ExactCache::put_user`] and
/// [`ExactCache::put_perms`] keep the answer only if nothing changed since.
#[derive(Clone, Copy)]
pub(crate) struct Stamp(u64);

impl ExactCache {
    /// An empty cache of at most `max_bytes` that trusts nothing until its
    /// watcher says so.
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            entries: RwLock::default(),
            max_bytes,
            generation: AtomicU64::new(0),
            healthy: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            queries: AtomicU64::new(0),
        }
    }

    pub(crate) fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// The channel is up: start from empty and trust what is cached from
    /// now on.
    pub(crate) fn up(&self) {
        self.invalidate_all();
        self.healthy.store(true, Ordering::Release);
    }

    /// The channel is down: stop trusting, and forget everything (on the way
    /// back up nothing from before may be used).
    pub(crate) fn down(&self) {
        self.healthy.store(false, Ordering::Release);
        self.invalidate_all();
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            queries: self.queries.load(Ordering::Relaxed),
        }
    }

    /// The generation now, before a query whose answer may be kept.
    pub(crate) fn stamp(&self) -> Stamp {
        Stamp(self.generation.load(Ordering::Acquire))
    }

    /// Counts a lookup that goes to the database.
    pub(crate) fn note_query(&self) {
        self.queries.fetch_add(1, Ordering::Relaxed);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.entries.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn user(&self, id: &str) -> Option<Arc<dyn AuthUser>> {
        let user = self.read().users.get(id).cloned();
        if user.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        user
    }

    pub(crate) fn perms(&self, id: &str) -> Option<Arc<PermissionSet>> {
        let set = self.read().perms.get(id).cloned();
        if set.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        set
    }

    #[cfg(feature = "django")]
    pub(crate) fn session(&self, key: &str) -> Option<Arc<CachedSession>> {
        let session = self.read().sessions.get(key).cloned();
        if session.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        session
    }

    pub(crate) fn record(&self, id: &str) -> Option<Arc<SessionRecord>> {
        let record = self.read().records.get(id).cloned();
        if record.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        record
    }

    pub(crate) fn put_record(&self, stamp: Stamp, id: &str, record: Arc<SessionRecord>) {
        self.put(stamp, record.bytes(id), |entries| {
            entries
                .records
                .insert(id.to_owned(), record)
                .map_or(0, |old| old.bytes(id))
        });
    }

    /// Forgets one session record (it ended or went).
    pub(crate) fn invalidate_record(&self, id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut entries = self.write();
        if let Some(old) = entries.records.remove(id) {
            entries.bytes -= old.bytes(id);
        }
    }

    /// The token table as it stands (a hit when loaded).
    pub(crate) fn tokens(&self) -> TokenTable {
        let table = self.read().tokens.clone();
        if matches!(table, TokenTable::Loaded(..)) {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        table
    }

    /// The most the token table may cost to be kept: half the bound.
    pub(crate) fn token_bytes(&self) -> usize {
        self.max_bytes / 2
    }

    /// Keeps the token table loaded under `stamp`, or, when it costs more
    /// than [`ExactCache::token_bytes`] (`table` is then `None`), marks it
    /// too big to keep.
    pub(crate) fn put_tokens(
        &self,
        stamp: Stamp,
        table: Option<(HashMap<String, Arc<StoredToken>>, usize)>,
    ) {
        let Some((table, bytes)) = table else {
            let mut entries = self.write();
            if self.is_healthy() && self.generation.load(Ordering::Acquire) == stamp.0 {
                Self::drop_tokens(&mut entries);
                entries.tokens = TokenTable::TooBig;
            }
            return;
        };
        let table = TokenTable::Loaded(Arc::new(table), bytes);
        self.put(stamp, bytes, |entries| {
            let old = std::mem::replace(&mut entries.tokens, table);
            match old {
                TokenTable::Loaded(_, old) => old,
                _ => 0,
            }
        });
    }

    fn drop_tokens(entries: &mut Entries) {
        if let TokenTable::Loaded(_, bytes) = std::mem::take(&mut entries.tokens) {
            entries.bytes -= bytes;
        }
    }

    /// Forgets the token table (a token was created, changed or revoked).
    pub(crate) fn invalidate_tokens(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        Self::drop_tokens(&mut self.write());
    }

    pub(crate) fn object_perms(&self, id: &str, object: &str) -> Option<Arc<PermissionSet>> {
        let set = self.read().objects.get(id)?.get(object).cloned();
        if set.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        set
    }

    /// Keeps what `keep` inserts, unless an invalidation came after `stamp`
    /// or the channel is down. The check is made under the write lock an
    /// invalidation also takes after bumping the generation, so a change is
    /// never followed by an older answer.
    /// `bytes` is what the entry costs; when it would take the cache past
    /// its bound, the cache starts over (an entry larger than the whole
    /// bound is not kept).
    /// `keep` answers what the entry it replaced (if any) cost.
    fn put(&self, stamp: Stamp, bytes: usize, keep: impl FnOnce(&mut Entries) -> usize) {
        let mut entries = self.write();
        if !self.is_healthy()
            || self.generation.load(Ordering::Acquire) != stamp.0
            || bytes > self.max_bytes
        {
            return;
        }
        if entries.bytes + bytes > self.max_bytes {
            *entries = Entries::default();
        }
        let replaced = keep(&mut entries);
        entries.bytes = entries.bytes + bytes - replaced;
    }

    /// What the cache's entries cost now, as counted against its bound.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.read().bytes
    }

    pub(crate) fn put_user(&self, stamp: Stamp, id: &str, user: Arc<dyn AuthUser>) {
        let bytes = user_bytes(id);
        self.put(stamp, bytes, |entries| {
            entries
                .users
                .insert(id.to_owned(), user)
                .map_or(0, |_| bytes)
        });
    }

    pub(crate) fn put_perms(&self, stamp: Stamp, id: &str, set: Arc<PermissionSet>) {
        self.put(stamp, perms_bytes(id, &set), |entries| {
            entries
                .perms
                .insert(id.to_owned(), set)
                .map_or(0, |old| perms_bytes(id, &old))
        });
    }

    pub(crate) fn put_object_perms(
        &self,
        stamp: Stamp,
        id: &str,
        object: &str,
        set: Arc<PermissionSet>,
    ) {
        if object.len() > MAX_OBJECT_ID {
            return;
        }
        let bytes = object_bytes(id, object, &set);
        self.put(stamp, bytes, |entries| {
            entries
                .objects
                .entry(id.to_owned())
                .or_default()
                .insert(object.to_owned(), set)
                .map_or(0, |old| object_bytes(id, object, &old))
        });
    }

    #[cfg(feature = "django")]
    pub(crate) fn put_session(&self, stamp: Stamp, key: &str, session: Arc<CachedSession>) {
        let bytes = session_bytes(key, &session);
        self.put(stamp, bytes, |entries| {
            entries
                .sessions
                .insert(key.to_owned(), session)
                .map_or(0, |old| session_bytes(key, &old))
        });
    }

    /// Forgets one session (its row changed or went).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn invalidate_session(&self, key: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut entries = self.write();
        if let Some(old) = entries.sessions.remove(key) {
            entries.bytes -= session_bytes(key, &old);
        }
    }

    /// Forgets one user's row, permission set and object permissions.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn invalidate(&self, id: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut entries = self.write();
        let mut freed = 0;
        if entries.users.remove(id).is_some() {
            freed += user_bytes(id);
        }
        if let Some(set) = entries.perms.remove(id) {
            freed += perms_bytes(id, &set);
        }
        for (object, set) in entries.objects.remove(id).into_iter().flatten() {
            freed += object_bytes(id, &object, &set);
        }
        entries.bytes -= freed;
    }

    /// Forgets everything.
    pub(crate) fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        *self.write() = Entries::default();
    }

    /// Applies a `permit_auth` notification: `u:<id>` (a user), `s:<key>`
    /// (a Django session), `t:*` (the API tokens), `r:<id>` (a session
    /// record) or `*` (anything else is
    /// taken as `*`).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn apply(&self, payload: &str) {
        match payload.split_once(':') {
            Some(("u", id)) if !id.is_empty() => self.invalidate(id),
            Some(("s", key)) if !key.is_empty() => self.invalidate_session(key),
            Some(("t", _)) => self.invalidate_tokens(),
            Some(("r", id)) if !id.is_empty() => self.invalidate_record(id),
            _ => self.invalidate_all(),
        }
    }
}

/// The cache and what keeps it exact, as the backend holds it.
pub(crate) struct Exact {
    pub(crate) cache: Arc<ExactCache>,
    watch: Watch,
}

pub(crate) enum Watch {
    /// PostgreSQL: a listener thread sets the cache's health; dropping this
    /// stops it.
    #[cfg(feature = "postgres")]
    Listener(#[allow(dead_code)] ListenerHandle),
    /// SQLite: checked on every lookup.
    #[cfg(feature = "sqlite")]
    DataVersion(DataVersion),
}

impl Exact {
    /// A cache of at most `bytes` for the database `pool` connects to,
    /// with what keeps it exact there: on SQLite a look at the file at
    /// most once per `interval`, on PostgreSQL a listener on `url`.
    pub(crate) async fn open(
        pool: &sqlx::AnyPool,
        url: &str,
        bytes: usize,
        interval: std::time::Duration,
    ) -> Result<Self, crate::backend::BackendError> {
        use crate::backend::BackendError;
        let cache = Arc::new(ExactCache::new(bytes));
        let watch = if url.starts_with("sqlite:") {
            #[cfg(feature = "sqlite")]
            {
                use sqlx::Row;
                let row = sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'")
                    .fetch_one(pool)
                    .await
                    .map_err(BackendError::new)?;
                let file: String = row.try_get("file").map_err(BackendError::new)?;
                let check = DataVersion::open(&file, interval).map_err(BackendError::new)?;
                cache.up();
                Watch::DataVersion(check)
            }
            #[cfg(not(feature = "sqlite"))]
            return Err(BackendError::new("no SQLite driver is built in"));
        } else {
            let _ = (pool, interval);
            #[cfg(feature = "postgres")]
            {
                Watch::Listener(spawn_listener(url.to_owned(), &cache).map_err(BackendError::new)?)
            }
            #[cfg(not(feature = "postgres"))]
            return Err(BackendError::new("no PostgreSQL driver is built in"));
        };
        Ok(Self { cache, watch })
    }

    /// Answers a lookup from the cache when it may (`get`), otherwise runs
    /// `query` (counted) and keeps its answer (`put`) unless something
    /// changed while it ran. Without a cache, just the query.
    #[cfg(feature = "django")]
    pub(crate) async fn through<T: Clone, E>(
        exact: Option<&Self>,
        get: impl FnOnce(&ExactCache) -> Option<T>,
        query: impl std::future::Future<Output = Result<T, E>>,
        put: impl FnOnce(&ExactCache, Stamp, T),
    ) -> Result<T, E> {
        let cache = exact.and_then(Exact::trusted);
        if let Some(hit) = cache.and_then(get) {
            return Ok(hit);
        }
        let stamp = cache.map(ExactCache::stamp);
        if let Some(exact) = exact {
            exact.cache.note_query();
        }
        let answer = query.await?;
        if let (Some(cache), Some(stamp)) = (cache, stamp) {
            put(cache, stamp, answer.clone());
        }
        Ok(answer)
    }

    /// The cache, when it may be used for this lookup; `None` means query
    /// (and keep nothing).
    pub(crate) fn trusted(&self) -> Option<&ExactCache> {
        match &self.watch {
            #[cfg(feature = "postgres")]
            Watch::Listener(_) => {}
            #[cfg(feature = "sqlite")]
            Watch::DataVersion(check) => check.refresh(&self.cache),
        }
        self.cache.is_healthy().then_some(&*self.cache)
    }

    pub(crate) fn state(&self) -> CacheState {
        if self.cache.is_healthy() {
            CacheState::Exact
        } else {
            CacheState::Bypassed
        }
    }
}

#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "postgres")]
mod postgres;

#[cfg(feature = "sqlite")]
pub(crate) use sqlite::DataVersion;

#[cfg(feature = "postgres")]
pub(crate) use postgres::{ListenerHandle, spawn_listener};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_stays_within_its_bytes_and_keeps_no_long_object_id() {
        let cache = ExactCache::new(64 << 10);
        cache.up();
        let set = Arc::new(PermissionSet::new());
        for n in 0..10_000 {
            let object = format!("{n:0>900}");
            cache.put_object_perms(cache.stamp(), "7", &object, Arc::clone(&set));
            assert!(cache.bytes() <= 64 << 10);
        }
        assert!(
            cache
                .object_perms("7", &format!("{:0>900}", 9_999))
                .is_some()
        );
        let long = "x".repeat(MAX_OBJECT_ID + 1);
        cache.put_object_perms(cache.stamp(), "7", &long, set);
        assert!(cache.object_perms("7", &long).is_none());
    }
}
