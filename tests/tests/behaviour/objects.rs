//! Object permissions in the attribute: `#[permission_required(perm, object
//! = "id")]` passes on the model permission or on the permission held on
//! the object the route's `{id}` names; `#[user_passes_test(f, object =
//! "id")]` hands the predicate the id. Through a real `App`, on the memory
//! backend and on SQLite, against a model of the rules.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;

use actix_permit::{
    CurrentUser, Permit, PermitError,
    backend::{MemoryBackend, SqlBackend, SqlOptions},
    login_required,
    permission::Objects,
    permission_required, user_passes_test,
};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, test, web};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde::Deserialize;

use crate::support::{
    Hits, Logs, PASSWORD, Recording, app, backend, counting_body, get, login_as, send,
};

#[derive(Deserialize)]
struct ItemForm {
    name: String,
}

#[permission_required("inventory.change_item", object = "id")]
#[post("/items/{id}")]
async fn update(id: web::Path<u32>, form: web::Json<ItemForm>, hits: web::Data<Hits>) -> String {
    hits.hit();
    format!("{id}: {}", form.name)
}

#[permission_required("inventory.change_item", object = "id")]
#[get("/items/{id}")]
async fn show_for_change(id: web::Path<u32>, hits: web::Data<Hits>) -> String {
    hits.hit();
    format!("item {id}")
}

