//! The object a check sees is the object the handler acts on (issue 25,
//! part 1): for every request that passes `object = "id"`, the id the
//! check used is exactly the value the handler's own `web::Path` yields for
//! that segment, whatever escapes the client wrote; where a scope and the
//! handler both have a segment of that name, the request is refused.
//! Property-tested over generated ids (every byte, each written literally
//! or percent-encoded in either case, `%`, `+`, dots, empty, long,
//! non-UTF-8) and generated nestings of scopes.

use std::cell::RefCell;
use std::sync::Arc;

use actix_permit::{
    CurrentUser, Permit, backend::MemoryBackend, permission_required, user_passes_test,
};
use actix_web::http::{StatusCode, Uri};
use actix_web::{App, Scope, post, test, web};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde::Deserialize;

use crate::support::{Logs, Recording, backend, login_as, send, session, session_routes};

thread_local! {
    /// The one object the predicate lets through, and what it was asked.
    static GRANTED: RefCell<String> = const { RefCell::new(String::new()) };
    static PREDICATE_ASKED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn only_the_granted(_: &CurrentUser, id: &str) -> bool {
    PREDICATE_ASKED.with(|asked| asked.borrow_mut().push(id.to_owned()));
    GRANTED.with(|granted| *granted.borrow() == id)
}

/// The segment as the handler's own extractor yields it.
#[derive(Deserialize)]
struct Named {
    id: String,
}

#[permission_required("inventory.change_item", object = "id")]
#[post("/docs/{id}")]
async fn edit_doc(path: web::Path<Named>) -> String {
    path.into_inner().id
}

#[user_passes_test(only_the_granted, object = "id")]
#[post("/notes/{id}")]
async fn edit_note(path: web::Path<Named>) -> String {
    path.into_inner().id
}

/// The handlers under scopes `/s0/{names[0]}/s1/{names[1]}/...`.
fn nested(names: &[&'static str]) -> Option<Scope> {
    let (last, outer) = names.split_last()?;
    let mut scope = web::scope(&format!("/s{}/{{{last}}}", outer.len()))
        .service(edit_doc)
        .service(edit_note);
    for (depth, name) in outer.iter().enumerate().rev() {
        scope = web::scope(&format!("/s{depth}/{{{name}}}")).service(scope);
    }
    Some(scope)
}

/// Bytes a path may carry unescaped (RFC 3986 `pchar` without `%`, plus
/// `%` itself, which the client may write bare to mean anything).
fn may_stay_literal(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@%".contains(&byte)
}

/// Writes `bytes` as a path segment: each byte literally where a URI allows
/// it and `literal` says so, percent-encoded otherwise (upper or lower hex).
fn write_segment(bytes: &[u8], literal: &[bool], upper: bool) -> String {
    let mut out = String::new();
    for (i, &byte) in bytes.iter().enumerate() {
        if may_stay_literal(byte) && literal.get(i).copied().unwrap_or(true) {
            out.push(char::from(byte));
        } else if upper {
            out.push_str(&format!("%{byte:02X}"));
        } else {
            out.push_str(&format!("%{byte:02x}"));
        }
    }
    out
}

/// An id: any bytes, bytes made of escapes and their parts, or long.
fn id_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..10),
        4 => proptest::collection::vec(
            proptest::sample::select(b"%2fF5+.x/A".to_vec()),
            0..12
        ),
        1 => proptest::collection::vec(any::<u8>(), 2000..5000),
    ]
}

/// One request: the id the user holds the permission on, and the segment
/// sent, written from that id or from other bytes.
#[derive(Debug, Clone)]
struct Attempt {
    granted: String,
    segment: String,
    scope_values: Vec<String>,
    note: bool,
}

fn attempt() -> impl Strategy<Value = Attempt> {
    (
        id_bytes(),
        id_bytes(),
        any::<bool>(),
        proptest::collection::vec(any::<bool>(), 0..5000),
        any::<bool>(),
        proptest::collection::vec(id_bytes(), 4),
        any::<bool>(),
    )
        .prop_map(
            |(granted, other, from_granted, literal, upper, scope_values, note)| {
                let granted = String::from_utf8_lossy(&granted).into_owned();
                let source = if from_granted {
                    granted.as_bytes().to_vec()
                } else {
                    other
                };
                let segment = write_segment(&source, &literal, upper);
                let scope_values = scope_values
                    .iter()
                    .map(|value| match write_segment(value, &literal, !upper) {
                        empty if empty.is_empty() => "v".to_owned(),
                        written => written,
                    })
                    // Scopes sometimes carry the granted id itself.
                    .chain([write_segment(granted.as_bytes(), &literal, upper)])
                    .collect();
                Attempt {
                    granted,
                    segment,
                    scope_values,
                    note,
                }
            },
        )
}

fn shape() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::collection::vec(proptest::sample::select(vec!["id", "shop", "x"]), 0..4)
}

