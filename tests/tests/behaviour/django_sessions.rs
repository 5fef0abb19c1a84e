//! `DjangoSessions`: a login made by Django (its test client, its `db`
//! session engine) is that user here, with the permissions Django gives
//! them, until Django logs them out or changes their password; a session
//! signed under a key the site has moved to its fallbacks still holds, and
//! not once the key is dropped; our logout ends it for Django too; a
//! cookie of any other shape is anonymous. Needs python3 with Django.

use std::process::Command;
use std::sync::Arc;

use actix_permit::backend::{DjangoBackend, DjangoSessions};
use actix_permit::django::signing::SecretKeys;
use actix_permit::{
    Permit, authenticate, login, login_not_required, login_required, logout, permission_required,
    reauthenticate, recent_login_required,
};
use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, get, post, test};
use serde_json::Value;

use crate::support::send;

#[login_required]
#[get("/me")]
async fn me(user: actix_permit::CurrentUser) -> HttpResponse {
    HttpResponse::Ok().body(user.id().unwrap_or_default().to_owned())
}

#[permission_required("auth.view_group")]
#[get("/groups")]
async fn groups() -> HttpResponse {
    HttpResponse::Ok().body("groups")
}

#[login_not_required]
#[post("/in/{name}")]
async fn sign_in(req: HttpRequest, name: actix_web::web::Path<String>) -> HttpResponse {
    let password = format!("{name} pw");
    match authenticate(&req, &name, &password).await {
        Ok(Some(user)) => match login(&req, &*user).await {
            Ok(()) => HttpResponse::Ok().body(user.id().to_owned()),
            Err(err) => HttpResponse::InternalServerError().body(err.to_string()),
        },
        Ok(None) => HttpResponse::Unauthorized().finish(),
        Err(err) => HttpResponse::ServiceUnavailable().body(err.to_string()),
    }
}

#[recent_login_required(max_age = "1h")]
#[get("/recent")]
async fn recent() -> HttpResponse {
    HttpResponse::Ok().body("recent")
}

/// Re-authenticates as `name`, with their password or not: "ok" or "wrong".
#[post("/again/{name}/{right}")]
async fn reauth(req: HttpRequest, path: actix_web::web::Path<(String, bool)>) -> HttpResponse {
    let (name, right) = path.into_inner();
    let password = if right {
        format!("{name} pw")
    } else {
        "not it".to_owned()
    };
    match reauthenticate(&req, &name, &password).await {
        Ok(true) => HttpResponse::Ok().body("ok"),
        Ok(false) => HttpResponse::Ok().body("wrong"),
        Err(err) => HttpResponse::ServiceUnavailable().body(err.to_string()),
    }
}

#[login_not_required]
#[post("/out")]
async fn out(req: HttpRequest) -> HttpResponse {
    match logout(&req).await {
        Ok(()) => HttpResponse::Ok().finish(),
        Err(err) => HttpResponse::InternalServerError().body(err.to_string()),
    }
}

fn django(db: &std::path::Path, secret: &str, args: &[&str]) -> String {
    django_engine("db", db, secret, args)
}

