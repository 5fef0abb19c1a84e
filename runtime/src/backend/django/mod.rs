//! [`DjangoBackend`]: a Django site's own users, groups, permissions and
//! django-guardian object grants, read from its database as Django's
//! `ModelBackend` and guardian's `ObjectPermissionBackend` read them.
//! Read only: it never writes a row, a password hash included (so it can
//! never write one Django would re-hash).

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Row};

use super::exact::{CacheState, CacheStats, Exact};
use super::{
    AdminError, Authentication, Authorization, BackendError, Introspection, PermissionSource,
    PermsResult, UserResult,
};
use crate::django::hashers::{HashError, HashLimits, check_password, session_auth_hash};
use crate::django::signing::SecretKeys;
use crate::permission::PermissionSet;
use crate::user::AuthUser;

mod csrf;
mod sessions;
mod triggers;

pub use csrf::{CsrfService, DjangoCsrf};
pub use sessions::DjangoSessions;

/// A user of the Django site, as `auth_user` holds them. Its session auth
/// hash is Django's, under the site's `SECRET_KEY`; its `Debug` leaves the
/// password field and the hash out.
#[derive(Clone)]
pub struct DjangoUser {
    id: String,
    username: String,
    password: String,
    active: bool,
    superuser: bool,
    session_hash: String,
    /// The session auth hash under each of `SECRET_KEY_FALLBACKS`.
    fallback_hashes: Vec<String>,
}

impl DjangoUser {
    /// The login name.
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl std::fmt::Debug for DjangoUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DjangoUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("active", &self.active)
            .field("superuser", &self.superuser)
            .finish_non_exhaustive()
    }
}

impl AuthUser for DjangoUser {
    fn id(&self) -> &str {
        &self.id
    }
    fn is_active(&self) -> bool {
        self.active
    }
    fn is_superuser(&self) -> bool {
        self.superuser
    }
    fn session_auth_hash(&self) -> &str {
        &self.session_hash
    }

    /// Under `SECRET_KEY` or any of its fallbacks, as Django's `get_user`
    /// accepts it.
    fn session_hash_matches(&self, stored: &str) -> bool {
        use subtle::ConstantTimeEq;
        let mut matched = stored.as_bytes().ct_eq(self.session_hash.as_bytes());
        for hash in &self.fallback_hashes {
            matched |= stored.as_bytes().ct_eq(hash.as_bytes());
        }
        bool::from(matched)
    }
}

/// The tables of the user model: Django's defaults, or those of a custom
/// `AUTH_USER_MODEL` (`accounts.Account` has `accounts_account`,
/// `accounts_account_groups(account_id, ..)` and
/// `accounts_account_user_permissions(account_id, ..)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTables {
    /// The users (`auth_user`).
    pub users: String,
    /// Memberships (`auth_user_groups`).
    pub groups: String,
    /// Direct permissions (`auth_user_user_permissions`).
    pub permissions: String,
    /// The column that names the user in the two tables above (`user_id`).
    pub user_column: String,
}

impl Default for UserTables {
    fn default() -> Self {
        Self {
            users: "auth_user".to_owned(),
            groups: "auth_user_groups".to_owned(),
            permissions: "auth_user_user_permissions".to_owned(),
            user_column: "user_id".to_owned(),
        }
    }
}

/// How a [`DjangoBackend`] connects: the user model's tables, the exact
/// cache, the bounds on stored hashes.
#[derive(Debug, Clone)]
pub struct DjangoOptions {
    tables: UserTables,
    exact_cache: bool,
    cache_bytes: usize,
    sqlite_interval: Duration,
    limits: HashLimits,
}

impl Default for DjangoOptions {
    fn default() -> Self {
        Self {
            tables: UserTables::default(),
            exact_cache: true,
            cache_bytes: 64 << 20,
            sqlite_interval: Duration::from_millis(1),
            limits: HashLimits::default(),
        }
    }
}

impl DjangoOptions {
    /// The defaults: Django's tables, the exact cache on (when the
    /// triggers are installed), [`HashLimits::default`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The tables of a custom user model.
    pub fn tables(mut self, tables: UserTables) -> Self {
        self.tables = tables;
        self
    }

