//! `DjangoCsrf`: a form Django rendered (its test client, its
//! `CsrfViewMiddleware`, its `{% csrf_token %}`) posts to a Rust handler
//! with Django's token and is accepted, with the secret in the `csrftoken`
//! cookie or in the session (`CSRF_USE_SESSIONS`); without the token, with
//! another's, from another origin or over HTTPS from another page, it is
//! refused before the handler runs. Over generated requests, the handler
//! runs exactly when Django's rules (as this middleware applies them) let
//! it, and no input makes anything but 200 or 403. Needs python3 with
//! Django.

use std::process::Command;
use std::sync::Arc;

use actix_permit::backend::{DjangoBackend, DjangoCsrf};
use actix_permit::django::signing::SecretKeys;
use actix_permit::{Permit, login_not_required, login_required};
use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, patch, post, test, web};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

use crate::support::send;

const SECRET_KEY: &str = "the site's key";

#[login_required]
#[post("/notes")]
async fn add_note(user: actix_permit::CurrentUser, body: String) -> HttpResponse {
    HttpResponse::Ok().body(format!("{}:{body}", user.id().unwrap_or_default()))
}

#[login_required]
#[patch("/notes")]
async fn change_note(user: actix_permit::CurrentUser, body: String) -> HttpResponse {
    HttpResponse::Ok().body(format!("{}:{body}", user.id().unwrap_or_default()))
}

#[login_not_required]
#[post("/open")]
async fn open_note(body: String) -> HttpResponse {
    HttpResponse::Ok().body(format!("open:{body}"))
}

/// What Django rendered for alice: her session, the CSRF cookie (none with
/// `CSRF_USE_SESSIONS`) and the token of each page.
struct Pages {
    id: String,
    session: String,
    csrftoken: Option<String>,
    tokens: Vec<String>,
}

fn django_pages(db: &std::path::Path, mode: &str, pages: usize) -> Pages {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/django/csrf.py");
    let output = Command::new("python3")
        .arg("-I")
        .arg(script)
        .arg(db)
        .arg(SECRET_KEY)
        .arg(mode)
        .arg(pages.to_string())
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    // Django itself takes each page's token and refuses a post without one.
    assert!(out["accepted"].as_array().unwrap().iter().all(|s| s == 200));
    assert_eq!(out["refused"], 403);
    let tokens = out["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|page| {
            let page = page.as_str().unwrap();
            let value = page
                .split(r#"name="csrfmiddlewaretoken" value=""#)
                .nth(1)
                .unwrap();
            value[..value.find('"').unwrap()].to_owned()
        })
        .collect();
    Pages {
        id: out["id"].as_str().unwrap().to_owned(),
        session: out["session"].as_str().unwrap().to_owned(),
        csrftoken: out["csrftoken"].as_str().map(str::to_owned),
        tokens,
    }
}

