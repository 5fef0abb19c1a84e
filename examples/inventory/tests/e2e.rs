//! End to end: the real `inventory` binary on a free port with a fresh
//! database, driven over HTTP by a client that keeps the session cookie.
//!
//! Every test runs against SQLite; when `DATABASE_URL` names a PostgreSQL
//! server, every test runs against a fresh database there too.

mod common;

use std::process::Command;

use common::*;

#[test]
fn every_demo_user_on_every_route() {
    for db in Database::all() {
        let server = Server::start(&db);
        let mut admin = as_user(&server, "alice");
        // One row per route: the status for anonymous, alice, bob, carol, dave, erin.
        let login = |path: &str| format!("302 /accounts/login/?next={}", encode(path));
        let rows: Vec<(&str, &str, Vec<String>)> = vec![
            (
                "GET",
                "/items/",
                vec![
                    login("/items/"),
                    "200".into(),
                    "200".into(),
                    "200".into(),
                    login("/items/"),
                    "403".into(),
                ],
            ),
            (
                "GET",
                "/items/1/",
                vec![
                    login("/items/1/"),
                    "200".into(),
                    "200".into(),
                    "200".into(),
                    login("/items/1/"),
                    "403".into(),
                ],
            ),
            (
                "GET",
                "/items/999/",
                vec![
                    login("/items/999/"),
                    "404".into(),
                    "404".into(),
                    "404".into(),
                    login("/items/999/"),
                    "403".into(),
                ],
            ),
            (
                "GET",
                "/items/new/",
                vec![
                    login("/items/new/"),
                    "200".into(),
                    "403".into(),
                    "200".into(),
                    login("/items/new/"),
                    "403".into(),
                ],
            ),
            (
                "POST",
                "/items/",
                vec![
                    login("/items/"),
                    "303".into(),
                    "403".into(),
                    "303".into(),
                    login("/items/"),
                    "403".into(),
                ],
            ),
            (
                "GET",
                "/items/1/edit/",
                vec![
                    login("/items/1/edit/"),
                    "200".into(),
                    "403".into(),
                    "200".into(),
                    login("/items/1/edit/"),
                    "403".into(),
                ],
            ),
            (
                "POST",
                "/items/1/edit/",
                vec![
                    login("/items/1/edit/"),
                    "303 /items/1/".into(),
                    "403".into(),
                    "303 /items/1/".into(),
                    login("/items/1/edit/"),
                    "403".into(),
                ],
            ),
            (
                "POST",
                "/items/ID/delete/",
                vec![
                    login("/items/ID/delete/"),
                    "303 /items/".into(),
                    "403".into(),
                    "403".into(),
                    login("/items/ID/delete/"),
                    "403".into(),
                ],
            ),
            (
                "GET",
                "/accounts/password/",
                vec![
                    login("/accounts/password/"),
                    "200".into(),
                    "200".into(),
                    "200".into(),
                    login("/accounts/password/"),
                    "200".into(),
                ],
            ),
            (
                "GET",
                "/api/items",
                vec![
                    "403".into(),
                    "200".into(),
                    "200".into(),
                    "200".into(),
                    "403".into(),
                    "403".into(),
                ],
            ),
            (
                "POST",
                "/api/items",
                vec![
                    "403".into(),
                    "201".into(),
                    "403".into(),
                    "201".into(),
                    "403".into(),
                    "403".into(),
                ],
            ),
            (
                "DELETE",
                "/api/items/ID",
                vec![
                    "403".into(),
                    "204".into(),
                    "403".into(),
                    "403".into(),
                    "403".into(),
                    "403".into(),
                ],
            ),
        ];
        let mut clients: Vec<(&str, Client)> =
            USERS.iter().map(|u| (*u, as_user(&server, u))).collect();
        for (method, path, expected) in &rows {
            for ((user, client), expected) in clients.iter_mut().zip(expected) {
                // Deletions get an item of their own, made by alice.
                let fresh = admin.post_json("/api/items", r#"{"name": "victim", "quantity": 1}"#);
                let id = item_id(&fresh);
                let path = path.replace("ID", &id);
                let seen = match *method {
                    "GET" => client.get(&path),
                    "POST" if path.starts_with("/api/") => {
                        client.post_json(&path, r#"{"name": "api", "quantity": 2}"#)
                    }
                    "POST" => client.post_form(&path, &[("name", "form"), ("quantity", "3")]),
                    _ => client.delete(&path),
                };
                let got = match (&seen.location, expected.contains(' ')) {
                    (Some(location), true) => format!("{} {location}", seen.status),
                    _ => seen.status.to_string(),
                };
                let expected = expected.replace("ID", &id);
                assert_eq!(
                    got, expected,
                    "{user} {method} {path} on {}: {}",
                    db.url, seen.body
                );
                if path.starts_with("/api/") && seen.status == 403 {
                    let reason = if matches!(*user, "anonymous" | "dave") {
                        "login_required"
                    } else {
                        "forbidden"
                    };
                    assert_eq!(
                        seen.body,
                        format!(r#"{{"error":"{reason}"}}"#),
                        "{user} {method} {path}"
                    );
                }
                // Only a permitted delete removes the item; nothing else loses it.
                let targets_item =
                    path.contains(&format!("/{id}/")) || path.ends_with(&format!("/{id}"));
                let deleted = targets_item && matches!(seen.status, 204 | 303);
                let exists = admin
                    .get("/api/items")
                    .body
                    .contains(&format!("\"id\":{id},"));
                assert_eq!(exists, !deleted, "{user} {method} {path}");
            }
        }
    }
}

#[test]
fn login_follows_only_safe_next_values() {
    for db in Database::all() {
        let server = Server::start(&db);
        let cases = [
            ("/items/2/", "/items/2/"),
            ("/items/?page=2", "/items/?page=2"),
            ("", "/items/"),
            ("//evil.example/", "/items/"),
            ("https://evil.example/items/", "/items/"),
            ("http:/evil.example", "/items/"),
            ("/\\evil.example", "/items/"),
            ("javascript:alert(1)", "/items/"),
            (" //evil.example", "/items/"),
        ];
        for (next, location) in cases {
            let mut client = server.client();
            let seen = client.login("bob", PASSWORD, next);
            assert_eq!(
                (seen.status, seen.location.as_deref()),
                (302, Some(location)),
                "next={next:?}"
            );
        }

        // The redirect to the login page carries `next`, and following it back works.
        let mut client = server.client();
        let seen = client.get("/items/1/?tab=x");
        assert_eq!(
            seen.location.as_deref(),
            Some("/accounts/login/?next=/items/1/%3Ftab%3Dx")
        );
        let page = client.get(seen.location.as_deref().unwrap());
        // (The template escapes `/` as `&#x2f;`, which browsers read back as `/`.)
        let form = page.body.replace("&#x2f;", "/");
        assert!(
            form.contains(r#"name="next" value="/items/1/?tab=x""#),
            "{form}"
        );
        let seen = client.login("bob", PASSWORD, "/items/1/?tab=x");
        assert_eq!(seen.location.as_deref(), Some("/items/1/?tab=x"));
        assert_eq!(client.get("/items/1/?tab=x").status, 200);

        // A failed login says the same whether the user exists or not.
        let mut client = server.client();
        let unknown = client.login("nobody", "wrong", "");
        let wrong = client.login("bob", "wrong", "");
        for seen in [&unknown, &wrong] {
            assert_eq!(seen.status, 200);
            assert!(
                seen.body
                    .contains("Please enter a correct username and password.")
            );
            assert!(client.cookie.is_none());
        }
        assert_eq!(
            unknown.body.replace("nobody", "bob"),
            wrong.body,
            "the two failures differ only in the echoed username"
        );
    }
}

#[test]
fn sessions_end_on_logout_password_change_deactivation_and_tampering() {
    for db in Database::all() {
        let server = Server::start(&db);

        // Session cookies are HttpOnly and SameSite=Lax.
        let mut carol = server.client();
        let seen = carol.login("carol", PASSWORD, "");
        let cookie = seen.set_cookie.first().expect("a session cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );

        // Logout ends the session.
        assert_eq!(carol.get("/items/").status, 200);
        let seen = carol.post_form("/accounts/logout/", &[]);
        assert_eq!(
            (seen.status, seen.location.as_deref()),
            (303, Some("/accounts/login/"))
        );
        assert_eq!(carol.get("/items/").status, 302);

        // A password change ends the user's other sessions, not this one.
        let mut first = as_user(&server, "carol");
        let mut second = as_user(&server, "carol");
        let seen = first.post_form(
            "/accounts/password/",
            &[
                ("old_password", "wrong"),
                ("new_password", "a new password"),
            ],
        );
        assert!(
            seen.body
                .contains("Your old password was entered incorrectly.")
        );
        let seen = first.post_form(
            "/accounts/password/",
            &[
                ("old_password", PASSWORD),
                ("new_password", "a new password"),
            ],
        );
        assert_eq!(seen.status, 303);
        assert_eq!(first.get("/items/").status, 200);
        assert_eq!(second.get("/items/").status, 302);
        assert_eq!(
            server.client().login("carol", PASSWORD, "").status,
            200,
            "old password refused"
        );
        assert_eq!(
            server.client().login("carol", "a new password", "").status,
            302
        );

        // A tampered or truncated cookie is anonymous.
        let mut bob = as_user(&server, "bob");
        let good = bob.cookie.clone().unwrap();
        let (name, value) = good.split_once('=').unwrap();
        let tampered = [
            format!("{name}={}", value.chars().rev().collect::<String>()),
            format!("{name}={}", &value[..value.len() / 2]),
            format!("{name}=AAAA{value}"),
            format!("{name}="),
        ];
        for cookie in tampered {
            bob.cookie = Some(cookie.clone());
            let seen = bob.get("/items/");
            assert_eq!(seen.status, 302, "{cookie}");
        }
        bob.cookie = Some(good);
        assert_eq!(bob.get("/items/").status, 200);

        // Deactivation by the CLI ends the session (as soon as the server
        // hears of it: see `eventually`).
        server.cli(&["user", "deactivate", "bob"]);
        eventually("bob deactivated", || bob.get("/items/").status == 302);
    }
}

#[test]
fn cli_changes_take_effect_within_milliseconds() {
    for db in Database::all() {
        let server = Server::start(&db);
        let mut erin = as_user(&server, "erin");
        assert_eq!(erin.get("/items/").status, 403);

        server.cli(&["user", "grant", "erin", "inventory.view_item"]);
        eventually("view granted", || erin.get("/items/").status == 200);
        assert_eq!(erin.get("/items/new/").status, 403);

        // The server answers these from its exact cache (the default).
        let mut alice = as_user(&server, "alice");
        let cache = |alice: &mut Client| -> serde_json::Value {
            serde_json::from_str(&alice.get("/api/cache").body).unwrap()
        };
        // (PostgreSQL: once its listener is connected.)
        let started = std::time::Instant::now();
        while cache(&mut alice)["state"] != "exact" {
            assert!(started.elapsed().as_secs() < 10, "the cache never came up");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(erin.get("/items/").status, 200);
        let before = cache(&mut alice);
        for _ in 0..5 {
            assert_eq!(erin.get("/items/").status, 200);
        }
        let after = cache(&mut alice);
        assert_eq!(after["queries"], before["queries"], "{before} {after}");

        server.cli(&["group", "add", "stockers", "inventory.add_item"]);
        server.cli(&["group", "join", "erin", "stockers"]);
        eventually("joined", || erin.get("/items/new/").status == 200);

        server.cli(&["user", "revoke", "erin", "inventory.view_item"]);
        eventually("view revoked", || erin.get("/items/1/").status == 403);
        // Adding items, erin still gets the list: of her own items (none).
        let list = erin.get("/items/");
        assert_eq!(list.status, 200);
        assert!(list.body.contains("No items yet."), "{}", list.body);

        // An object permission from the CLI: item 2, not item 1.
        server.cli(&[
            "user",
            "grant",
            "erin",
            "inventory.view_item",
            "--object",
            "2",
        ]);
        eventually("object granted", || erin.get("/items/2/").status == 200);
        assert_eq!(erin.get("/items/1/").status, 403);
        let list = erin.get("/items/");
        assert!(list.body.contains("Washer 8 mm") && !list.body.contains("Hex bolt M8"));
        server.cli(&[
            "user",
            "revoke",
            "erin",
            "inventory.view_item",
            "--object",
            "2",
        ]);
        eventually("object revoked", || erin.get("/items/2/").status == 403);

        server.cli(&[
            "user",
            "add",
            "frank",
            "--password",
            "frank-password",
            "--superuser",
        ]);
        let mut frank = server.client();
        assert_eq!(frank.login("frank", "frank-password", "").status, 302);
        assert_eq!(frank.get("/items/1/edit/").status, 200);

        // A typo is refused with the defined permissions listed.
        let output = Command::new(env!("CARGO_BIN_EXE_inventory"))
            .args(["user", "grant", "erin", "inventory.veiw_item"])
            .env("DATABASE_URL", &server.db_url)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("no permission \"inventory.veiw_item\" is defined"),
            "{stderr}"
        );
        assert!(stderr.contains("inventory.view_item"), "{stderr}");
    }
}

#[test]
fn cross_site_writes_are_refused_before_anything_runs() {
    for db in Database::all() {
        let server = Server::start(&db);
        let mut alice = as_user(&server, "alice");
        let before = alice.get("/api/items").body;
        let host = server.base.trim_start_matches("http://").to_owned();
        let same_origin = server.base.clone();
        let refused = [
            vec![("origin", "https://evil.example")],
            vec![("origin", "null")],
            vec![("sec-fetch-site", "cross-site")],
            vec![
                ("origin", same_origin.as_str()),
                ("sec-fetch-site", "cross-site"),
            ],
        ];
        for headers in &refused {
            let seen = alice.send(
                "POST",
                "/api/items",
                headers,
                Some(("application/json", r#"{"name":"csrf","quantity":1}"#.into())),
            );
            assert_eq!(seen.status, 403, "{headers:?}");
            let seen = alice.send("POST", "/items/1/delete/", headers, None);
            assert_eq!(seen.status, 403, "{headers:?}");
        }
        assert_eq!(alice.get("/api/items").body, before, "nothing changed");

        let allowed = [
            vec![
                ("origin", same_origin.as_str()),
                ("sec-fetch-site", "same-origin"),
            ],
            vec![("host", host.as_str())],
            vec![],
        ];
        for headers in &allowed {
            let seen = alice.send(
                "POST",
                "/api/items",
                headers,
                Some(("application/json", r#"{"name":"ok","quantity":1}"#.into())),
            );
            assert_eq!(seen.status, 201, "{headers:?}");
        }
        // Reading is never refused.
        let seen = alice.send("GET", "/items/", &[("sec-fetch-site", "cross-site")], None);
        assert_eq!(seen.status, 200);
    }
}

#[test]
fn the_json_api_answers_json() {
    for db in Database::all() {
        let server = Server::start(&db);
        let mut carol = as_user(&server, "carol");
        let seen = carol.get("/api/items");
        let items: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
        assert_eq!(items.as_array().unwrap().len(), 3);
        assert_eq!(
            items[0],
            serde_json::json!({"id": 1, "name": "Hex bolt M8", "quantity": 120, "owner": null})
        );

        let seen = carol.post_json("/api/items", r#"{"name": "Spring", "quantity": 9}"#);
        assert_eq!(seen.status, 201);
        let created: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
        assert_eq!(created["name"], "Spring");
        assert_eq!(created["quantity"], 9);
        assert!(created["id"].as_i64().unwrap() > 3);
        assert_eq!(created["owner"], "carol");

        for bad in [
            "{not json",
            r#"{"name": "x"}"#,
            r#"{"name": "x", "quantity": -1}"#,
            r#"{"name": "", "quantity": 1}"#,
        ] {
            let seen = carol.post_json("/api/items", bad);
            assert_eq!(seen.status, 400, "{bad}");
            let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
            assert_eq!(body["error"], "bad_request", "{bad}");
        }
        // A denied request with a bad body is still just a 403.
        let mut bob = as_user(&server, "bob");
        let seen = bob.post_json("/api/items", "{not json");
        assert_eq!(
            (seen.status, seen.body.as_str()),
            (403, r#"{"error":"forbidden"}"#)
        );
        let mut alice = as_user(&server, "alice");
        assert_eq!(alice.delete("/api/items/999").status, 404);
        let me: serde_json::Value = serde_json::from_str(&carol.get("/api/me").body).unwrap();
        assert_eq!(
            me,
            serde_json::json!({"username": "carol", "permissions": ["inventory.add_item", "inventory.change_item", "inventory.view_item"]})
        );
        assert_eq!(server.client().get("/api/me").status, 403);
        assert_eq!(server.client().get("/healthz").body, "ok");
        assert_eq!(alice.delete("/api/items/abc").status, 404);
    }
}

/// Runs the binary with `args` in `db`'s folder and its database; kills it
/// if it has not ended within a minute.
fn run_to_end(db: &Database, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_inventory"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("PERMIT_SECRET_KEY", SECRET)
        .env("RUST_LOG", "warn")
        .env_remove("REDIS_URL")
        .env_remove("PERMIT_CHECK_PERMISSIONS")
        .envs(env.iter().copied())
        .current_dir(&db.dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run inventory");
    let id = child.id();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(60));
        let _ = Command::new("kill").arg(id.to_string()).status();
    });
    let output = child.wait_with_output().expect("wait for inventory");
    drop(watchdog);
    output
}

#[test]
fn a_permission_missing_from_the_database_is_reported_at_start() {
    for db in Database::all() {
        // First start: migrations and demo data, then the permission goes.
        let made = run_to_end(
            &db,
            &["user", "add", "probe", "--password", "probe-pw"],
            &[],
        );
        assert!(made.status.success(), "{made:?}");
        admin_sql(
            &db.url,
            "DELETE FROM permit_permissions WHERE app_label = 'inventory' AND codename = 'delete_item'",
        );

        let refused = run_to_end(&db, &["serve", "--bind", "127.0.0.1:0"], &[]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "started anyway: {stderr}");
        assert!(
            String::from_utf8_lossy(&refused.stdout).is_empty(),
            "it must not listen"
        );
        assert!(
            stderr.contains(
                "refusing to start: handlers name permissions the database does not define:\n  \
                 inventory.delete_item (named by inventory::web::api::api_delete, inventory::web::items::confirm_delete, inventory::web::items::delete_item)"
            ),
            "{stderr}"
        );
        assert!(!stderr.contains("inventory.view_item ("), "{stderr}");

        let bad = run_to_end(&db, &["serve"], &[("PERMIT_CHECK_PERMISSIONS", "maybe")]);
        assert!(!bad.status.success());
        assert!(String::from_utf8_lossy(&bad.stderr).contains("must be refuse, warn or off"));

        // Warn: it starts, and the routes that name it are for superusers only.
        let server = Server::start_with(&db, &[("PERMIT_CHECK_PERMISSIONS", "warn")]);
        let mut bob = as_user(&server, "bob");
        assert_eq!(bob.get("/items/1/").status, 200);
        assert_eq!(bob.post_form("/items/1/delete/", &[]).status, 403);
        let mut alice = as_user(&server, "alice");
        assert_eq!(alice.post_form("/items/1/delete/", &[]).status, 303);
    }
}

#[test]
fn routes_lists_every_handler_and_what_anonymous_users_reach() {
    let db = Database::sqlite();
    let table = run_to_end(&db, &["routes"], &[]);
    assert!(table.status.success(), "{table:?}");
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        !db.dir.join("inventory.db").exists(),
        "routes needs no database"
    );
    let row = |handler: &str| {
        table
            .lines()
            .find(|line| line.starts_with(&format!("inventory::web::{handler} ")))
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| panic!("no row for {handler} in\n{table}"))
    };
    assert_eq!(
        row("items::delete_item"),
        "inventory::web::items::delete_item POST /items/{id}/delete/ perms: inventory.delete_item (or on {id}); recent login: 10m no"
    );
    assert_eq!(
        row("api::api_me"),
        "inventory::web::api::api_me GET /api/me login no"
    );
    assert_eq!(
        row("healthz"),
        "inventory::web::healthz GET /healthz public yes"
    );

    let json = run_to_end(&db, &["routes", "--json"], &[]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let handlers = json["handlers"].as_array().unwrap();
    assert_eq!(
        handlers.len(),
        table.lines().take_while(|l| !l.is_empty()).count() - 1
    );
    let mut anonymous: Vec<String> = handlers
        .iter()
        .filter(|h| h["anonymous"] == true)
        .map(|h| {
            let route = &h["routes"][0];
            format!(
                "{} {}",
                route["methods"][0].as_str().unwrap(),
                route["path"].as_str().unwrap()
            )
        })
        .collect();
    anonymous.sort();
    assert_eq!(
        anonymous,
        [
            "GET /",
            "GET /accounts/login/",
            "GET /healthz",
            "POST /accounts/login/",
            "POST /accounts/logout/"
        ]
    );
    for handler in handlers {
        let public = handler["public"] == true;
        assert_eq!(handler["anonymous"], public, "{handler}");
        assert_eq!(handler["requires"] == "public", public, "{handler}");
    }

    // The README shows this very table.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(&table),
        "README.md does not show the current `inventory routes` output:\n{table}"
    );
}

/// Runs the binary with `input` on its standard input (not a terminal).
fn run_with_input(db: &Database, args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_inventory"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .current_dir(&db.dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run inventory");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().expect("wait for inventory")
}

#[test]
fn demo_users_exist_only_on_request_and_never_beyond_loopback() {
    let db = Database::sqlite();
    // Without --demo: no user, no banner, and alice cannot log in.
    let plain = Server::start_args(&db, &["serve", "--bind", "127.0.0.1:0"], &[]);
    let page = plain.client().get("/accounts/login/");
    assert!(!page.body.contains("permit-demo"), "{}", page.body);
    assert_eq!(plain.client().login("alice", PASSWORD, "").status, 200);
    drop(plain);

    // With --demo: the banner, and the users.
    let demo = Server::start(&db);
    let page = demo.client().get("/accounts/login/");
    assert!(page.body.contains("permit-demo"), "{}", page.body);
    assert_eq!(demo.client().login("alice", PASSWORD, "").status, 302);
    drop(demo);

    // Beyond loopback, the server names who still has the demo password.
    let refused = run_to_end(&db, &["serve", "--bind", "0.0.0.0:0"], &[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        String::from_utf8_lossy(&refused.stdout).is_empty(),
        "it must not listen"
    );
    assert!(
        stderr
            .contains("alice, bob, carol, dave, erin, gina still have the published demo password")
            && stderr.contains("inventory user password NAME"),
        "{stderr}"
    );
    for name in ["alice", "bob", "carol", "dave", "gina"] {
        let changed = run_with_input(&db, &["user", "password", name], "a-new-password-1\n");
        assert!(changed.status.success(), "{changed:?}");
    }
    let refused = run_to_end(&db, &["serve", "--bind", "0.0.0.0:0"], &[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("erin still has the published demo password"),
        "{stderr}"
    );
    // The demo password itself, or a short one, is not accepted.
    let same = run_with_input(&db, &["user", "password", "erin"], "permit-demo\n");
    assert!(!same.status.success());
    let short = run_with_input(&db, &["user", "password", "erin"], "short\n");
    assert!(!short.status.success());
}

#[test]
fn a_new_password_from_the_cli_ends_the_users_sessions() {
    let db = Database::sqlite();
    let server = Server::start(&db);
    let mut bob = as_user(&server, "bob");
    assert_eq!(bob.get("/api/me").status, 200);
    let changed = run_with_input(&db, &["user", "password", "bob"], "bobs-new-password\n");
    assert!(changed.status.success(), "{changed:?}");
    assert_eq!(bob.get("/api/me").status, 403, "the old session ended");
    let mut again = server.client();
    assert_eq!(again.login("bob", "bobs-new-password", "").status, 302);
    assert_eq!(again.get("/api/me").status, 200);
}

#[test]
fn guessing_a_password_is_throttled_with_a_message() {
    let db = Database::sqlite();
    let server = Server::start(&db);
    let mut guesser = server.client();
    for i in 0..5 {
        let seen = guesser.login("carol", &format!("guess-{i}"), "");
        assert_eq!(seen.status, 200, "{i}");
        assert!(
            seen.body
                .contains("Please enter a correct username and password.")
        );
    }
    let seen = guesser.login("carol", PASSWORD, "");
    assert_eq!(seen.status, 429);
    assert!(
        seen.body.contains("Too many failed logins"),
        "{}",
        seen.body
    );
    assert!(
        seen.body.contains("Try again in 15 minutes."),
        "{}",
        seen.body
    );
    // Another account from the same address is not locked.
    let mut bob = server.client();
    assert_eq!(bob.login("bob", PASSWORD, "").status, 302);
}

#[test]
fn pages_know_who_is_logged_in_and_cookies_are_locked_down() {
    let db = Database::sqlite();
    let server = Server::start(&db);
    let mut erin = server.client();
    let seen = erin.login("erin", PASSWORD, "");
    let cookie = seen.set_cookie.join("\n");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: {cookie}"
    );
    // The 403 page and the 404 page show erin and the logout button.
    for path in ["/items/", "/no/such/page"] {
        let seen = erin.get(path);
        assert!(
            seen.status == 403 || seen.status == 404,
            "{path}: {}",
            seen.status
        );
        assert!(
            seen.body.contains("Logged in as <strong>erin</strong>"),
            "{path}: {}",
            seen.body
        );
        assert!(seen.body.contains("Log out"), "{path}");
        assert!(!seen.body.contains(">Log in<"), "{path}");
    }
    drop(server);
    let secure = Server::start_with(&db, &[("PERMIT_COOKIE_SECURE", "1")]);
    let seen = secure.client().login("erin", PASSWORD, "");
    assert!(seen.set_cookie.join("\n").contains("Secure"), "{seen:?}");
}

/// `inventory access --json` predicts what HTTP answers: for every demo user
/// who can sign in and every route the matrix decides (a predicate's routes
/// are decided per request and left out), a ✔ is never refused and a ✘ is
/// always 403. Mutating routes are sent for an item that does not exist, and
/// the public login and logout are not sent (they would change the session).
#[test]
fn the_access_matrix_is_what_http_answers() {
    for db in Database::all() {
        let server = Server::start(&db);
        let output = server.cli(&["access", "--json"]);
        let matrix: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let routes = matrix["routes"].as_array().unwrap();
        let users = matrix["users"].as_array().unwrap();
        let names: Vec<&str> = users.iter().map(|u| u["user"].as_str().unwrap()).collect();
        assert_eq!(names, ["alice", "bob", "carol", "dave", "erin", "gina"]);
        // dave is inactive: nothing but the public routes.
        let dave = &users[3]["cells"];
        for (route, cell) in routes.iter().zip(dave.as_array().unwrap()) {
            let public = route["requires"] == "public";
            assert_eq!(cell["allowed"], public, "dave {route}");
        }
        let mut checked = 0;
        for user in users.iter().filter(|u| u["user"] != "dave") {
            let name = user["user"].as_str().unwrap();
            let mut client = as_user(&server, name);
            for (route, cell) in routes.iter().zip(user["cells"].as_array().unwrap()) {
                let (method, path) = (
                    route["method"].as_str().unwrap(),
                    route["path"].as_str().unwrap(),
                );
                let Some(allowed) = cell["allowed"].as_bool() else {
                    continue;
                };
                if path.starts_with("/accounts/log") && method == "POST" {
                    continue;
                }
                let id = if method == "GET" { "1" } else { "999999" };
                let path = path.replace("{id}", id);
                let seen = match method {
                    "GET" => client.get(&path),
                    "DELETE" => client.delete(&path),
                    _ if path.starts_with("/api/") => client.post_json(&path, "{}"),
                    _ => client.post_form(&path, &[]),
                };
                let refused = seen.status == 403
                    || seen
                        .location
                        .as_deref()
                        .is_some_and(|l| l.starts_with("/accounts/login/"));
                assert_eq!(
                    !refused, allowed,
                    "{name} {method} {path}: matrix says {cell}, HTTP {} {:?}",
                    seen.status, seen.location
                );
                if !allowed {
                    assert_eq!(seen.status, 403, "{name} {method} {path}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 60, "{checked}");
    }
}

/// `/admin/access/` shows the matrix to superusers only.
#[test]
fn the_access_page_is_for_superusers() {
    let db = Database::sqlite();
    let server = Server::start(&db);
    let seen = as_user(&server, "alice").get("/admin/access/");
    assert_eq!(seen.status, 200);
    let body = seen.body.replace("&#x2f;", "/");
    for text in [
        "Who may reach what",
        "<th scope=\"row\">bob</th>",
        "GET /items/new/",
        "✔",
        "✘",
        "group viewers",
        "inactive",
    ] {
        assert!(body.contains(text), "{text} missing: {body}");
    }
    let seen = as_user(&server, "bob").get("/admin/access/");
    assert_eq!(seen.status, 403);
    assert!(seen.body.contains("bob"), "the 403 page names the user");
    let seen = server.client().get("/admin/access/");
    assert_eq!(seen.status, 302);
    assert_eq!(
        seen.location.as_deref(),
        Some("/accounts/login/?next=/admin/access/")
    );
}

/// `/api/openapi.json` says, operation by operation, what `inventory routes
/// --json` says each `/api/` route requires, and validates as OpenAPI 3.1
/// (with `openapi-spec-validator`, which `.ci/run` installs; without it
/// that part is skipped, saying so).
#[test]
fn the_openapi_document_states_what_each_route_requires() {
    let db = Database::sqlite();
    let server = Server::start(&db);
    assert_eq!(server.client().get("/api/openapi.json").status, 403);
    let seen = as_user(&server, "erin").get("/api/openapi.json");
    assert_eq!(seen.status, 200);
    let doc: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["session"],
        serde_json::json!({"type": "apiKey", "in": "cookie", "name": "inventory_session", "description": "The session cookie set by signing in"})
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["token"]["type"],
        "http"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["token"]["scheme"],
        "bearer"
    );
    let listing = server.cli(&["routes", "--json"]);
    let listing: serde_json::Value = serde_json::from_slice(&listing.stdout).unwrap();
    let mut compared = 0;
    for handler in listing["handlers"].as_array().unwrap() {
        for route in handler["routes"].as_array().unwrap() {
            let path = route["path"].as_str().unwrap();
            if !path.starts_with("/api/") {
                continue;
            }
            for method in route["methods"].as_array().unwrap() {
                let method = method.as_str().unwrap().to_lowercase();
                let op = &doc["paths"][path][&method];
                assert!(op.is_object(), "{method} {path} is not documented");
                let requires = handler["requires"].as_str().unwrap();
                let public = handler["public"].as_bool().unwrap();
                assert_eq!(op["x-login-required"], !public, "{method} {path}");
                // x-permissions, flattened, are the handler's permissions;
                // rendered as the listing renders them, they appear in it.
                let all = op["x-permissions"]["all"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let flat: Vec<&str> = all
                    .iter()
                    .flat_map(|any| any["any"].as_array().unwrap())
                    .map(|perm| perm.as_str().unwrap())
                    .collect();
                let listed: Vec<&str> = handler["permissions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|perm| perm.as_str().unwrap())
                    .collect();
                assert_eq!(flat, listed, "{method} {path}");
                if !all.is_empty() {
                    let rendered: Vec<String> = all
                        .iter()
                        .map(|any| {
                            let any: Vec<&str> = any["any"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|p| p.as_str().unwrap())
                                .collect();
                            if any.len() > 1 && all.len() > 1 {
                                format!("({})", any.join(" or "))
                            } else {
                                any.join(" or ")
                            }
                        })
                        .collect();
                    let rendered = format!("perms: {}", rendered.join(" and "));
                    assert!(requires.contains(&rendered), "{requires} / {rendered}");
                }
                match requires.split("test: ").nth(1) {
                    Some(predicate) => {
                        assert_eq!(op["x-predicate"], predicate.split(';').next().unwrap())
                    }
                    None => assert!(op.get("x-predicate").is_none(), "{method} {path}"),
                }
                // `recent login: 10m` is `x-recent-login: {"max_age": 600}`.
                match requires.contains("recent login: 10m") {
                    true => assert_eq!(
                        op["x-recent-login"],
                        serde_json::json!({ "max_age": 600 }),
                        "{method} {path}"
                    ),
                    false => assert!(op.get("x-recent-login").is_none(), "{method} {path}"),
                }
                if !public {
                    // The session, or a token with one scope from each
                    // `any` list; no token where the password is asked.
                    let mut expected = vec![serde_json::json!({"session": []})];
                    if !requires.contains("recent login") {
                        let mut choices: Vec<Vec<&str>> = vec![Vec::new()];
                        for any in &all {
                            choices = choices
                                .iter()
                                .flat_map(|choice| {
                                    any["any"].as_array().unwrap().iter().map(move |perm| {
                                        let mut with = choice.clone();
                                        with.push(perm.as_str().unwrap());
                                        with.sort_unstable();
                                        with
                                    })
                                })
                                .collect();
                        }
                        expected.extend(choices.iter().map(|c| serde_json::json!({"token": c})));
                        assert!(op["responses"]["401"].is_object(), "{method} {path}");
                    }
                    assert_eq!(
                        op["security"],
                        serde_json::Value::from(expected),
                        "{method} {path}"
                    );
                    assert!(op["responses"]["403"].is_object(), "{method} {path}");
                    assert!(op["responses"]["503"].is_object(), "{method} {path}");
                }
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 7, "every /api/ route compared");
    assert!(
        doc["paths"]["/api/items/{id}"]["delete"]["responses"]["403"]["description"]
            .as_str()
            .unwrap()
            .contains("reauthentication_required")
    );

    let file = db.dir.join("openapi.json");
    std::fs::write(&file, &seen.body).unwrap();
    let validator = Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|output| output.status.success());
    match validator
        .then(|| {
            Command::new("python3")
                .args(["-m", "openapi_spec_validator"])
                .arg(&file)
                .output()
        })
        .transpose()
        .unwrap()
    {
        Some(output) => assert!(
            output.status.success(),
            "not valid OpenAPI 3.1: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
        None => eprintln!(
            "skipped the OpenAPI 3.1 validation: `pip install openapi-spec-validator` to run it"
        ),
    }
}

/// Swagger UI at `/api-docs/`, from files the server has (installed by `npm
/// ci` in `examples/inventory`; `.ci/run` does it): for signed-in users,
/// only its own files; without them, a page that says how to install them.
#[test]
fn swagger_ui_is_served_from_here() {
    let db = Database::sqlite();
    let server = Server::start(&db);
    let seen = server.client().get("/api-docs/");
    assert_eq!(seen.status, 302);
    let mut erin = as_user(&server, "erin");
    let installed = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("node_modules/swagger-ui-dist/swagger-ui-bundle.js")
        .is_file();
    let page = erin.get("/api-docs/");
    if !installed {
        assert_eq!(page.status, 404);
        assert!(page.body.contains("npm ci"), "{}", page.body);
        eprintln!(
            "skipped Swagger UI's files: run `npm ci --ignore-scripts` in examples/inventory"
        );
        return;
    }
    assert_eq!(page.status, 200);
    for src in [
        "/api-docs/swagger-ui-bundle.js",
        "/api-docs/start.js",
        "/api-docs/swagger-ui.css",
    ] {
        assert!(page.body.contains(src), "{src}");
        let file = erin.get(src);
        assert_eq!(file.status, 200, "{src}");
        assert!(!file.body.is_empty());
    }
    assert!(erin.get("/api-docs/swagger-ui-bundle.js").body.len() > 500_000);
    assert!(
        erin.get("/api-docs/start.js")
            .body
            .contains("/api/openapi.json")
    );
    for path in [
        "/api-docs/index.html",
        "/api-docs/package.json",
        "/api-docs/..%2F..%2FCargo.toml",
    ] {
        assert_eq!(erin.get(path).status, 404, "{path}");
    }
}

/// Whoever creates an item gets view, change and delete on it: gina, who
/// may only add items, edits and deletes her own and nothing else; carol
/// (the model permission to change) edits hers too.
#[test]
fn owners_change_and_delete_only_their_own_items() {
    for db in Database::all() {
        let server = Server::start(&db);
        let mut gina = as_user(&server, "gina");
        let mut carol = as_user(&server, "carol");
        let mut erin = as_user(&server, "erin");

        let list = gina.get("/items/");
        assert_eq!(list.status, 200);
        assert!(list.body.contains("No items yet."), "{}", list.body);
        assert_eq!(gina.get("/items/1/").status, 403);
        assert_eq!(gina.get("/items/1/edit/").status, 403);
        assert_eq!(gina.post_form("/items/1/delete/", &[]).status, 403);

        let created = gina.post_form("/items/", &[("name", "Gina's crate"), ("quantity", "4")]);
        assert_eq!(created.status, 303);
        let path = created.location.clone().unwrap();
        let id = path
            .trim_matches('/')
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        let page = gina.get(&path);
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Gina&#x27;s crate") || page.body.contains("Gina's crate"));
        assert!(page.body.contains("Edit") && page.body.contains("Delete"));
        let list = gina.get("/items/");
        assert!(
            list.body.contains(&format!("/items/{id}/edit/")),
            "{}",
            list.body
        );
        assert!(!list.body.contains("Hex bolt M8"), "{}", list.body);
        assert!(list.body.contains("<td>gina</td>"), "{}", list.body);
        let edited = gina.post_form(
            &format!("/items/{id}/edit/"),
            &[("name", "Gina's box"), ("quantity", "5")],
        );
        assert_eq!(edited.status, 303);

        // carol changes every item, hers included, but deletes none; erin
        // sees nothing of it.
        assert_eq!(carol.get(&format!("/items/{id}/edit/")).status, 200);
        assert_eq!(
            carol.post_form(&format!("/items/{id}/delete/"), &[]).status,
            403
        );
        let list = carol.get("/items/");
        assert!(list.body.contains("Hex bolt M8") && list.body.contains("Gina"));
        assert_eq!(erin.get(&path).status, 403);

        // Another adder's item is not gina's.
        server.cli(&["user", "grant", "erin", "inventory.add_item"]);
        let mut theirs = None;
        eventually("add granted", || {
            let seen = erin.post_json("/api/items", r#"{"name": "Erin's", "quantity": 1}"#);
            assert!(matches!(seen.status, 201 | 403), "{}", seen.body);
            theirs = (seen.status == 201).then_some(seen);
            theirs.is_some()
        });
        let theirs = theirs.unwrap();
        let theirs: serde_json::Value = serde_json::from_str(&theirs.body).unwrap();
        assert_eq!(theirs["owner"], "erin");
        let other = theirs["id"].as_i64().unwrap();
        assert_eq!(gina.get(&format!("/items/{other}/")).status, 403);
        assert_eq!(gina.get(&format!("/items/{other}/edit/")).status, 403);
        assert_eq!(gina.delete(&format!("/api/items/{other}")).status, 403);
        let mine: serde_json::Value = serde_json::from_str(&gina.get("/api/items").body).unwrap();
        let ids: Vec<i64> = mine
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [id.parse::<i64>().unwrap()]);

        // An object permission granted from the CLI: gina may now delete
        // erin's item, and only that one.
        server.cli(&[
            "user",
            "grant",
            "gina",
            "inventory.delete_item",
            "--object",
            &other.to_string(),
        ]);
        eventually("object granted", || {
            gina.delete(&format!("/api/items/{other}")).status == 204
        });
        assert_eq!(gina.post_form("/items/2/delete/", &[]).status, 403);

        let deleted = gina.post_form(&format!("/items/{id}/delete/"), &[]);
        assert_eq!(
            (deleted.status, deleted.location.as_deref()),
            (303, Some("/items/"))
        );
        assert_eq!(carol.get(&path).status, 404);
    }
}

/// Issue 26: `--bind` is taken before or after the command, as a newcomer
/// types it, and a `RUST_LOG` that is not a filter is said so.
#[test]
fn the_bind_address_goes_anywhere_on_the_command_line() {
    let db = Database::sqlite();
    for args in [
        &["--demo", "--bind", "127.0.0.1:0"][..],
        &["--bind", "127.0.0.1:0", "--demo", "serve"],
        &["--demo", "serve", "--bind", "127.0.0.1:0"],
    ] {
        let server = Server::start_args(&db, args, &[]);
        assert_eq!(server.client().get("/healthz").status, 200, "{args:?}");
    }
    let refused = run_to_end(
        &db,
        &["--bind", "0.0.0.0:0", "routes", "--json"],
        &[("RUST_LOG", "actix_permit=[")],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("RUST_LOG=\"actix_permit=[\" is not a log filter"),
        "{stderr}"
    );
}

/// Issue 26: every setting the README lists is a flag with its variable,
/// and `--help` shows it.
#[test]
fn help_lists_every_setting_the_readme_lists() {
    let db = Database::sqlite();
    let help = run_to_end(&db, &["--help"], &[]);
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let readme = include_str!("../README.md");
    let mut listed = 0;
    for row in readme.lines().filter(|l| l.starts_with("| `PERMIT_")) {
        let variable = row[3..].split('`').next().unwrap();
        assert!(
            help.contains(&format!("[env: {variable}")),
            "{variable} is not a flag in --help:\n{help}"
        );
        listed += 1;
    }
    assert!(listed >= 12, "read the README's settings ({listed})");
}

/// Deleting and changing the password want the password entered within ten
/// minutes: an older login is sent to confirm it (pages) or told so (API),
/// the form checks only the signed-in user's password and goes back to
/// `next`, and nothing is deleted until then.
#[test]
fn sensitive_actions_ask_for_the_password_again() {
    let db = Database::sqlite();
    let server = Server::start(&db);
    let mut carol = as_user(&server, "carol");
    let page_item = item_id(&carol.post_json("/api/items", r#"{"name": "lamp", "quantity": 1}"#));
    let api_item = item_id(&carol.post_json("/api/items", r#"{"name": "desk", "quantity": 1}"#));
    let fresh = carol.cookie.clone().unwrap();
    let eleven_minutes = std::time::Duration::from_secs(11 * 60);
    carol.cookie = Some(aged_session(&fresh, eleven_minutes));

    // Pages: sent to the form, with where they were; nothing deleted.
    let delete = format!("/items/{page_item}/delete/");
    let seen = carol.post_form(&delete, &[]);
    let form = format!("/accounts/reauthenticate/?next={}", encode(&delete));
    assert_eq!(
        (seen.status, seen.location.as_deref()),
        (302, Some(form.as_str()))
    );
    assert_eq!(carol.get(&format!("/items/{page_item}/")).status, 200);
    let seen = carol.get("/accounts/password/");
    assert_eq!(
        seen.location.as_deref(),
        Some("/accounts/reauthenticate/?next=/accounts/password/")
    );
    // Nine minutes is recent enough.
    let mut nine = server.client();
    nine.cookie = Some(aged_session(&fresh, std::time::Duration::from_secs(9 * 60)));
    assert_eq!(nine.get("/accounts/password/").status, 200);

    // The form: a wrong password changes nothing.
    let page = carol.get(&form);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Confirm your password"), "{}", page.body);
    let seen = carol.post_form(
        "/accounts/reauthenticate/",
        &[("password", "wrong"), ("next", &delete)],
    );
    assert!(
        seen.body.contains("That is not your password."),
        "{}",
        seen.body
    );
    assert_eq!(carol.post_form(&delete, &[]).status, 302);
    // The right one goes back to `next`: the delete asks again, and goes.
    let seen = carol.post_form(
        "/accounts/reauthenticate/",
        &[("password", PASSWORD), ("next", &delete)],
    );
    assert_eq!(
        (seen.status, seen.location.as_deref()),
        (303, Some(delete.as_str()))
    );
    let me: serde_json::Value = serde_json::from_str(&carol.get("/api/me").body).unwrap();
    assert_eq!(me["username"], "carol");
    let confirm = carol.get(&delete);
    assert!(confirm.body.contains("Delete lamp?"), "{}", confirm.body);
    assert_eq!(
        carol.post_form(&delete, &[]).location.as_deref(),
        Some("/items/")
    );
    assert_eq!(carol.get(&format!("/items/{page_item}/")).status, 404);
    // A `next` elsewhere is not followed.
    carol.cookie = Some(aged_session(
        carol.cookie.as_deref().unwrap(),
        eleven_minutes,
    ));
    let seen = carol.post_form(
        "/accounts/reauthenticate/",
        &[("password", PASSWORD), ("next", "https://evil.example/")],
    );
    assert_eq!(seen.location.as_deref(), Some("/items/"));

    // The API: a JSON 403 that says why, then `POST /api/reauthenticate`.
    carol.cookie = Some(aged_session(
        carol.cookie.as_deref().unwrap(),
        eleven_minutes,
    ));
    let path = format!("/api/items/{api_item}");
    let seen = carol.delete(&path);
    assert_eq!(
        (seen.status, seen.body.as_str()),
        (403, r#"{"error":"reauthentication_required"}"#)
    );
    let seen = carol.post_json("/api/reauthenticate", r#"{"password": "wrong"}"#);
    assert_eq!(
        (seen.status, seen.body.as_str()),
        (403, r#"{"error":"wrong_password"}"#)
    );
    assert_eq!(carol.delete(&path).status, 403);
    let body = serde_json::json!({ "password": PASSWORD }).to_string();
    assert_eq!(carol.post_json("/api/reauthenticate", &body).status, 204);
    assert_eq!(carol.delete(&path).status, 204);
    // Anonymous clients have nothing to confirm.
    assert_eq!(
        server
            .client()
            .post_json("/api/reauthenticate", &body)
            .status,
        403
    );
}

/// API tokens: made by the CLI (the token alone on its last line) and by
/// the account page, used as `curl -H "Authorization: Bearer …"` would,
/// limited to their scopes as far as the user holds them, never enough for
/// what asks for the password, listed without their secret, and refused
/// once revoked.
#[test]
fn api_tokens_work_as_the_readme_shows() {
    for db in Database::all() {
        let server = Server::start(&db);
        let out = server.cli(&[
            "token",
            "create",
            "carol",
            "--name",
            "ci",
            "--scope",
            "inventory.view_item",
            "--scope",
            "inventory.add_item",
            "--scope",
            "inventory.delete_item",
        ]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let token = stdout.lines().last().unwrap().to_owned();
        assert!(token.starts_with("permit_"), "{stdout}");
        let bearer = format!("Bearer {token}");
        let mut api = server.client();
        let auth = [("authorization", bearer.as_str())];
        let seen = api.send("GET", "/api/items", &auth, None);
        assert_eq!(seen.status, 200, "{seen:?}");
        assert!(seen.body.starts_with('['), "{}", seen.body);
        // carol does not hold delete_item: the token cannot use it.
        let me: serde_json::Value =
            serde_json::from_str(&api.send("GET", "/api/me", &auth, None).body).unwrap();
        assert_eq!(me["username"], "carol");
        assert_eq!(
            me["permissions"],
            serde_json::json!(["inventory.add_item", "inventory.view_item"])
        );
        // No ambient credential: no cross-site check; and no cookie set.
        let seen = api.send(
            "POST",
            "/api/items",
            &[auth[0], ("origin", "https://elsewhere.example")],
            Some((
                "application/json",
                r#"{"name": "crate", "quantity": 2}"#.into(),
            )),
        );
        assert_eq!(seen.status, 201, "{seen:?}");
        assert!(api.cookie.is_none(), "{seen:?}");
        // Deleting asks for the password, which a token never proved.
        let id = item_id(&seen);
        let seen = api.send("DELETE", &format!("/api/items/{id}"), &auth, None);
        assert_eq!(
            (seen.status, seen.body.as_str()),
            (403, r#"{"error":"reauthentication_required"}"#)
        );
        // A session and a token together: refused.
        let mut both = as_user(&server, "carol");
        let seen = both.send("GET", "/api/items", &auth, None);
        assert_eq!(seen.status, 401, "{seen:?}");
        // Listed, with its last use and no secret.
        let listed = String::from_utf8(server.cli(&["token", "list", "carol"]).stdout).unwrap();
        let secret = token.rsplit_once('_').unwrap().1;
        assert!(listed.starts_with("ci\tprefix "), "{listed}");
        assert!(listed.contains("inventory.add_item inventory.delete_item inventory.view_item"));
        assert!(
            !listed.contains("last used never") && !listed.contains(secret),
            "{listed}"
        );
        // Revoked from the CLI: refused at once, as a bad token is.
        server.cli(&["token", "revoke", "carol", "ci"]);
        eventually("the revoked token refused", || {
            api.send("GET", "/api/items", &auth, None).status == 401
        });
        let garbage = api.send(
            "GET",
            "/api/items",
            &[("authorization", "Bearer permit_nope")],
            None,
        );
        let revoked = api.send("GET", "/api/items", &auth, None);
        assert_eq!(
            (revoked.status, &revoked.body),
            (garbage.status, &garbage.body)
        );
        // Misuse of the CLI says what is wrong.
        let out = Command::new(env!("CARGO_BIN_EXE_inventory"))
            .args([
                "token",
                "create",
                "carol",
                "--name",
                "x",
                "--scope",
                "inventory.fly",
            ])
            .env("DATABASE_URL", &server.db_url)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("defined: inventory."));

        // The account page: a fresh login may make one; it is shown once.
        let mut carol = as_user(&server, "carol");
        assert_eq!(carol.get("/accounts/tokens/").status, 200);
        let made = carol.post_form(
            "/accounts/tokens/",
            &[
                ("name", "laptop"),
                ("scope", "inventory.view_item"),
                ("expires", "86400"),
            ],
        );
        assert_eq!(made.status, 201, "{}", made.body);
        let at = made.body.find("permit_").unwrap();
        let token = made.body[at..at + 88].to_owned();
        let page = carol.get("/accounts/tokens/");
        assert!(page.body.contains("laptop") && !page.body.contains(&token));
        let bearer = format!("Bearer {token}");
        let auth = [("authorization", bearer.as_str())];
        assert_eq!(api.send("GET", "/api/items", &auth, None).status, 200);
        assert_eq!(
            api.send(
                "POST",
                "/api/items",
                &auth,
                Some(("application/json", "{}".into()))
            )
            .status,
            403
        );
        // A token does not reach the page.
        assert_ne!(
            api.send("GET", "/accounts/tokens/", &auth, None).status,
            200
        );
        let seen = carol.post_form("/accounts/tokens/revoke/", &[("name", "laptop")]);
        assert_eq!(seen.status, 303);
        assert_eq!(api.send("GET", "/api/items", &auth, None).status, 401);
        // A stale login is asked for the password first.
        carol.cookie = Some(aged_session(
            carol.cookie.as_deref().unwrap(),
            std::time::Duration::from_secs(11 * 60),
        ));
        let seen = carol.post_form("/accounts/tokens/", &[("name", "late")]);
        assert_eq!(seen.status, 302);
        assert!(
            !String::from_utf8(server.cli(&["token", "list", "carol"]).stdout)
                .unwrap()
                .contains("late")
        );
    }
}

/// "Your sessions": each login listed with its device; "log out other
/// devices" ends the others, and a copy of an ended session's cookie is
/// dead too; the CLI lists and ends them all without touching the
/// password; a password change ends the others and the list says so; an
/// API token does not reach the page.
#[test]
fn sessions_are_seen_and_ended_from_the_page_and_the_cli() {
    let db = Database::sqlite();
    let server = Server::start(&db);
    let login = |ua: &str| {
        let mut client = server.client();
        let body = format!("username=carol&password={}&next=", encode(PASSWORD));
        let seen = client.send(
            "POST",
            "/accounts/login/",
            &[("user-agent", ua)],
            Some(("application/x-www-form-urlencoded", body)),
        );
        assert_eq!(seen.status, 302, "{seen:?}");
        client
    };
    let mut laptop =
        login("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0");
    let mut phone = login(
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36",
    );
    let mut stolen = server.client();
    stolen.cookie = phone.cookie.clone();
    let page = laptop.get("/accounts/sessions/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Firefox on Linux") && page.body.contains("Chrome on Android"));
    assert!(page.body.contains("(this one)"));
    assert_eq!(stolen.get("/items/").status, 200);
    // Log out other devices: the phone, and the copy of its cookie.
    assert_eq!(
        laptop
            .post_form("/accounts/sessions/end-others/", &[])
            .status,
        303
    );
    assert_eq!(phone.get("/items/").status, 302);
    assert_eq!(stolen.get("/items/").status, 302);
    assert_eq!(laptop.get("/items/").status, 200);
    let listed = String::from_utf8(server.cli(&["session", "list", "carol"]).stdout).unwrap();
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(
        listed.contains("Chrome on Android") && listed.contains("ended by you"),
        "{listed}"
    );
    // From the CLI: every session ends, the password stays.
    server.cli(&["session", "end", "carol", "--all"]);
    eventually("the laptop logged out", || {
        laptop.get("/items/").status == 302
    });
    let mut again = as_user(&server, "carol");
    assert_eq!(again.get("/items/").status, 200);
    // A password change ends the others, and the list says so.
    let mut other = as_user(&server, "carol");
    let seen = again.post_form(
        "/accounts/password/",
        &[
            ("old_password", PASSWORD),
            ("new_password", "a new long password"),
        ],
    );
    assert_eq!(seen.status, 303, "{}", seen.body);
    assert_eq!(other.get("/items/").status, 302);
    let page = again.get("/accounts/sessions/");
    assert!(
        page.body.contains("ended: the password changed"),
        "{}",
        page.body
    );
    // A token has no session to manage.
    let out = server.cli(&[
        "token",
        "create",
        "carol",
        "--name",
        "ci",
        "--scope",
        "inventory.view_item",
    ]);
    let token = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let bearer = format!("Bearer {token}");
    let seen = server.client().send(
        "GET",
        "/accounts/sessions/",
        &[("authorization", &bearer)],
        None,
    );
    assert_eq!(seen.status, 403);
}
