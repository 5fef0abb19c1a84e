//! What keeps the exact cache exact: a PostgreSQL listener on its own
//! thread, or SQLite's `data_version` checked before each lookup.

#[cfg(feature = "sqlite")]
pub(crate) use sqlite::DataVersion;

#[cfg(feature = "postgres")]
pub(crate) use postgres::{ListenerHandle, spawn_listener};

use std::sync::Arc;

use super::exact::{CacheState, ExactCache};

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
    pub(crate) fn new(cache: Arc<ExactCache>, watch: Watch) -> Self {
        Self { cache, watch }
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
mod sqlite {
    use std::cell::RefCell;
    use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
    use std::sync::{Arc, Weak};
    use std::time::{Duration, Instant};

    use rusqlite::{Connection, OpenFlags};

    use crate::backend::exact::ExactCache;

    /// Checks, before a lookup, whether anyone committed a change to the
    /// auth tables since the last look: on every lookup when the interval
    /// is zero, otherwise when the last look *started* more than the
    /// interval ago (whichever thread made it). A change made by another
    /// process is therefore honoured at most one interval after its commit
    /// (1 ms by default); changes through the backend itself empty the
    /// cache at once. The look costs a few microseconds (a read
    /// transaction: file-lock system calls), which per lookup would halve
    /// a cached request's throughput (BENCHMARKS.md); once per interval
    /// it costs nothing measurable.
    ///
    /// Each thread that looks keeps a read-only connection of its own to
    /// the file (no lock is shared between threads on this path).
    /// `PRAGMA data_version` on it changes exactly when another connection
    /// (this process's pool, the CLI, another server) has committed since
    /// that connection last asked; only then is the triggers' counter
    /// `permit_auth_version` read, and when it differs from the last one
    /// applied, the cache is emptied before the new value is published (so
    /// a thread that sees the new value knows the cache was emptied).
    ///
    /// Why not cheaper: an inotify watch on the WAL says "written" at the
    /// `write()` of a transaction's pages, but the commit becomes visible
    /// only later (after the `fsync`, in the WAL index, which is shared
    /// memory and raises no event); a look between the two would drain
    /// the event and miss the commit for good. `data_version` reads the
    /// WAL index itself, which is what defines a commit.
    pub(crate) struct DataVersion {
        /// The file; also who owns the threads' connections (they go when
        /// this goes).
        path: Arc<str>,
        /// The last counter value applied to the cache.
        applied: AtomicI64,
        interval: Duration,
        /// When the latest successful look started, in nanoseconds since
        /// `epoch`, plus one (0: never).
        looked: AtomicU64,
        epoch: Instant,
    }

    /// A thread's connection for one [`DataVersion`].
    struct Local {
        owner: Weak<str>,
        conn: Connection,
        data_version: i64,
    }

    thread_local! {
        static LOCALS: RefCell<Vec<Local>> = const { RefCell::new(Vec::new()) };
    }

    /// How long a check waits for a lock another connection holds before
    /// giving up (and bypassing the cache for that lookup).
    const BUSY: Duration = Duration::from_millis(100);

    impl DataVersion {
        /// Checks that `path` can be watched and reads where things stand;
        /// looks at most once per `interval`.
        pub(crate) fn open(path: &str, interval: Duration) -> rusqlite::Result<Self> {
            let conn = connect(path)?;
            let applied = read_auth_version(&conn)?;
            Ok(Self {
                path: Arc::from(path),
                applied: AtomicI64::new(applied),
                interval,
                looked: AtomicU64::new(0),
                epoch: Instant::now(),
            })
        }

        fn since_epoch(&self, at: Instant) -> u64 {
            u64::try_from(at.duration_since(self.epoch).as_nanos())
                .unwrap_or(u64::MAX - 1)
                .saturating_add(1)
        }

        /// Brings `cache` up to date with the database, unless a look that
        /// started less than the interval ago did: empties it when the auth
        /// tables changed since the last look; marks it down (bypassed and
        /// empty) when the look fails, up again when one succeeds.
        pub(crate) fn refresh(&self, cache: &ExactCache) {
            let now = Instant::now();
            if !self.interval.is_zero() {
                let looked = self.looked.load(Ordering::Acquire);
                if looked != 0
                    && self.since_epoch(now).saturating_sub(looked)
                        < self.interval.as_nanos() as u64
                {
                    return;
                }
            }
            match self.check(cache) {
                Ok(()) => {
                    if !cache.is_healthy() {
                        cache.up();
                    }
                    self.looked
                        .fetch_max(self.since_epoch(now), Ordering::AcqRel);
                }
                Err(err) => {
                    if cache.is_healthy() {
                        tracing::warn!(error = %err, "cannot check the database for changes: the user cache is bypassed");
                    }
                    cache.down();
                    // Start this thread over with a new connection.
                    LOCALS.with(|locals| {
                        locals.borrow_mut().retain(|local| {
                            !std::ptr::addr_eq(local.owner.as_ptr(), Arc::as_ptr(&self.path))
                        });
                    });
                }
            }
        }

        fn check(&self, cache: &ExactCache) -> rusqlite::Result<()> {
            LOCALS.with(|locals| {
                let mut locals = locals.borrow_mut();
                let mine = Arc::as_ptr(&self.path);
                let index = match locals
                    .iter()
                    .position(|local| std::ptr::addr_eq(local.owner.as_ptr(), mine))
                {
                    Some(index) => index,
                    None => {
                        locals.retain(|local| local.owner.strong_count() > 0);
                        let conn = connect(&self.path)?;
                        // A new connection knows nothing of what came before:
                        // compare the counter.
                        let data_version = read_data_version(&conn)?;
                        self.apply(&conn, cache)?;
                        locals.push(Local {
                            owner: Arc::downgrade(&self.path),
                            conn,
                            data_version,
                        });
                        return Ok(());
                    }
                };
                let local = &mut locals[index];
                let data_version = read_data_version(&local.conn)?;
                if data_version != local.data_version {
                    self.apply(&local.conn, cache)?;
                    local.data_version = data_version;
                }
                Ok(())
            })
        }

        /// Reads the counter and, when it moved, empties the cache before
        /// publishing the new value.
        fn apply(&self, conn: &Connection, cache: &ExactCache) -> rusqlite::Result<()> {
            let auth_version = read_auth_version(conn)?;
            if self.applied.load(Ordering::Acquire) != auth_version {
                cache.invalidate_all();
                self.applied.store(auth_version, Ordering::Release);
            }
            Ok(())
        }
    }

    fn connect(path: &str) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY)?;
        Ok(conn)
    }

    fn read_data_version(conn: &Connection) -> rusqlite::Result<i64> {
        conn.prepare_cached("PRAGMA data_version")?
            .query_row([], |row| row.get(0))
    }

    fn read_auth_version(conn: &Connection) -> rusqlite::Result<i64> {
        conn.prepare_cached("SELECT version FROM permit_auth_version WHERE id = 1")?
            .query_row([], |row| row.get(0))
    }

    #[cfg(test)]
    mod tests {
        use std::time::Duration;

        use rusqlite::Connection;

        use super::DataVersion;
        use crate::backend::exact::ExactCache;

        /// A database with the counter, and a writer connection to it.
        fn database(name: &str) -> (std::path::PathBuf, Connection) {
            let path = std::env::temp_dir().join(format!(
                "actix-permit-watch-{name}-{}.db",
                std::process::id()
            ));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            let writer = Connection::open(&path).unwrap();
            writer
                .execute_batch(
                    "PRAGMA journal_mode = WAL; \
                     CREATE TABLE permit_auth_version (id INTEGER PRIMARY KEY, version INTEGER); \
                     INSERT INTO permit_auth_version VALUES (1, 0); \
                     CREATE TABLE other (x INTEGER);",
                )
                .unwrap();
            (path, writer)
        }

        /// A stamp taken before a check and used after it: the put is kept
        /// only when the check emptied nothing.
        fn emptied_by_check(check: &DataVersion, cache: &ExactCache) -> bool {
            cache.up();
            let stamp = cache.stamp();
            check.refresh(cache);
            cache.put_user(stamp, "1", std::sync::Arc::new(Probe));
            cache.user("1").is_none()
        }

        #[derive(Debug)]
        struct Probe;
        impl crate::user::AuthUser for Probe {
            fn id(&self) -> &str {
                "1"
            }
            fn session_auth_hash(&self) -> &str {
                ""
            }
        }

        /// Every commit of another connection is seen, on every thread, and
        /// only a change of the counter empties the cache.
        #[test]
        fn sees_every_commit_of_another_connection() {
            let (path, writer) = database("threads");
            let check = DataVersion::open(path.to_str().unwrap(), Duration::ZERO).unwrap();
            let cache = ExactCache::new(64 << 20);
            std::thread::scope(|scope| {
                for thread in 0..2 {
                    let (check, cache, path) = (&check, &cache, &path);
                    scope
                        .spawn(move || {
                            let writer = Connection::open(path).unwrap();
                            assert!(
                                !emptied_by_check(check, cache),
                                "thread {thread}: first look"
                            );
                            writer.execute("INSERT INTO other VALUES (1)", []).unwrap();
                            assert!(!emptied_by_check(check, cache), "not an auth change");
                        })
                        .join()
                        .unwrap();
                }
            });
            for round in 0..3 {
                writer
                    .execute("UPDATE permit_auth_version SET version = version + 1", [])
                    .unwrap();
                assert!(emptied_by_check(&check, &cache), "round {round}");
                assert!(!emptied_by_check(&check, &cache), "seen once");
            }
            // Another thread's first look after a change it never saw.
            writer
                .execute("UPDATE permit_auth_version SET version = version + 1", [])
                .unwrap();
            std::thread::scope(|scope| {
                scope.spawn(|| assert!(emptied_by_check(&check, &cache), "new thread"));
            });
            drop((check, writer));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::sync::{Arc, Weak};
    use std::time::Duration;

    use std::str::FromStr;

    use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
    use tokio::sync::oneshot;

    use crate::backend::exact::ExactCache;

    /// The channel the triggers notify on.
    const CHANNEL: &str = "permit_auth";

    /// Waits between reconnection attempts, doubling up to the last.
    const BACKOFF: [u64; 6] = [10, 50, 100, 250, 500, 1000];

    /// Stops the listener thread when dropped.
    pub(crate) struct ListenerHandle {
        _stop: oneshot::Sender<()>,
    }

    /// Starts the thread that listens on `permit_auth` for the cache: it
    /// marks the cache up once `LISTEN` is in place, applies each
    /// notification, and marks it down (bypassed, emptied) the moment the
    /// connection is lost, until it is back.
    pub(crate) fn spawn_listener(
        url: String,
        cache: &Arc<ExactCache>,
    ) -> std::io::Result<ListenerHandle> {
        let (stop, stopped) = oneshot::channel();
        let cache = Arc::downgrade(cache);
        std::thread::Builder::new()
            .name("permit-listener".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(err) => {
                        tracing::error!(error = %err, "cannot start the cache listener: the user cache stays bypassed");
                        return;
                    }
                };
                rt.block_on(async move {
                    tokio::select! {
                        () = listen(&url, &cache) => {}
                        _ = stopped => {}
                    }
                });
            })?;
        Ok(ListenerHandle { _stop: stop })
    }

    async fn listen(url: &str, cache: &Weak<ExactCache>) {
        let mut failures = 0usize;
        loop {
            match connect(url).await {
                Ok(mut listener) => {
                    let Some(strong) = cache.upgrade() else {
                        return;
                    };
                    strong.up();
                    if failures > 0 {
                        tracing::info!(
                            "cache listener reconnected: the user cache is in use again"
                        );
                    }
                    failures = 0;
                    drop(strong);
                    let err = loop {
                        match listener.try_recv().await {
                            Ok(Some(note)) => match cache.upgrade() {
                                Some(cache) => cache.apply(note.payload()),
                                None => return,
                            },
                            Ok(None) => break "connection lost".to_owned(),
                            Err(err) => break err.to_string(),
                        }
                    };
                    if let Some(cache) = cache.upgrade() {
                        cache.down();
                    }
                    tracing::warn!(error = %err, "cache listener disconnected: the user cache is bypassed until it is back");
                }
                Err(err) => {
                    if failures == 0 {
                        tracing::warn!(error = %err, "cache listener cannot connect: the user cache is bypassed");
                    }
                    failures += 1;
                }
            }
            let wait = BACKOFF[failures.min(BACKOFF.len() - 1)];
            tokio::time::sleep(Duration::from_millis(wait)).await;
            if cache.strong_count() == 0 {
                return;
            }
        }
    }

    /// A listener on a connection of its own, named
    /// `actix-permit listener (pid N)` in `pg_stat_activity`. It does not
    /// reconnect by itself: [`listen`] must see every loss.
    async fn connect(url: &str) -> Result<PgListener, sqlx::Error> {
        let options = PgConnectOptions::from_str(url)?.application_name(&format!(
            "actix-permit listener (pid {})",
            std::process::id()
        ));
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_with(options)
            .await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.ignore_pool_close_event(true);
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }
}