fn site(name: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("permit-django-csrf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join(format!("{name}.sqlite3"));
    let _ = std::fs::remove_file(&db);
    let url = format!("sqlite://{}", db.display());
    (db, url)
}

/// A request as a browser on `testserver` would send it, with alice's
/// cookies.
fn request(method: &str, pages: &Pages) -> test::TestRequest {
    let req = match method {
        "POST" => test::TestRequest::post(),
        _ => test::TestRequest::patch(),
    };
    let mut req = req
        .uri("/notes")
        .insert_header(("host", "testserver"))
        .cookie(Cookie::new("sessionid", pages.session.clone()));
    if let Some(secret) = &pages.csrftoken {
        req = req.cookie(Cookie::new("csrftoken", secret.clone()));
    }
    req
}

fn form(req: test::TestRequest, body: String) -> test::TestRequest {
    req.insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(body)
}

#[actix_rt::test]
async fn a_form_django_rendered_posts_here_with_its_token_and_not_without() {
    if !crate::django_auth::django() {
        return;
    }
    for mode in ["cookie", "session"] {
        let (db, url) = site(mode);
        let pages = django_pages(&db, mode, 4);
        let backend = Arc::new(
            DjangoBackend::connect(&url, SecretKeys::new(SECRET_KEY, []))
                .await
                .unwrap(),
        );
        let mut csrf = DjangoCsrf::new().trusted_origins(["https://*.example.org"]);
        if mode == "session" {
            csrf = csrf.use_sessions(backend.sessions());
        }
        let app = test::init_service(
            App::new()
                .service(add_note)
                .service(change_note)
                .service(open_note)
                .wrap(Permit::new(Arc::clone(&backend)).identity(backend.sessions()))
                .wrap(csrf),
        )
        .await;
        let seen = |req: test::TestRequest| send(&app, req, None);

        for token in &pages.tokens {
            // The page's form, as the browser posts it: the handler runs as
            // alice and reads the whole form.
            let body = format!("csrfmiddlewaretoken={token}&text=caf%C3%A9");
            let got = seen(form(request("POST", &pages), body.clone())).await;
            assert_eq!(
                (got.status, got.body),
                (StatusCode::OK, format!("{}:{body}", pages.id)),
                "{mode}"
            );
            // A script on the page, with the header.
            let got = seen(
                request("PATCH", &pages)
                    .insert_header(("x-csrftoken", token.as_str()))
                    .insert_header(("origin", "http://testserver"))
                    .set_payload("{}"),
            )
            .await;
            assert_eq!(got.status, StatusCode::OK, "{mode}: {}", got.body);
            // The same, from a page on another site.
            let got = seen(
                request("PATCH", &pages)
                    .insert_header(("x-csrftoken", token.as_str()))
                    .insert_header(("origin", "https://evil.example")),
            )
            .await;
            assert_eq!(got.status, StatusCode::FORBIDDEN, "{mode}");
        }
        let token = &pages.tokens[0];

        // Without the token, or with a token of another secret.
        let got = seen(form(request("POST", &pages), "text=x".into())).await;
        assert_eq!(
            (got.status, got.body.contains("CSRF token missing.")),
            (StatusCode::FORBIDDEN, true),
            "{mode}: {}",
            got.body
        );
        let other = django_pages(&site(&format!("{mode}-other")).0, "cookie", 1);
        let got =
            seen(request("PATCH", &pages).insert_header(("x-csrftoken", other.tokens[0].as_str())))
                .await;
        assert_eq!(got.status, StatusCode::FORBIDDEN, "{mode}");
        if mode == "cookie" {
            // The token without its cookie.
            let got = seen(
                test::TestRequest::patch()
                    .uri("/notes")
                    .insert_header(("host", "testserver"))
                    .insert_header(("x-csrftoken", token.as_str()))
                    .cookie(Cookie::new("sessionid", pages.session.clone())),
            )
            .await;
            assert_eq!(got.status, StatusCode::FORBIDDEN);
            assert!(got.body.contains("CSRF cookie not set."), "{}", got.body);
        }

        // Over HTTPS without Origin, the Referer must be this site's, as in
        // Django; a trusted origin's subdomain may post.
        let https = |referer: Option<&str>| {
            let req = request("PATCH", &pages)
                .insert_header(("x-forwarded-proto", "https"))
                .insert_header(("x-csrftoken", token.as_str()));
            match referer {
                Some(referer) => req.insert_header(("referer", referer)),
                None => req,
            }
        };
        for (referer, status) in [
            (None, StatusCode::FORBIDDEN),
            (Some("https://testserver/form"), StatusCode::OK),
            (Some("http://testserver/form"), StatusCode::FORBIDDEN),
            (Some("https://evil.example/form"), StatusCode::FORBIDDEN),
            (Some("https://shop.example.org/"), StatusCode::OK),
            (Some("https://example.org/"), StatusCode::OK),
            (Some("https://badexample.org/"), StatusCode::FORBIDDEN),
        ] {
            assert_eq!(
                seen(https(referer)).await.status,
                status,
                "{mode} {referer:?}"
            );
        }

        // No session cookie: nothing to abuse, no token needed; but never
        // from another site's page (no logging a browser in from there).
        let post_open = |origin: Option<&str>| {
            let req = test::TestRequest::post()
                .uri("/open")
                .insert_header(("host", "testserver"));
            match origin {
                Some(origin) => req.insert_header(("origin", origin)),
                None => req,
            }
        };
        assert_eq!(seen(post_open(None)).await.status, StatusCode::OK);
        assert_eq!(
            seen(post_open(Some("http://testserver"))).await.status,
            StatusCode::OK
        );
        assert_eq!(
            seen(post_open(Some("https://evil.example"))).await.status,
            StatusCode::FORBIDDEN
        );
    }
}

/// One generated request's parts.
#[derive(Debug, Clone)]
struct Shape {
    method: &'static str,
    https: bool,
    origin: Option<&'static str>,
    referer: Option<&'static str>,
    session: bool,
    /// The `csrftoken` cookie: one of the two secrets, or garbage.
    cookie: Option<Result<usize, String>>,
    /// In the header: a token of a secret (plain or one of its masks), or
    /// garbage.
    header: Option<Result<(usize, usize), String>>,
    form: Option<Result<(usize, usize), String>>,
    /// `Authorization: Bearer …` (an API token).
    bearer: bool,
}

const ORIGINS: &[&str] = &[
    "http://testserver",
    "https://testserver",
    "https://a.example.org",
    "http://a.example.org",
    "https://example.org",
    "HTTPS://TESTSERVER",
    "https://evil.example",
    "null",
];
const REFERERS: &[&str] = &[
    "https://testserver/page",
    "http://testserver/page",
    "https://b.example.org/x",
    "https://evil.example/",
    "https://testserver.evil.example/",
    "not a url",
];

fn token() -> impl Strategy<Value = Option<Result<(usize, usize), String>>> {
    proptest::option::of(prop_oneof![
        4 => (0..2usize, 0..4usize).prop_map(Ok),
        1 => "[ -~]{0,70}".prop_map(Err),
    ])
}

fn shapes() -> impl Strategy<Value = Shape> {
    (
        proptest::sample::select(&["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"][..]),
        any::<bool>(),
        proptest::option::of(proptest::sample::select(ORIGINS)),
        proptest::option::of(proptest::sample::select(REFERERS)),
        any::<bool>(),
        proptest::option::of(prop_oneof![
            4 => (0..2usize).prop_map(Ok),
            1 => "[a-zA-Z0-9]{0,70}".prop_map(Err),
        ]),
        token(),
        token(),
        proptest::bool::weighted(0.2),
    )
        .prop_map(
            |(method, https, origin, referer, session, cookie, header, form, bearer)| Shape {
                method,
                https,
                origin,
                referer,
                session,
                cookie,
                header,
                form,
                bearer,
            },
        )
}

/// Whether Django's rules let the request through: the model the
/// middleware is checked against. `secrets[k]` is a secret; token `(k, 0)`
/// is it plain, `(k, i)` Django's `i`-th masked token of it.
fn allowed(shape: &Shape) -> bool {
    let origin_ok = |origin: &str| {
        let own = if shape.https {
            "https://testserver"
        } else {
            "http://testserver"
        };
        own == origin
            || [
                "https://a.example.org",
                "https://b.example.org",
                "https://example.org",
            ]
            .contains(&origin)
    };
    if matches!(shape.method, "GET" | "HEAD" | "OPTIONS") {
        return true;
    }
    // A token without the session cookie: nothing a browser adds by itself.
    if shape.bearer && !shape.session {
        return true;
    }
    if let Some(origin) = shape.origin
        && !origin_ok(origin)
    {
        return false;
    }
    if !shape.session {
        return true;
    }
    if shape.origin.is_none() && shape.https {
        let referer_ok = shape.referer.is_some_and(|r| {
            r.strip_prefix("https://")
                .and_then(|rest| rest.split('/').next())
                .is_some_and(|host| origin_ok(&format!("https://{host}")))
        });
        if !referer_ok {
            return false;
        }
    }
    let Some(Ok(secret)) = shape.cookie else {
        return false;
    };
    let form = if shape.method == "POST" {
        shape.form.clone()
    } else {
        None
    };
    let token = match form {
        Some(Err(garbage)) if garbage.is_empty() => shape.header.clone(),
        Some(form) => Some(form),
        None => shape.header.clone(),
    };
    matches!(token, Some(Ok((k, _))) if k == secret)
}

#[core::prelude::v1::test]
fn over_generated_requests_the_handler_runs_exactly_when_django_s_rules_allow() {
    if !crate::django_auth::django() {
        return;
    }
    // Two secrets, each with Django's tokens: plain, then three masks.
    let secrets: Vec<(String, Vec<String>)> = ["one", "two"]
        .iter()
        .map(|name| {
            let pages = django_pages(&site(&format!("generated-{name}")).0, "cookie", 3);
            let secret = pages.csrftoken.unwrap();
            let mut tokens = vec![secret.clone()];
            tokens.extend(pages.tokens);
            (secret, tokens)
        })
        .collect();
    let system = actix_rt::System::new();
    let app = system.block_on(test::init_service(
        App::new()
            .default_service(web::to(|body: String| async move {
                HttpResponse::Ok().body(format!("ran:{body}"))
            }))
            .wrap(DjangoCsrf::new().trusted_origins(["https://*.example.org"])),
    ));
    let mut runner = TestRunner::new(Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    });
    let token_of = |t: &Result<(usize, usize), String>| match t {
        Ok((k, i)) => secrets[*k].1[*i].clone(),
        Err(garbage) => garbage.clone(),
    };
    let outcome = runner.run(&shapes(), |shape| {
        system.block_on(async {
            let method = actix_web::http::Method::from_bytes(shape.method.as_bytes()).unwrap();
            let mut req = test::TestRequest::default()
                .method(method)
                .uri("/anything")
                .insert_header(("host", "testserver"));
            if shape.https {
                req = req.insert_header(("x-forwarded-proto", "https"));
            }
            if let Some(origin) = shape.origin {
                req = req.insert_header(("origin", origin));
            }
            if let Some(referer) = shape.referer {
                req = req.insert_header(("referer", referer));
            }
            if shape.session {
                req = req.cookie(Cookie::new("sessionid", "abcdefgh12345678"));
            }
            if shape.bearer {
                req = req.insert_header(("authorization", "Bearer permit_x"));
            }
            match &shape.cookie {
                Some(Ok(k)) => req = req.cookie(Cookie::new("csrftoken", secrets[*k].0.clone())),
                Some(Err(garbage)) => req = req.cookie(Cookie::new("csrftoken", garbage.clone())),
                None => {}
            }
            if let Some(header) = &shape.header {
                req = req.insert_header(("x-csrftoken", token_of(header)));
            }
            let mut body = "note=1".to_owned();
            if let Some(form) = &shape.form {
                let token: String = percent_encoding::utf8_percent_encode(
                    &token_of(form),
                    percent_encoding::NON_ALPHANUMERIC,
                )
                .to_string();
                body = format!("note=1&csrfmiddlewaretoken={token}");
            }
            let req = form(req, body.clone());
            let got = send(&app, req, None).await;
            let expected = allowed(&shape);
            let ran = got.body == format!("ran:{body}");
            prop_assert!(
                got.status == StatusCode::OK || got.status == StatusCode::FORBIDDEN,
                "{shape:?}: {}",
                got.status
            );
            prop_assert_eq!(ran, expected, "{:?}: {} {}", shape, got.status, got.body);
            Ok(())
        })
    });
    if let Err(err) = outcome {
        panic!("{err}");
    }
}

/// A form too large to look in is refused having read at most the limit
/// and a chunk, and nothing at all when its declared length says so.
#[actix_rt::test]
async fn a_form_past_the_limit_is_refused_without_reading_it_all() {
    use std::cell::Cell;
    use std::rc::Rc;

    use crate::support::{CHUNK, counting_body};

    let app = test::init_service(
        App::new()
            .default_service(web::to(|| async { HttpResponse::Ok().body("ran") }))
            .wrap(DjangoCsrf::new().form_limit(2 * CHUNK)),
    )
    .await;
    for declared in [None, Some(10 * CHUNK)] {
        let read = Rc::new(Cell::new(0));
        let mut req = test::TestRequest::post()
            .uri("/")
            .insert_header(("host", "testserver"))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .cookie(Cookie::new("sessionid", "abcdefgh12345678"))
            .cookie(Cookie::new("csrftoken", "a".repeat(32)));
        if let Some(length) = declared {
            req = req.insert_header(("content-length", length.to_string()));
        }
        let res = test::call_service(&app, counting_body(req, 10, &read)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let most = if declared.is_some() { 0 } else { 3 * CHUNK };
        assert!(read.get() <= most, "{declared:?}: read {}", read.get());
    }
}