    /// Whether to keep users, permissions and sessions in memory, exact by
    /// the triggers ([`DjangoBackend::install_triggers`]); on by default.
    /// Without the triggers it stays off, and the backend says so when it
    /// connects.
    pub fn exact_cache(mut self, on: bool) -> Self {
        self.exact_cache = on;
        self
    }

    /// The most the exact cache keeps, in bytes (64 MiB by default).
    pub fn cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// On SQLite, how often at most the file is looked at for changes
    /// (1 ms by default; zero: before every lookup). A change Django
    /// commits holds here within this interval.
    pub fn sqlite_check_interval(mut self, interval: Duration) -> Self {
        self.sqlite_interval = interval;
        self
    }

    /// Bounds the work a stored hash may ask for.
    pub fn hash_limits(mut self, limits: HashLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// A table or column name, as written into the queries: letters, digits
/// and `_` only, so that a configured name cannot inject SQL.
fn identifier(name: &str) -> Result<&str, AdminError> {
    if !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Ok(name)
    } else {
        Err(AdminError::Database(BackendError::new(format!(
            "{name:?} is not a table or column name"
        ))))
    }
}

/// The queries, made once from the table names.
/// (Their table and column names passed `identifier`: `AssertSqlSafe`.)
struct Queries {
    user_by_id: Arc<str>,
    user_by_name: Arc<str>,
    permissions: Arc<str>,
    sources: Arc<str>,
    object_permissions: Arc<str>,
    objects_with: Arc<str>,
}

/// A Django site's users, groups and permissions, read from its database
/// (SQLite or PostgreSQL, as `SqlBackend`), with the same rules as every
/// backend here: inactive users hold nothing, an active superuser holds
/// everything, user ∪ groups, and an object grant (django-guardian's
/// tables, when present) or the model permission passes an object check.
///
/// Passwords are checked with Django's hashers, on the hashing threads and
/// with their parameters bounded ([`HashLimits`]); for an unknown username
/// the default hasher runs all the same, as Django does.
///
/// # The exact cache
/// With the triggers installed on the site's tables
/// ([`DjangoBackend::install_triggers`], or the script of
/// [`DjangoBackend::trigger_sql`] in a Django migration), users,
/// permission sets, object grants and sessions are kept in memory, and a
/// change made in Django (its admin, the ORM, a shell, a logout) empties
/// what it touches before the next request on PostgreSQL (`LISTEN`), and
/// within [`DjangoOptions::sqlite_check_interval`] on SQLite: a protected
/// request in steady state makes no query. Without them every request
/// queries (two to four queries), and [`DjangoBackend::connect`] logs a
/// warning saying so.
pub struct DjangoBackend {
    pool: AnyPool,
    keys: SecretKeys,
    limits: HashLimits,
    guardian: bool,
    sessions_table: bool,
    queries: Arc<Queries>,
    tables: UserTables,
    sqlite: bool,
    exact: Option<Arc<Exact>>,
}

impl std::fmt::Debug for DjangoBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DjangoBackend")
            .field("guardian", &self.guardian)
            .finish_non_exhaustive()
    }
}

/// Django's default hasher at Django 5.2's cost, for unknown usernames:
/// checking it takes as long as checking a real password.
const DUMMY: &str =
    "pbkdf2_sha256$1000000$dummysaltdummysalt00$0000000000000000000000000000000000000000000=";

fn database(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> AdminError {
    AdminError::Database(BackendError::new(err))
}

/// A flag: PostgreSQL's `boolean`, or SQLite's integer.
fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    row.try_get::<bool, _>(column)
        .or_else(|_| int(row, column).map(|n| n != 0))
}

/// An integer id column, whatever its width.
fn int(row: &AnyRow, column: &str) -> Result<i64, sqlx::Error> {
    row.try_get::<i64, _>(column)
        .or_else(|_| row.try_get::<i32, _>(column).map(i64::from))
}

impl DjangoBackend {
    /// Connects to the Django site's database (`sqlite://...` or
    /// `postgres://...`, as its `DATABASES` names it), with its
    /// `SECRET_KEY` and fallbacks, the default user model and Django's
    /// default tables.
    pub async fn connect(url: &str, keys: SecretKeys) -> Result<Self, AdminError> {
        Self::connect_with(url, keys, DjangoOptions::default()).await
    }

