//! `DjangoBackend` reads a Django site as Django reads it: for generated
//! sites (users active or not, superusers or not, groups, memberships,
//! user and group permissions, django-guardian grants to users and groups)
//! built by Django's ORM in a fresh SQLite database
//! (`tests/django/grants.py`), every user's flags, permissions, object
//! permissions, objects, logins and session auth hash are what Django
//! answers. Needs python3 with Django and django-guardian; says it skipped
//! without them.

use std::io::Write;
use std::process::{Command, Stdio};

use actix_permit::backend::{Authentication, Authorization, DjangoBackend};
use actix_permit::django::signing::SecretKeys;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

fn django_and_guardian() -> bool {
    crate::support::python_has(&["django", "guardian"])
}

/// A site: users (active, superuser, password), a number of groups, and
/// who is in what and holds what (permission indices Django resolves).
fn site() -> impl Strategy<Value = Value> {
    (1usize..6, 0usize..4).prop_flat_map(|(users, groups)| {
        let user = (any::<bool>(), prop::bool::weighted(0.2), "[a-zA-Z0-9 é]{1,12}")
            .prop_map(|(active, superuser, password)| {
                json!({"active": active, "superuser": superuser, "password": password})
            });
        let g = groups.max(1);
        (
            proptest::collection::vec(user, users),
            proptest::collection::vec((0..users, 0..g), 0..8),
            proptest::collection::vec((0..users, 0usize..40), 0..10),
            proptest::collection::vec((0..g, 0usize..40), 0..10),
            proptest::collection::vec((0..users, 0usize..4, 0..g), 0..8),
            proptest::collection::vec((0..g, 0usize..4, 0..g), 0..8),
        )
            .prop_map(
                move |(users, memberships, user_perms, group_perms, uo, go)| {
                    let none = groups == 0;
                    json!({
                        "users": users,
                        "groups": groups,
                        "memberships": if none { vec![] } else { memberships },
                        "user_perms": user_perms,
                        "group_perms": if none { vec![] } else { group_perms },
                        "user_objects": if none { vec![] } else { uo },
                        "group_objects": if none { vec![] } else { go },
                    })
                },
            )
    })
}

/// Whether an active user holds a model permission and an object grant
/// of their own.
fn rich(spec: &Value) -> bool {
    let active =
        |entry: &Value| spec["users"][entry[0].as_u64().unwrap() as usize]["active"] == true;
    let any = |key: &str| spec[key].as_array().unwrap().iter().any(active);
    any("user_perms") && any("user_objects")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Where a generated site lives: a SQLite file, or a fresh database on the
/// PostgreSQL server `DATABASE_URL` names (dropped afterwards).
pub(crate) enum Site {
    Sqlite(std::path::PathBuf),
    Postgres { admin: String, name: String },
}

impl Site {
    pub(crate) async fn new(case: usize, postgres: Option<&str>) -> Self {
        let name = format!("permit_django_{}_{case}", std::process::id());
        match postgres {
            None => {
                let dir = std::env::temp_dir().join(&name);
                std::fs::create_dir_all(&dir).unwrap();
                Site::Sqlite(dir.join("site.sqlite3"))
            }
            Some(admin) => {
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin)
                    .await
                    .unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Site::Postgres {
                    admin: admin.to_owned(),
                    name,
                }
            }
        }
    }

    /// The database as the Django script takes it.
    pub(crate) fn for_django(&self) -> String {
        match self {
            Site::Sqlite(path) => json!({"engine": "sqlite", "name": path}).to_string(),
            Site::Postgres { admin, name } => {
                // postgres://user@host:port/db
                let rest = admin.split_once("://").unwrap().1;
                let (user, rest) = rest.split_once('@').unwrap();
                let host_port = rest.split('/').next().unwrap();
                let (host, port) = host_port.split_once(':').unwrap_or((host_port, "5432"));
                json!({"engine": "postgres", "name": name, "user": user.split(':').next().unwrap(),
                       "host": host, "port": port})
                .to_string()
            }
        }
    }

    pub(crate) fn url(&self) -> String {
        match self {
            Site::Sqlite(path) => format!("sqlite://{}", path.display()),
            Site::Postgres { admin, name } => {
                let base = admin.rsplit_once('/').unwrap().0;
                format!("{base}/{name}")
            }
        }
    }

    pub(crate) async fn remove(self) {
        match self {
            Site::Sqlite(path) => {
                std::fs::remove_dir_all(path.parent().unwrap()).ok();
            }
            Site::Postgres { admin, name } => {
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .unwrap();
            }
        }
    }
}

