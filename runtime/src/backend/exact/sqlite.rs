//! SQLite: `data_version` (and the auth tables' own version) checked
//! before a lookup keeps the exact cache exact.

use std::cell::RefCell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::ExactCache;

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
                && self.since_epoch(now).saturating_sub(looked) < self.interval.as_nanos() as u64
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
    use super::ExactCache;

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