    /// [`DjangoBackend::connect`] with options (a custom user model's
    /// tables, the cache, the hash limits).
    pub async fn connect_with(
        url: &str,
        keys: SecretKeys,
        options: DjangoOptions,
    ) -> Result<Self, AdminError> {
        let tables = &options.tables;
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .connect(url)
            .await
            .map_err(database)?;
        let (users, groups, perms, column) = (
            identifier(&tables.users)?,
            identifier(&tables.groups)?,
            identifier(&tables.permissions)?,
            identifier(&tables.user_column)?,
        );
        // sqlx's `Any` reads no SQLite `bool` column: there, the flags
        // are read as the integers SQLite stores.
        let flags = if url.starts_with("sqlite:") {
            "is_active + 0 AS is_active, is_superuser + 0 AS is_superuser"
        } else {
            "is_active, is_superuser"
        };
        let select = format!("SELECT id, username, password, {flags} FROM {users}");
        let perm = "ct.app_label || '.' || p.codename";
        let queries = Queries {
            user_by_id: Arc::from(format!("{select} WHERE id = $1")),
            user_by_name: Arc::from(format!("{select} WHERE username = $1")),
            permissions: Arc::from(format!(
                "SELECT {perm} AS perm FROM auth_permission p \
                 JOIN django_content_type ct ON ct.id = p.content_type_id \
                 JOIN {perms} up ON up.permission_id = p.id WHERE up.{column} = $1 \
                 UNION ALL \
                 SELECT {perm} AS perm FROM auth_permission p \
                 JOIN django_content_type ct ON ct.id = p.content_type_id \
                 JOIN auth_group_permissions gp ON gp.permission_id = p.id \
                 JOIN {groups} ug ON ug.group_id = gp.group_id WHERE ug.{column} = $1"
            )),
            sources: Arc::from(format!(
                "SELECT {perm} AS perm, NULL AS grp FROM auth_permission p \
                 JOIN django_content_type ct ON ct.id = p.content_type_id \
                 JOIN {perms} up ON up.permission_id = p.id WHERE up.{column} = $1 \
                 UNION ALL \
                 SELECT {perm} AS perm, g.name AS grp FROM auth_permission p \
                 JOIN django_content_type ct ON ct.id = p.content_type_id \
                 JOIN auth_group_permissions gp ON gp.permission_id = p.id \
                 JOIN auth_group g ON g.id = gp.group_id \
                 JOIN {groups} ug ON ug.group_id = g.id WHERE ug.{column} = $1"
            )),
            object_permissions: Arc::from(format!(
                "SELECT {perm} AS v FROM guardian_userobjectpermission o \
                 JOIN auth_permission p ON p.id = o.permission_id \
                 JOIN django_content_type ct ON ct.id = p.content_type_id \
                 WHERE o.user_id = $1 AND o.object_pk = $2 \
                 UNION ALL \
                 SELECT {perm} AS v FROM guardian_groupobjectpermission o \
                 JOIN auth_permission p ON p.id = o.permission_id \
                 JOIN django_content_type ct ON ct.id = p.content_type_id \
                 JOIN {groups} ug ON ug.group_id = o.group_id \
                 WHERE ug.{column} = $1 AND o.object_pk = $2"
            )),
            objects_with: Arc::from(format!(
                "SELECT o.object_pk AS v FROM guardian_userobjectpermission o \
                 JOIN auth_permission p ON p.id = o.permission_id \
                 JOIN django_content_type ct ON ct.id = p.content_type_id \
                 WHERE o.user_id = $1 AND {perm} = $2 \
                 UNION ALL \
                 SELECT o.object_pk AS v FROM guardian_groupobjectpermission o \
                 JOIN auth_permission p ON p.id = o.permission_id \
                 JOIN django_content_type ct ON ct.id = p.content_type_id \
                 JOIN {groups} ug ON ug.group_id = o.group_id \
                 WHERE ug.{column} = $1 AND {perm} = $2"
            )),
        };
        sqlx::query(AssertSqlSafe(format!("SELECT id FROM {users} WHERE 1 = 0")))
            .fetch_optional(&pool)
            .await
            .map_err(database)?;
        let guardian = sqlx::query(
            "SELECT 1 FROM guardian_userobjectpermission, guardian_groupobjectpermission WHERE 1 = 0",
        )
        .fetch_optional(&pool)
        .await
        .is_ok();
        let sessions_table = sqlx::query("SELECT 1 FROM django_session WHERE 1 = 0")
            .fetch_optional(&pool)
            .await
            .is_ok();
        let mut backend = Self {
            pool,
            keys,
            limits: options.limits,
            guardian,
            sessions_table,
            queries: Arc::new(queries),
            tables: options.tables.clone(),
            sqlite: url.starts_with("sqlite:"),
            exact: None,
        };
        if options.exact_cache {
            backend.exact = backend.watch(url, &options).await;
        }
        Ok(backend)
    }

