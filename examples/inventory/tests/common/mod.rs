//! Shared by the end-to-end suites: the real binary on a free port with a
//! fresh database, and an HTTP client that keeps the session cookie.

#![allow(dead_code)] // Each suite uses its own part.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const PASSWORD: &str = "permit-demo";
pub const SECRET: &str = "e2e-secret-e2e-secret-e2e-secret-e2e-secret";

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A database for one server: a SQLite file in a fresh folder, or a fresh
/// PostgreSQL database dropped at the end.
pub struct Database {
    pub url: String,
    pub dir: PathBuf,
    pub postgres: Option<(String, String)>,
}

impl Database {
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "inventory-e2e-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("inventory.db").display());
        Self {
            url,
            dir,
            postgres: None,
        }
    }

    pub fn postgres(server: &str) -> Self {
        let name = format!(
            "inventory_e2e_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        admin_sql(server, &format!("CREATE DATABASE {name}"));
        let base = server.rsplit_once('/').map_or(server, |(base, _)| base);
        let mut db = Self::sqlite();
        db.url = format!("{base}/{name}");
        db.postgres = Some((server.to_owned(), name));
        db
    }

    /// SQLite always; PostgreSQL too when `DATABASE_URL` names one.
    pub fn all() -> Vec<Self> {
        let mut all = vec![Self::sqlite()];
        if let Ok(url) = std::env::var("DATABASE_URL")
            && url.starts_with("postgres")
        {
            all.push(Self::postgres(&url));
        }
        all
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((server, name)) = &self.postgres {
            admin_sql(
                server,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
    }
}

pub fn admin_sql(server: &str, sql: &str) {
    let sql = sql.to_owned();
    let server = server.to_owned();
    actix_web::rt::System::new().block_on(async move {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&server)
            .await
            .expect("connect to DATABASE_URL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("admin SQL");
    });
}

/// The real binary, serving.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub db_url: String,
}

impl Server {
    pub fn start(db: &Database) -> Self {
        Self::start_with(db, &[])
    }

    /// Starts a server with the demo users and extra environment variables.
    pub fn start_with(db: &Database, env: &[(&str, &str)]) -> Self {
        Self::start_args(db, &["--demo", "serve", "--bind", "127.0.0.1:0"], env)
    }

    /// Starts a server with these arguments and extra environment variables.
    pub fn start_args(db: &Database, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_inventory"))
            .args(args)
            .env("DATABASE_URL", &db.url)
            .env("PERMIT_SECRET_KEY", SECRET)
            .env("RUST_LOG", "warn")
            .env_remove("REDIS_URL")
            .envs(env.iter().copied())
            .current_dir(&db.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start inventory");
        // The server prints the address it got: "inventory listening on http://ADDR/items/".
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let addr = line
            .trim()
            .strip_prefix("inventory listening on http://")
            .and_then(|rest| rest.strip_suffix("/items/"))
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self {
            child,
            base: format!("http://{addr}"),
            db_url: db.url.clone(),
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// Runs a management command against the same database.
    pub fn cli(&self, args: &[&str]) -> Output {
        let output = Command::new(env!("CARGO_BIN_EXE_inventory"))
            .args(args)
            .env("DATABASE_URL", &self.db_url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("run inventory");
        assert!(
            output.status.success(),
            "inventory {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the client saw.
#[derive(Debug)]
pub struct Seen {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookie: Vec<String>,
    pub body: String,
}

/// An HTTP client that keeps the session cookie, as a browser would.
pub struct Client {
    pub agent: ureq::Agent,
    pub base: String,
    pub cookie: Option<String>,
}

impl Client {
    pub fn new(base: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            .build()
            .into();
        Self {
            agent,
            base: base.to_owned(),
            cookie: None,
        }
    }

    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> Seen {
        let url = format!("{}{path}", self.base);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie.as_str());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let result = match body {
            Some((content_type, body)) => {
                let request = request
                    .header("content-type", content_type)
                    .body(body)
                    .unwrap();
                self.agent.run(request)
            }
            None => self.agent.run(request.body(()).unwrap()),
        };
        let mut response = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let set_cookie: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for cookie in &set_cookie {
            let pair = cookie.split(';').next().unwrap_or_default();
            match pair.split_once('=') {
                Some((_, "")) => self.cookie = None,
                Some(_) => self.cookie = Some(pair.to_owned()),
                None => {}
            }
        }
        let mut body = String::new();
        response
            .body_mut()
            .as_reader()
            .read_to_string(&mut body)
            .unwrap();
        Seen {
            status: response.status().as_u16(),
            location: response
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
            set_cookie,
            body,
        }
    }

    pub fn get(&mut self, path: &str) -> Seen {
        self.send("GET", path, &[], None)
    }

    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Seen {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(
            "POST",
            path,
            &[],
            Some(("application/x-www-form-urlencoded", body)),
        )
    }

    pub fn post_json(&mut self, path: &str, json: &str) -> Seen {
        self.send(
            "POST",
            path,
            &[],
            Some(("application/json", json.to_owned())),
        )
    }

    pub fn delete(&mut self, path: &str) -> Seen {
        self.send("DELETE", path, &[], None)
    }

    pub fn login(&mut self, user: &str, password: &str, next: &str) -> Seen {
        self.post_form(
            "/accounts/login/",
            &[("username", user), ("password", password), ("next", next)],
        )
    }
}

/// `text` as the login redirect writes its `next`: Django's form, every
/// byte but the unreserved ones and `/` escaped.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A client logged in as `user` ("anonymous": not logged in; "dave" is
/// inactive, so his login fails and he stays anonymous).
pub fn as_user(server: &Server, user: &str) -> Client {
    let mut client = server.client();
    if user != "anonymous" {
        let seen = client.login(user, PASSWORD, "");
        if user == "dave" {
            assert_eq!(seen.status, 200, "dave is inactive: {seen:?}");
            assert!(client.cookie.is_none());
        } else {
            assert_eq!(
                (seen.status, seen.location.as_deref()),
                (302, Some("/items/")),
                "{user}"
            );
        }
    }
    client
}

pub const USERS: [&str; 6] = ["anonymous", "alice", "bob", "carol", "dave", "erin"];

pub fn item_id(seen: &Seen) -> String {
    let json: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    json["id"].as_i64().unwrap().to_string()
}

/// Waits until `seen` holds, for at most two seconds. A change the CLI (another
/// process) commits reaches a PostgreSQL-backed server by `NOTIFY`, some
/// milliseconds after the commit (p99 8 ms in BENCHMARKS.md), and a SQLite
/// one at its next look (at most 1 ms later): the request right after the
/// CLI exits can still be early. Two seconds is far above either.
pub fn eventually(what: &str, mut seen: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while !seen() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not seen within 2 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The session cookie `pair` (`name=value`, the cookie session store's) as
/// it would be had its user last proved their password `ago` before now:
/// rewritten with the server's key, as the clock would have aged it.
pub fn aged_session(pair: &str, ago: std::time::Duration) -> String {
    use actix_web::cookie::{Cookie, CookieJar, Key};
    let key = Key::derive_from(SECRET.as_bytes());
    let cookie = Cookie::parse_encoded(pair.to_owned()).unwrap().into_owned();
    let name = cookie.name().to_owned();
    let mut jar = CookieJar::new();
    jar.add_original(cookie);
    let plain = jar
        .private(&key)
        .get(&name)
        .expect("a session cookie of this server");
    let mut state: std::collections::HashMap<String, String> =
        serde_json::from_str(plain.value()).unwrap();
    // The login's time (seconds, actix-identity's) and a re-authentication's
    // (milliseconds, actix-permit's), when there is one.
    let since = (std::time::SystemTime::now() - ago)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let login = state
        .get_mut("actix_identity.logged_in_at")
        .expect("a login records its time");
    *login = since.as_secs().to_string();
    if let Some(proof) = state.get_mut("actix_permit.proved_at") {
        *proof = since.as_millis().to_string();
    }
    jar.private_mut(&key).add(Cookie::new(
        name.clone(),
        serde_json::to_string(&state).unwrap(),
    ));
    jar.get(&name).unwrap().encoded().stripped().to_string()
}
