//! The polls site under gunicorn and the Rust API beside it, on one
//! database (SQLite; PostgreSQL too with `DATABASE_URL`), driven over HTTP
//! on loopback as a browser would: one cookie jar for both (cookies belong
//! to the host, not the port). Users come from Django's ORM and
//! `createsuperuser`, logins from Django's `LoginView`, changes from
//! Django's ORM, guardian and views; the Rust side must see what Django
//! sees at each step. Needs python3 with Django, django-guardian, gunicorn
//! (and psycopg for PostgreSQL); says it skipped without them, unless
//! `PERMIT_DJANGO_TESTS=require`. `PERMIT_DJANGO_PYTHON` names another
//! interpreter (`.ci/run` runs the suite with Django 5.2 and 6.x).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/site");
const KEY: &str = "the polls site's key for this test only";
const NEW_KEY: &str = "the polls site's next key for this test only";

/// The Python that runs Django: `PERMIT_DJANGO_PYTHON` (a virtualenv with
/// another Django, say), or `python3`.
fn python() -> String {
    std::env::var("PERMIT_DJANGO_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn have_python() -> bool {
    let found = Command::new(python())
        .args(["-I", "-c", "import django, guardian, gunicorn"])
        .output()
        .is_ok_and(|out| out.status.success());
    if found {
        let version = Command::new(python())
            .args(["-I", "-c", "import django; print(django.get_version())"])
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_default();
        eprintln!("Django {version}");
    } else {
        assert!(
            std::env::var("PERMIT_DJANGO_TESTS").as_deref() != Ok("require"),
            "PERMIT_DJANGO_TESTS=require, but python3 lacks django, guardian or gunicorn"
        );
        eprintln!("skipped: python3 with Django, django-guardian and gunicorn not found");
    }
    found
}

/// One Django database: a SQLite file, or a fresh PostgreSQL database
/// dropped at the end.
struct Database {
    url: String,
    dir: PathBuf,
    postgres: Option<(String, String)>,
}

impl Database {
    fn new(name: &str, postgres: Option<&str>) -> Self {
        let dir = std::env::temp_dir().join(format!("beside-django-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        match postgres {
            None => Self {
                url: format!("sqlite://{}", dir.join("db.sqlite3").display()),
                dir,
                postgres: None,
            },
            Some(server) => {
                let db = format!("beside_django_{}", std::process::id());
                postgres_admin(
                    server,
                    &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
                );
                postgres_admin(server, &format!("CREATE DATABASE {db}"));
                let base = server.rsplit_once('/').map_or(server, |(base, _)| base);
                Self {
                    url: format!("{base}/{db}"),
                    dir,
                    postgres: Some((server.to_owned(), db)),
                }
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((server, db)) = &self.postgres {
            postgres_admin(
                server,
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            );
        }
    }
}

fn postgres_admin(server: &str, sql: &str) {
    let status = Command::new(python())
        .args([
            "-I",
            "-c",
            "import psycopg, sys; psycopg.connect(sys.argv[1], autocommit=True).execute(sys.argv[2])",
            server,
            sql,
        ])
        .status()
        .expect("run python3");
    assert!(status.success(), "{sql}");
}

/// A child process killed at the end.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The two servers on one database.
struct Sites {
    env: Vec<(String, String)>,
    django: String,
    rust: String,
    _gunicorn: Running,
    api: Option<Running>,
    /// Last: dropped after the servers that use it.
    _db: Database,
}

impl Sites {
    fn start(db: Database) -> Self {
        Self::start_with(db, &[])
    }

    /// Both servers with these settings besides the database and the key.
    fn start_with(db: Database, settings: &[(&str, &str)]) -> Self {
        let mut env = vec![
            ("DJANGO_DATABASE_URL".to_owned(), db.url.clone()),
            ("DJANGO_SECRET_KEY".to_owned(), KEY.to_owned()),
            ("DJANGO_SECRET_KEY_FALLBACKS".to_owned(), String::new()),
        ];
        env.extend(
            settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let mut sites = Self {
            env,
            django: String::new(),
            rust: String::new(),
            _gunicorn: Running(Command::new("true").spawn().unwrap()),
            api: None,
            _db: db,
        };
        sites.manage(&["migrate", "-v0"]);
        let mut gunicorn = Command::new(python())
            .args(["-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:0"])
            .arg("mysite.wsgi")
            .current_dir(SITE)
            .env("PYTHONPATH", SITE)
            .envs(sites.env.iter().map(|(k, v)| (k, v)))
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gunicorn");
        let stderr = BufReader::new(gunicorn.stderr.take().unwrap());
        let mut lines = stderr.lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("gunicorn's log")
                .expect("read gunicorn's log");
            if let Some((_, addr)) = line.split_once("Listening at: http://") {
                break addr.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining the log so that gunicorn never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        sites.django = format!("http://{addr}");
        sites._gunicorn = Running(gunicorn);
        sites.install_triggers();
        sites
    }

    fn install_triggers(&self) {
        let out = Command::new(env!("CARGO_BIN_EXE_beside-django"))
            .arg("install-triggers")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// (Re)starts the Rust API with the site's keys (`fallbacks` besides).
    fn start_api(&mut self, key: &str, fallbacks: &str) {
        self.api = None;
        let mut child = Command::new(env!("CARGO_BIN_EXE_beside-django"))
            .args(["--bind", "127.0.0.1:0"])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("DJANGO_SECRET_KEY", key)
            .env("DJANGO_SECRET_KEY_FALLBACKS", fallbacks)
            .env("DJANGO_CSRF_TRUSTED_ORIGINS", &self.django)
            .env(
                "RUST_LOG",
                std::env::var("BESIDE_DJANGO_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start beside-django");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let addr = line
            .trim()
            .strip_prefix("beside-django listening on http://")
            .and_then(|rest| rest.strip_suffix("/api/"))
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        self.rust = format!("http://{addr}");
        self.api = Some(Running(child));
    }

    /// `manage.py` with the site's environment; its standard output.
    fn manage(&self, args: &[&str]) -> String {
        // Not isolated (-I): manage.py imports the project from its folder.
        let out = Command::new(python())
            .arg(Path::new(SITE).join("manage.py"))
            .current_dir(SITE)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("DJANGO_SUPERUSER_PASSWORD", "admin pw")
            .output()
            .expect("run manage.py");
        assert!(
            out.status.success(),
            "manage.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Python run in Django's shell (the ORM, guardian); its last line.
    fn orm(&self, code: &str) -> String {
        let prelude = "from django.contrib.auth.models import User, Group, Permission\n\
                       from guardian.shortcuts import assign_perm, remove_perm\n\
                       from polls.models import Question\n\
                       import json\n\
                       perm = lambda codename: Permission.objects.get(codename=codename)\n";
        let out = self.manage(&["shell", "-v0", "-c", &format!("{prelude}{code}")]);
        out.lines().last().unwrap_or_default().to_owned()
    }
}

/// What a request got.
#[derive(Debug)]
struct Seen {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {self:?}"))
    }
}

/// A browser: one cookie jar for both servers (one host).
struct Browser {
    agent: ureq::Agent,
    jar: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Self {
        let agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self {
            agent,
            jar: BTreeMap::new(),
        }
    }

    fn cookie(&self, name: &str) -> String {
        self.jar.get(name).cloned().unwrap_or_default()
    }

    fn send(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> Seen {
        let mut request = ureq::http::Request::builder().method(method).uri(url);
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header("cookie", cookies.join("; "));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let result = match body {
            Some((content_type, body)) => self.agent.run(
                request
                    .header("content-type", content_type)
                    .body(body)
                    .unwrap(),
            ),
            None => self.agent.run(request.body(()).unwrap()),
        };
        let mut response = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap_or_default();
            let expired = set.to_ascii_lowercase().contains("max-age=0");
            if let Some((name, value)) = pair.split_once('=') {
                let value = value.trim_matches('"');
                if value.is_empty() || expired {
                    self.jar.remove(name);
                } else {
                    self.jar.insert(name.to_owned(), value.to_owned());
                }
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
            body,
        }
    }

    fn get(&mut self, url: &str) -> Seen {
        self.send("GET", url, &[], None)
    }

    /// A form post with the page's origin, as a browser sends it.
    fn post_form(&mut self, url: &str, origin: &str, fields: &[(&str, &str)]) -> Seen {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(
            "POST",
            url,
            &[("origin", origin)],
            Some(("application/x-www-form-urlencoded", body)),
        )
    }

    /// A script's request with the CSRF token from the cookie, as Django's
    /// docs have pages send it.
    fn script(&mut self, method: &str, url: &str, origin: &str, body: Option<Value>) -> Seen {
        let token = self.cookie("csrftoken");
        let headers = [("origin", origin), ("x-csrftoken", token.as_str())];
        self.send(
            method,
            url,
            &headers,
            body.map(|b| ("application/json", b.to_string())),
        )
    }

    /// A login through the API, as a script posts it (JSON, no token).
    fn api_login(&mut self, rust: &str, username: &str, password: &str) -> Seen {
        let body = json!({"username": username, "password": password}).to_string();
        self.send(
            "POST",
            &format!("{rust}/api/login"),
            &[],
            Some(("application/json", body)),
        )
    }

    /// Logs in through Django's LoginView.
    fn django_login(&mut self, django: &str, username: &str, password: &str) {
        let page = self.get(&format!("{django}/accounts/login/"));
        let token = form_token(&page.body);
        let seen = self.post_form(
            &format!("{django}/accounts/login/"),
            django,
            &[
                ("username", username),
                ("password", password),
                ("csrfmiddlewaretoken", &token),
            ],
        );
        assert_eq!(
            (seen.status, seen.location.as_deref()),
            (302, Some("/polls/whoami/")),
            "{username}: {}",
            seen.body
        );
    }

    /// Who Django's views say this browser is.
    fn whoami(&mut self, django: &str) -> Value {
        self.get(&format!("{django}/polls/whoami/")).json()
    }
}

fn form_token(html: &str) -> String {
    let value = html
        .split(r#"name="csrfmiddlewaretoken" value=""#)
        .nth(1)
        .unwrap_or_else(|| panic!("no token in {html}"));
    value[..value.find('"').unwrap()].to_owned()
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

/// Waits until `check` holds, for at most two seconds: a change committed
/// by Django's process reaches the API by NOTIFY (PostgreSQL) or at its
/// next look (SQLite, 1 ms), which the next request can still precede.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not seen within 2 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn permissions(value: &Value) -> BTreeSet<String> {
    value["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

fn run(db: Database) {
    let mut sites = Sites::start(db);
    sites.start_api(KEY, "");
    let (django, rust) = (sites.django.clone(), sites.rust.clone());
    let api = |path: &str| format!("{rust}{path}");

    // Users as Django makes them.
    sites.manage(&[
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
    ]);
    let ids = sites.orm(
        "zoe = User.objects.create_user('zoë', password='zoë pw')\n\
         zoe.user_permissions.add(perm('view_question'))\n\
         editors = Group.objects.create(name='editors')\n\
         editors.permissions.add(perm('change_question'), perm('view_question'))\n\
         bob = User.objects.create_user('bob', password='bob pw')\n\
         bob.groups.add(editors)\n\
         carol = User.objects.create_user('carol', password='carol pw')\n\
         from django.utils import timezone\n\
         q1 = Question.objects.create(question_text='What is new?', pub_date=timezone.now())\n\
         q2 = Question.objects.create(question_text='Où est-il ?', pub_date=timezone.now())\n\
         print(json.dumps([q1.pk, q2.pk]))",
    );
    let ids: Vec<i64> = serde_json::from_str(&ids).unwrap();
    let (q1, q2) = (ids[0], ids[1]);

    // Each logs in through Django; the API sees that user, with exactly the
    // permissions Django's get_all_permissions() reports.
    let mut browsers: BTreeMap<&str, Browser> = BTreeMap::new();
    for (name, password) in [
        ("admin", "admin pw"),
        ("zoë", "zoë pw"),
        ("bob", "bob pw"),
        ("carol", "carol pw"),
    ] {
        let mut browser = Browser::new();
        browser.django_login(&django, name, password);
        let theirs = browser.whoami(&django);
        let ours = browser.get(&api("/api/me"));
        assert_eq!(ours.status, 200, "{name}: {}", ours.body);
        let ours = ours.json();
        assert_eq!(ours["username"], name);
        assert_eq!(ours["is_superuser"], name == "admin");
        assert_eq!(permissions(&ours), permissions(&theirs), "{name}");
        browsers.insert(name, browser);
    }
    assert!(permissions(&browsers.get_mut("admin").unwrap().whoami(&django)).len() > 20);

    // The list: as Django grants it; anonymous and refused get JSON 403s.
    let list = browsers
        .get_mut("zoë")
        .unwrap()
        .get(&api("/api/questions/"));
    assert_eq!(list.status, 200);
    assert_eq!(
        list.json(),
        json!([{"id": q1, "question_text": "What is new?"}, {"id": q2, "question_text": "Où est-il ?"}])
    );
    for seen in [
        browsers
            .get_mut("carol")
            .unwrap()
            .get(&api("/api/questions/")),
        Browser::new().get(&api("/api/questions/")),
        Browser::new().get(&api("/api/me")),
    ] {
        assert_eq!((seen.status, seen.location.as_deref()), (403, None));
        assert!(seen.json()["error"].is_string());
    }

    // Changes made in Django hold here on the next request.
    let status = |browser: &mut Browser, path: &str| browser.get(&api(path)).status;
    sites.orm("User.objects.get(username='zoë').user_permissions.remove(perm('view_question'))");
    eventually("a revoked permission", || {
        status(browsers.get_mut("zoë").unwrap(), "/api/questions/") == 403
    });
    sites.orm("User.objects.get(username='zoë').groups.add(Group.objects.get(name='editors'))");
    eventually("a group joined", || {
        status(browsers.get_mut("zoë").unwrap(), "/api/questions/") == 200
    });
    sites.orm("Group.objects.get(name='editors').permissions.remove(perm('view_question'))");
    eventually("a group's permission revoked", || {
        status(browsers.get_mut("bob").unwrap(), "/api/questions/") == 403
    });

    // Object permissions: bob changes any question through his group; carol
    // only the one guardian grants her, and only while it does.
    let patch = |browser: &mut Browser, id: i64, text: &str| {
        browser
            .script(
                "PATCH",
                &api(&format!("/api/questions/{id}")),
                &django,
                Some(json!({"question_text": text})),
            )
            .status
    };
    assert_eq!(
        patch(browsers.get_mut("bob").unwrap(), q2, "Où sont-ils ?"),
        200
    );
    // What does not read is answered in JSON too: a malformed body (400),
    // an id that is no number (404), after the checks passed.
    let bob = browsers.get_mut("bob").unwrap();
    let token = bob.cookie("csrftoken");
    let headers = [("origin", django.as_str()), ("x-csrftoken", token.as_str())];
    for (path, body, status) in [
        (format!("/api/questions/{q2}"), "{not json", 400),
        (
            format!("/api/questions/{q2}"),
            r#"{"question_text": 7}"#,
            400,
        ),
        (
            "/api/questions/x".to_owned(),
            r#"{"question_text": "x"}"#,
            404,
        ),
    ] {
        let seen = bob.send(
            "PATCH",
            &api(&path),
            &headers,
            Some(("application/json", body.to_owned())),
        );
        assert_eq!(seen.status, status, "{path} {body}: {}", seen.body);
        assert!(seen.json()["error"].is_string());
    }
    let seen = Browser::new().send(
        "POST",
        &api("/api/login"),
        &[],
        Some(("application/json", "{".to_owned())),
    );
    assert_eq!(
        (seen.status, seen.json()["error"].as_str()),
        (400, Some("bad_request"))
    );
    assert_eq!(
        patch(browsers.get_mut("carol").unwrap(), q1, "carol's"),
        403
    );
    sites.orm(&format!("assign_perm('polls.change_question', User.objects.get(username='carol'), Question.objects.get(pk={q1}))"));
    eventually("a guardian grant", || {
        patch(browsers.get_mut("carol").unwrap(), q1, "carol's") == 200
    });
    assert_eq!(
        patch(browsers.get_mut("carol").unwrap(), q2, "carol's"),
        403
    );
    assert_eq!(
        sites.orm(&format!(
            "print(Question.objects.get(pk={q1}).question_text)"
        )),
        "carol's"
    );
    sites.orm(&format!("remove_perm('polls.change_question', User.objects.get(username='carol'), Question.objects.get(pk={q1}))"));
    eventually("a guardian grant removed", || {
        patch(browsers.get_mut("carol").unwrap(), q1, "again") == 403
    });
    // Unsafe requests with a session cookie need Django's token.
    let carol = browsers.get_mut("carol").unwrap();
    let seen = carol.send(
        "PATCH",
        &api(&format!("/api/questions/{q1}")),
        &[],
        Some(("application/json", "{}".into())),
    );
    assert_eq!(
        (seen.status, seen.json()["error"].as_str()),
        (403, Some("csrf"))
    );

    // Deactivated in Django: anonymous here.
    sites.orm("User.objects.filter(username='carol').update(is_active=False)");
    eventually("a deactivation", || {
        status(browsers.get_mut("carol").unwrap(), "/api/me") == 403
    });

    // A form Django rendered posts to the API with Django's token; the row
    // is Django's: its admin lists it.
    sites.orm("User.objects.get(username='zoë').user_permissions.add(perm('add_question'))");
    let zoe = browsers.get_mut("zoë").unwrap();
    let page = zoe.get(&format!("{django}/polls/new/"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"action="/api/questions/""#),
        "{}",
        page.body
    );
    let token = form_token(&page.body);
    let mut created = None;
    eventually("a permission granted", || {
        let seen = zoe.post_form(
            &api("/api/questions/"),
            &django,
            &[
                ("question_text", "Qui a posé ça ?"),
                ("csrfmiddlewaretoken", &token),
            ],
        );
        created = (seen.status == 201).then(|| seen.json());
        created.is_some()
    });
    let created = created.unwrap();
    assert_eq!(created["question_text"], "Qui a posé ça ?");
    let q3 = created["id"].as_i64().unwrap();
    let blank = zoe.post_form(
        &api("/api/questions/"),
        &django,
        &[("question_text", " "), ("csrfmiddlewaretoken", &token)],
    );
    assert_eq!(blank.status, 400, "{}", blank.body);
    let without = zoe.post_form(
        &api("/api/questions/"),
        &django,
        &[("question_text", "sans jeton")],
    );
    assert_eq!(
        (without.status, without.json()["error"].as_str()),
        (403, Some("csrf"))
    );
    let from_elsewhere = zoe.post_form(
        &api("/api/questions/"),
        "http://evil.example",
        &[
            ("question_text", "d'ailleurs"),
            ("csrfmiddlewaretoken", &token),
        ],
    );
    assert_eq!(from_elsewhere.status, 403);
    let admin = browsers.get_mut("admin").unwrap();
    let changelist = admin.get(&format!("{django}/admin/polls/question/"));
    assert_eq!(changelist.status, 200);
    assert!(
        changelist.body.contains("Qui a posé ça ?"),
        "{}",
        changelist.body
    );
    assert!(!changelist.body.contains("sans jeton"));

    // Deleting: a guardian grant on one question, to a group zoë is in,
    // lets her delete that one and no other.
    let zoe = browsers.get_mut("zoë").unwrap();
    let delete = |browser: &mut Browser, id: i64| {
        browser
            .script(
                "DELETE",
                &api(&format!("/api/questions/{id}")),
                &django,
                None,
            )
            .status
    };
    assert_eq!(delete(zoe, q3), 403);
    sites.orm(&format!(
        "assign_perm('polls.delete_question', Group.objects.get(name='editors'), Question.objects.get(pk={q3}))"
    ));
    eventually("a group's guardian grant", || delete(zoe, q3) == 204);
    assert_eq!(delete(zoe, q1), 403);
    assert_eq!(
        sites.orm(&format!("print(Question.objects.filter(pk={q3}).exists())")),
        "False"
    );

    // Django's logout ends the session here.
    let bob = browsers.get_mut("bob").unwrap();
    let page = bob.get(&format!("{django}/polls/new/"));
    let token = form_token(&page.body);
    let old = bob.cookie("sessionid");
    let seen = bob.post_form(
        &format!("{django}/accounts/logout/"),
        &django,
        &[("csrfmiddlewaretoken", &token)],
    );
    assert!(matches!(seen.status, 200 | 302), "{seen:?}");
    bob.jar.insert("sessionid".into(), old);
    eventually("Django's logout", || {
        status(browsers.get_mut("bob").unwrap(), "/api/me") == 403
    });

    // A login through the API is a login Django's views see; a non-ASCII
    // value Django keeps in the session survives our next login on top of
    // it; and our login never changes the stored hash.
    let hash = || sites.orm("print(User.objects.get(username='bob').password)");
    let before = hash();
    let mut rust_bob = Browser::new();
    let seen = rust_bob.api_login(&rust, "bob", "bob pw");
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(rust_bob.whoami(&django)["username"], "bob");
    let token = rust_bob.cookie("csrftoken");
    let noted = rust_bob.post_form(
        &format!("{django}/polls/note/"),
        &django,
        &[("note", "café ☕ 𝄞"), ("csrfmiddlewaretoken", &token)],
    );
    assert_eq!(noted.status, 200, "{}", noted.body);
    let seen = rust_bob.post_form(
        &api("/api/login"),
        &django,
        &[
            ("username", "bob"),
            ("password", "bob pw"),
            ("csrfmiddlewaretoken", &rust_bob.cookie("csrftoken")),
        ],
    );
    assert_eq!(seen.status, 200, "{}", seen.body);
    let whoami = rust_bob.whoami(&django);
    assert_eq!(
        (whoami["username"].as_str(), whoami["note"].as_str()),
        (Some("bob"), Some("café ☕ 𝄞"))
    );
    assert_eq!(hash(), before);
    let wrong = Browser::new().api_login(&rust, "bob", "no");
    assert_eq!(wrong.status, 401);

    // Django's password change (bob, in another browser) ends the API's
    // other sessions; the browser that changed it stays logged in.
    let mut django_bob = Browser::new();
    django_bob.django_login(&django, "bob", "bob pw");
    let page = django_bob.get(&format!("{django}/accounts/password_change/"));
    let token = form_token(&page.body);
    let seen = django_bob.post_form(
        &format!("{django}/accounts/password_change/"),
        &django,
        &[
            ("old_password", "bob pw"),
            ("new_password1", "a much newer pw 1"),
            ("new_password2", "a much newer pw 1"),
            ("csrfmiddlewaretoken", &token),
        ],
    );
    assert_eq!(seen.status, 302, "{}", seen.body);
    eventually("a password change", || {
        status(&mut rust_bob, "/api/me") == 403
    });
    assert_eq!(status(&mut django_bob, "/api/me"), 200);

    // Our logout ends the session for Django too.
    let seen = django_bob.script("POST", &api("/api/logout"), &django, None);
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(django_bob.whoami(&django)["username"], Value::Null);

    // SECRET_KEY rotated with the old key in the fallbacks: sessions hold;
    // without it: they end.
    let zoe_me =
        |sites: &mut Sites, key: &str, fallbacks: &str, browsers: &mut BTreeMap<&str, Browser>| {
            sites.start_api(key, fallbacks);
            let url = format!("{}/api/me", sites.rust);
            browsers.get_mut("zoë").unwrap().get(&url).status
        };
    assert_eq!(zoe_me(&mut sites, NEW_KEY, KEY, &mut browsers), 200);
    assert_eq!(zoe_me(&mut sites, NEW_KEY, "", &mut browsers), 403);
}

#[test]
fn the_api_beside_django_sees_what_django_sees_on_sqlite() {
    if !have_python() {
        return;
    }
    run(Database::new("sqlite", None));
}

#[test]
fn the_api_beside_django_sees_what_django_sees_on_postgresql() {
    if !have_python() {
        return;
    }
    let Ok(server) = std::env::var("DATABASE_URL") else {
        eprintln!("skipped: DATABASE_URL is not set");
        return;
    };
    run(Database::new("postgres", Some(&server)));
}

/// The example configured for Django's other session engines, as its
/// README says: `signed_cookies`, and `cached_db` with its cache in Redis
/// (with `REDIS_URL`; says it skipped without). A Django login is seen
/// here, our login is seen by Django, our logout ends the login for
/// Django (with `cached_db`, its cached copy too; a signed cookie is taken
/// from the browser), and Django's password change ends ours.
#[test]
fn the_other_session_engines_hold_beside_django() {
    if !have_python() {
        return;
    }
    let prefix = format!("beside-django-{}", std::process::id());
    let mut engines: Vec<(&str, Vec<(&str, String)>)> = vec![("signed_cookies", vec![])];
    let redis_module = Command::new(python())
        .args(["-I", "-c", "import redis"])
        .output()
        .is_ok_and(|out| out.status.success());
    match std::env::var("REDIS_URL") {
        Ok(_) if !redis_module => {
            assert!(
                std::env::var("PERMIT_DJANGO_TESTS").as_deref() != Ok("require"),
                "PERMIT_DJANGO_TESTS=require and REDIS_URL is set, but {} lacks redis (Django's RedisCache needs it)",
                python()
            );
            eprintln!("skipped cached_db: {} lacks the redis module", python());
        }
        Ok(redis) => engines.push((
            "cached_db",
            vec![
                ("REDIS_URL", redis),
                ("DJANGO_CACHE_KEY_PREFIX", prefix.clone()),
            ],
        )),
        Err(_) => eprintln!("skipped cached_db: REDIS_URL is not set"),
    }
    for (engine, extra) in engines {
        let mut settings = vec![("DJANGO_SESSION_ENGINE", engine)];
        settings.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
        let mut sites =
            Sites::start_with(Database::new(&format!("engine-{engine}"), None), &settings);
        sites.start_api(KEY, "");
        let (django, rust) = (sites.django.clone(), sites.rust.clone());
        let api = |path: &str| format!("{rust}{path}");
        sites.orm(
            "User.objects.create_user('ana', password='ana pw').user_permissions.add(perm('view_question'))",
        );

        // Django's login, seen here.
        let mut browser = Browser::new();
        browser.django_login(&django, "ana", "ana pw");
        let me = browser.get(&api("/api/me"));
        assert_eq!(
            (me.status, me.json()["username"].as_str()),
            (200, Some("ana")),
            "{engine}"
        );
        assert_eq!(browser.get(&api("/api/questions/")).status, 200, "{engine}");

        // Our logout ends it for Django.
        let cookie = browser.cookie("sessionid");
        let out = browser.script("POST", &api("/api/logout"), &django, None);
        assert_eq!(out.status, 200, "{engine}: {}", out.body);
        if engine == "signed_cookies" {
            assert_eq!(browser.cookie("sessionid"), "", "the cookie is taken away");
        } else {
            browser.jar.insert("sessionid".into(), cookie);
            assert_eq!(browser.whoami(&django)["username"], Value::Null, "{engine}");
        }

        // Our login, seen by Django; Django's password change ends it.
        let mut ours = Browser::new();
        let login = ours.api_login(&rust, "ana", "ana pw");
        assert_eq!(login.status, 200, "{engine}: {}", login.body);
        assert_eq!(ours.whoami(&django)["username"], "ana", "{engine}");
        sites.orm(
            "ana = User.objects.get(username='ana'); ana.set_password('ana new pw'); ana.save()",
        );
        eventually("a password change", || {
            ours.get(&api("/api/me")).status == 403
        });
        assert_eq!(ours.whoami(&django)["username"], Value::Null, "{engine}");

        if engine == "cached_db" {
            // Django's cached copies of what is left.
            sites.orm(
                "from importlib import import_module\n\
                 from django.conf import settings\n\
                 from django.contrib.sessions.models import Session\n\
                 from django.core.cache import cache\n\
                 store = import_module(settings.SESSION_ENGINE).SessionStore\n\
                 cache.delete_many([store(s.session_key).cache_key for s in Session.objects.all()])",
            );
        }
    }
}
