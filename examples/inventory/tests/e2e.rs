//! End to end: the real `inventory` binary on a free port with a fresh
//! database, driven over HTTP by a client that keeps the session cookie.
//!
//! Every test runs against SQLite; when `DATABASE_URL` names a PostgreSQL
//! server, every test runs against a fresh database there too.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const PASSWORD: &str = "permit-demo";
const SECRET: &str = "e2e-secret-e2e-secret-e2e-secret-e2e-secret";

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A database for one server: a SQLite file in a fresh folder, or a fresh
/// PostgreSQL database dropped at the end.
struct Database {
    url: String,
    dir: PathBuf,
    postgres: Option<(String, String)>,
}

impl Database {
    fn sqlite() -> Self {
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

    fn postgres(server: &str) -> Self {
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
    fn all() -> Vec<Self> {
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

fn admin_sql(server: &str, sql: &str) {
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
struct Server {
    child: Child,
    base: String,
    db_url: String,
}

impl Server {
    fn start(db: &Database) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_inventory"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", &db.url)
            .env("PERMIT_SECRET_KEY", SECRET)
            .env("RUST_LOG", "warn")
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

    fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// Runs a management command against the same database.
    fn cli(&self, args: &[&str]) -> Output {
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
struct Seen {
    status: u16,
    location: Option<String>,
    set_cookie: Vec<String>,
    body: String,
}

/// An HTTP client that keeps the session cookie, as a browser would.
struct Client {
    agent: ureq::Agent,
    base: String,
    cookie: Option<String>,
}

impl Client {
    fn new(base: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            agent,
            base: base.to_owned(),
            cookie: None,
        }
    }

    fn send(
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

    fn get(&mut self, path: &str) -> Seen {
        self.send("GET", path, &[], None)
    }

    fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Seen {
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

    fn post_json(&mut self, path: &str, json: &str) -> Seen {
        self.send(
            "POST",
            path,
            &[],
            Some(("application/json", json.to_owned())),
        )
    }

    fn delete(&mut self, path: &str) -> Seen {
        self.send("DELETE", path, &[], None)
    }

    fn login(&mut self, user: &str, password: &str, next: &str) -> Seen {
        self.post_form(
            "/accounts/login/",
            &[("username", user), ("password", password), ("next", next)],
        )
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A client logged in as `user` ("anonymous": not logged in; "dave" is
/// inactive, so his login fails and he stays anonymous).
fn as_user(server: &Server, user: &str) -> Client {
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

const USERS: [&str; 6] = ["anonymous", "alice", "bob", "carol", "dave", "erin"];

fn item_id(seen: &Seen) -> String {
    let json: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    json["id"].as_i64().unwrap().to_string()
}

#[test]
fn every_demo_user_on_every_route() {
    for db in Database::all() {
        let server = Server::start(&db);
        let mut admin = as_user(&server, "alice");
        // One row per route: the status for anonymous, alice, bob, carol, dave, erin.
        let login = |path: &str| format!("302 /accounts/login/?next={}", encode(path));
        let rows: Vec<(&str, &str, Vec<String>)> = vec![
            (
                "GET",
                "/items/",
                vec![
                    login("/items/"),
                    "200".into(),
                    "200".into(),
                    "200".into(),
                    login("/items/"),
                    "403".into(),
                ],
            ),
            (
                "GET",
                "/items/1/",
                vec![
                    login("/items/1/"),
                    "200".into(),
                    "200".into(),
                    "200".into(),
                    login("/items/1/"),
                    "403".into(),
                ],
            ),
            (
                "GET",
                "/items/999/",
                vec![
                    login("/items/999/"),
                    "404".into(),
                    "404".into(),
                    "404".into(),
                    login("/items/999/"),
                    "403".into(),
                ],
            ),
            (
                "GET",
                "/items/new/",
                vec![
                    login("/items/new/"),
                    "200".into(),
                    "403".into(),
                    "200".into(),
                    login("/items/new/"),
                    "403".into(),
                ],
            ),
            (
                "POST",
                "/items/",
                vec![
                    login("/items/"),
                    "303".into(),
                    "403".into(),
                    "303".into(),
                    login("/items/"),
                    "403".into(),
                ],
            ),
            (
                "GET",
                "/items/1/edit/",
                vec![
                    login("/items/1/edit/"),
                    "200".into(),
                    "403".into(),
                    "200".into(),
                    login("/items/1/edit/"),
                    "403".into(),
                ],
            ),
            (
                "POST",
                "/items/1/edit/",
                vec![
                    login("/items/1/edit/"),
                    "303 /items/1/".into(),
                    "403".into(),
                    "303 /items/1/".into(),
                    login("/items/1/edit/"),
                    "403".into(),
                ],
            ),
            (
                "POST",
                "/items/ID/delete/",
                vec![
                    login("/items/ID/delete/"),
                    "303 /items/".into(),
                    "403".into(),
                    "403".into(),
                    login("/items/ID/delete/"),
                    "403".into(),
                ],
            ),
            (
                "GET",
                "/accounts/password/",
                vec![
                    login("/accounts/password/"),
                    "200".into(),
                    "200".into(),
                    "200".into(),
                    login("/accounts/password/"),
                    "200".into(),
                ],
            ),
            (
                "GET",
                "/api/items",
                vec![
                    "403".into(),
                    "200".into(),
                    "200".into(),
                    "200".into(),
                    "403".into(),
                    "403".into(),
                ],
            ),
            (
                "POST",
                "/api/items",
                vec![
                    "403".into(),
                    "201".into(),
                    "403".into(),
                    "201".into(),
                    "403".into(),
                    "403".into(),
                ],
            ),
            (
                "DELETE",
                "/api/items/ID",
                vec![
                    "403".into(),
                    "204".into(),
                    "403".into(),
                    "403".into(),
                    "403".into(),
                    "403".into(),
                ],
            ),
        ];
        let mut clients: Vec<(&str, Client)> =
            USERS.iter().map(|u| (*u, as_user(&server, u))).collect();
        for (method, path, expected) in &rows {
            for ((user, client), expected) in clients.iter_mut().zip(expected) {
                // Deletions get an item of their own, made by alice.
                let fresh = admin.post_json("/api/items", r#"{"name": "victim", "quantity": 1}"#);
                let id = item_id(&fresh);
                let path = path.replace("ID", &id);
                let seen = match *method {
                    "GET" => client.get(&path),
                    "POST" if path.starts_with("/api/") => {
                        client.post_json(&path, r#"{"name": "api", "quantity": 2}"#)
                    }
                    "POST" => client.post_form(&path, &[("name", "form"), ("quantity", "3")]),
                    _ => client.delete(&path),
                };
                let got = match (&seen.location, expected.contains(' ')) {
                    (Some(location), true) => format!("{} {location}", seen.status),
                    _ => seen.status.to_string(),
                };
                let expected = expected.replace("ID", &id);
                assert_eq!(
                    got, expected,
                    "{user} {method} {path} on {}: {}",
                    db.url, seen.body
                );
                if path.starts_with("/api/") && seen.status == 403 {
                    let reason = if matches!(*user, "anonymous" | "dave") {
                        "login_required"
                    } else {
                        "forbidden"
                    };
                    assert_eq!(
                        seen.body,
                        format!(r#"{{"error":"{reason}"}}"#),
                        "{user} {method} {path}"
                    );
                }
                // Only a permitted delete removes the item; nothing else loses it.
                let targets_item =
                    path.contains(&format!("/{id}/")) || path.ends_with(&format!("/{id}"));
                let deleted = targets_item && matches!(seen.status, 204 | 303);
                let exists = admin
                    .get("/api/items")
                    .body
                    .contains(&format!("\"id\":{id},"));
                assert_eq!(exists, !deleted, "{user} {method} {path}");
            }
        }
    }
}

#[test]
fn login_follows_only_safe_next_values() {
    for db in Database::all() {
        let server = Server::start(&db);
        let cases = [
            ("/items/2/", "/items/2/"),
            ("/items/?page=2", "/items/?page=2"),
            ("", "/items/"),
            ("//evil.example/", "/items/"),
            ("https://evil.example/items/", "/items/"),
            ("http:/evil.example", "/items/"),
            ("/\\evil.example", "/items/"),
            ("javascript:alert(1)", "/items/"),
            (" //evil.example", "/items/"),
        ];
        for (next, location) in cases {
            let mut client = server.client();
            let seen = client.login("bob", PASSWORD, next);
            assert_eq!(
                (seen.status, seen.location.as_deref()),
                (302, Some(location)),
                "next={next:?}"
            );
        }

        // The redirect to the login page carries `next`, and following it back works.
        let mut client = server.client();
        let seen = client.get("/items/1/?tab=x");
        assert_eq!(
            seen.location.as_deref(),
            Some("/accounts/login/?next=%2Fitems%2F1%2F%3Ftab%3Dx")
        );
        let page = client.get(seen.location.as_deref().unwrap());
        // (The template escapes `/` as `&#x2f;`, which browsers read back as `/`.)
        let form = page.body.replace("&#x2f;", "/");
        assert!(
            form.contains(r#"name="next" value="/items/1/?tab=x""#),
            "{form}"
        );
        let seen = client.login("bob", PASSWORD, "/items/1/?tab=x");
        assert_eq!(seen.location.as_deref(), Some("/items/1/?tab=x"));
        assert_eq!(client.get("/items/1/?tab=x").status, 200);

        // A failed login says the same whether the user exists or not.
        let mut client = server.client();
        let unknown = client.login("nobody", "wrong", "");
        let wrong = client.login("bob", "wrong", "");
        for seen in [&unknown, &wrong] {
            assert_eq!(seen.status, 200);
            assert!(
                seen.body
                    .contains("Please enter a correct username and password.")
            );
            assert!(client.cookie.is_none());
        }
        assert_eq!(
            unknown.body.replace("nobody", "bob"),
            wrong.body,
            "the two failures differ only in the echoed username"
        );
    }
}

#[test]
fn sessions_end_on_logout_password_change_deactivation_and_tampering() {
    for db in Database::all() {
        let server = Server::start(&db);

        // Session cookies are HttpOnly and SameSite=Lax.
        let mut carol = server.client();
        let seen = carol.login("carol", PASSWORD, "");
        let cookie = seen.set_cookie.first().expect("a session cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );

        // Logout ends the session.
        assert_eq!(carol.get("/items/").status, 200);
        let seen = carol.post_form("/accounts/logout/", &[]);
        assert_eq!(
            (seen.status, seen.location.as_deref()),
            (303, Some("/accounts/login/"))
        );
        assert_eq!(carol.get("/items/").status, 302);

        // A password change ends the user's other sessions, not this one.
        let mut first = as_user(&server, "carol");
        let mut second = as_user(&server, "carol");
        let seen = first.post_form(
            "/accounts/password/",
            &[
                ("old_password", "wrong"),
                ("new_password", "a new password"),
            ],
        );
        assert!(
            seen.body
                .contains("Your old password was entered incorrectly.")
        );
        let seen = first.post_form(
            "/accounts/password/",
            &[
                ("old_password", PASSWORD),
                ("new_password", "a new password"),
            ],
        );
        assert_eq!(seen.status, 303);
        assert_eq!(first.get("/items/").status, 200);
        assert_eq!(second.get("/items/").status, 302);
        assert_eq!(
            server.client().login("carol", PASSWORD, "").status,
            200,
            "old password refused"
        );
        assert_eq!(
            server.client().login("carol", "a new password", "").status,
            302
        );

        // A tampered or truncated cookie is anonymous.
        let mut bob = as_user(&server, "bob");
        let good = bob.cookie.clone().unwrap();
        let (name, value) = good.split_once('=').unwrap();
        let tampered = [
            format!("{name}={}", value.chars().rev().collect::<String>()),
            format!("{name}={}", &value[..value.len() / 2]),
            format!("{name}=AAAA{value}"),
            format!("{name}="),
        ];
        for cookie in tampered {
            bob.cookie = Some(cookie.clone());
            let seen = bob.get("/items/");
            assert_eq!(seen.status, 302, "{cookie}");
        }
        bob.cookie = Some(good);
        assert_eq!(bob.get("/items/").status, 200);

        // Deactivation by the CLI ends the session on the next request.
        server.cli(&["user", "deactivate", "bob"]);
        assert_eq!(bob.get("/items/").status, 302);
    }
}

#[test]
fn cli_changes_take_effect_on_the_next_request() {
    for db in Database::all() {
        let server = Server::start(&db);
        let mut erin = as_user(&server, "erin");
        assert_eq!(erin.get("/items/").status, 403);

        server.cli(&["user", "grant", "erin", "inventory.view_item"]);
        assert_eq!(erin.get("/items/").status, 200);
        assert_eq!(erin.get("/items/new/").status, 403);

        server.cli(&["group", "add", "stockers", "inventory.add_item"]);
        server.cli(&["group", "join", "erin", "stockers"]);
        assert_eq!(erin.get("/items/new/").status, 200);

        server.cli(&["user", "revoke", "erin", "inventory.view_item"]);
        assert_eq!(erin.get("/items/").status, 403);

        server.cli(&[
            "user",
            "add",
            "frank",
            "--password",
            "frank-password",
            "--superuser",
        ]);
        let mut frank = server.client();
        assert_eq!(frank.login("frank", "frank-password", "").status, 302);
        assert_eq!(frank.get("/items/1/edit/").status, 200);

        // A typo is refused with the defined permissions listed.
        let output = Command::new(env!("CARGO_BIN_EXE_inventory"))
            .args(["user", "grant", "erin", "inventory.veiw_item"])
            .env("DATABASE_URL", &server.db_url)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("no permission \"inventory.veiw_item\" is defined"),
            "{stderr}"
        );
        assert!(stderr.contains("inventory.view_item"), "{stderr}");
    }
}

#[test]
fn cross_site_writes_are_refused_before_anything_runs() {
    for db in Database::all() {
        let server = Server::start(&db);
        let mut alice = as_user(&server, "alice");
        let before = alice.get("/api/items").body;
        let host = server.base.trim_start_matches("http://").to_owned();
        let same_origin = server.base.clone();
        let refused = [
            vec![("origin", "https://evil.example")],
            vec![("origin", "null")],
            vec![("sec-fetch-site", "cross-site")],
            vec![
                ("origin", same_origin.as_str()),
                ("sec-fetch-site", "cross-site"),
            ],
        ];
        for headers in &refused {
            let seen = alice.send(
                "POST",
                "/api/items",
                headers,
                Some(("application/json", r#"{"name":"csrf","quantity":1}"#.into())),
            );
            assert_eq!(seen.status, 403, "{headers:?}");
            let seen = alice.send("POST", "/items/1/delete/", headers, None);
            assert_eq!(seen.status, 403, "{headers:?}");
        }
        assert_eq!(alice.get("/api/items").body, before, "nothing changed");

        let allowed = [
            vec![
                ("origin", same_origin.as_str()),
                ("sec-fetch-site", "same-origin"),
            ],
            vec![("host", host.as_str())],
            vec![],
        ];
        for headers in &allowed {
            let seen = alice.send(
                "POST",
                "/api/items",
                headers,
                Some(("application/json", r#"{"name":"ok","quantity":1}"#.into())),
            );
            assert_eq!(seen.status, 201, "{headers:?}");
        }
        // Reading is never refused.
        let seen = alice.send("GET", "/items/", &[("sec-fetch-site", "cross-site")], None);
        assert_eq!(seen.status, 200);
    }
}

#[test]
fn the_json_api_answers_json() {
    for db in Database::all() {
        let server = Server::start(&db);
        let mut carol = as_user(&server, "carol");
        let seen = carol.get("/api/items");
        let items: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
        assert_eq!(items.as_array().unwrap().len(), 3);
        assert_eq!(
            items[0],
            serde_json::json!({"id": 1, "name": "Hex bolt M8", "quantity": 120})
        );

        let seen = carol.post_json("/api/items", r#"{"name": "Spring", "quantity": 9}"#);
        assert_eq!(seen.status, 201);
        let created: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
        assert_eq!(created["name"], "Spring");
        assert_eq!(created["quantity"], 9);
        assert!(created["id"].as_i64().unwrap() > 3);

        for bad in [
            "{not json",
            r#"{"name": "x"}"#,
            r#"{"name": "x", "quantity": -1}"#,
            r#"{"name": "", "quantity": 1}"#,
        ] {
            let seen = carol.post_json("/api/items", bad);
            assert_eq!(seen.status, 400, "{bad}");
            let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
            assert_eq!(body["error"], "bad_request", "{bad}");
        }
        // A denied request with a bad body is still just a 403.
        let mut bob = as_user(&server, "bob");
        let seen = bob.post_json("/api/items", "{not json");
        assert_eq!(
            (seen.status, seen.body.as_str()),
            (403, r#"{"error":"forbidden"}"#)
        );
        let mut alice = as_user(&server, "alice");
        assert_eq!(alice.delete("/api/items/999").status, 404);
        let me: serde_json::Value = serde_json::from_str(&carol.get("/api/me").body).unwrap();
        assert_eq!(
            me,
            serde_json::json!({"username": "carol", "permissions": ["inventory.add_item", "inventory.change_item", "inventory.view_item"]})
        );
        assert_eq!(server.client().get("/api/me").status, 403);
        assert_eq!(server.client().get("/healthz").body, "ok");
        assert_eq!(alice.delete("/api/items/abc").status, 404);
    }
}