    /// The cache, when the triggers are all there and the database can be
    /// watched; otherwise none, and a warning that says why.
    async fn watch(&self, url: &str, options: &DjangoOptions) -> Option<Arc<Exact>> {
        let missing = match self.missing_triggers().await {
            Ok(missing) => missing,
            Err(err) => {
                tracing::warn!(target: "actix_permit", error = %err, "cannot list the Django tables' triggers: the exact cache is off, every request queries the database");
                return None;
            }
        };
        if !missing.is_empty() {
            tracing::warn!(
                target: "actix_permit",
                missing = missing.join(", "),
                "the Django tables lack actix-permit's change triggers: the exact cache is off, every request queries the database (install them with DjangoBackend::install_triggers or the script of DjangoBackend::trigger_sql, then restart)"
            );
            return None;
        }
        match Exact::open(
            &self.pool,
            url,
            options.cache_bytes,
            options.sqlite_interval,
        )
        .await
        {
            Ok(exact) => Some(Arc::new(exact)),
            Err(err) => {
                tracing::warn!(target: "actix_permit", error = %err, "cannot watch the Django database for changes: the exact cache is off");
                None
            }
        }
    }

    fn site(&self) -> triggers::Site<'_> {
        triggers::Site {
            users: &self.tables.users,
            groups: &self.tables.groups,
            permissions: &self.tables.permissions,
            user_column: &self.tables.user_column,
            guardian: self.guardian,
            sessions: self.sessions_table,
            postgres: !self.sqlite,
        }
    }

    /// The triggers the exact cache needs that the database lacks, as
    /// `table.trigger`.
    async fn missing_triggers(&self) -> Result<Vec<String>, BackendError> {
        let list = if self.sqlite {
            "SELECT tbl_name AS t, name AS n FROM sqlite_master              WHERE type = 'trigger' AND name LIKE 'permit_django_%'"
        } else {
            "SELECT c.relname::text AS t, g.tgname::text AS n FROM pg_trigger g              JOIN pg_class c ON c.oid = g.tgrelid              WHERE g.tgname IN ('permit_django_changed', 'permit_django_truncated')              AND pg_catalog.pg_table_is_visible(c.oid)"
        };
        let rows = sqlx::query(list)
            .fetch_all(&self.pool)
            .await
            .map_err(BackendError::new)?;
        let present = rows
            .iter()
            .map(|row| {
                Ok((
                    row.try_get::<String, _>("t")?,
                    row.try_get::<String, _>("n")?,
                ))
            })
            .collect::<Result<std::collections::HashSet<_>, sqlx::Error>>()
            .map_err(BackendError::new)?;
        Ok(self
            .site()
            .expected()
            .into_iter()
            .filter(|name| !present.contains(name))
            .map(|(table, name)| format!("{table}.{name}"))
            .collect())
    }

    /// The SQL that installs the exact cache's triggers on this database
    /// (its dialect, its tables, guardian's and the sessions' when they
    /// are there), for a Django migration (`migrations.RunSQL`) or a DBA.
    /// Run again, it replaces them.
    pub fn trigger_sql(&self) -> String {
        self.site().install()
    }

    /// The SQL that removes them.
    pub fn remove_trigger_sql(&self) -> String {
        self.site().remove()
    }

    /// Installs the triggers ([`DjangoBackend::trigger_sql`]) in one
    /// transaction. Instances connected before keep running uncached
    /// until they restart. On SQLite, a Django migration that rebuilds
    /// one of these tables drops its triggers: install them again after
    /// `migrate` (an instance that starts without them says so).
    pub async fn install_triggers(&self) -> Result<(), AdminError> {
        self.run_script(self.trigger_sql()).await
    }

    /// Removes the triggers.
    pub async fn remove_triggers(&self) -> Result<(), AdminError> {
        self.run_script(self.remove_trigger_sql()).await
    }

    async fn run_script(&self, sql: String) -> Result<(), AdminError> {
        let mut tx = self.pool.begin().await.map_err(database)?;
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .map_err(database)?;
        tx.commit().await.map_err(database)
    }

    /// What the exact cache is doing.
    pub fn cache_state(&self) -> CacheState {
        self.exact
            .as_ref()
            .map_or(CacheState::Off, |exact| exact.state())
    }

    /// How many lookups (users, permissions, sessions) the exact cache
    /// answered and how many queried, since the backend was connected
    /// (`None` with the cache off).
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.exact.as_ref().map(|exact| exact.cache.stats())
    }

    /// The identity source that reads this site's `db` (or `cached_db`)
    /// sessions, on the same database, keys and exact cache.
    pub fn sessions(&self) -> DjangoSessions {
        DjangoSessions::new(
            self.pool.clone(),
            self.keys.clone(),
            &self.tables.users,
            self.sqlite,
            self.exact.clone(),
        )
    }

    /// Whether django-guardian's tables are there (object grants are read
    /// from them; without them nobody holds an object permission).
    pub fn has_guardian(&self) -> bool {
        self.guardian
    }

    fn user_from(&self, row: &AnyRow) -> Result<DjangoUser, sqlx::Error> {
        let password: String = row.try_get("password")?;
        Ok(DjangoUser {
            id: int(row, "id")?.to_string(),
            username: row.try_get("username")?,
            session_hash: session_auth_hash(&password, self.keys.current()),
            fallback_hashes: self
                .keys
                .all()
                .skip(1)
                .map(|key| session_auth_hash(&password, key))
                .collect(),
            password,
            active: flag(row, "is_active")?,
            superuser: flag(row, "is_superuser")?,
        })
    }

    /// The user with this username, active or not.
    pub async fn user(&self, username: &str) -> Result<Option<DjangoUser>, BackendError> {
        let row = sqlx::query(AssertSqlSafe(Arc::clone(&self.queries.user_by_name)))
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(BackendError::new)?;
        row.map(|row| self.user_from(&row))
            .transpose()
            .map_err(BackendError::new)
    }

    async fn check(&self, password: &str, encoded: String) -> Result<bool, HashError> {
        let (password, limits) = (password.to_owned(), self.limits);
        crate::password::on_hashing_thread(move || check_password(&password, &encoded, &limits))
            .await
            .unwrap_or(Ok(false))
    }

    async fn object_rows(
        &self,
        query: &Arc<str>,
        user: &dyn AuthUser,
        arg: &str,
    ) -> Result<Vec<String>, BackendError> {
        if !self.guardian {
            return Ok(Vec::new());
        }
        let Ok(id) = user.id().parse::<i64>() else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(AssertSqlSafe(Arc::clone(query)))
            .bind(id)
            .bind(arg)
            .fetch_all(&self.pool)
            .await
            .map_err(BackendError::new)?;
        rows.iter()
            .map(|row| row.try_get::<String, _>("v"))
            .collect::<Result<_, _>>()
            .map_err(BackendError::new)
    }
}