#[::core::prelude::v1::test]
fn the_id_checked_is_the_id_the_handler_gets() {
    let system = actix_rt::System::new();
    let memory = backend();
    let recording = Recording::new(memory.clone());
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    });
    let (logs, _guard) = Logs::capture();
    let strategy = (shape(), proptest::collection::vec(attempt(), 24));
    let outcome = runner.run(&strategy, |(names, attempts)| {
        system.block_on(case(&memory, &recording, &names, attempts))
    });
    if let Err(err) = outcome {
        panic!("{err}");
    }
    assert!(
        logs.text()
            .contains("names several segments of this route (a scope's and the handler's?)"),
        "the ambiguous shape was generated and logged"
    );
}

async fn case(
    memory: &MemoryBackend,
    recording: &Arc<Recording>,
    names: &[&'static str],
    attempts: Vec<Attempt>,
) -> Result<(), TestCaseError> {
    let app = test::init_service(
        App::new()
            .configure(session_routes)
            .configure(|cfg| match nested(names) {
                Some(scope) => {
                    cfg.service(scope);
                }
                None => {
                    cfg.service(edit_doc).service(edit_note);
                }
            })
            .wrap(Permit::new(recording.clone()))
            .wrap(session()),
    )
    .await;
    // "plain" holds no model permission: only the object grant lets through.
    let cookie = login_as(&app, "plain").await;
    let ambiguous = names.contains(&"id");
    for attempt in attempts {
        let prefix: String = names
            .iter()
            .enumerate()
            .map(|(depth, _)| format!("/s{depth}/{}", attempt.scope_values[depth]))
            .collect();
        let kind = if attempt.note { "notes" } else { "docs" };
        let uri = format!("{prefix}/{kind}/{}", attempt.segment);
        if Uri::try_from(uri.as_str()).is_err() {
            continue;
        }
        memory
            .grant_object("plain", "inventory.change_item", &attempt.granted)
            .unwrap();
        GRANTED.with(|granted| granted.borrow_mut().clone_from(&attempt.granted));
        recording.asked.lock().unwrap().clear();
        PREDICATE_ASKED.with(|asked| asked.borrow_mut().clear());
        let seen = send(&app, test::TestRequest::post().uri(&uri), cookie.as_ref()).await;
        memory
            .revoke_object("plain", "inventory.change_item", &attempt.granted)
            .unwrap();
        let asked = if attempt.note {
            PREDICATE_ASKED.with(|asked| asked.borrow().clone())
        } else {
            recording.asked.lock().unwrap().clone()
        };
        if attempt.segment.is_empty() {
            // `{id}` matches no empty segment: the route is not reached.
            prop_assert_eq!(seen.status, StatusCode::NOT_FOUND, "{}", uri);
            continue;
        }
        if ambiguous {
            prop_assert_eq!(
                seen.status,
                StatusCode::INTERNAL_SERVER_ERROR,
                "{} under {:?} is ambiguous and must be refused",
                uri,
                names
            );
            prop_assert!(asked.is_empty(), "nothing was checked: {:?}", asked);
            continue;
        }
        if seen.status == StatusCode::OK {
            prop_assert_eq!(
                &seen.body,
                &attempt.granted,
                "{} passed, and the handler acted on another object than the one granted",
                uri
            );
            prop_assert_eq!(&asked, &vec![seen.body.clone()], "{}", uri);
        } else {
            prop_assert!(
                matches!(seen.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                "{}: {:?}",
                uri,
                seen
            );
        }
    }
    Ok(())
}

/// The listed cases, so that a failure reads plainly: each pair is the id
/// granted and the segment sent, and the handler must never act on the
/// decoded id when only the literal one is held.
#[actix_rt::test]
async fn escapes_the_router_keeps_do_not_reach_another_object() {
    let memory = backend();
    let recording = Recording::new(memory.clone());
    let app = test::init_service(
        App::new()
            .configure(session_routes)
            .service(edit_doc)
            .wrap(Permit::new(recording.clone()))
            .wrap(session()),
    )
    .await;
    let cookie = login_as(&app, "plain").await;
    for literal in ["x%2Fy", "50%25", "c%2B%2B"] {
        memory
            .grant_object("plain", "inventory.change_item", literal)
            .unwrap();
        let seen = send(
            &app,
            test::TestRequest::post().uri(&format!("/docs/{literal}")),
            cookie.as_ref(),
        )
        .await;
        assert_eq!(seen.status, StatusCode::FORBIDDEN, "{literal}: {seen:?}");
        // The holder reaches their object by escaping its `%`.
        let escaped = literal.replace('%', "%25");
        let seen = send(
            &app,
            test::TestRequest::post().uri(&format!("/docs/{escaped}")),
            cookie.as_ref(),
        )
        .await;
        assert_eq!((seen.status, seen.body.as_str()), (StatusCode::OK, literal));
    }
}
