//! The SQL backend's exact cache on a SQLite file: a request in steady state
//! queries nothing, and every kind of change (made through the backend
//! itself, through another connection as the CLI makes it, or with plain
//! SQL) holds from the next request on. A property test runs random
//! interleavings of changes and lookups against a cached and an uncached
//! backend on one file and asks for the same answers.

use actix_permit::backend::{Authentication as _, Authorization as _};
use std::sync::Arc;
use std::time::Duration;

use actix_permit::{
    AuthUser, Permit,
    backend::{CacheState, SqlBackend, SqlOptions},
    permission_required,
};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sqlx::Executor;

use crate::support::{Hits, PASSWORD, app, get, login_as, remove_db, temp_db};

#[get("/cached/edit")]
#[permission_required("shop.change_item")]
async fn edit(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

/// The exact cache, looking for other connections' commits before every
/// lookup.
fn every_lookup() -> SqlOptions {
    SqlOptions::new().sqlite_check_interval(Duration::ZERO)
}

const USERS: [&str; 6] = ["plain", "direct", "grouped", "super", "renamed", "joiner"];

async fn seed(backend: &SqlBackend) {
    for perm in ["shop.change_item", "shop.view_item"] {
        backend.create_permission(perm, perm).await.unwrap();
    }
    for user in USERS {
        backend.create_user(user, PASSWORD).await.unwrap();
    }
    backend.grant("direct", "shop.change_item").await.unwrap();
    backend
        .create_group("editors", &["shop.change_item"])
        .await
        .unwrap();
    backend
        .add_user_to_group("grouped", "editors")
        .await
        .unwrap();
    backend
        .add_user_to_group("renamed", "editors")
        .await
        .unwrap();
    backend.set_superuser("super", true).await.unwrap();
}

#[actix_rt::test]
async fn steady_state_queries_nothing_and_every_change_holds_at_once() {
    let (path, url) = temp_db("exact-steady");
    // Look for other connections' commits before every lookup: each change
    // below holds from the very next request.
    let backend = Arc::new(
        SqlBackend::connect_with(&url, every_lookup())
            .await
            .unwrap(),
    );
    assert_eq!(backend.cache_state(), CacheState::Exact);
    seed(&backend).await;
    // Another connection to the same file, as the CLI or another server has.
    let other = SqlBackend::connect_with(&url, SqlOptions::new().exact_cache(false))
        .await
        .unwrap();
    assert_eq!(other.cache_state(), CacheState::Off);
    assert_eq!(other.cache_stats(), None);

    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(backend.clone()), hits.clone(), |cfg| {
        cfg.service(edit);
    })
    .await;
    let mut cookies = Vec::new();
    for user in USERS {
        cookies.push((user, login_as(&app, user).await));
    }
    let allowed = |user: &str| ["direct", "grouped", "super", "renamed"].contains(&user);
    // Warm up, then 10 rounds: every answer is right, and none queries.
    for (user, cookie) in &cookies {
        get(&app, "/cached/edit", cookie.as_ref()).await;
        let _ = user;
    }
    let before = backend.cache_stats().unwrap();
    let ran = hits.get();
    for _ in 0..10 {
        for (user, cookie) in &cookies {
            let expected = if allowed(user) {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            let seen = get(&app, "/cached/edit", cookie.as_ref()).await;
            assert_eq!(seen.status, expected, "{user}");
        }
    }
    let after = backend.cache_stats().unwrap();
    assert_eq!(after.queries, before.queries, "steady state queried");
    assert!(after.hits >= before.hits + 10 * USERS.len() as u64);
    assert_eq!(hits.get(), ran + 40);

    // Writes to tables other than the auth tables keep the cache.
    other
        .pool()
        .execute("CREATE TABLE app_notes (body TEXT); INSERT INTO app_notes VALUES ('x')")
        .await
        .unwrap();
    let cookie = |name: &str| {
        cookies
            .iter()
            .find(|(user, _)| *user == name)
            .and_then(|(_, cookie)| cookie.clone())
    };
    let status = |name: &'static str| {
        let cookie = cookie(name);
        let app = &app;
        async move { get(app, "/cached/edit", cookie.as_ref()).await.status }
    };
    let queries = backend.cache_stats().unwrap().queries;
    assert_eq!(status("direct").await, StatusCode::OK);
    assert_eq!(backend.cache_stats().unwrap().queries, queries);

    // Each change made on the other connection holds on the next request.
    other.revoke("direct", "shop.change_item").await.unwrap();
    assert_eq!(status("direct").await, StatusCode::FORBIDDEN);
    other
        .remove_user_from_group("grouped", "editors")
        .await
        .unwrap();
    assert_eq!(status("grouped").await, StatusCode::FORBIDDEN);
    other
        .revoke_from_group("editors", "shop.change_item")
        .await
        .unwrap();
    assert_eq!(status("renamed").await, StatusCode::FORBIDDEN);
    other.grant("plain", "shop.change_item").await.unwrap();
    assert_eq!(status("plain").await, StatusCode::OK);
    other.set_active("super", false).await.unwrap();
    assert_eq!(status("super").await, StatusCode::FORBIDDEN);
    other.set_password("plain", "a new password").await.unwrap();
    assert_eq!(
        status("plain").await,
        StatusCode::FORBIDDEN,
        "session ended"
    );
    // Plain SQL on the tables, as an admin tool writes it.
    other
        .pool()
        .execute(
            "INSERT INTO permit_user_groups (user_id, group_id) \
             SELECT u.id, g.id FROM permit_users u, permit_groups g \
             WHERE u.username = 'joiner' AND g.name = 'editors'; \
             INSERT INTO permit_group_permissions (group_id, permission_id) \
             SELECT g.id, p.id FROM permit_groups g, permit_permissions p \
             WHERE g.name = 'editors' AND p.codename = 'change_item'",
        )
        .await
        .unwrap();
    assert_eq!(status("joiner").await, StatusCode::OK);
    other
        .pool()
        .execute("DELETE FROM permit_permissions WHERE codename = 'change_item'")
        .await
        .unwrap();
    assert_eq!(status("joiner").await, StatusCode::FORBIDDEN);
    // Changes through the cached backend itself, too.
    backend
        .create_permission("shop.change_item", "change")
        .await
        .unwrap();
    backend.grant("direct", "shop.change_item").await.unwrap();
    assert_eq!(status("direct").await, StatusCode::OK);
    backend.set_active("direct", false).await.unwrap();
    assert_eq!(status("direct").await, StatusCode::FORBIDDEN);
    remove_db(&path);
}