impl Authentication for DjangoBackend {
    async fn get_user(&self, id: &str) -> UserResult {
        let Ok(number) = id.parse::<i64>() else {
            return Ok(None);
        };
        let query = async {
            let row = sqlx::query(AssertSqlSafe(Arc::clone(&self.queries.user_by_id)))
                .bind(number)
                .fetch_optional(&self.pool)
                .await
                .map_err(BackendError::new)?;
            let user = row.map(|row| self.user_from(&row)).transpose();
            Ok(user
                .map_err(BackendError::new)?
                .map(|u| Arc::new(u) as Arc<dyn AuthUser>))
        };
        Exact::through(
            self.exact.as_deref(),
            |cache| cache.user(id).map(Some),
            query,
            |cache, stamp, user| {
                if let Some(user) = user {
                    cache.put_user(stamp, id, user);
                }
            },
        )
        .await
    }

    /// Django's `ModelBackend.authenticate`: the username as stored (exact
    /// match), the password by Django's hashers, inactive users refused.
    async fn authenticate(&self, username: &str, password: &str) -> UserResult {
        let Some(user) = self.user(username).await? else {
            let _ = self.check(password, DUMMY.to_owned()).await;
            return Ok(None);
        };
        match self.check(password, user.password.clone()).await {
            Ok(true) if user.active => Ok(Some(Arc::new(user) as Arc<dyn AuthUser>)),
            Ok(_) => Ok(None),
            Err(err) => {
                tracing::warn!(target: "actix_permit", user = user.id.as_str(), error = %err, "the stored password could not be checked; refusing the login");
                Ok(None)
            }
        }
    }
}