#[permission_required(
    "inventory.view_item",
    any("inventory.change_item", "inventory.delete_item"),
    object = "item"
)]
#[get("/either/{item}")]
async fn either(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

/// Stacked: the model permission to view, then the object permission to
/// change, then two more checks in the body; one object query in all.
#[login_required]
#[permission_required("inventory.view_item")]
#[permission_required("inventory.change_item", object = "id")]
#[get("/stacked/{id}")]
async fn stacked(user: CurrentUser, id: web::Path<String>) -> Result<String, PermitError> {
    let change = user.has_perm_on("inventory.change_item", &id).await?;
    let delete = user.has_perm_on("inventory.delete_item", &id).await?;
    let on = user.object_permissions(&id).await?;
    Ok(format!("{change} {delete} {on}"))
}

/// The attribute below the route cannot see it: a wrong segment name is
/// found at run time.
#[get("/wrong/{item}")]
#[permission_required("inventory.change_item", object = "id")]
async fn wrong_segment(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

/// `u<owner>-<n>` is owned by the user whose id is `<owner>`.
fn is_owner(user: &CurrentUser, id: &str) -> bool {
    let owner = id.strip_prefix('u').and_then(|rest| rest.split_once('-'));
    matches!((user.id(), owner), (Some(me), Some((owner, _))) if me == owner)
}

async fn is_owner_async(user: &CurrentUser, id: &str) -> bool {
    is_owner(user, id)
}

#[user_passes_test(is_owner, object = "id")]
#[get("/owned/{id}")]
async fn owned(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

#[user_passes_test(is_owner_async, object = "id")]
#[get("/owned-async/{id}")]
async fn owned_async(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

/// What a list page asks: the objects the user may change.
#[login_required]
#[get("/changeable")]
async fn changeable(user: CurrentUser) -> Result<String, PermitError> {
    Ok(match user.objects_for("inventory.change_item").await? {
        Objects::All => "all".to_owned(),
        Objects::Only(ids) => ids.join(","),
    })
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(update)
        .service(show_for_change)
        .service(either)
        .service(stacked)
        .service(wrong_segment)
        .service(owned)
        .service(owned_async)
        .service(changeable);
}

/// The shared users, plus object permissions: plain may change item 3
/// directly and item 7 through the group `crew`; inactive holds item 3 too.
fn with_objects() -> Arc<MemoryBackend> {
    let backend = backend();
    backend
        .grant_object("plain", "inventory.change_item", "3")
        .unwrap();
    backend.add_group("crew", []).unwrap();
    backend.add_user_to_group("plain", "crew").unwrap();
    backend
        .grant_group_object("crew", "inventory.change_item", "7")
        .unwrap();
    backend
        .grant_object("inactive", "inventory.change_item", "3")
        .unwrap();
    backend
}

#[actix_rt::test]
async fn the_model_permission_or_the_objects_lets_through() {
    let memory = with_objects();
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(memory.clone()), hits.clone(), routes).await;
    let cookies = crate::support::sessions(&app, &memory).await;
    let cookie = |name: &str| cookies.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    let table = [
        ("anonymous", "/items/3", StatusCode::FORBIDDEN),
        ("plain", "/items/3", StatusCode::OK),
        ("plain", "/items/7", StatusCode::OK),
        ("plain", "/items/5", StatusCode::FORBIDDEN),
        // Not a number: nobody holds it, and the handler's Path<u32> never
        // runs for the refused; the model permission reaches the 404.
        ("plain", "/items/abc", StatusCode::FORBIDDEN),
        ("direct", "/items/abc", StatusCode::NOT_FOUND),
        ("direct", "/items/5", StatusCode::OK),
        ("grouped", "/items/5", StatusCode::OK),
        ("super", "/items/5", StatusCode::OK),
        ("inactive", "/items/3", StatusCode::FORBIDDEN),
    ];
    for (user, path, status) in table {
        let before = hits.get();
        let seen = get(&app, path, cookie(user).as_ref()).await;
        assert_eq!(seen.status, status, "{user} {path}: {}", seen.body);
        let ran = hits.get() - before;
        assert_eq!(ran, usize::from(status == StatusCode::OK), "{user} {path}");
    }

    // `any(..)` with a model permission: plain lacks view_item; grouped
    // holds view_item, and change_item through the group.
    memory.grant("plain", "inventory.view_item").unwrap();
    for (user, path, status) in [
        ("plain", "/either/3", StatusCode::OK),
        ("plain", "/either/5", StatusCode::FORBIDDEN),
        ("direct", "/either/3", StatusCode::FORBIDDEN),
        ("grouped", "/either/5", StatusCode::OK),
    ] {
        let seen = get(&app, path, cookie(user).as_ref()).await;
        assert_eq!(seen.status, status, "{user} {path}");
    }
    // A revoked object permission holds on the next request.
    memory
        .revoke_object("plain", "inventory.change_item", "3")
        .unwrap();
    let seen = get(&app, "/items/3", cookie("plain").as_ref()).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN);
}

#[actix_rt::test]
async fn a_refused_body_is_never_read_nor_parsed() {
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(with_objects()), hits.clone(), routes).await;
    let plain = login_as(&app, "plain").await.unwrap();
    // Bad JSON for an item plain may not change: 403, not 400.
    let req = test::TestRequest::post()
        .uri("/items/5")
        .insert_header(("content-type", "application/json"))
        .set_payload("{not json");
    let seen = send(&app, req, Some(&plain)).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN);
    // Ten MiB for it: not a byte read.
    let read = Rc::new(Cell::new(0));
    let req = test::TestRequest::post()
        .uri("/items/5")
        .cookie(plain.clone())
        .insert_header(("content-type", "application/json"))
        .insert_header(("content-length", (10 << 20).to_string()));
    let res = test::call_service(&app, counting_body(req, 10, &read)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(read.get(), 0, "bytes read of a refused body");
    // On the item plain holds, the body is read and parsed as usual.
    let req = test::TestRequest::post()
        .uri("/items/3")
        .insert_header(("content-type", "application/json"))
        .set_payload(r#"{"name": "bolt"}"#);
    let seen = send(&app, req, Some(&plain)).await;
    assert_eq!(
        (seen.status, seen.body.as_str()),
        (StatusCode::OK, "3: bolt")
    );
    assert_eq!(hits.get(), 1);
}

#[actix_rt::test]
async fn a_route_without_the_segment_is_a_500_and_a_log_line() {
    let (logs, _guard) = Logs::capture();
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(with_objects()), hits.clone(), routes).await;
    let plain = login_as(&app, "plain").await;
    let seen = get(&app, "/wrong/3", plain.as_ref()).await;
    assert_eq!(seen.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(hits.get(), 0);
    let text = logs.text();
    assert!(
        text.contains("object = \"id\" names no segment of this route")
            && text.contains("/wrong/{item}"),
        "{text}"
    );
    // The model permission needs no object: no segment is read.
    let direct = login_as(&app, "direct").await;
    assert_eq!(
        get(&app, "/wrong/3", direct.as_ref()).await.status,
        StatusCode::OK
    );
}

#[actix_rt::test]
async fn predicates_get_the_object() {
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(with_objects()), hits.clone(), routes).await;
    let plain = login_as(&app, "plain").await; // id 1
    let direct = login_as(&app, "direct").await; // id 2
    for base in ["/owned", "/owned-async"] {
        for (cookie, id, status) in [
            (&plain, "u1-9", StatusCode::OK),
            (&plain, "u2-9", StatusCode::FORBIDDEN),
            (&direct, "u2-9", StatusCode::OK),
            (&None, "u1-9", StatusCode::FORBIDDEN),
        ] {
            let path = format!("{base}/{id}");
            assert_eq!(
                get(&app, &path, cookie.as_ref()).await.status,
                status,
                "{path}"
            );
        }
    }
    assert_eq!(hits.get(), 4);
}

#[actix_rt::test]
async fn list_pages_get_the_objects_a_user_may_act_on() {
    let memory = with_objects();
    let app = app(Permit::new(memory.clone()), Arc::default(), routes).await;
    for (user, expected) in [
        ("plain", "3,7"),
        ("direct", "all"),
        ("grouped", "all"),
        ("super", "all"),
    ] {
        let cookie = login_as(&app, user).await;
        let seen = get(&app, "/changeable", cookie.as_ref()).await;
        assert_eq!(
            (seen.status, seen.body.as_str()),
            (StatusCode::OK, expected),
            "{user}"
        );
    }
}

#[actix_rt::test]
async fn many_checks_on_one_object_ask_the_backend_once() {
    let memory = with_objects();
    memory.grant("plain", "inventory.view_item").unwrap();
    let counting = Recording::new(memory);
    let app = app(Permit::new(counting.clone()), Arc::default(), routes).await;
    let plain = login_as(&app, "plain").await;
    let seen = get(&app, "/stacked/3", plain.as_ref()).await;
    assert_eq!(
        (seen.status, seen.body.as_str()),
        (StatusCode::OK, "true false inventory.change_item")
    );
    assert_eq!(counting.asked().len(), 1);
    // Another request asks again (the per-request cache ends with it).
    get(&app, "/stacked/3", plain.as_ref()).await;
    assert_eq!(counting.asked().len(), 2);
}

/// Checks every id the client sends, twice.
#[post("/bulk")]
async fn bulk(user: CurrentUser, ids: web::Json<Vec<String>>) -> Result<String, PermitError> {
    let mut allowed = 0;
    for id in ids.iter().chain(ids.iter()) {
        allowed += usize::from(user.has_perm_on("inventory.change_item", id).await?);
    }
    Ok(allowed.to_string())
}

/// Issue 25, part 3: a request keeps answers for at most 16 KiB of object
/// ids; past that, each further id is asked again, so what a request holds
/// does not grow with the ids a client sends.
#[actix_rt::test]
async fn a_request_keeps_answers_for_a_bounded_size_of_ids() {
    let counting = Recording::new(with_objects());
    let app = app(Permit::new(counting.clone()), Arc::default(), |cfg| {
        cfg.service(bulk);
    })
    .await;
    let plain = login_as(&app, "plain").await;
    let ids: Vec<String> = (0..100).map(|n| format!("{n:0>1000}")).collect();
    let seen = send(
        &app,
        test::TestRequest::post().uri("/bulk").set_json(&ids),
        plain.as_ref(),
    )
    .await;
    assert_eq!((seen.status, seen.body.as_str()), (StatusCode::OK, "0"));
    let asked = counting.asked();
    let times = |id: &String| asked.iter().filter(|a| *a == id).count();
    assert_eq!(times(&ids[0]), 1, "the first ids are kept");
    assert_eq!(times(&ids[15]), 1);
    assert_eq!(times(&ids[16]), 2, "past 16 KiB of ids, none is kept");
    assert_eq!(times(&ids[99]), 2);
    assert_eq!(asked.len(), 16 + 2 * 84);
}

/// A fresh SQLite file for one test, with the exact cache looking before
/// every lookup.
async fn sqlite(name: &str) -> (Arc<SqlBackend>, String, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!(
        "actix-permit-objects-{name}-{}.db",
        std::process::id()
    ));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = format!("sqlite://{}", path.display());
    let options = SqlOptions::new().sqlite_check_interval(std::time::Duration::ZERO);
    let backend = SqlBackend::connect_with(&url, options).await.unwrap();
    for perm in [
        "inventory.change_item",
        "inventory.view_item",
        "inventory.delete_item",
    ] {
        backend.create_permission(perm, perm).await.unwrap();
    }
    (Arc::new(backend), url, path)
}

