//! Soak: many clients logged in as different users hit allowed and denied
//! routes of the real server at once. Every response is checked against that
//! user's expected answer (no cross-talk between sessions), and every write
//! that was acknowledged is in the database at the end (no lost writes).
//! Bounded: a fixed number of requests, loopback only, a deadline.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::*;

/// What a user may do on the API: view, add, delete.
const ROLES: [(&str, bool, bool, bool); 7] = [
    ("anonymous", false, false, false),
    ("alice", true, true, true),
    ("bob", true, false, false),
    ("carol", true, true, false),
    ("erin", false, false, false),
    ("dora", true, false, true),
    ("adam", false, true, false),
];

const CLIENTS_PER_USER: usize = 3;
const REQUESTS_PER_CLIENT: usize = 60;

#[derive(Default)]
struct Outcome {
    created: BTreeMap<i64, String>,
    deleted: BTreeSet<i64>,
    checked: usize,
}

fn soak_client(
    server_base: &str,
    user: &'static str,
    index: usize,
    view: bool,
    add: bool,
    delete: bool,
) -> Outcome {
    let mut client = Client::new(server_base);
    if user != "anonymous" {
        let seen = client.login(user, PASSWORD, "");
        assert_eq!(seen.status, 302, "{user} logs in");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut outcome = Outcome::default();
    let denied = |status: u16| assert_eq!(status, 403);
    for i in 0..REQUESTS_PER_CLIENT {
        assert!(Instant::now() < deadline, "soak over time");
        let tag = format!("{user}-{index}-{i}");
        match i % 5 {
            0 => {
                let seen = client.get("/api/me");
                if user == "anonymous" {
                    denied(seen.status);
                } else {
                    assert_eq!(seen.status, 200, "{tag}");
                    let me: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
                    assert_eq!(me["username"], user, "{tag}: another user's session");
                }
            }
            1 | 3 => {
                let seen = client.post_json(
                    "/api/items",
                    &format!(r#"{{"name": "{tag}", "quantity": {i}}}"#),
                );
                if add {
                    assert_eq!(seen.status, 201, "{tag}: {}", seen.body);
                    let item: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
                    assert_eq!(item["name"], tag.as_str());
                    outcome
                        .created
                        .insert(item["id"].as_i64().unwrap(), tag.clone());
                } else {
                    denied(seen.status);
                }
            }
            2 => {
                let seen = client.get("/api/items");
                if view {
                    assert_eq!(seen.status, 200, "{tag}");
                    let items: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
                    // Our own acknowledged, undeleted writes are visible.
                    for (id, name) in &outcome.created {
                        if !outcome.deleted.contains(id) {
                            let found = items
                                .as_array()
                                .unwrap()
                                .iter()
                                .any(|it| it["id"] == *id && it["name"] == name.as_str());
                            assert!(found, "{tag}: item {id} {name} lost");
                        }
                    }
                } else {
                    denied(seen.status);
                }
            }
            _ => {
                // Delete our oldest undeleted item, or the demo item 1 when we made none.
                let target = outcome
                    .created
                    .keys()
                    .find(|id| !outcome.deleted.contains(id))
                    .copied();
                let seen = client.delete(&format!("/api/items/{}", target.unwrap_or(1)));
                match (delete, target) {
                    (true, Some(id)) => {
                        assert_eq!(seen.status, 204, "{tag}");
                        outcome.deleted.insert(id);
                    }
                    (true, None) => {
                        assert!(matches!(seen.status, 204 | 404), "{tag}: {}", seen.status)
                    }
                    (false, _) => denied(seen.status),
                }
            }
        }
        outcome.checked += 1;
    }
    outcome
}

#[test]
fn concurrent_users_get_their_own_answers_and_lose_no_writes() {
    let db = Database::sqlite();
    let server = Server::start(&db);
    server.cli(&["user", "add", "dora", "--password", PASSWORD]);
    server.cli(&["user", "grant", "dora", "inventory.view_item"]);
    server.cli(&["user", "grant", "dora", "inventory.delete_item"]);
    server.cli(&["user", "add", "adam", "--password", PASSWORD]);
    server.cli(&["user", "grant", "adam", "inventory.add_item"]);

    let started = Instant::now();
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = ROLES
            .iter()
            .flat_map(|&(user, view, add, delete)| {
                (0..CLIENTS_PER_USER).map(move |index| (user, index, view, add, delete))
            })
            .map(|(user, index, view, add, delete)| {
                let base = server.base.clone();
                scope.spawn(move || soak_client(&base, user, index, view, add, delete))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a client thread failed"))
            .collect()
    });
    let checked: usize = outcomes.iter().map(|o| o.checked).sum();
    assert_eq!(
        checked,
        ROLES.len() * CLIENTS_PER_USER * REQUESTS_PER_CLIENT
    );

    // Every acknowledged write is there; every acknowledged delete is gone;
    // nothing else was written.
    let mut alice = as_user(&server, "alice");
    let items: serde_json::Value = serde_json::from_str(&alice.get("/api/items").body).unwrap();
    let stored: BTreeMap<i64, String> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|it| {
            (
                it["id"].as_i64().unwrap(),
                it["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut expected = BTreeMap::new();
    let mut deleted = BTreeSet::new();
    for outcome in &outcomes {
        expected.extend(outcome.created.iter().map(|(id, name)| (*id, name.clone())));
        deleted.extend(outcome.deleted.iter().copied());
    }
    let demo_item_1_deleted = !stored.contains_key(&1);
    for (id, name) in &expected {
        assert_eq!(
            stored.contains_key(id),
            !deleted.contains(id),
            "item {id} {name}"
        );
        if let Some(stored_name) = stored.get(id) {
            assert_eq!(stored_name, name);
        }
    }
    let ours: Vec<_> = stored.keys().filter(|id| **id > 3).collect();
    assert!(
        ours.iter().all(|id| expected.contains_key(id)),
        "a write nobody acknowledged"
    );
    println!(
        "soak: {checked} requests from {} clients in {:?}; {} items written, {} deleted, demo item 1 deleted: {demo_item_1_deleted}",
        ROLES.len() * CLIENTS_PER_USER,
        started.elapsed(),
        expected.len(),
        deleted.len()
    );
}