impl Authorization for DjangoBackend {
    async fn user_permissions(&self, user: &dyn AuthUser) -> PermsResult {
        let Ok(id) = user.id().parse::<i64>() else {
            return Ok(Arc::default());
        };
        let query = async {
            let rows = sqlx::query(AssertSqlSafe(Arc::clone(&self.queries.permissions)))
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .map_err(BackendError::new)?;
            let set = rows
                .iter()
                .map(|row| row.try_get::<String, _>("perm"))
                .collect::<Result<PermissionSet, _>>()
                .map_err(BackendError::new)?;
            Ok(Arc::new(set))
        };
        Exact::through(
            self.exact.as_deref(),
            |cache| cache.perms(user.id()),
            query,
            |cache, stamp, set| cache.put_perms(stamp, user.id(), set),
        )
        .await
    }

    /// django-guardian's grants on the object whose `object_pk` is
    /// `object`, to the user and to their groups.
    async fn object_permissions(&self, user: &dyn AuthUser, object: &str) -> PermsResult {
        if !self.guardian {
            return Ok(Arc::default());
        }
        let query = async {
            let held = self
                .object_rows(&self.queries.object_permissions, user, object)
                .await?;
            Ok(Arc::new(held.iter().map(String::as_str).collect()))
        };
        Exact::through(
            self.exact.as_deref(),
            |cache| cache.object_perms(user.id(), object),
            query,
            |cache, stamp, set| cache.put_object_perms(stamp, user.id(), object, set),
        )
        .await
    }

    /// The `object_pk`s on which guardian grants `perm` to the user or to
    /// one of their groups.
    async fn objects_with_permission(
        &self,
        user: &dyn AuthUser,
        perm: &str,
    ) -> Result<Vec<String>, BackendError> {
        let mut ids = self
            .object_rows(&self.queries.objects_with, user, perm)
            .await?;
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }
}

impl Introspection for DjangoBackend {
    async fn permission_sources(
        &self,
        user: &dyn AuthUser,
    ) -> Result<Option<Vec<PermissionSource>>, BackendError> {
        let Ok(id) = user.id().parse::<i64>() else {
            return Ok(Some(Vec::new()));
        };
        let rows = sqlx::query(AssertSqlSafe(Arc::clone(&self.queries.sources)))
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(BackendError::new)?;
        let mut sources = rows
            .iter()
            .map(|row| {
                Ok(PermissionSource {
                    permission: row.try_get("perm")?,
                    group: row.try_get("grp")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(BackendError::new)?;
        sources.sort();
        sources.dedup();
        Ok(Some(sources))
    }

    async fn defined_permissions(&self) -> Result<Option<Vec<String>>, BackendError> {
        let rows = sqlx::query(
            "SELECT ct.app_label || '.' || p.codename AS perm FROM auth_permission p \
             JOIN django_content_type ct ON ct.id = p.content_type_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(BackendError::new)?;
        let mut perms = rows
            .iter()
            .map(|row| row.try_get::<String, _>("perm"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(BackendError::new)?;
        perms.sort_unstable();
        perms.dedup();
        Ok(Some(perms))
    }
}