#[actix_rt::test]
async fn the_sql_backend_stores_object_permissions_for_users_and_groups() {
    let (backend, url, path) = sqlite("rules").await;
    for user in ["plain", "direct", "grouped", "super", "inactive"] {
        backend.create_user(user, PASSWORD).await.unwrap();
    }
    backend
        .grant("direct", "inventory.change_item")
        .await
        .unwrap();
    backend.create_group("crew", &[]).await.unwrap();
    backend.add_user_to_group("plain", "crew").await.unwrap();
    backend.add_user_to_group("grouped", "crew").await.unwrap();
    backend.set_superuser("super", true).await.unwrap();
    backend
        .grant_object("plain", "inventory.change_item", "3")
        .await
        .unwrap();
    backend
        .grant_group_object("crew", "inventory.change_item", "7")
        .await
        .unwrap();
    backend
        .grant_object("inactive", "inventory.change_item", "3")
        .await
        .unwrap();
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(backend.clone()), hits.clone(), routes).await;
    let mut cookies = Vec::new();
    for user in [
        "anonymous",
        "plain",
        "direct",
        "grouped",
        "super",
        "inactive",
    ] {
        cookies.push((user, login_as(&app, user).await));
    }
    backend.set_active("inactive", false).await.unwrap();
    let cookie = |name: &str| cookies.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    for (user, path, status) in [
        ("anonymous", "/items/3", StatusCode::FORBIDDEN),
        ("plain", "/items/3", StatusCode::OK),
        ("plain", "/items/7", StatusCode::OK),
        ("plain", "/items/5", StatusCode::FORBIDDEN),
        ("grouped", "/items/7", StatusCode::OK),
        ("grouped", "/items/3", StatusCode::FORBIDDEN),
        ("direct", "/items/5", StatusCode::OK),
        ("super", "/items/5", StatusCode::OK),
        ("inactive", "/items/3", StatusCode::FORBIDDEN),
    ] {
        let seen = get(&app, path, cookie(user).as_ref()).await;
        assert_eq!(seen.status, status, "{user} {path}");
    }
    let seen = get(&app, "/changeable", cookie("plain").as_ref()).await;
    assert_eq!(seen.body, "3,7");
    let grants = backend.object_grants("7").await.unwrap();
    assert_eq!(
        grants.groups,
        [("crew".to_owned(), "inventory.change_item".to_owned())]
    );
    assert!(grants.users.is_empty());

    // Changes made elsewhere (another connection, plain SQL) hold on the
    // next request, through the exact cache.
    let other = SqlBackend::connect_with(&url, SqlOptions::new().exact_cache(false))
        .await
        .unwrap();
    other
        .revoke_group_object("crew", "inventory.change_item", "7")
        .await
        .unwrap();
    let seen = get(&app, "/items/7", cookie("plain").as_ref()).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN, "revoked from the group");
    sqlx::query("DELETE FROM permit_user_object_permissions WHERE object_id = '3'")
        .execute(other.pool())
        .await
        .unwrap();
    let seen = get(&app, "/items/3", cookie("plain").as_ref()).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN, "deleted by plain SQL");
    other
        .grant_object("grouped", "inventory.change_item", "3")
        .await
        .unwrap();
    let seen = get(&app, "/items/3", cookie("grouped").as_ref()).await;
    assert_eq!(seen.status, StatusCode::OK, "granted elsewhere");
    drop((app, other, backend));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// A random change to the grants, made through the SQL backend.
