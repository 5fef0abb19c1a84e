//! [`SqlBackend`]: users, groups and permissions in SQLite or PostgreSQL,
//! through sqlx, in Django-shaped tables.

mod admin;
mod records;
mod throttle;
mod tokens;

pub use admin::ObjectGrants;

use std::sync::Arc;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Row, SqlSafeStr};

use super::exact::{CacheState, CacheStats, Exact, ExactCache};
use super::{
    AdminError, Authentication, Authorization, BackendError, Introspection, PermissionSource,
    PermsResult, StoredUser, UserResult,
};
use crate::password;
use crate::permission::PermissionSet;
use crate::user::AuthUser;

/// The table sqlx records our migrations in, apart from the app's own.
const MIGRATIONS_TABLE: &str = "_permit_migrations";

/// A user stored by [`SqlBackend`] (table `permit_users`).
pub type SqlUser = StoredUser;

fn user_from_row(row: &AnyRow) -> Result<StoredUser, sqlx::Error> {
    let id: i64 = row.try_get("id")?;
    Ok(StoredUser::new(
        id.to_string(),
        row.try_get("username")?,
        row.try_get("password_hash")?,
        row.try_get::<i64, _>("is_active")? != 0,
        row.try_get::<i64, _>("is_superuser")? != 0,
    ))
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

/// Users, groups and permissions in a SQL database: SQLite (feature
/// `sqlite`) or PostgreSQL (feature `postgres`), chosen by the URL.
///
/// The tables (`permit_users`, `permit_groups`, `permit_permissions`,
/// `permit_user_groups`, `permit_user_permissions`,
/// `permit_group_permissions`) are created by [`SqlBackend::connect`]'s
/// migrations, recorded in their own table `_permit_migrations`.
///
/// # The exact cache (on by default)
///
/// Users and permission sets are kept in memory across requests, so a
/// request in steady state costs no query, and dropped the moment the
/// database says they changed, so a change still holds from the next
/// request on, on every instance:
///
/// - **PostgreSQL**: triggers on the auth tables send `NOTIFY permit_auth`
///   with the affected user (or "everyone", for a group's or a permission's
///   rows) when a transaction commits; each instance listens on a
///   connection of its own, on a thread of its own, and drops those entries.
///   While that connection is down (restarted server, `pg_terminate_backend`,
///   a network cut that TCP reports) **the cache is bypassed**: every
///   request queries, as with the cache off, and on reconnecting the cache
///   starts empty. A network path that fails silently is only noticed when
///   TCP gives up on it.
/// - **SQLite** (one host, any number of processes: the server, the CLI):
///   `PRAGMA data_version` on a read-only connection of its own says
///   whether anyone committed since the last look, and a counter the
///   triggers bump says whether it was the auth tables; then the cache is
///   emptied. A lookup looks first unless a look started less than
///   [`SqlOptions::sqlite_check_interval`] ago (1 ms; zero: always), so a
///   change another process commits holds within that interval. If a look
///   fails, lookups query until one succeeds. `sqlite::memory:` databases
///   are not cached.
///
/// Changes made through this backend's own methods empty its cache at once.
/// Changes made with any SQL on the tables (another tool, `psql`) are seen
/// through the triggers. Turn the cache off with
/// [`SqlOptions::exact_cache`]; then each request runs at most two queries:
/// the user by id, and (only when a permission is checked) the user's own
/// and group permissions in one query.
#[derive(Clone)]
pub struct SqlBackend {
    pool: AnyPool,
    dialect: Dialect,
    exact: Option<Arc<Exact>>,
    throttle_rows: i64,
}

/// How [`SqlBackend::connect_with`] sets a backend up.
#[derive(Debug, Clone)]
pub struct SqlOptions {
    exact_cache: bool,
    cache_bytes: usize,
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    sqlite_interval: std::time::Duration,
    throttle_rows: u64,
}

impl Default for SqlOptions {
    fn default() -> Self {
        Self {
            exact_cache: true,
            cache_bytes: 64 << 20,
            sqlite_interval: std::time::Duration::from_millis(1),
            throttle_rows: 100_000,
        }
    }
}

impl SqlOptions {
    /// The defaults: the exact cache on.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to keep users and permission sets across requests, kept
    /// exact by invalidation (see [`SqlBackend`]). On by default.
    #[must_use]
    pub fn exact_cache(mut self, on: bool) -> Self {
        self.exact_cache = on;
        self
    }

    /// The most the exact cache keeps, in bytes (64 MiB by default): users,
    /// permission sets and object permission sets, each counted with its
    /// keys and names. When an entry would pass it, the cache starts over.
    /// An object id longer than 1 KiB is never kept (it is queried each
    /// time), so a client naming long ids cannot fill the cache quickly.
    #[must_use]
    pub fn cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// The most rows the login throttle's table keeps (100,000 by default;
    /// each key is at most 48 bytes, so about 10 MB with the indexes). A
    /// new key past it is refused (the login fails closed with a 503) until
    /// a window ends; no open window is forgotten.
    #[must_use]
    pub fn throttle_rows(mut self, rows: u64) -> Self {
        self.throttle_rows = rows;
        self
    }

    /// SQLite: how long a look for other processes' changes stays good
    /// (1 ms by default): a change committed by another process (the CLI)
    /// is honoured at most this long after its commit. `Duration::ZERO`
    /// looks before every lookup, so such a change holds from the very next
    /// request, at a cost of a few microseconds per lookup. Changes made
    /// through the backend itself hold at once either way.
    #[must_use]
    pub fn sqlite_check_interval(mut self, interval: std::time::Duration) -> Self {
        self.sqlite_interval = interval;
        self
    }
}

/// A user query: the columns `user_from_row` reads, then `$tail`. sqlx's
/// `Any` driver cannot decode SQLite booleans: they are read as integers.
macro_rules! select_users {
    ($tail:literal) => {
        concat!(
            "SELECT id, username, password_hash, ",
            "CAST(CASE WHEN is_active THEN 1 ELSE 0 END AS BIGINT) AS is_active, ",
            "CAST(CASE WHEN is_superuser THEN 1 ELSE 0 END AS BIGINT) AS is_superuser ",
            "FROM permit_users ",
            $tail
        )
    };
}
const USER_BY_ID: &str = select_users!("WHERE id = $1");
pub(super) const USER_BY_NAME: &str = select_users!("WHERE username = $1");
pub(super) const ALL_USERS: &str = select_users!("ORDER BY username");

impl SqlBackend {
    /// Connects to `url` (`sqlite://path/to/file.db`, `sqlite::memory:`,
    /// `postgres://user@host/db`) and brings the schema up to date. A SQLite
    /// file is created when missing. The exact cache is on; see
    /// [`SqlBackend::connect_with`].
    pub async fn connect(url: &str) -> Result<Self, AdminError> {
        Self::connect_with(url, SqlOptions::default()).await
    }

    /// [`SqlBackend::connect`] with options.
    pub async fn connect_with(url: &str, options: SqlOptions) -> Result<Self, AdminError> {
        sqlx::any::install_default_drivers();
        let (url, dialect) = normalize_url(url)?;
        let mut pool_options = AnyPoolOptions::new();
        let memory = url.contains(":memory:");
        if memory {
            // Every connection to `:memory:` is a database of its own: keep one.
            pool_options = pool_options
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = pool_options.connect(&url).await.map_err(database)?;
        let mut backend = Self {
            pool,
            dialect,
            exact: None,
            throttle_rows: i64::try_from(options.throttle_rows).unwrap_or(i64::MAX),
        };
        if dialect == Dialect::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&backend.pool)
                .await
                .map_err(database)?;
        }
        backend.migrate().await?;
        if options.exact_cache && !memory {
            // Without a way to see changes there is no cache: every lookup
            // queries, as with the cache off.
            match backend.watch(&url, &options).await {
                Ok(exact) => backend.exact = Some(Arc::new(exact)),
                Err(err) => tracing::warn!(
                    error = %err,
                    "cannot watch the database for changes: the user cache is off"
                ),
            }
        }
        Ok(backend)
    }

    /// Sets up what keeps the exact cache exact for this database.
    async fn watch(&self, url: &str, options: &SqlOptions) -> Result<Exact, AdminError> {
        Exact::open(
            &self.pool,
            url,
            options.cache_bytes,
            options.sqlite_interval,
        )
        .await
        .map_err(AdminError::Database)
    }

    /// What the exact cache is doing.
    pub fn cache_state(&self) -> CacheState {
        self.exact
            .as_ref()
            .map_or(CacheState::Off, |exact| exact.state())
    }

    /// How many lookups the exact cache answered and how many queried the
    /// database since the backend was connected (`None` with the cache
    /// off).
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.exact.as_ref().map(|exact| exact.cache.stats())
    }

    /// The cache when it may answer this lookup; counts the lookups that
    /// will query.
    fn cache(&self) -> Option<&ExactCache> {
        self.exact.as_ref().and_then(|exact| exact.trusted())
    }

    fn note_query(&self) {
        if let Some(exact) = &self.exact {
            exact.cache.note_query();
        }
    }

    /// Empties this backend's cache after a change it made itself (other
    /// instances hear of it through the triggers).
    fn changed(&self) {
        if let Some(exact) = &self.exact {
            exact.cache.invalidate_all();
        }
    }

    /// The connection pool, for the app's own tables.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database is PostgreSQL (otherwise SQLite).
    pub fn is_postgres(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    /// Creates or updates the tables (idempotent).
    pub async fn migrate(&self) -> Result<(), AdminError> {
        let sql: [&'static str; 7] = match self.dialect {
            Dialect::Sqlite => [
                include_str!("../../../migrations/sqlite/0001_permit_tables.sql"),
                include_str!("../../../migrations/sqlite/0002_permit_login_failures.sql"),
                include_str!("../../../migrations/sqlite/0003_permit_auth_version.sql"),
                include_str!("../../../migrations/sqlite/0004_permit_object_permissions.sql"),
                include_str!("../../../migrations/sqlite/0005_permit_login_failures_expiry.sql"),
                include_str!("../../../migrations/sqlite/0006_permit_tokens.sql"),
                include_str!("../../../migrations/sqlite/0007_permit_sessions.sql"),
            ],
            Dialect::Postgres => [
                include_str!("../../../migrations/postgres/0001_permit_tables.sql"),
                include_str!("../../../migrations/postgres/0002_permit_login_failures.sql"),
                include_str!("../../../migrations/postgres/0003_permit_change_notify.sql"),
                include_str!("../../../migrations/postgres/0004_permit_object_permissions.sql"),
                include_str!("../../../migrations/postgres/0005_permit_login_failures_expiry.sql"),
                include_str!("../../../migrations/postgres/0006_permit_tokens.sql"),
                include_str!("../../../migrations/postgres/0007_permit_sessions.sql"),
            ],
        };
        let names = [
            "permit tables",
            "permit login failures",
            "permit change notices",
            "permit object permissions",
            "permit login failures expiry",
            "permit tokens",
            "permit sessions",
        ];
        let mut migrator = Migrator::with_migrations(
            (1..)
                .zip(names.into_iter().zip(sql))
                .map(|(version, (name, sql))| {
                    Migration::new(
                        version,
                        name.into(),
                        MigrationType::Simple,
                        sql.into_sql_str(),
                        false,
                    )
                })
                .collect(),
        );
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| AdminError::Database(BackendError::new(e)))
    }
}

