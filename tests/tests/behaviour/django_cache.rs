//! `DjangoBackend`'s exact cache: with the triggers installed, a protected
//! request in steady state makes no query, and each change made in Django
//! (the ORM, django-guardian, Django's logout) holds on the next request
//! (SQLite: once the check interval has passed; PostgreSQL: once the
//! notification has arrived, waited for up to two seconds here; the
//! latency is measured in BENCHMARKS.md). Without the triggers the backend
//! runs uncached and says so when it connects. Needs python3 with Django
//! and django-guardian; PostgreSQL too when `DATABASE_URL` names a server.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_permit::backend::{CacheState, DjangoBackend, DjangoOptions};
use actix_permit::django::signing::SecretKeys;
use actix_permit::{Permit, login_required, permission_required};
use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, get, test};
use serde_json::{Value, json};

use crate::django_backend::Site;
use crate::support::{Logs, send};

const SECRET: &str = "the cache test's secret key";

#[login_required]
#[get("/me")]
async fn me() -> HttpResponse {
    HttpResponse::Ok().body("me")
}

#[permission_required("auth.view_group")]
#[get("/groups")]
async fn groups() -> HttpResponse {
    HttpResponse::Ok().body("groups")
}

#[permission_required("auth.change_group", object = "id")]
#[get("/groups/{id}")]
async fn group(id: actix_web::web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().body(id.into_inner())
}

/// The Django side: one python process that makes each change and answers
/// once it has committed.
struct Django {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Django {
    fn start(site: &Site) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/django/changes.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(site.for_django())
            .arg(SECRET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python3");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
        }
    }

    fn run(&mut self, command: Value) -> Value {
        writeln!(self.stdin, "{command}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the Django process ended at {command}");
        serde_json::from_str(&line).unwrap()
    }
}

impl Drop for Django {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[actix_rt::test]
async fn a_change_made_in_django_holds_on_the_next_request_on_sqlite() {
    if !crate::support::python_has(&["django", "guardian"]) {
        return;
    }
    cached_as_django_changes(None).await;
}

#[actix_rt::test]
async fn a_change_made_in_django_holds_on_the_next_request_on_postgresql() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("skipped: DATABASE_URL names no PostgreSQL server");
        return;
    };
    if !url.starts_with("postgres") || !crate::support::python_has(&["django", "guardian"]) {
        return;
    }
    cached_as_django_changes(Some(&url)).await;
}