#[derive(Debug, Clone)]
enum Change {
    Grant(usize, usize),
    Revoke(usize, usize),
    GrantObject(usize, usize, usize),
    RevokeObject(usize, usize, usize),
    GroupGrantObject(usize, usize),
    GroupRevokeObject(usize, usize),
    Join(usize),
    Leave(usize),
    Superuser(usize, bool),
    Active(usize, bool),
}

const PEOPLE: [&str; 3] = ["ann", "ben", "cat"];
const PERMS: [&str; 2] = ["inventory.change_item", "inventory.delete_item"];
const OBJECTS: [&str; 3] = ["1", "2", "x-9"];

fn changes() -> impl Strategy<Value = Change> {
    let who = 0..PEOPLE.len();
    let perm = 0..PERMS.len();
    let object = 0..OBJECTS.len();
    prop_oneof![
        (who.clone(), perm.clone()).prop_map(|(u, p)| Change::Grant(u, p)),
        (who.clone(), perm.clone()).prop_map(|(u, p)| Change::Revoke(u, p)),
        (who.clone(), perm.clone(), object.clone())
            .prop_map(|(u, p, o)| Change::GrantObject(u, p, o)),
        (who.clone(), perm.clone(), object.clone())
            .prop_map(|(u, p, o)| Change::RevokeObject(u, p, o)),
        (perm.clone(), object.clone()).prop_map(|(p, o)| Change::GroupGrantObject(p, o)),
        (perm, object).prop_map(|(p, o)| Change::GroupRevokeObject(p, o)),
        who.clone().prop_map(Change::Join),
        who.clone().prop_map(Change::Leave),
        (who.clone(), any::<bool>()).prop_map(|(u, on)| Change::Superuser(u, on)),
        (who, any::<bool>()).prop_map(|(u, on)| Change::Active(u, on)),
    ]
}

