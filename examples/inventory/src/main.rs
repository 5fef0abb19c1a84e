//! The actix-permit example: an inventory whose items users may view, add,
//! change and delete according to their Django-style permissions.
//!
//! `inventory` (or `inventory serve`) runs the site; the other subcommands
//! manage users and groups, like Django's `manage.py`. See the README.

mod csrf;
mod routes;
mod sessions;
mod settings;
mod store;
mod throttle;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use actix_permit::audit::{self, CheckError, OnMissing};
use actix_permit::{AdminError, SqlBackend, SqlOptions, Throttle, ThrottleStore};
use actix_web::cookie::Key;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "inventory", about = "The actix-permit example app")]
struct Cli {
    /// Database URL: sqlite://FILE or postgres://...
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://inventory.db",
        global = true
    )]
    database_url: String,
    /// Create the demo users (alice, bob, carol, dave, erin, gina; password
    /// `permit-demo`) and items in a database that has none, and show them
    /// on the login page. The server then refuses to listen on anything but
    /// loopback while a user keeps that password.
    #[arg(long, env = "PERMIT_DEMO", global = true)]
    demo: bool,
    #[command(flatten)]
    settings: settings::Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web site (the default).
    Serve,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// List every handler with its route and what it requires (no database
    /// needed).
    Routes {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Who may reach what: every user × every route, with why.
    Access {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// With each route's cell and why, one block per user.
        #[arg(long)]
        why: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user.
    Add {
        name: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        superuser: bool,
    },
    /// Grant a permission (app_label.codename) to a user: on every item, or
    /// with --object on that item only.
    Grant {
        name: String,
        perm: String,
        /// The id of the one item the permission is for.
        #[arg(long)]
        object: Option<String>,
    },
    /// Revoke a directly granted permission (with --object: on that item).
    Revoke {
        name: String,
        perm: String,
        /// The id of the item the permission was granted on.
        #[arg(long)]
        object: Option<String>,
    },
    /// Deactivate a user: their sessions end on their next request.
    Deactivate { name: String },
    /// Set a user's password: asked twice on a terminal, read from the
    /// first line of standard input otherwise. Their other sessions end.
    Password { name: String },
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Create a group with permissions (or add permissions to it).
    Add { name: String, perms: Vec<String> },
    /// Put a user into a group.
    Join { user: String, group: String },
    /// Take a user out of a group.
    Leave { user: String, group: String },
}

#[actix_web::main]
async fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let db = Db {
        url: cli.database_url,
        demo: cli.demo,
    };
    let result = match cli.command {
        None | Some(Command::Serve) => serve(&db, &cli.settings).await,
        Some(Command::User(command)) => manage_user(&db, command).await,
        Some(Command::Group(command)) => manage_group(&db, command).await,
        Some(Command::Routes { json }) => {
            print!("{}", routes::render(json, &routes::reachable().await));
            Ok(())
        }
        Some(Command::Access { json, why }) => access(&db, json, why).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("inventory: {}", redact(&err.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// Logs to standard error, filtered by `RUST_LOG` (`info`,
/// `actix_permit=debug,info`, ...); `info` when it is unset, and when it is
/// not a filter, with a line saying why.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Err(_) => EnvFilter::new("info"),
        Ok(spec) => EnvFilter::try_new(&spec).unwrap_or_else(|err| {
            eprintln!("inventory: RUST_LOG={spec:?} is not a log filter ({err}); logging at info");
            EnvFilter::new("info")
        }),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

type AppResult = Result<(), Box<dyn std::error::Error>>;

/// Where the data is, and whether to seed the demo.
struct Db {
    url: String,
    demo: bool,
}

/// Opens the database. Only the server keeps the user cache (a command
/// makes one change and exits).
async fn open(db: &Db) -> Result<(SqlBackend, store::Items), Box<dyn std::error::Error>> {
    open_with(db, SqlOptions::new().exact_cache(false)).await
}

async fn open_with(
    db: &Db,
    options: SqlOptions,
) -> Result<(SqlBackend, store::Items), Box<dyn std::error::Error>> {
    let backend = SqlBackend::connect_with(&db.url, options).await?;
    let items = store::Items::open(&backend).await?;
    store::seed_permissions(&backend).await?;
    if db.demo && store::seed_demo(&backend, &items).await? {
        tracing::info!(
            "created the demo users alice, bob, carol, dave, erin and gina (password {})",
            store::DEMO_PASSWORD
        );
    }
    Ok((backend, items))
}

/// `text` with the password of every `scheme://user:password@host` URL in
/// it replaced by `***`, for messages and logs.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '/')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..=colon]);
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Whether every address `bind` resolves to is a loopback address.
fn is_loopback(bind: &str) -> bool {
    use std::net::ToSocketAddrs;
    bind.to_socket_addrs()
        .map(|addrs| {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|addr| addr.ip().is_loopback())
        })
        .unwrap_or(false)
}

/// Refuses to serve beyond loopback while a user still has the published
/// demo password.
async fn refuse_demo_passwords(backend: &SqlBackend, bind: &str) -> AppResult {
    if is_loopback(bind) {
        return Ok(());
    }
    let users = store::users_with_demo_password(backend).await?;
    if users.is_empty() {
        return Ok(());
    }
    Err(format!(
        "refusing to listen on {bind}: {} still {} the published demo password; change it with `inventory user password NAME` (or listen on 127.0.0.1)",
        users.join(", "),
        if users.len() == 1 { "has" } else { "have" }
    )
    .into())
}

/// Serves the app built by `$factory` on `$bind` and prints where.
macro_rules! run {
    ($bind:expr, $factory:expr) => {{
        let server = actix_web::HttpServer::new($factory).bind($bind)?;
        for addr in server.addrs() {
            println!("inventory listening on http://{addr}/items/");
        }
        server.run().await?;
        Ok(())
    }};
}

async fn serve(db: &Db, settings: &settings::Settings) -> AppResult {
    let bind = settings.bind.as_str();
    let exact_cache = settings.exact_cache();
    let options = SqlOptions::new()
        .exact_cache(exact_cache)
        .sqlite_check_interval(settings.sqlite_check_interval());
    let (backend, items) = open_with(db, options).await?;
    if exact_cache {
        tracing::info!(
            "users and permission sets are cached, kept exact by the database's change notices"
        );
    }
    refuse_demo_passwords(&backend, bind).await?;
    if let Some(on_missing) = settings.check_permissions() {
        check_permissions(&backend, on_missing).await?;
    }
    let key = session_key(&db.url, settings.secret_key.as_ref())?;
    let secure = settings
        .cookie_secure()
        .unwrap_or_else(|| !is_loopback(bind));
    let backend = Arc::new(backend);
    // An opt-in cache of permission sets: changes may go unnoticed for its TTL.
    let checks: Arc<dyn actix_permit::Backend> = match settings.permission_cache_ttl() {
        Some(ttl) => {
            tracing::info!("permission sets are cached for {ttl:?}");
            Arc::new(actix_permit::CachedBackend::new(Arc::clone(&backend), ttl))
        }
        None => Arc::clone(&backend) as Arc<dyn actix_permit::Backend>,
    };
    // Sessions, and the login throttle's counts, in Redis when REDIS_URL is
    // set; otherwise cookie sessions and counts in the database.
    let redis = match settings.redis_url() {
        Some(url) => Some(redis_pool(url, settings.session_store_timeout())?),
        None => None,
    };
    let throttle =
        settings
            .login_throttle()
            .map(|settings::Limits(per_user, per_client, window)| {
                let store: Arc<dyn ThrottleStore> = match &redis {
                    Some((pool, _)) => Arc::new(throttle::RedisThrottle::new(pool.clone())),
                    None => Arc::clone(&backend) as Arc<dyn ThrottleStore>,
                };
                let throttle = Throttle::from_arc(store)
                    .per_user(per_user)
                    .per_client(per_client)
                    .window(window);
                match settings.client_header() {
                    Some(header) => throttle.client_header(header),
                    None => throttle,
                }
            });
    let baseline = settings.load_baseline();
    if baseline {
        if !is_loopback(bind) {
            return Err("PERMIT_LOAD_BASELINE=1 is for load runs on loopback only".into());
        }
        tracing::warn!("PERMIT_LOAD_BASELINE: /load/items lists every item to anyone");
    }
    let site = web::Site::new(backend, checks, items, settings.allowed_hosts(), db.demo)?
        .throttle(throttle)
        .load_baseline(baseline);
    match redis {
        Some((pool, limit)) => {
            let store = actix_session::storage::RedisSessionStore::new_pooled(pool)
                .await
                .map_err(|e| format!("cannot reach Redis: {e}"))?;
            let store = sessions::Deadline::new(store, limit);
            tracing::info!("sessions and login throttle counts are kept in Redis");
            run!(bind, move || web::app(
                site.clone(),
                store.clone(),
                key.clone(),
                secure
            ))
        }
        None => run!(bind, move || {
            let store = actix_session::storage::CookieSessionStore::default();
            web::app(site.clone(), store, key.clone(), secure)
        }),
    }
}

/// A pool of Redis connections: one broken by a Redis restart is replaced
/// by a new one, and every wait is bounded by `limit`
/// (`PERMIT_SESSION_STORE_TIMEOUT`).
fn redis_pool(
    url: &str,
    limit: std::time::Duration,
) -> Result<(deadpool_redis::Pool, std::time::Duration), Box<dyn std::error::Error>> {
    let pool = deadpool_redis::Config::from_url(url)
        .builder()
        .map_err(|e| format!("bad REDIS_URL {}: {e}", redact(url)))?
        .max_size(32)
        .wait_timeout(Some(limit))
        .create_timeout(Some(limit))
        .recycle_timeout(Some(limit))
        .runtime(deadpool_redis::Runtime::Tokio1)
        .build()
        .map_err(|e| format!("bad REDIS_URL {}: {e}", redact(url)))?;
    Ok((pool, limit))
}

/// Django's system check: a permission a handler names but the database
/// lacks would make its route answer 403 to everyone but superusers.
async fn check_permissions(backend: &SqlBackend, on_missing: OnMissing) -> AppResult {
    match audit::check_permissions(backend, on_missing).await {
        Ok(_) => Ok(()),
        Err(CheckError::Missing(missing)) => {
            let mut message = String::from(
                "refusing to start: handlers name permissions the database does not define:",
            );
            for each in &missing {
                let handlers: Vec<String> = each.handlers.iter().map(|h| h.path()).collect();
                message.push_str(&format!(
                    "\n  {} (named by {})",
                    each.permission,
                    handlers.join(", ")
                ));
            }
            message.push_str(
                "\ncreate them, fix the handlers, or start with PERMIT_CHECK_PERMISSIONS=warn",
            );
            Err(message.into())
        }
        Err(err) => Err(err.into()),
    }
}

/// The session key: `--secret-key` (`PERMIT_SECRET_KEY`), or a key
/// generated on first start and kept in a file beside the database.
fn session_key(
    database_url: &str,
    secret: Option<&settings::Secret>,
) -> Result<Key, Box<dyn std::error::Error>> {
    if let Some(secret) = secret {
        return Ok(secret.0.clone());
    }
    let path = key_file(database_url);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() >= 64 => Ok(Key::from(&bytes[..64])),
        Ok(_) => Err(format!(
            "{} is not a session key file (64 bytes); delete it to make a new one",
            path.display()
        )
        .into()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = Key::generate();
            write_private(&path, key.master())?;
            tracing::info!("generated a session key in {}", path.display());
            Ok(key)
        }
        Err(err) => Err(format!("cannot read {}: {err}", path.display()).into()),
    }
}

fn key_file(database_url: &str) -> PathBuf {
    let file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|file| !file.is_empty() && !file.contains(":memory:"));
    match file {
        Some(file) => PathBuf::from(format!("{file}.key")),
        None => PathBuf::from("inventory.key"),
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

async fn manage_user(db: &Db, command: UserCommand) -> AppResult {
    let (backend, _) = open(db).await?;
    match command {
        UserCommand::Add {
            name,
            password,
            superuser,
        } => {
            let id = backend.create_user(&name, &password).await?;
            if superuser {
                backend.set_superuser(&name, true).await?;
            }
            println!("created user {name} (id {id})");
        }
        UserCommand::Grant { name, perm, object } => {
            let done = match &object {
                Some(object) => backend.grant_object(&name, &perm, object).await,
                None => backend.grant(&name, &perm).await,
            };
            if let Err(err) = done {
                return Err(explain(&backend, err).await);
            }
            match object {
                Some(object) => println!("granted {perm} on item {object} to {name}"),
                None => println!("granted {perm} to {name}"),
            }
        }
        UserCommand::Revoke { name, perm, object } => {
            let done = match &object {
                Some(object) => backend.revoke_object(&name, &perm, object).await,
                None => backend.revoke(&name, &perm).await,
            };
            if let Err(err) = done {
                return Err(explain(&backend, err).await);
            }
            match object {
                Some(object) => println!("revoked {perm} on item {object} from {name}"),
                None => println!("revoked {perm} from {name}"),
            }
        }
        UserCommand::Deactivate { name } => {
            backend.set_active(&name, false).await?;
            println!("deactivated {name}");
        }
        UserCommand::Password { name } => {
            if backend.user(&name).await?.is_none() {
                return Err(AdminError::UnknownUser(name).into());
            }
            let password = read_new_password(&name)?;
            backend.set_password(&name, &password).await?;
            println!("changed the password of {name}");
        }
    }
    Ok(())
}

async fn access(db: &Db, json: bool, why: bool) -> AppResult {
    let (backend, _) = open(db).await?;
    let matrix = web::access_matrix(&backend).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&web::matrix_json(&matrix))?
        );
    } else if why {
        print!("{matrix:#}");
    } else {
        print!("{matrix}");
    }
    Ok(())
}

