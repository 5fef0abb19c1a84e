//! `inventory serve`: the settings turned into the running site, and the
//! checks made before it listens.

use std::path::PathBuf;
use std::sync::Arc;

use actix_permit::Permit;
use actix_permit::audit::{self, CheckError, OnMissing};
use actix_permit::backend::{CachedBackend, SqlBackend, SqlOptions};
use actix_permit::identity::OneOf;
use actix_permit::records::RecordedSessions;
use actix_permit::throttle::{Throttle, ThrottleStore};
use actix_permit::token::BearerTokens;
use actix_web::cookie::Key;

use crate::{AppResult, Db, open_with, redact, sessions, settings, store, throttle, web};

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

pub(crate) async fn serve(db: &Db, settings: &settings::Settings) -> AppResult {
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
    let permit = match settings.permission_cache_ttl() {
        Some(ttl) => {
            tracing::info!("permission sets are cached for {ttl:?}");
            Permit::new(CachedBackend::new(Arc::clone(&backend), ttl))
        }
        None => Permit::new(Arc::clone(&backend)),
    };
    // The session cookie, or an API token (`Authorization: Bearer`); a
    // request with both is refused.
    // Each login is a record the user can see and end ("Your sessions").
    let mut sessions = RecordedSessions::new(Arc::clone(&backend));
    if let Some(header) = settings.client_header() {
        sessions = sessions.client_header(header);
    }
    let permit = permit.identity(OneOf::new(
        sessions,
        BearerTokens::new(Arc::clone(&backend)),
    ));
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
    let site = web::Site::new(backend, permit, items, settings.allowed_hosts(), db.demo)?
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_only_loopback() {
        assert!(is_loopback("127.0.0.1:8080"));
        assert!(is_loopback("[::1]:0"));
        assert!(!is_loopback("0.0.0.0:8080"));
        assert!(!is_loopback("not an address"));
    }
}