/// A time as the token and session tables keep it: seconds since the
/// Unix epoch.
fn secs(at: std::time::SystemTime) -> i64 {
    i64::try_from(crate::token::unix_secs(at)).unwrap_or(i64::MAX)
}

/// A column of such seconds, read back (`NULL`: `None`).
fn time(row: &AnyRow, column: &str) -> Result<Option<std::time::SystemTime>, sqlx::Error> {
    let secs: Option<i64> = row.try_get(column)?;
    Ok(secs.map(|secs| crate::token::from_unix_secs(u64::try_from(secs).unwrap_or(0))))
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

fn database(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> AdminError {
    AdminError::Database(BackendError::new(err))
}

/// Adds `mode=rwc` to a SQLite file URL (create the file when missing) and
/// tells which database the URL names.
fn normalize_url(url: &str) -> Result<(String, Dialect), AdminError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((url.to_owned(), Dialect::Postgres));
    }
    if !url.starts_with("sqlite:") {
        return Err(database(format!(
            "unsupported database URL {url:?}: expected sqlite://... or postgres://..."
        )));
    }
    if url.contains(":memory:") || url.contains("mode=") {
        return Ok((url.to_owned(), Dialect::Sqlite));
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok((format!("{url}{sep}mode=rwc"), Dialect::Sqlite))
}

impl Authentication for SqlBackend {
    async fn get_user(&self, id: &str) -> UserResult {
        let cache = self.cache();
        if let Some(user) = cache.and_then(|cache| cache.user(id)) {
            return Ok(Some(user));
        }
        let stamp = cache.map(ExactCache::stamp);
        let Ok(number) = id.parse::<i64>() else {
            return Ok(None);
        };
        self.note_query();
        let row = sqlx::query(USER_BY_ID)
            .bind(number)
            .fetch_optional(&self.pool)
            .await
            .map_err(BackendError::new)?;
        let Some(row) = row else { return Ok(None) };
        let user: Arc<dyn AuthUser> = Arc::new(user_from_row(&row).map_err(BackendError::new)?);
        if let (Some(cache), Some(stamp)) = (cache, stamp) {
            cache.put_user(stamp, id, Arc::clone(&user));
        }
        Ok(Some(user))
    }

    async fn authenticate(&self, username: &str, password: &str) -> UserResult {
        let user = self.user(username).await.map_err(|e| match e {
            AdminError::Database(err) => err,
            other => BackendError::new(other),
        })?;
        let Some(user) = user else {
            password::verify_dummy_blocking(password).await;
            return Ok(None);
        };
        let ok = password::verify_password_blocking(password, &user.password_hash).await;
        if !(ok && user.active) {
            return Ok(None);
        }
        if !password::needs_rehash(&user.password_hash) {
            return Ok(Some(Arc::new(user) as Arc<dyn AuthUser>));
        }
        let hash = password::hash_password_blocking(password)
            .await
            .map_err(BackendError::new)?;
        // Unless the password changed meanwhile.
        self.run(
            sqlx::query(
                "UPDATE permit_users SET password_hash = $1 \
                 WHERE username = $2 AND password_hash = $3",
            )
            .bind(hash)
            .bind(username)
            .bind(&user.password_hash),
        )
        .await
        .map_err(|e| BackendError::new(e.to_string()))?;
        let user = self.user(username).await.map_err(BackendError::new)?;
        Ok(user
            .filter(|user| user.active)
            .map(|user| Arc::new(user) as Arc<dyn AuthUser>))
    }
}

impl Authorization for SqlBackend {
    async fn user_permissions(&self, user: &dyn AuthUser) -> PermsResult {
        let cache = self.cache();
        if let Some(set) = cache.and_then(|cache| cache.perms(user.id())) {
            return Ok(set);
        }
        let stamp = cache.map(ExactCache::stamp);
        let Ok(id) = user.id().parse::<i64>() else {
            return Ok(Arc::default());
        };
        self.note_query();
        let rows = sqlx::query(
            "SELECT p.app_label || '.' || p.codename AS perm FROM permit_permissions p \
             JOIN permit_user_permissions up ON up.permission_id = p.id WHERE up.user_id = $1 \
             UNION ALL \
             SELECT p.app_label || '.' || p.codename AS perm FROM permit_permissions p \
             JOIN permit_group_permissions gp ON gp.permission_id = p.id \
             JOIN permit_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = $1",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(BackendError::new)?;
        let set = rows
            .iter()
            .map(|row| row.try_get::<String, _>("perm"))
            .collect::<Result<PermissionSet, _>>()
            .map_err(BackendError::new)?;
        let set = Arc::new(set);
        if let (Some(cache), Some(stamp)) = (cache, stamp) {
            cache.put_perms(stamp, user.id(), Arc::clone(&set));
        }
        Ok(set)
    }

    /// One query per user and object, answered from the exact cache while
    /// nothing changed.
    async fn object_permissions(&self, user: &dyn AuthUser, object: &str) -> PermsResult {
        let cache = self.cache();
        if let Some(set) = cache.and_then(|cache| cache.object_perms(user.id(), object)) {
            return Ok(set);
        }
        let stamp = cache.map(ExactCache::stamp);
        let Ok(id) = user.id().parse::<i64>() else {
            return Ok(Arc::default());
        };
        self.note_query();
        let rows = sqlx::query(
            "SELECT p.app_label || '.' || p.codename AS perm FROM permit_permissions p \
             JOIN permit_user_object_permissions uo ON uo.permission_id = p.id \
             WHERE uo.user_id = $1 AND uo.object_id = $2 \
             UNION ALL \
             SELECT p.app_label || '.' || p.codename AS perm FROM permit_permissions p \
             JOIN permit_group_object_permissions go ON go.permission_id = p.id \
             JOIN permit_user_groups ug ON ug.group_id = go.group_id \
             WHERE ug.user_id = $1 AND go.object_id = $2",
        )
        .bind(id)
        .bind(object)
        .fetch_all(&self.pool)
        .await
        .map_err(BackendError::new)?;
        let set = rows
            .iter()
            .map(|row| row.try_get::<String, _>("perm"))
            .collect::<Result<PermissionSet, _>>()
            .map_err(BackendError::new)?;
        let set = Arc::new(set);
        if let (Some(cache), Some(stamp)) = (cache, stamp) {
            cache.put_object_perms(stamp, user.id(), object, Arc::clone(&set));
        }
        Ok(set)
    }

    async fn objects_with_permission(
        &self,
        user: &dyn AuthUser,
        perm: &str,
    ) -> Result<Vec<String>, BackendError> {
        let (Ok(id), Some((app_label, codename))) =
            (user.id().parse::<i64>(), perm.split_once('.'))
        else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(
            "SELECT uo.object_id AS object FROM permit_user_object_permissions uo \
             JOIN permit_permissions p ON p.id = uo.permission_id \
             WHERE uo.user_id = $1 AND p.app_label = $2 AND p.codename = $3 \
             UNION \
             SELECT go.object_id AS object FROM permit_group_object_permissions go \
             JOIN permit_permissions p ON p.id = go.permission_id \
             JOIN permit_user_groups ug ON ug.group_id = go.group_id \
             WHERE ug.user_id = $1 AND p.app_label = $2 AND p.codename = $3 \
             ORDER BY object",
        )
        .bind(id)
        .bind(app_label)
        .bind(codename)
        .fetch_all(&self.pool)
        .await
        .map_err(BackendError::new)?;
        rows.iter()
            .map(|row| row.try_get::<String, _>("object"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(BackendError::new)
    }
}

impl Introspection for SqlBackend {
    async fn permission_sources(
        &self,
        user: &dyn AuthUser,
    ) -> Result<Option<Vec<PermissionSource>>, BackendError> {
        let Ok(id) = user.id().parse::<i64>() else {
            return Ok(Some(Vec::new()));
        };
        let rows = sqlx::query(
            "SELECT p.app_label || '.' || p.codename AS perm, '' AS grp, CAST(0 AS BIGINT) AS via FROM permit_permissions p \
             JOIN permit_user_permissions up ON up.permission_id = p.id WHERE up.user_id = $1 \
             UNION ALL \
             SELECT p.app_label || '.' || p.codename AS perm, g.name AS grp, CAST(1 AS BIGINT) AS via FROM permit_permissions p \
             JOIN permit_group_permissions gp ON gp.permission_id = p.id \
             JOIN permit_groups g ON g.id = gp.group_id \
             JOIN permit_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = $1",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(BackendError::new)?;
        let mut sources = rows
            .iter()
            .map(|row| {
                let via: i64 = row.try_get("via")?;
                Ok(PermissionSource {
                    permission: row.try_get("perm")?,
                    group: (via == 1).then(|| row.try_get("grp")).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(BackendError::new)?;
        sources.sort();
        Ok(Some(sources))
    }

    async fn defined_permissions(&self) -> Result<Option<Vec<String>>, BackendError> {
        match self.permission_names().await {
            Ok(names) => Ok(Some(names)),
            Err(AdminError::Database(err)) => Err(err),
            Err(other) => Err(BackendError::new(other)),
        }
    }
}