#[actix_rt::test]
async fn a_django_site_reads_as_django_reads_it() {
    if !django_and_guardian() {
        return;
    }
    read_as_django(None, 6).await;
}

/// The same on PostgreSQL, when `DATABASE_URL` names a server (`.ci/run`
/// sets it); it needs psycopg beside Django.
#[actix_rt::test]
async fn a_django_site_on_postgresql_reads_as_django_reads_it() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("skipped: DATABASE_URL names no PostgreSQL server");
        return;
    };
    if !url.starts_with("postgres") || !django_and_guardian() {
        return;
    }
    read_as_django(Some(&url), 3).await;
}

async fn read_as_django(postgres: Option<&str>, cases: usize) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/django/grants.py");
    let mut runner = TestRunner::default();
    let (mut users_seen, mut granted, mut on_objects) = (0, 0, 0);
    for case in 0..cases {
        // The first site holds both kinds of grant for an active user, so
        // that every run compares some of each.
        let spec = if case == 0 {
            site()
                .prop_filter("both kinds of grant to an active user", rich)
                .new_tree(&mut runner)
                .unwrap()
                .current()
        } else {
            site().new_tree(&mut runner).unwrap().current()
        };
        let db = Site::new(case, postgres).await;
        let secret = format!("a secret key for case {case}");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(db.for_django())
            .arg(&secret)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python3");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(spec.to_string().as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "the Django script failed on {spec}"
        );
        let django: Value = serde_json::from_slice(&output.stdout).unwrap();

        let url = db.url();
        let backend = DjangoBackend::connect(&url, SecretKeys::new(secret, []))
            .await
            .unwrap();
        assert!(backend.has_guardian());
        let all = strings(&django["all_perms"]);
        for (theirs, spec_user) in django["users"]
            .as_array()
            .unwrap()
            .iter()
            .zip(spec["users"].as_array().unwrap())
        {
            let id = theirs["id"].as_str().unwrap();
            let user = backend.get_user(id).await.unwrap().expect("the user");
            assert_eq!(user.is_active(), theirs["active"].as_bool().unwrap());
            assert_eq!(user.is_superuser(), theirs["superuser"].as_bool().unwrap());
            assert_eq!(
                user.session_auth_hash(),
                theirs["session_hash"].as_str().unwrap()
            );
            let stored = backend.user_permissions(&*user).await.unwrap();
            let mut ours: Vec<String> = stored.iter().map(str::to_owned).collect();
            ours.sort();
            assert_eq!(
                ours,
                strings(&theirs["stored"]),
                "stored permissions of {id} in {spec}"
            );
            // Django's has_perm, from what we read and the rules as
            // documented: inactive holds nothing, an active superuser all.
            let has: Vec<String> = all
                .iter()
                .filter(|p| user.is_active() && (user.is_superuser() || stored.contains(p)))
                .cloned()
                .collect();
            assert_eq!(has, strings(&theirs["has"]), "has_perm of {id}");
            granted += has.len();
            // Object grants as guardian answers them; for an inactive user
            // guardian answers none, as our rules do with what is stored.
            for (object, perms) in theirs["on_objects"].as_object().unwrap() {
                let held = backend.object_permissions(&*user, object).await.unwrap();
                let mut ours: Vec<String> = held.iter().map(str::to_owned).collect();
                ours.sort();
                if !user.is_active() {
                    ours.clear();
                }
                assert_eq!(ours, strings(perms), "{id} on group {object} in {spec}");
                on_objects += ours.len();
            }
            // guardian's get_objects_for_user lists grants whether or not
            // the user is active (its checker answers none for an inactive
            // one): what is stored, as our backend answers.
            let may_change = backend
                .objects_with_permission(&*user, "auth.change_group")
                .await
                .unwrap();
            assert_eq!(
                may_change,
                strings(&theirs["may_change"]),
                "groups {id} may change in {spec}"
            );
            let username = theirs["username"].as_str().unwrap();
            let password = spec_user["password"].as_str().unwrap();
            let login = backend.authenticate(username, password).await.unwrap();
            assert_eq!(
                login.is_some(),
                theirs["login"].as_bool().unwrap(),
                "login of {id}"
            );
            let wrong = backend
                .authenticate(username, &format!("{password}x"))
                .await
                .unwrap();
            assert_eq!(wrong.is_some(), theirs["wrong_login"].as_bool().unwrap());
            users_seen += 1;
        }
        assert!(backend.authenticate("nobody", "x").await.unwrap().is_none());
        drop(backend);
        db.remove().await;
    }
    assert!(
        users_seen >= cases && granted > 0 && on_objects > 0,
        "{users_seen} {granted} {on_objects}"
    );
}
