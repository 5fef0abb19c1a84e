//! The actix-permit example: an inventory whose items users may view, add,
//! change and delete according to their Django-style permissions.
//!
//! `inventory` (or `inventory serve`) runs the site; the other subcommands
//! manage users and groups, like Django's `manage.py`. See the README.

mod csrf;
mod routes;
mod sessions;
mod store;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use actix_permit::audit::{self, CheckError, OnMissing};
use actix_permit::{AdminError, SqlBackend};
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
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web site (the default).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "PERMIT_BIND", default_value = "127.0.0.1:8080")]
        bind: String,
    },
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
    /// Grant a permission (app_label.codename) to a user.
    Grant { name: String, perm: String },
    /// Revoke a directly granted permission.
    Revoke { name: String, perm: String },
    /// Deactivate a user: their sessions end on their next request.
    Deactivate { name: String },
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Create a group with permissions (or add permissions to it).
    Add { name: String, perms: Vec<String> },
    /// Put a user into a group.
    Join { user: String, group: String },
}

#[actix_web::main]
async fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        None => serve(&cli.database_url, &bind_default()).await,
        Some(Command::Serve { bind }) => serve(&cli.database_url, &bind).await,
        Some(Command::User(command)) => manage_user(&cli.database_url, command).await,
        Some(Command::Group(command)) => manage_group(&cli.database_url, command).await,
        Some(Command::Routes { json }) => {
            print!("{}", routes::render(json, &routes::reachable().await));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("inventory: {err}");
            ExitCode::FAILURE
        }
    }
}

fn bind_default() -> String {
    std::env::var("PERMIT_BIND").unwrap_or_else(|_| "127.0.0.1:8080".to_owned())
}

fn init_logging() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|level| level.parse().ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
}

type AppResult = Result<(), Box<dyn std::error::Error>>;

