//! The server's settings, listed once: each is a flag and an environment
//! variable (the flag wins), and `inventory --help` shows them all. A value
//! that does not parse stops the program with a message naming the setting
//! and what it takes; an empty variable means the default, as if unset.

use std::time::Duration;

use actix_permit::audit::OnMissing;
use actix_web::cookie::Key;
use actix_web::http::header::HeaderName;

/// How the site runs.
#[derive(clap::Args, Clone)]
pub struct Settings {
    /// Address to listen on (`serve`, the default command).
    #[arg(
        long,
        env = "PERMIT_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: String,
    /// The key that signs session cookies, at least 32 bytes, the same on
    /// every instance (give it as the variable: a flag shows in the process
    /// list); unset: a key generated on first start and kept in a file
    /// beside the SQLite database.
    #[arg(
        long,
        env = "PERMIT_SECRET_KEY",
        hide_env_values = true,
        value_parser = secret_key,
        global = true
    )]
    pub secret_key: Option<Secret>,
    /// Whether the session cookie is `Secure`: 1, true, 0 or false; unset:
    /// secure unless the server listens on loopback only.
    #[arg(long, env = "PERMIT_COOKIE_SECURE", value_parser = cookie_secure, global = true)]
    pub cookie_secure: Option<Maybe<bool>>,
    /// The login throttle: PER_USER,PER_CLIENT,WINDOW_SECONDS failed logins
    /// (5,20,900 by default), or off.
    #[arg(long, env = "PERMIT_LOGIN_THROTTLE", value_parser = login_throttle, global = true)]
    pub login_throttle: Option<Maybe<Option<Limits>>>,
    /// The header a trusted proxy puts the client's address in
    /// (X-Forwarded-For: the last entry of its last line), for the login
    /// throttle; unset: the peer address. Behind a proxy without it, every
    /// client shares the proxy's address.
    #[arg(long, env = "PERMIT_CLIENT_HEADER", value_parser = client_header, global = true)]
    pub client_header: Option<Maybe<HeaderName>>,
    /// Hosts a `next` after login may lead to besides this site, comma
    /// separated.
    #[arg(long, env = "PERMIT_ALLOWED_HOSTS", value_parser = allowed_hosts, global = true)]
    pub allowed_hosts: Option<Vec<String>>,
    /// What to do at start when a handler names a permission the database
    /// does not define: refuse (the default) to start, warn and start, or
    /// off.
    #[arg(long, env = "PERMIT_CHECK_PERMISSIONS", value_parser = check_permissions, global = true)]
    pub check_permissions: Option<Maybe<Option<OnMissing>>>,
    /// How long a request waits for Redis before it fails closed with 500,
    /// in seconds (5 by default).
    #[arg(long, env = "PERMIT_SESSION_STORE_TIMEOUT", value_parser = session_store_timeout, global = true)]
    pub session_store_timeout: Option<Maybe<Duration>>,
    /// 1: serve the item listing without a check at /load/items, for
    /// runtime/benches/load.sh (loopback only: it publishes every item).
    #[arg(long, env = "PERMIT_LOAD_BASELINE", value_parser = load_baseline, global = true)]
    pub load_baseline: Option<Maybe<bool>>,
    /// SQLite: how long a look for other processes' changes stays good, in
    /// milliseconds, 0 to 1000 (1 by default; 0: before every lookup).
    #[arg(long, env = "PERMIT_SQLITE_CHECK_INTERVAL_MS", value_parser = sqlite_check_interval, global = true)]
    pub sqlite_check_interval_ms: Option<Maybe<Duration>>,
    /// The exact cache of users and permission sets: on (the default) or
    /// off.
    #[arg(long, env = "PERMIT_EXACT_CACHE", value_parser = exact_cache, global = true)]
    pub exact_cache: Option<Maybe<bool>>,
    /// Also keep permission sets for this many seconds (fractions allowed;
    /// a change may go unnoticed that long); unset or 0: no such cache.
    #[arg(long, env = "PERMIT_PERMISSION_CACHE_TTL", value_parser = permission_cache_ttl, global = true)]
    pub permission_cache_ttl: Option<Maybe<Option<Duration>>>,
    /// Keep sessions and the login throttle's counts in this Redis
    /// (redis://...); unset: cookie sessions, counts in the database.
    #[arg(long, env = "REDIS_URL", hide_env_values = true, global = true)]
    pub redis_url: Option<String>,
}

/// A setting as given: a value, or empty (the default).
#[derive(Clone)]
pub enum Maybe<T> {
    Given(T),
    Empty,
}

impl<T> Maybe<T> {
    fn or(setting: Option<Self>, default: T) -> T {
        match setting {
            Some(Maybe::Given(value)) => value,
            Some(Maybe::Empty) | None => default,
        }
    }
}

/// The session key, kept out of `Debug` and `--help`.
#[derive(Clone)]
pub struct Secret(pub Key);

/// The login throttle's limits: failures per username and per client
/// within the window.
#[derive(Clone, Copy)]
pub struct Limits(pub u64, pub u64, pub Duration);

impl Settings {
    pub fn cookie_secure(&self) -> Option<bool> {
        match self.cookie_secure {
            Some(Maybe::Given(secure)) => Some(secure),
            _ => None,
        }
    }