async fn manage_group(db: &Db, command: GroupCommand) -> AppResult {
    let (backend, _) = open(db).await?;
    match command {
        GroupCommand::Add { name, perms } => {
            let perms: Vec<&str> = perms.iter().map(String::as_str).collect();
            if let Err(err) = backend.create_group(&name, &perms).await {
                return Err(explain(&backend, err).await);
            }
            println!("group {name} holds {}", perms.join(", "));
        }
        GroupCommand::Join { user, group } => {
            backend.add_user_to_group(&user, &group).await?;
            println!("{user} joined {group}");
        }
        GroupCommand::Leave { user, group } => {
            backend.remove_user_from_group(&user, &group).await?;
            println!("{user} left {group}");
        }
    }
    Ok(())
}

/// A new password: asked twice without echo on a terminal, the first line
/// of standard input otherwise. At least 8 characters.
fn read_new_password(name: &str) -> Result<String, Box<dyn std::error::Error>> {
    use std::io::IsTerminal;
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("New password for {name}: "))?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            return Err("the two passwords differ; nothing changed".into());
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.chars().count() < 8 {
        return Err("the password must have at least 8 characters; nothing changed".into());
    }
    if password == store::DEMO_PASSWORD {
        return Err("that is the published demo password; nothing changed".into());
    }
    Ok(password)
}

/// Adds the defined permissions to an unknown-permission error.
async fn explain(backend: &SqlBackend, err: AdminError) -> Box<dyn std::error::Error> {
    match err {
        AdminError::UnknownPermission(perm) => {
            let defined = backend.permission_names().await.unwrap_or_default();
            format!(
                "no permission {perm:?} is defined; defined: {}",
                defined.join(", ")
            )
            .into()
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact("cannot reach postgres://app:hunter2@db.internal:5432/inv: refused"),
            "cannot reach postgres://app:***@db.internal:5432/inv: refused"
        );
        assert_eq!(
            redact("bad REDIS_URL redis://:s3cret@127.0.0.1:6379 and redis://127.0.0.1"),
            "bad REDIS_URL redis://:***@127.0.0.1:6379 and redis://127.0.0.1"
        );
        assert_eq!(redact("sqlite://inventory.db"), "sqlite://inventory.db");
        assert_eq!(redact("no url here"), "no url here");
    }

    #[test]
    fn loopback_is_only_loopback() {
        assert!(is_loopback("127.0.0.1:8080"));
        assert!(is_loopback("[::1]:0"));
        assert!(!is_loopback("0.0.0.0:8080"));
        assert!(!is_loopback("not an address"));
    }
}