async fn cached_as_django_changes(postgres: Option<&str>) {
    let site = Site::new(900, postgres).await;
    let mut django = Django::start(&site);
    let made = django.run(json!(["setup"]));
    let keys = || SecretKeys::new(SECRET, []);

    // Without the triggers: uncached, and it says so.
    let (logs, guard) = Logs::capture();
    let bare = DjangoBackend::connect(&site.url(), keys()).await.unwrap();
    drop(guard);
    assert_eq!(bare.cache_state(), CacheState::Off);
    assert!(
        logs.text().contains("lack actix-permit's change triggers"),
        "{}",
        logs.text()
    );
    bare.install_triggers().await.unwrap();
    // Installed twice: the same triggers, nothing doubled.
    bare.install_triggers().await.unwrap();

    let backend = Arc::new(
        DjangoBackend::connect_with(&site.url(), keys(), DjangoOptions::new())
            .await
            .unwrap(),
    );
    if postgres.is_some() {
        // The listener connects on its own thread.
        let start = Instant::now();
        while backend.cache_state() != CacheState::Exact && start.elapsed() < Duration::from_secs(5)
        {
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert_eq!(backend.cache_state(), CacheState::Exact);
    let app = test::init_service(
        App::new()
            .service(me)
            .service(groups)
            .service(group)
            .wrap(Permit::new(Arc::clone(&backend)).identity(backend.sessions())),
    )
    .await;
    let object = made["object"].as_str().unwrap().to_owned();
    let cookie = |name: &str| {
        Cookie::new(
            "sessionid",
            made[name]["cookie"].as_str().unwrap().to_owned(),
        )
    };
    let status = |path: String, who: &'static str| {
        let (app, cookie) = (&app, cookie(who));
        async move {
            send(app, test::TestRequest::get().uri(&path), Some(&cookie))
                .await
                .status
        }
    };
    // What `path` answers `who` once the change is seen: on SQLite the
    // very next request after the interval (1 ms); on PostgreSQL the
    // first one after the notification arrives.
    let settles = |path: String, who: &'static str, expected: StatusCode| {
        let status = &status;
        async move {
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                if postgres.is_none() {
                    actix_rt::time::sleep(Duration::from_millis(5)).await;
                }
                let got = status(path.clone(), who).await;
                if got == expected || postgres.is_none() || Instant::now() > deadline {
                    return got;
                }
                actix_rt::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };
    let at = |path: &str| path.replace("{g}", &object);

    assert_eq!(status(at("/me"), "alice").await, StatusCode::OK);
    assert_eq!(status(at("/groups"), "alice").await, StatusCode::FORBIDDEN);
    assert_eq!(
        status(at("/groups/{g}"), "alice").await,
        StatusCode::FORBIDDEN
    );

    // Each change, made in Django, and what the next request sees.
    let steps: [(Value, &str, StatusCode); 12] = [
        (
            json!(["grant", "alice", "view_group"]),
            "/groups",
            StatusCode::OK,
        ),
        (
            json!(["revoke", "alice", "view_group"]),
            "/groups",
            StatusCode::FORBIDDEN,
        ),
        (
            json!(["join", "alice", "viewers"]),
            "/groups",
            StatusCode::OK,
        ),
        (
            json!(["group_revoke", "viewers", "view_group"]),
            "/groups",
            StatusCode::FORBIDDEN,
        ),
        (
            json!(["group_grant", "viewers", "view_group"]),
            "/groups",
            StatusCode::OK,
        ),
        (
            json!(["leave", "alice", "viewers"]),
            "/groups",
            StatusCode::FORBIDDEN,
        ),
        (
            json!(["object_grant", "alice", "auth.change_group", "viewers"]),
            "/groups/{g}",
            StatusCode::OK,
        ),
        (
            json!(["object_revoke", "alice", "auth.change_group", "viewers"]),
            "/groups/{g}",
            StatusCode::FORBIDDEN,
        ),
        (
            json!(["active", "alice", false]),
            "/me",
            StatusCode::FORBIDDEN,
        ),
        (json!(["active", "alice", true]), "/me", StatusCode::OK),
        (
            json!(["logout", made["bob"]["cookie"]]),
            "/me",
            StatusCode::FORBIDDEN,
        ),
        (
            json!(["password", "alice", "a new password"]),
            "/me",
            StatusCode::FORBIDDEN,
        ),
    ];
    for (step, (change, path, expected)) in steps.into_iter().enumerate() {
        // Steady state first: the same requests again make no query.
        let who = if change[0] == "logout" {
            "bob"
        } else {
            "alice"
        };
        for path in ["/me", "/groups", "/groups/{g}"] {
            status(at(path), who).await;
        }
        let before = backend.cache_stats().unwrap();
        for _ in 0..5 {
            for path in ["/me", "/groups", "/groups/{g}"] {
                status(at(path), who).await;
            }
        }
        let after = backend.cache_stats().unwrap();
        assert_eq!(
            after.queries, before.queries,
            "step {step}: steady state queried"
        );
        assert!(
            after.hits >= before.hits + 15,
            "step {step}: {before:?} → {after:?}"
        );

        django.run(change.clone());
        assert_eq!(
            settles(at(path), who, expected).await,
            expected,
            "step {step}: after {change} in Django, {path}"
        );
    }
    drop(app);
    drop(django);
    site.remove().await;
}

/// The revocation latency on PostgreSQL (BENCHMARKS.md): a permission
/// revoked in Django, timed from the moment the command is sent to
/// Django's process (so Django's own work is counted), and revoked by SQL,
/// timed from its commit, each until the first request denied. Run by
/// `runtime/benches/revocation.sh`.
#[actix_rt::test]
#[ignore = "a measurement: runtime/benches/revocation.sh"]
async fn django_revocation_latency() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL: a PostgreSQL server");
    let trials: usize = std::env::var("REVOCATION_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let site = Site::new(901, Some(&url)).await;
    let mut django = Django::start(&site);
    let made = django.run(json!(["setup"]));
    let keys = || SecretKeys::new(SECRET, []);
    DjangoBackend::connect_with(&site.url(), keys(), DjangoOptions::new().exact_cache(false))
        .await
        .unwrap()
        .install_triggers()
        .await
        .unwrap();
    let backend = Arc::new(DjangoBackend::connect(&site.url(), keys()).await.unwrap());
    while backend.cache_state() != CacheState::Exact {
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    let app = test::init_service(
        App::new()
            .service(groups)
            .wrap(Permit::new(Arc::clone(&backend)).identity(backend.sessions())),
    )
    .await;
    let cookie = Cookie::new(
        "sessionid",
        made["alice"]["cookie"].as_str().unwrap().to_owned(),
    );
    let alice: i64 = made["alice"]["id"].as_str().unwrap().parse().unwrap();
    let ask_as = |cookie: Cookie<'static>| {
        let app = &app;
        async move {
            send(app, test::TestRequest::get().uri("/groups"), Some(&cookie))
                .await
                .status
        }
    };
    let ask = || ask_as(cookie.clone());
    let sql = sqlx::PgPool::connect(&site.url()).await.unwrap();
    for way in ["Django's ORM", "SQL"] {
        let mut times = Vec::with_capacity(trials);
        let mut first = 0;
        for _ in 0..trials {
            django.run(json!(["grant", "alice", "view_group"]));
            while ask().await != StatusCode::OK {
                actix_rt::time::sleep(Duration::from_micros(200)).await;
            }
            let start = if way == "SQL" {
                sqlx::query(
                    "DELETE FROM auth_user_user_permissions WHERE user_id = $1 AND permission_id = \
                     (SELECT id FROM auth_permission WHERE codename = 'view_group')",
                )
                .bind(alice)
                .execute(&sql)
                .await
                .unwrap();
                Instant::now()
            } else {
                let start = Instant::now();
                django.run(json!(["revoke", "alice", "view_group"]));
                start
            };
            let mut asks = 0;
            while ask().await != StatusCode::FORBIDDEN {
                asks += 1;
                actix_rt::time::sleep(Duration::from_micros(200)).await;
            }
            if asks == 0 {
                first += 1;
            }
            times.push(start.elapsed());
        }
        report(&format!("revocation in Django, by {way}"), first, times);
    }
    // Django's logout (the session's row deleted by Django's own logout),
    // timed from the command sent until this session is anonymous here.
    django.run(json!(["grant", "alice", "view_group"]));
    let mut times = Vec::with_capacity(trials);
    let mut first = 0;
    for _ in 0..trials {
        let made = django.run(json!(["login", "alice"]));
        let session = Cookie::new("sessionid", made.as_str().unwrap().to_owned());
        while ask_as(session.clone()).await != StatusCode::OK {
            actix_rt::time::sleep(Duration::from_micros(200)).await;
        }
        let start = Instant::now();
        django.run(json!(["logout", session.value()]));
        let mut asks = 0;
        while ask_as(session.clone()).await != StatusCode::FORBIDDEN {
            asks += 1;
            actix_rt::time::sleep(Duration::from_micros(200)).await;
        }
        if asks == 0 {
            first += 1;
        }
        times.push(start.elapsed());
    }
    report("logout in Django", first, times);
    sql.close().await;
    drop(app);
    drop(django);
    site.remove().await;
}

/// Prints a latency distribution, as `revocation.sh` greps it.
fn report(what: &str, first: usize, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "revocation: {what}: refused by the first request after it {first}/{}; \
         min {:.1?} p50 {:.1?} p90 {:.1?} p99 {:.1?} max {:.1?}",
        times.len(),
        times[0],
        at(0.5),
        at(0.9),
        at(0.99),
        times[times.len() - 1]
    );
}
