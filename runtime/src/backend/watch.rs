//! What keeps the exact cache exact: a PostgreSQL listener on its own
//! thread, or SQLite's `data_version` checked before each lookup.

#[cfg(feature = "sqlite")]
pub(crate) use sqlite::DataVersion;

#[cfg(feature = "postgres")]
pub(crate) use postgres::{ListenerHandle, spawn_listener};

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::sync::{Mutex, PoisonError};
    use std::time::Duration;

    use rusqlite::{Connection, OpenFlags};

    use super::super::exact::ExactCache;

    /// A read-only connection of our own to the database file.
    /// `PRAGMA data_version` on it changes whenever any other connection
    /// (this process's pool, the CLI, another server) commits; only then is
    /// the triggers' counter `permit_auth_version` read, and only when that
    /// moved is the cache emptied.
    ///
    /// On Linux an inotify watch on the database and its WAL comes first:
    /// SQLite writes a transaction's pages with `write()` before the commit
    /// becomes visible, and the kernel queues the event at that `write()`,
    /// so "no event queued" (one non-blocking `read`) proves nothing was
    /// committed since the last look, and the pragma is skipped. Any event
    /// means "look"; an event that the watch no longer holds (the file was
    /// deleted or moved) drops the watch, and every lookup looks from then
    /// on.
    pub(crate) struct DataVersion {
        state: Mutex<State>,
    }

    struct State {
        conn: Connection,
        data_version: i64,
        auth_version: i64,
        #[cfg(target_os = "linux")]
        writes: Option<inotify_watch::Writes>,
    }

    /// How long a check waits for a lock another connection holds before
    /// giving up (and bypassing the cache for that lookup).
    const BUSY: Duration = Duration::from_millis(100);

    impl DataVersion {
        /// Opens `path` read-only and reads where things stand.
        pub(crate) fn open(path: &str) -> rusqlite::Result<Self> {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(BUSY)?;
            // Watch first, then read: a write in between is an event.
            #[cfg(target_os = "linux")]
            let writes = inotify_watch::Writes::watch(path);
            let data_version = read_data_version(&conn)?;
            let auth_version = read_auth_version(&conn)?;
            Ok(Self {
                state: Mutex::new(State {
                    conn,
                    data_version,
                    auth_version,
                    #[cfg(target_os = "linux")]
                    writes,
                }),
            })
        }

        /// Brings `cache` up to date with the database: empties it when the
        /// auth tables changed since the last check; marks it down (bypassed
        /// and empty) when the check fails, up again when one succeeds.
        pub(crate) fn refresh(&self, cache: &ExactCache) {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            match state.check() {
                Ok(changed) => {
                    if !cache.is_healthy() {
                        cache.up();
                    } else if changed {
                        cache.invalidate_all();
                    }
                }
                Err(err) => {
                    if cache.is_healthy() {
                        tracing::warn!(error = %err, "cannot check the database for changes: the user cache is bypassed");
                    }
                    cache.down();
                }
            }
        }
    }

    impl State {
        /// Whether the auth tables changed since the last check.
        fn check(&mut self) -> rusqlite::Result<bool> {
            #[cfg(target_os = "linux")]
            if let Some(writes) = &mut self.writes {
                match writes.since_last_look() {
                    Some(false) => return Ok(false),
                    Some(true) => {}
                    None => self.writes = None,
                }
            }
            let data_version = read_data_version(&self.conn)?;
            if data_version == self.data_version {
                return Ok(false);
            }
            let auth_version = read_auth_version(&self.conn)?;
            self.data_version = data_version;
            let changed = auth_version != self.auth_version;
            self.auth_version = auth_version;
            Ok(changed)
        }
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
        use rusqlite::Connection;

        use super::DataVersion;

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

        /// Every write is seen, with or without the inotify watch, and only
        /// a change of the counter counts as a change.
        #[test]
        fn sees_every_commit_of_another_connection() {
            for watched in [true, false] {
                let (path, writer) = database(&format!("{watched}"));
                let check = DataVersion::open(path.to_str().unwrap()).unwrap();
                let mut state = check.state.lock().unwrap();
                #[cfg(target_os = "linux")]
                {
                    assert!(state.writes.is_some(), "inotify watch in place");
                    if !watched {
                        state.writes = None;
                    }
                }
                assert!(!state.check().unwrap());
                writer.execute("INSERT INTO other VALUES (1)", []).unwrap();
                assert!(!state.check().unwrap(), "not an auth change");
                for round in 0..3 {
                    writer
                        .execute("UPDATE permit_auth_version SET version = version + 1", [])
                        .unwrap();
                    assert!(state.check().unwrap(), "watched {watched}, round {round}");
                    assert!(!state.check().unwrap(), "seen once");
                }
                drop(state);
                drop((check, writer));
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
        }
    }

    #[cfg(target_os = "linux")]
    mod inotify_watch {
        use std::io::ErrorKind;

        use inotify::{EventMask, Inotify, WatchMask};

        /// Writes to the database file and its WAL, as inotify saw them.
        pub(super) struct Writes {
            inotify: Inotify,
            buffer: Vec<u8>,
        }

        impl Writes {
            /// Watches `path` and `path-wal`; `None` when either cannot be
            /// watched (then every lookup reads `data_version`).
            pub(super) fn watch(path: &str) -> Option<Self> {
                let inotify = Inotify::init().ok()?;
                let mask = WatchMask::MODIFY
                    | WatchMask::ATTRIB
                    | WatchMask::CLOSE_WRITE
                    | WatchMask::MOVE_SELF
                    | WatchMask::DELETE_SELF;
                for file in [path.to_owned(), format!("{path}-wal")] {
                    inotify.watches().add(&file, mask).ok()?;
                }
                Some(Self {
                    inotify,
                    buffer: vec![0; 4096],
                })
            }

            /// `Some(false)`: nothing was written since the last look.
            /// `Some(true)`: something was (the queue is drained). `None`:
            /// the watch cannot be trusted any more (a file went away, the
            /// queue overflowed, reading failed).
            pub(super) fn since_last_look(&mut self) -> Option<bool> {
                let mut written = false;
                loop {
                    match self.inotify.read_events(&mut self.buffer) {
                        Ok(events) => {
                            for event in events {
                                if event.mask.intersects(
                                    EventMask::IGNORED
                                        | EventMask::Q_OVERFLOW
                                        | EventMask::DELETE_SELF
                                        | EventMask::MOVE_SELF,
                                ) {
                                    return None;
                                }
                                written = true;
                            }
                        }
                        Err(err) if err.kind() == ErrorKind::WouldBlock => return Some(written),
                        Err(_) => return None,
                    }
                }
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

    use super::super::exact::ExactCache;

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
                    let Some(strong) = cache.upgrade() else { return };
                    strong.up();
                    if failures > 0 {
                        tracing::info!("cache listener reconnected: the user cache is in use again");
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
        let options = PgConnectOptions::from_str(url)?
            .application_name(&format!("actix-permit listener (pid {})", std::process::id()));
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