/// The rules, written out plainly.
#[derive(Default)]
struct Model {
    perms: BTreeSet<(usize, usize)>,
    objects: BTreeSet<(usize, usize, usize)>,
    group_objects: BTreeSet<(usize, usize)>,
    members: BTreeSet<usize>,
    superusers: BTreeSet<usize>,
    inactive: BTreeSet<usize>,
}

impl Model {
    fn apply(&mut self, change: &Change) {
        match *change {
            Change::Grant(u, p) => drop(self.perms.insert((u, p))),
            Change::Revoke(u, p) => drop(self.perms.remove(&(u, p))),
            Change::GrantObject(u, p, o) => drop(self.objects.insert((u, p, o))),
            Change::RevokeObject(u, p, o) => drop(self.objects.remove(&(u, p, o))),
            Change::GroupGrantObject(p, o) => drop(self.group_objects.insert((p, o))),
            Change::GroupRevokeObject(p, o) => drop(self.group_objects.remove(&(p, o))),
            Change::Join(u) => drop(self.members.insert(u)),
            Change::Leave(u) => drop(self.members.remove(&u)),
            Change::Superuser(u, true) => drop(self.superusers.insert(u)),
            Change::Superuser(u, false) => drop(self.superusers.remove(&u)),
            Change::Active(u, true) => drop(self.inactive.remove(&u)),
            Change::Active(u, false) => drop(self.inactive.insert(u)),
        }
    }

    /// May user `u` use permission `p` on object `o`?
    fn allows(&self, u: usize, p: usize, o: usize) -> bool {
        !self.inactive.contains(&u)
            && (self.superusers.contains(&u)
                || self.perms.contains(&(u, p))
                || self.objects.contains(&(u, p, o))
                || (self.members.contains(&u) && self.group_objects.contains(&(p, o))))
    }
}