/// With the default interval (1 ms), another connection's change holds
/// once the interval has passed since its commit, however recently the
/// cache was used; the backend's own changes hold at once.
#[actix_rt::test]
async fn by_default_another_process_change_holds_within_the_interval() {
    let (path, url) = temp_db("exact-interval");
    let backend = SqlBackend::connect(&url).await.unwrap();
    seed(&backend).await;
    let other = SqlBackend::connect_with(&url, SqlOptions::new().exact_cache(false))
        .await
        .unwrap();
    let id = backend
        .user("direct")
        .await
        .unwrap()
        .unwrap()
        .id()
        .to_owned();
    let holds = |backend: &SqlBackend| {
        let backend = backend.clone();
        let id = id.clone();
        async move {
            let user = backend.get_user(&id).await.unwrap().unwrap();
            let perms = backend.user_permissions(&*user).await.unwrap();
            perms.contains("shop.change_item")
        }
    };
    for round in 0..20 {
        // Keep the cache busy right up to the change.
        assert!(holds(&backend).await, "round {round}");
        other.revoke("direct", "shop.change_item").await.unwrap();
        std::thread::sleep(Duration::from_millis(2));
        assert!(
            !holds(&backend).await,
            "round {round}: revoke past the interval"
        );
        backend.grant("direct", "shop.change_item").await.unwrap();
        assert!(holds(&backend).await, "round {round}: own grant at once");
    }
    let stats = backend.cache_stats().unwrap();
    assert!(stats.hits > 0, "{stats:?}");
    drop((backend, other));
    remove_db(&path);
}

/// A change to the auth tables, or a lookup of one user.
#[derive(Debug, Clone)]
enum Op {
    Grant(usize, usize),
    Revoke(usize, usize),
    Join(usize, usize),
    Leave(usize, usize),
    GroupGrant(usize, usize),
    GroupRevoke(usize, usize),
    Active(usize, bool),
    Superuser(usize, bool),
    Password(usize),
    /// Plain SQL from another connection: drop every direct grant of a user.
    Wipe(usize),
    Look(usize),
}

const NAMES: [&str; 4] = ["u0", "u1", "u2", "u3"];
const GROUPS: [&str; 2] = ["g0", "g1"];
const PERMS: [&str; 3] = ["shop.a", "shop.b", "shop.c"];

fn op() -> impl Strategy<Value = Op> {
    let user = 0..NAMES.len();
    let group = 0..GROUPS.len();
    let perm = 0..PERMS.len();
    prop_oneof![
        (user.clone(), perm.clone()).prop_map(|(u, p)| Op::Grant(u, p)),
        (user.clone(), perm.clone()).prop_map(|(u, p)| Op::Revoke(u, p)),
        (user.clone(), group.clone()).prop_map(|(u, g)| Op::Join(u, g)),
        (user.clone(), group.clone()).prop_map(|(u, g)| Op::Leave(u, g)),
        (group.clone(), perm.clone()).prop_map(|(g, p)| Op::GroupGrant(g, p)),
        (group, perm).prop_map(|(g, p)| Op::GroupRevoke(g, p)),
        (user.clone(), any::<bool>()).prop_map(|(u, on)| Op::Active(u, on)),
        (user.clone(), any::<bool>()).prop_map(|(u, on)| Op::Superuser(u, on)),
        user.clone().prop_map(Op::Password),
        user.clone().prop_map(Op::Wipe),
        user.clone().prop_map(Op::Look),
        user.clone().prop_map(Op::Look),
        user.prop_map(Op::Look),
    ]
}