    pub fn login_throttle(&self) -> Option<Limits> {
        Maybe::or(
            self.login_throttle.clone(),
            Some(Limits(5, 20, Duration::from_secs(900))),
        )
    }

    pub fn client_header(&self) -> Option<HeaderName> {
        match &self.client_header {
            Some(Maybe::Given(name)) => Some(name.clone()),
            _ => None,
        }
    }

    pub fn allowed_hosts(&self) -> Vec<String> {
        self.allowed_hosts.clone().unwrap_or_default()
    }

    pub fn check_permissions(&self) -> Option<OnMissing> {
        Maybe::or(self.check_permissions.clone(), Some(OnMissing::Refuse))
    }

    pub fn session_store_timeout(&self) -> Duration {
        Maybe::or(self.session_store_timeout.clone(), Duration::from_secs(5))
    }

    pub fn load_baseline(&self) -> bool {
        Maybe::or(self.load_baseline.clone(), false)
    }

    pub fn sqlite_check_interval(&self) -> Duration {
        Maybe::or(
            self.sqlite_check_interval_ms.clone(),
            Duration::from_millis(1),
        )
    }

    pub fn exact_cache(&self) -> bool {
        Maybe::or(self.exact_cache.clone(), true)
    }

    pub fn permission_cache_ttl(&self) -> Option<Duration> {
        Maybe::or(self.permission_cache_ttl.clone(), None)
    }

    pub fn redis_url(&self) -> Option<&str> {
        self.redis_url.as_deref().filter(|url| !url.is_empty())
    }
}

/// Parses a setting whose empty value means the default.
fn given<T>(
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Maybe<T>, String> {
    match value.trim() {
        "" => Ok(Maybe::Empty),
        value => parse(value).map(Maybe::Given),
    }
}

fn secret_key(value: &str) -> Result<Secret, String> {
    if value.len() < 32 {
        return Err("must be at least 32 bytes long".to_owned());
    }
    Ok(Secret(Key::derive_from(value.as_bytes())))
}

fn cookie_secure(value: &str) -> Result<Maybe<bool>, String> {
    given(value, |value| match value {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        other => Err(format!("must be 1, true, 0 or false, found {other:?}")),
    })
}

fn login_throttle(value: &str) -> Result<Maybe<Option<Limits>>, String> {
    given(value, |value| {
        if value == "off" {
            return Ok(None);
        }
        let parts: Vec<&str> = value.split(',').map(str::trim).collect();
        let parsed = match parts.as_slice() {
            [user, client, window] => user
                .parse::<u64>()
                .ok()
                .zip(client.parse::<u64>().ok())
                .zip(
                    window
                        .parse::<f64>()
                        .ok()
                        .filter(|w| *w > 0.0 && *w <= 86_400.0),
                ),
            _ => None,
        };
        match parsed {
            Some(((user, client), window)) if user > 0 && client > 0 => {
                Ok(Some(Limits(user, client, Duration::from_secs_f64(window))))
            }
            _ => Err(format!(
                "must be PER_USER,PER_CLIENT,WINDOW_SECONDS or off, found {value:?}"
            )),
        }
    })
}

fn client_header(value: &str) -> Result<Maybe<HeaderName>, String> {
    given(value, |value| {
        HeaderName::try_from(value).map_err(|_| format!("is not a header name: {value:?}"))
    })
}

fn allowed_hosts(value: &str) -> Result<Vec<String>, String> {
    Ok(value
        .split(',')
        .map(|host| host.trim().to_owned())
        .filter(|host| !host.is_empty())
        .collect())
}

fn check_permissions(value: &str) -> Result<Maybe<Option<OnMissing>>, String> {
    given(value, |value| match value {
        "refuse" => Ok(Some(OnMissing::Refuse)),
        "warn" => Ok(Some(OnMissing::Warn)),
        "off" => Ok(None),
        other => Err(format!("must be refuse, warn or off, found {other:?}")),
    })
}

fn session_store_timeout(value: &str) -> Result<Maybe<Duration>, String> {
    given(value, |value| match value.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 3600.0 => Ok(Duration::from_secs_f64(seconds)),
        _ => Err(format!(
            "must be a number of seconds in (0, 3600], found {value:?}"
        )),
    })
}

fn load_baseline(value: &str) -> Result<Maybe<bool>, String> {
    given(value, |value| match value {
        "0" => Ok(false),
        "1" => Ok(true),
        other => Err(format!("must be 0 or 1, found {other:?}")),
    })
}

fn sqlite_check_interval(value: &str) -> Result<Maybe<Duration>, String> {
    given(value, |value| match value.parse::<u64>() {
        Ok(ms) if ms <= 1000 => Ok(Duration::from_millis(ms)),
        _ => Err(format!("must be 0 to 1000 milliseconds, found {value:?}")),
    })
}

fn exact_cache(value: &str) -> Result<Maybe<bool>, String> {
    given(value, |value| match value {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("must be on or off, found {other:?}")),
    })
}

fn permission_cache_ttl(value: &str) -> Result<Maybe<Option<Duration>>, String> {
    given(value, |value| {
        let seconds: f64 = value
            .parse()
            .map_err(|_| format!("must be a number of seconds, found {value:?}"))?;
        if !(0.0..=86_400.0).contains(&seconds) {
            return Err("must be between 0 and 86400 seconds".to_owned());
        }
        Ok((seconds > 0.0).then(|| Duration::from_secs_f64(seconds)))
    })
}
