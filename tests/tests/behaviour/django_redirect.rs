//! The login redirect as Django writes it (issue 25, part 5): for
//! generated paths, queries, login URLs and redirect fields, the `Location`
//! an anonymous request gets is Django's own (`login_required`, run by
//! `tests/django/login_redirect.py` on the installed Django), except that
//! an escape Django decodes and writes again may stay as the client sent
//! it: both `next` values decode to the same target.
//!
//! Needs `python3` with Django; without it the test says so and passes,
//! unless `PERMIT_DJANGO_TESTS=require` (CI) makes that a failure.

use std::io::Write;
use std::process::{Command, Stdio};

use actix_permit::{Permit, config::Config, login_required};
use actix_web::{HttpResponse, test};
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use crate::support::{backend, send, session};

#[login_required]
async fn anything() -> HttpResponse {
    HttpResponse::Ok().body("ran")
}

/// Whether Django can be run; `None` after saying why not.
fn django() -> Option<()> {
    crate::support::python_has(&["django"]).then_some(())
}

#[derive(Debug, Clone)]
struct Case {
    path: String,
    login_url: &'static str,
    field: &'static str,
}

/// A piece of a path or query: plain characters, or the escaped UTF-8 of
/// any characters. (Escapes of bytes that are not UTF-8 are left out:
/// Django escapes the `%` of those a second time, so its `next` names
/// another path than the request's; ours names the request's.)
fn piece(plain: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::string::string_regex(plain).unwrap(),
        1 => proptest::collection::vec(any::<char>(), 1..3).prop_map(|chars| {
            let text: String = chars.into_iter().collect();
            text.bytes().map(|b| format!("%{b:02X}")).collect()
        }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let segment = proptest::collection::vec(piece("[a-z0-9._~!$'()*,;:@-]{0,6}"), 1..3)
        .prop_map(|pieces| pieces.concat());
    let query = proptest::option::of(
        proptest::collection::vec(piece("[a-z0-9=&+/?-]{0,6}"), 0..4)
            .prop_map(|pieces| pieces.concat()),
    );
    (
        "[a-z]{1,5}",
        proptest::collection::vec(segment, 0..4),
        any::<bool>(),
        query,
        proptest::sample::select(vec![
            "/accounts/login/",
            "/login?next=old&a=b",
            "/login?a=1&next=x&next=y",
            "/l#top",
            "https://sso.example/login",
            "https://sso.example/login?next=x&b=2",
            "https://shop.example/accounts/login/",
            "http://shop.example/accounts/login/",
        ]),
        proptest::sample::select(vec!["next", "to", "return_to"]),
    )
        .prop_map(|(first, rest, slash, query, login_url, field)| {
            let mut path = format!("/{first}");
            for segment in rest {
                path.push('/');
                path.push_str(&segment);
            }
            if slash {
                path.push('/');
            }
            if let Some(query) = query {
                path.push('?');
                path.push_str(&query);
            }
            Case {
                path,
                login_url,
                field,
            }
        })
}

/// `location` with the value of `field` taken out, and the target it names
/// as bytes: the value decoded (the URL to come back to), then that URL's
/// escapes decoded (`%38` and `8` name the same path). The rest must match
/// exactly.
fn split(location: &str, field: &str) -> (String, Option<Vec<u8>>) {
    let (before, fragment) = location.split_once('#').unwrap_or((location, ""));
    let (base, query) = before.split_once('?').unwrap_or((before, ""));
    let mut value = None;
    let pairs: Vec<&str> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, next)) if key == field => {
                let url = percent_decode_str(next).decode_utf8_lossy().into_owned();
                value = Some(percent_decode_str(&url).collect());
                "(next)"
            }
            _ => pair,
        })
        .collect();
    (format!("{base}?{}#{fragment}", pairs.join("&")), value)
}

#[actix_rt::test]
async fn the_login_redirect_is_djangos() {
    if django().is_none() {
        return;
    }
    let mut runner = TestRunner::default();
    let cases: Vec<Case> = (0..400)
        .map(|_| case().new_tree(&mut runner).unwrap().current())
        .collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/django/login_redirect.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut input = String::new();
    for case in &cases {
        input.push_str(
            &serde_json::json!({"path": case.path, "login_url": case.login_url, "field": case.field})
                .to_string(),
        );
        input.push('\n');
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the Django script failed");
    let theirs: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(theirs.len(), cases.len());

    let users = backend();
    let mut same = 0;
    for (case, theirs) in cases.iter().zip(&theirs) {
        let config = Config::default()
            .login_url(case.login_url)
            .redirect_field(case.field)
            .site_origin("https://shop.example");
        let app = test::init_service(
            actix_web::App::new()
                .default_service(actix_web::web::to(anything))
                .wrap(Permit::new(users.clone()).config(config))
                .wrap(session()),
        )
        .await;
        let seen = send(
            &app,
            test::TestRequest::get()
                .uri(&case.path)
                .insert_header(("host", "shop.example")),
            None,
        )
        .await;
        let ours = seen
            .location
            .unwrap_or_else(|| format!("({})", seen.status));
        same += usize::from(ours == *theirs);
        assert_eq!(
            split(&ours, case.field),
            split(theirs, case.field),
            "{case:?}\n ours:   {ours}\n Django: {theirs}"
        );
    }
    eprintln!(
        "the login redirect: {same} of {} the same as Django's to the byte",
        cases.len()
    );
}