fn django_engine(engine: &str, db: &std::path::Path, secret: &str, args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/django/sessions.py");
    let output = Command::new("python3")
        .arg("-I")
        .env("PERMIT_SESSION_ENGINE", engine)
        .arg(script)
        .arg(db)
        .arg(secret)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

async fn seen(keys: SecretKeys, url: &str, path: &str, cookie: &str) -> (StatusCode, String) {
    seen_through(|sessions| sessions, keys, url, path, cookie).await
}

/// What a request with the session cookie `cookie` gets, from an app whose
/// sessions `engine` configures.
async fn seen_through(
    engine: fn(DjangoSessions) -> DjangoSessions,
    keys: SecretKeys,
    url: &str,
    path: &str,
    cookie: &str,
) -> (StatusCode, String) {
    let backend = Arc::new(DjangoBackend::connect(url, keys).await.unwrap());
    let app = test::init_service(
        App::new()
            .service(me)
            .service(groups)
            .service(out)
            .service(sign_in)
            .service(recent)
            .service(reauth)
            .wrap(Permit::new(Arc::clone(&backend)).identity(engine(backend.sessions()))),
    )
    .await;
    let method = if path == "/out" || path.starts_with("/in/") || path.starts_with("/again/") {
        test::TestRequest::post()
    } else {
        test::TestRequest::get()
    };
    let seen = send(
        &app,
        method.uri(path),
        Some(&Cookie::new("sessionid", cookie.to_owned())),
    )
    .await;
    if path.starts_with("/again/") {
        // The answer, and the session's cookie as the client has it next.
        let next = seen
            .cookie
            .map_or(cookie.to_owned(), |c| c.value().to_owned());
        return (seen.status, format!("{} {next}", seen.body));
    }
    if path.starts_with("/in/") {
        // The new session's cookie, as the client gets it.
        let cookie = seen.cookie.map(|c| format!("{}={}", c.name(), c.value()));
        return (seen.status, cookie.unwrap_or(seen.body));
    }
    (seen.status, seen.body)
}

#[actix_rt::test]
async fn a_django_login_is_that_user_here_until_django_ends_it() {
    if !crate::django_auth::django() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("permit-django-sessions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("site.sqlite3");
    let url = format!("sqlite://{}", db.display());
    let (old, new) = (
        "the key sessions were made with",
        "the key the site moved to",
    );
    let users: Value = serde_json::from_str(&django(&db, old, &["setup"])).unwrap();
    let cookie = |name: &str| users[name]["cookie"].as_str().unwrap().to_owned();
    let id = |name: &str| users[name]["id"].as_str().unwrap().to_owned();
    let keys = || SecretKeys::new(old, []);

    // Who Django says, with what Django grants.
    assert_eq!(
        seen(keys(), &url, "/me", &cookie("alice")).await,
        (StatusCode::OK, id("alice"))
    );
    assert_eq!(
        seen(keys(), &url, "/groups", &cookie("alice")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        seen(keys(), &url, "/me", &cookie("bob")).await,
        (StatusCode::OK, id("bob"))
    );
    assert_eq!(
        seen(keys(), &url, "/groups", &cookie("bob")).await.0,
        StatusCode::FORBIDDEN
    );

    // Any other cookie: anonymous.
    for other in [
        "",
        "x",
        &cookie("alice").to_uppercase(),
        &format!("{}0", cookie("alice")),
        "../../etc/passwd",
        &"a".repeat(4000),
    ] {
        assert_eq!(
            seen(keys(), &url, "/me", other).await.0,
            StatusCode::FORBIDDEN,
            "{other:?}"
        );
    }

    // The key moved to the fallbacks: still logged in; dropped: not.
    let rotated = || SecretKeys::new(new, [old.to_owned()]);
    assert_eq!(
        seen(rotated(), &url, "/me", &cookie("carol")).await,
        (StatusCode::OK, id("carol"))
    );
    assert_eq!(
        seen(SecretKeys::new(new, []), &url, "/me", &cookie("carol"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // Django logs alice out, changes bob's password: both anonymous here.
    django(&db, old, &["logout", &cookie("alice")]);
    assert_eq!(
        seen(keys(), &url, "/me", &cookie("alice")).await.0,
        StatusCode::FORBIDDEN
    );
    django(&db, old, &["password", "bob", "a new password"]);
    assert_eq!(
        seen(keys(), &url, "/me", &cookie("bob")).await.0,
        StatusCode::FORBIDDEN
    );

    // Our logout ends carol's session for Django too.
    assert_eq!(
        django(&db, old, &["exists", &cookie("carol")]).trim(),
        "true"
    );
    assert_eq!(
        seen(keys(), &url, "/out", &cookie("carol")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        django(&db, old, &["exists", &cookie("carol")]).trim(),
        "false"
    );
    assert_eq!(
        seen(keys(), &url, "/me", &cookie("carol")).await.0,
        StatusCode::FORBIDDEN
    );

    // A login here is a login Django accepts: on top of carol's ended
    // session, a new session that Django's get_user says is alice, with
    // her last_login set.
    let (status, set) = seen(keys(), &url, "/in/alice", &cookie("carol")).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let new = set
        .strip_prefix("sessionid=")
        .expect("the session cookie")
        .to_owned();
    let whois: Value = serde_json::from_str(&django(&db, old, &["whois", &new])).unwrap();
    assert_eq!(whois["username"], "alice");
    assert_eq!(whois["last_login"], true);
    assert_eq!(
        seen(keys(), &url, "/me", &new).await,
        (StatusCode::OK, id("alice"))
    );
    // Logged in again on top of her own session: a new key, the old row gone.
    let (_, again) = seen(keys(), &url, "/in/alice", &new).await;
    let again = again.strip_prefix("sessionid=").unwrap().to_owned();
    assert_ne!(again, new);
    assert_eq!(django(&db, old, &["exists", &new]).trim(), "false");
    let whois: Value = serde_json::from_str(&django(&db, old, &["whois", &again])).unwrap();
    assert_eq!(whois["username"], "alice");
    // A wrong password logs nobody in.
    let (status, _) = seen(keys(), &url, "/in/nobody", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    std::fs::remove_dir_all(&dir).ok();
}

#[actix_rt::test]
async fn signed_cookie_sessions_are_read_and_written_as_django_does() {
    if !crate::django_auth::django() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("permit-django-signed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("site.sqlite3");
    let _ = std::fs::remove_file(&db);
    let url = format!("sqlite://{}", db.display());
    let (old, new) = ("the key cookies were signed with", "the key after it");
    let django = |args: &[&str]| django_engine("signed_cookies", &db, old, args);
    let users: Value = serde_json::from_str(&django(&["setup"])).unwrap();
    let cookie = |name: &str| users[name]["cookie"].as_str().unwrap().to_owned();
    let id = |name: &str| users[name]["id"].as_str().unwrap().to_owned();
    let signed = |sessions: DjangoSessions| sessions.signed_cookies();
    let keys = || SecretKeys::new(old, []);
    let seen = |keys: SecretKeys, path: &'static str, cookie: String| {
        let url = url.clone();
        async move { seen_through(signed, keys, &url, path, &cookie).await }
    };

    // Django's cookie is that user here, with what Django grants.
    assert_eq!(
        seen(keys(), "/me", cookie("alice")).await,
        (StatusCode::OK, id("alice"))
    );
    assert_eq!(
        seen(keys(), "/groups", cookie("alice")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        seen(keys(), "/groups", cookie("bob")).await.0,
        StatusCode::FORBIDDEN
    );
    // The same cookie read as a `db` session key: anonymous.
    assert_eq!(
        seen_through(|s| s, keys(), &url, "/me", &cookie("alice"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // Rotated into the fallbacks: still in; dropped: out.
    assert_eq!(
        seen(
            SecretKeys::new(new, [old.to_owned()]),
            "/me",
            cookie("carol")
        )
        .await,
        (StatusCode::OK, id("carol"))
    );
    assert_eq!(
        seen(SecretKeys::new(new, []), "/me", cookie("carol"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    // Older than the cookie age (two weeks): out; younger: in.
    let aged = |days: &str| django(&["aged", "carol", days]).trim().to_owned();
    assert_eq!(
        seen(keys(), "/me", aged("13")).await,
        (StatusCode::OK, id("carol"))
    );
    assert_eq!(
        seen(keys(), "/me", aged("15")).await.0,
        StatusCode::FORBIDDEN
    );
    // Tampered with, anywhere: out.
    let alice = cookie("alice");
    for at in [0, alice.len() / 2, alice.len() - 1] {
        let mut bytes = alice.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            seen(keys(), "/me", tampered).await.0,
            StatusCode::FORBIDDEN,
            "{at}"
        );
    }
    // Django's password change ends bob's cookie here.
    django(&["password", "bob", "a new password"]);
    assert_eq!(
        seen(keys(), "/me", cookie("bob")).await.0,
        StatusCode::FORBIDDEN
    );

    // A login here, on top of alice's own session holding a non-ASCII value
    // Django stored: a cookie Django reads as alice, the value kept, her
    // last_login set; and Django's value set on our cookie reads back.
    let noted = django(&["note", &cookie("alice"), "café ☕ 𝄞"])
        .trim()
        .to_owned();
    let (status, set) = seen(keys(), "/in/alice", noted).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let ours = set
        .strip_prefix("sessionid=")
        .expect("the cookie")
        .to_owned();
    let whois: Value = serde_json::from_str(&django(&["whois", &ours])).unwrap();
    assert_eq!(
        (&whois["username"], &whois["last_login"], &whois["note"]),
        (
            &Value::from("alice"),
            &Value::from(true),
            &Value::from("café ☕ 𝄞")
        )
    );
    assert_eq!(
        seen(keys(), "/me", ours.clone()).await,
        (StatusCode::OK, id("alice"))
    );
    // Our logout removes the cookie.
    let backend = Arc::new(DjangoBackend::connect(&url, keys()).await.unwrap());
    let app = test::init_service(
        App::new()
            .service(out)
            .wrap(Permit::new(Arc::clone(&backend)).identity(backend.sessions().signed_cookies())),
    )
    .await;
    let res = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/out")
            .cookie(Cookie::new("sessionid", ours))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let removal = res.response().cookies().find(|c| c.name() == "sessionid");
    assert_eq!(
        removal.map(|c| (c.value().to_owned(), c.max_age())),
        Some((String::new(), Some(actix_web::cookie::time::Duration::ZERO)))
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Django's `cached_db` engine with its cache in Redis: a logout here
/// removes the row and Django's cached copy, so Django's views stop
/// seeing the user too; a login's new key takes the old one's copy away.
/// Needs `REDIS_URL` (and python3's `redis`); says it skipped without.
#[actix_rt::test]
async fn a_logout_here_ends_a_cached_db_session_for_django_too() {
    if !crate::django_auth::django() {
        return;
    }
    let Ok(redis) = std::env::var("REDIS_URL") else {
        eprintln!("skipped: REDIS_URL is not set (Django's cached_db sessions in Redis)");
        return;
    };
    let prefix = format!("permit-test-{}", std::process::id());
    let dir = std::env::temp_dir().join(format!("permit-django-cached-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("site.sqlite3");
    let _ = std::fs::remove_file(&db);
    let url = format!("sqlite://{}", db.display());
    let secret = "the site's key";
    let django = |args: &[&str]| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/django/sessions.py");
        let output = Command::new("python3")
            .arg("-I")
            .arg(script)
            .arg(&db)
            .arg(secret)
            .args(args)
            .env("PERMIT_SESSION_ENGINE", "cached_db")
            .env("PERMIT_REDIS_URL", &redis)
            .env("PERMIT_KEY_PREFIX", &prefix)
            .output()
            .expect("run python3");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let users: Value = serde_json::from_str(&django(&["setup"])).unwrap();
    let cookie = |name: &str| users[name]["cookie"].as_str().unwrap().to_owned();
    let backend = Arc::new(
        DjangoBackend::connect(&url, SecretKeys::new(secret, []))
            .await
            .unwrap(),
    );
    let sessions = backend.sessions().cached_db(&redis, &prefix, 1).unwrap();
    let app = test::init_service(
        App::new()
            .service(me)
            .service(out)
            .service(sign_in)
            .wrap(Permit::new(Arc::clone(&backend)).identity(sessions)),
    )
    .await;
    let post = |path: &str, key: String| {
        test::TestRequest::post()
            .uri(path)
            .cookie(Cookie::new("sessionid", key))
    };

    // Django's login, seen here; Django holds it in its cache.
    assert_eq!(django(&["cached", &cookie("alice")]), "true");
    let seen = send(
        &app,
        test::TestRequest::get().uri("/me"),
        Some(&Cookie::new("sessionid", cookie("alice"))),
    )
    .await;
    assert_eq!(seen.status, StatusCode::OK);

    // Our logout: no row, no cached copy, and Django's get_user is anonymous.
    let seen = send(&app, post("/out", cookie("alice")), None).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert_eq!(django(&["exists", &cookie("alice")]), "false");
    assert_eq!(django(&["cached", &cookie("alice")]), "false");
    let whois: Value = serde_json::from_str(&django(&["whois", &cookie("alice")])).unwrap();
    assert_eq!(whois["username"], "anonymous");

    // Our login on top of bob's session: his old key's copy is gone too, and
    // Django sees the new session.
    assert_eq!(django(&["cached", &cookie("bob")]), "true");
    let seen = send(&app, post("/in/bob", cookie("bob")), None).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    let new = seen
        .cookie
        .expect("a new session cookie")
        .value()
        .to_owned();
    assert_eq!(django(&["cached", &cookie("bob")]), "false");
    let whois: Value = serde_json::from_str(&django(&["whois", &new])).unwrap();
    assert_eq!(whois["username"], "bob");

    // A Redis that does not answer fails the logout (the row still goes).
    let down = app_down(&backend, &prefix).await;
    let seen = send(&down, post("/out", cookie("carol")), None).await;
    assert_eq!(seen.status, StatusCode::INTERNAL_SERVER_ERROR);
    django(&["forget", &cookie("carol"), &new]);
    std::fs::remove_dir_all(&dir).ok();
}

async fn app_down(
    backend: &Arc<DjangoBackend>,
    prefix: &str,
) -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
> {
    let sessions = backend
        .sessions()
        .cached_db("redis://127.0.0.1:1", prefix, 1)
        .unwrap();
    test::init_service(
        App::new()
            .service(out)
            .wrap(Permit::new(Arc::clone(backend)).identity(sessions)),
    )
    .await
}

/// A re-authentication here is written into the Django session itself
/// (`db` and `signed_cookies`): `#[recent_login_required]` passes after
/// it, the session keeps its user and its data for Django, and only the
/// session user's own password does it. A Django login has no proof here
/// yet; a login here has.
#[actix_rt::test]
async fn a_reauthentication_is_kept_in_the_django_session() {
    if !crate::django_auth::django() {
        return;
    }
    for engine in ["db", "signed_cookies"] {
        let dir = std::env::temp_dir().join(format!(
            "permit-django-again-{engine}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("site.sqlite3");
        let _ = std::fs::remove_file(&db);
        let url = format!("sqlite://{}", db.display());
        let secret = "the key of the site";
        let django = |args: &[&str]| django_engine(engine, &db, secret, args);
        let users: Value = serde_json::from_str(&django(&["setup"])).unwrap();
        let through: fn(DjangoSessions) -> DjangoSessions = match engine {
            "db" => |s| s,
            _ => DjangoSessions::signed_cookies,
        };
        let seen = |path: String, cookie: String| {
            let url = url.clone();
            async move { seen_through(through, SecretKeys::new(secret, []), &url, &path, &cookie).await }
        };
        // A value of Django's own in the session, to be kept through ours.
        let alice = users["alice"]["cookie"].as_str().unwrap();
        let alice = django(&["note", alice, "kept"]).trim().to_owned();

        // Django's login proved the password to Django, not here.
        assert_eq!(
            seen("/recent".into(), alice.clone()).await.0,
            StatusCode::FORBIDDEN,
            "{engine}"
        );
        // Another account's password, or a wrong one: nothing recorded.
        for attempt in ["/again/bob/true", "/again/alice/false"] {
            let (status, body) = seen(attempt.into(), alice.clone()).await;
            assert_eq!(
                (status, body.split(' ').next()),
                (StatusCode::OK, Some("wrong")),
                "{engine} {attempt}"
            );
        }
        assert_eq!(
            seen("/recent".into(), alice.clone()).await.0,
            StatusCode::FORBIDDEN,
            "{engine}"
        );
        // Her own: recorded in the session, which stays hers, for both sides.
        let (status, body) = seen("/again/alice/true".into(), alice.clone()).await;
        let (answer, renewed) = body.split_once(' ').unwrap();
        assert_eq!((status, answer), (StatusCode::OK, "ok"), "{engine}: {body}");
        assert_eq!(
            engine == "db",
            renewed == alice,
            "{engine}: a row keeps its key"
        );
        assert_eq!(
            seen("/recent".into(), renewed.to_owned()).await,
            (StatusCode::OK, "recent".to_owned()),
            "{engine}"
        );
        let alice_id = users["alice"]["id"].as_str().unwrap().to_owned();
        assert_eq!(
            seen("/me".into(), renewed.to_owned()).await,
            (StatusCode::OK, alice_id),
            "{engine}"
        );
        let django_sees: Value = serde_json::from_str(&django(&["whois", renewed])).unwrap();
        assert_eq!(django_sees["username"], "alice", "{engine}");
        assert_eq!(django_sees["note"], "kept", "{engine}");

        // A login here proves it at once.
        let (status, fresh) = seen("/in/bob".into(), String::new()).await;
        assert_eq!(status, StatusCode::OK);
        let fresh = fresh.split_once('=').unwrap().1.to_owned();
        assert_eq!(
            seen("/recent".into(), fresh).await.0,
            StatusCode::OK,
            "{engine}"
        );
    }
}