async fn open(
    database_url: &str,
) -> Result<(SqlBackend, store::Items), Box<dyn std::error::Error>> {
    let backend = SqlBackend::connect(database_url).await?;
    let items = store::Items::open(&backend).await?;
    if store::seed_demo(&backend, &items).await? {
        tracing::info!(
            "created the demo users alice, bob, carol, dave and erin (password {})",
            store::DEMO_PASSWORD
        );
    }
    Ok((backend, items))
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

async fn serve(database_url: &str, bind: &str) -> AppResult {
    let check = check_mode()?;
    let (backend, items) = open(database_url).await?;
    if let Some(on_missing) = check {
        check_permissions(&backend, on_missing).await?;
    }
    let key = session_key(database_url)?;
    let secure = std::env::var("PERMIT_COOKIE_SECURE").is_ok_and(|v| v == "1" || v == "true");
    let allowed_hosts: Vec<String> = std::env::var("PERMIT_ALLOWED_HOSTS")
        .map(|hosts| {
            hosts
                .split(',')
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let backend = Arc::new(backend);
    // An opt-in cache of permission sets: changes may go unnoticed for its TTL.
    let checks: Arc<dyn actix_permit::Backend> = match cache_ttl()? {
        Some(ttl) => {
            tracing::info!("permission sets are cached for {ttl:?}");
            Arc::new(actix_permit::CachedBackend::new(Arc::clone(&backend), ttl))
        }
        None => Arc::clone(&backend) as Arc<dyn actix_permit::Backend>,
    };
    let site = web::Site::new(backend, checks, items, allowed_hosts)?;
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => {
            // A pool: a connection broken by a Redis restart is replaced by a
            // new one, and every wait is bounded.
            let limit = session_store_timeout()?;
            let pool = deadpool_redis::Config::from_url(url.as_str())
                .builder()
                .map_err(|e| format!("bad REDIS_URL {url}: {e}"))?
                .max_size(32)
                .wait_timeout(Some(limit))
                .create_timeout(Some(limit))
                .recycle_timeout(Some(limit))
                .runtime(deadpool_redis::Runtime::Tokio1)
                .build()
                .map_err(|e| format!("bad REDIS_URL {url}: {e}"))?;
            let store = actix_session::storage::RedisSessionStore::new_pooled(pool)
                .await
                .map_err(|e| format!("cannot reach Redis at {url}: {e}"))?;
            let store = sessions::Deadline::new(store, limit);
            tracing::info!("sessions are kept in Redis");
            run!(bind, move || web::app(
                site.clone(),
                store.clone(),
                key.clone(),
                secure
            ))
        }
        _ => run!(bind, move || {
            let store = actix_session::storage::CookieSessionStore::default();
            web::app(site.clone(), store, key.clone(), secure)
        }),
    }
}

/// `PERMIT_CHECK_PERMISSIONS`: what to do at start when a handler names a
/// permission the database does not define: `refuse` (the default) to
/// start, `warn` and start, or `off`.
fn check_mode() -> Result<Option<OnMissing>, Box<dyn std::error::Error>> {
    let value = std::env::var("PERMIT_CHECK_PERMISSIONS").unwrap_or_default();
    match value.trim() {
        "" | "refuse" => Ok(Some(OnMissing::Refuse)),
        "warn" => Ok(Some(OnMissing::Warn)),
        "off" => Ok(None),
        other => Err(format!(
            "PERMIT_CHECK_PERMISSIONS must be refuse, warn or off, found {other:?}"
        )
        .into()),
    }
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

/// `PERMIT_SESSION_STORE_TIMEOUT` in seconds (default 5): how long a request
/// waits for Redis before it fails closed with 500.
fn session_store_timeout() -> Result<std::time::Duration, Box<dyn std::error::Error>> {
    let value = std::env::var("PERMIT_SESSION_STORE_TIMEOUT").unwrap_or_else(|_| "5".to_owned());
    match value.trim().parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 3600.0 => {
            Ok(std::time::Duration::from_secs_f64(seconds))
        }
        _ => Err(format!(
            "PERMIT_SESSION_STORE_TIMEOUT must be a number of seconds in (0, 3600], found {value:?}"
        )
        .into()),
    }
}

/// `PERMIT_PERMISSION_CACHE_TTL` in seconds (fractions allowed); unset or 0: no cache.
fn cache_ttl() -> Result<Option<std::time::Duration>, Box<dyn std::error::Error>> {
    match std::env::var("PERMIT_PERMISSION_CACHE_TTL") {
        Ok(value) if !value.trim().is_empty() => {
            let seconds: f64 = value.trim().parse().map_err(|_| {
                format!("PERMIT_PERMISSION_CACHE_TTL must be a number of seconds, found {value:?}")
            })?;
            if !(0.0..=86_400.0).contains(&seconds) {
                return Err(
                    "PERMIT_PERMISSION_CACHE_TTL must be between 0 and 86400 seconds".into(),
                );
            }
            Ok((seconds > 0.0).then(|| std::time::Duration::from_secs_f64(seconds)))
        }
        _ => Ok(None),
    }
}

/// `PERMIT_SECRET_KEY` (at least 32 bytes, shared by every instance), or a
/// key generated on first start and kept in a file beside the database.
fn session_key(database_url: &str) -> Result<Key, Box<dyn std::error::Error>> {
    if let Ok(secret) = std::env::var("PERMIT_SECRET_KEY") {
        if secret.len() < 32 {
            return Err("PERMIT_SECRET_KEY must be at least 32 bytes long".into());
        }
        return Ok(Key::derive_from(secret.as_bytes()));
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

async fn manage_user(database_url: &str, command: UserCommand) -> AppResult {
    let (backend, _) = open(database_url).await?;
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
        UserCommand::Grant { name, perm } => {
            if let Err(err) = backend.grant(&name, &perm).await {
                return Err(explain(&backend, err).await);
            }
            println!("granted {perm} to {name}");
        }
        UserCommand::Revoke { name, perm } => {
            if let Err(err) = backend.revoke(&name, &perm).await {
                return Err(explain(&backend, err).await);
            }
            println!("revoked {perm} from {name}");
        }
        UserCommand::Deactivate { name } => {
            backend.set_active(&name, false).await?;
            println!("deactivated {name}");
        }
    }
    Ok(())
}

async fn manage_group(database_url: &str, command: GroupCommand) -> AppResult {
    let (backend, _) = open(database_url).await?;
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
    }
    Ok(())
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