async fn apply(backend: &SqlBackend, change: &Change) {
    let result = match *change {
        Change::Grant(u, p) => backend.grant(PEOPLE[u], PERMS[p]).await,
        Change::Revoke(u, p) => backend.revoke(PEOPLE[u], PERMS[p]).await,
        Change::GrantObject(u, p, o) => backend.grant_object(PEOPLE[u], PERMS[p], OBJECTS[o]).await,
        Change::RevokeObject(u, p, o) => {
            backend.revoke_object(PEOPLE[u], PERMS[p], OBJECTS[o]).await
        }
        Change::GroupGrantObject(p, o) => {
            backend
                .grant_group_object("crew", PERMS[p], OBJECTS[o])
                .await
        }
        Change::GroupRevokeObject(p, o) => {
            backend
                .revoke_group_object("crew", PERMS[p], OBJECTS[o])
                .await
        }
        Change::Join(u) => backend.add_user_to_group(PEOPLE[u], "crew").await,
        Change::Leave(u) => backend.remove_user_from_group(PEOPLE[u], "crew").await,
        Change::Superuser(u, on) => backend.set_superuser(PEOPLE[u], on).await,
        Change::Active(u, on) => backend.set_active(PEOPLE[u], on).await,
    };
    result.unwrap();
}

/// Answers whether the signed-in user may use `perm` on `object`.
#[get("/may/{perm}/{object}")]
async fn may(user: CurrentUser, path: web::Path<(String, String)>) -> Result<String, PermitError> {
    let (perm, object) = path.into_inner();
    Ok(user.has_perm_on(&perm, &object).await?.to_string())
}

/// One case: from nobody holding anything, `changes` one by one; after
/// each, every user × permission × object is asked over HTTP and compared
/// with the model.
async fn case<S, B>(
    app: &S,
    backend: &SqlBackend,
    cookies: &[Option<actix_web::cookie::Cookie<'static>>],
    changes: Vec<Change>,
) -> Result<(), TestCaseError>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    for table in [
        "permit_user_permissions",
        "permit_user_object_permissions",
        "permit_group_object_permissions",
        "permit_user_groups",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(backend.pool())
            .await
            .unwrap();
    }
    sqlx::query("UPDATE permit_users SET is_superuser = FALSE, is_active = TRUE")
        .execute(backend.pool())
        .await
        .unwrap();
    let mut model = Model::default();
    for (step, change) in changes.iter().enumerate() {
        apply(backend, change).await;
        model.apply(change);
        for (u, cookie) in cookies.iter().enumerate() {
            for (p, perm) in PERMS.iter().enumerate() {
                for (o, object) in OBJECTS.iter().enumerate() {
                    let seen = get(app, &format!("/may/{perm}/{object}"), cookie.as_ref()).await;
                    let expected = model.allows(u, p, o).to_string();
                    prop_assert_eq!(
                        &seen.body,
                        &expected,
                        "after {:?}: {} {} on {}",
                        &changes[..=step],
                        PEOPLE[u],
                        perm,
                        object
                    );
                }
            }
        }
    }
    Ok(())
}

#[::core::prelude::v1::test]
fn the_sql_backend_agrees_with_a_model_of_the_rules() {
    let system = actix_rt::System::new();
    let (backend, _url, path) = system.block_on(sqlite("model"));
    system.block_on(async {
        for person in PEOPLE {
            backend.create_user(person, PASSWORD).await.unwrap();
        }
        backend.create_group("crew", &[]).await.unwrap();
    });
    let app = system.block_on(app(Permit::new(backend.clone()), Arc::default(), |cfg| {
        cfg.service(may);
    }));
    let cookies: Vec<_> = PEOPLE
        .iter()
        .map(|person| system.block_on(login_as(&app, person)))
        .collect();
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&proptest::collection::vec(changes(), 1..25), |changes| {
        system.block_on(case(&app, &backend, &cookies, changes))
    });
    drop(app);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    if let Err(err) = outcome {
        panic!("{err}");
    }
}