/// Applies `op` through `writer` (one of the two backends).
async fn apply(writer: &SqlBackend, op: &Op) {
    match *op {
        Op::Grant(u, p) => writer.grant(NAMES[u], PERMS[p]).await.unwrap(),
        Op::Revoke(u, p) => writer.revoke(NAMES[u], PERMS[p]).await.unwrap(),
        Op::Join(u, g) => writer.add_user_to_group(NAMES[u], GROUPS[g]).await.unwrap(),
        Op::Leave(u, g) => writer
            .remove_user_from_group(NAMES[u], GROUPS[g])
            .await
            .unwrap(),
        Op::GroupGrant(g, p) => writer.create_group(GROUPS[g], &[PERMS[p]]).await.unwrap(),
        Op::GroupRevoke(g, p) => writer.revoke_from_group(GROUPS[g], PERMS[p]).await.unwrap(),
        Op::Active(u, on) => writer.set_active(NAMES[u], on).await.unwrap(),
        Op::Superuser(u, on) => writer.set_superuser(NAMES[u], on).await.unwrap(),
        Op::Password(u) => writer.set_password(NAMES[u], "changed").await.unwrap(),
        Op::Wipe(u) => {
            sqlx::query(
                "DELETE FROM permit_user_permissions WHERE user_id = \
                 (SELECT id FROM permit_users WHERE username = $1)",
            )
            .bind(NAMES[u])
            .execute(writer.pool())
            .await
            .unwrap();
        }
        Op::Look(_) => {}
    }
}

/// What a request would learn about a user: active, superuser, session
/// hash, and the permission set.
async fn look(backend: &SqlBackend, id: &str) -> Result<String, TestCaseError> {
    let user = backend
        .get_user(id)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .ok_or_else(|| TestCaseError::fail(format!("no user {id}")))?;
    let perms = backend
        .user_permissions(&*user)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut perms: Vec<&str> = perms.iter().collect();
    perms.sort_unstable();
    Ok(format!(
        "active={} super={} hash={} perms={perms:?}",
        user.is_active(),
        user.is_superuser(),
        user.session_auth_hash()
    ))
}

async fn interleaving(ops: Vec<(Op, bool)>, case: usize) -> Result<(), TestCaseError> {
    let (path, url) = temp_db(&format!("exact-model-{case}"));
    let cached = SqlBackend::connect_with(&url, every_lookup())
        .await
        .unwrap();
    let plain = SqlBackend::connect_with(&url, SqlOptions::new().exact_cache(false))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for perm in PERMS {
        cached.create_permission(perm, perm).await.unwrap();
    }
    for group in GROUPS {
        cached.create_group(group, &[]).await.unwrap();
    }
    for name in NAMES {
        ids.push(plain.create_user(name, PASSWORD).await.unwrap());
    }
    let mut outcome = Ok(());
    for (step, (op, through_cached)) in ops.iter().enumerate() {
        let writer = if *through_cached { &cached } else { &plain };
        apply(writer, op).await;
        // Every lookup, and one after every change, on both backends.
        let user = match *op {
            Op::Look(u) | Op::Grant(u, _) | Op::Revoke(u, _) | Op::Join(u, _) => u,
            Op::Leave(u, _) | Op::Active(u, _) | Op::Superuser(u, _) => u,
            Op::Password(u) | Op::Wipe(u) => u,
            Op::GroupGrant(..) | Op::GroupRevoke(..) => step % NAMES.len(),
        };
        let from_cache = look(&cached, &ids[user]).await?;
        let from_db = look(&plain, &ids[user]).await?;
        if from_cache != from_db {
            outcome = Err(TestCaseError::fail(format!(
                "after step {step} ({op:?}): cached {from_cache} but the database says {from_db}"
            )));
            break;
        }
    }
    drop((cached, plain));
    remove_db(&path);
    outcome
}

#[::core::prelude::v1::test]
fn the_cache_answers_as_the_database_in_any_interleaving() {
    let cases = std::env::var("EXACT_CACHE_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(48);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let system = actix_rt::System::new();
    let case = std::sync::atomic::AtomicUsize::new(0);
    let outcome = runner.run(
        &proptest::collection::vec((op(), any::<bool>()), 1..60),
        |ops| {
            let case = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            system.block_on(interleaving(ops, case))
        },
    );
    if let Err(err) = outcome {
        panic!("{err}");
    }
}
