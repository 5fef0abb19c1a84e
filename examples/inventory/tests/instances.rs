//! Several instances: two real servers share one PostgreSQL database and one
//! Redis for sessions. Runs when `DATABASE_URL` names PostgreSQL and
//! `REDIS_URL` names Redis (CI sets both); otherwise it says so and passes.

mod common;

use actix_permit::backend::{Authentication as _, Authorization as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn services() -> Option<(String, String)> {
    let pg = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"));
    let redis = std::env::var("REDIS_URL")
        .ok()
        .filter(|u| u.starts_with("redis"));
    match (pg, redis) {
        (Some(pg), Some(redis)) => Some((pg, redis)),
        _ => {
            eprintln!("skipped: set DATABASE_URL=postgres://... and REDIS_URL=redis://... to run");
            None
        }
    }
}

/// Two instances on one database and one Redis (A first: it seeds the demo
/// data). Redis outlives a run and every client here is 127.0.0.1, so the
/// login throttle's counts expire within seconds and the per-client limit
/// is high: one run's failures never lock out the next.
fn pair(db: &Database, env: &[(&str, &str)]) -> (Server, Server) {
    let mut env = env.to_vec();
    if !env.iter().any(|(key, _)| *key == "PERMIT_LOGIN_THROTTLE") {
        env.push(("PERMIT_LOGIN_THROTTLE", "5,1000,10"));
    }
    let a = Server::start_with(db, &env);
    let b = Server::start_with(db, &env);
    (a, b)
}

/// The same session cookie, used from the other instance.
fn on(server: &Server, from: &Client) -> Client {
    let mut client = server.client();
    client.cookie = from.cookie.clone();
    client
}

fn me(client: &mut Client) -> Option<String> {
    let seen = client.get("/api/me");
    (seen.status == 200).then(|| {
        let me: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
        me["username"].as_str().unwrap().to_owned()
    })
}

#[test]
fn sessions_and_permission_changes_hold_on_every_instance() {
    let Some((pg, redis)) = services() else {
        return;
    };
    let db = Database::postgres(&pg);
    let (a, b) = pair(&db, &[("REDIS_URL", redis.as_str())]);

    // Log in on A, use the session on B.
    let mut carol_a = as_user(&a, "carol");
    let mut carol_b = on(&b, &carol_a);
    assert_eq!(me(&mut carol_b).as_deref(), Some("carol"));
    assert_eq!(carol_b.get("/items/new/").status, 200);

    // A revoked permission is denied on both instances by the next request.
    // (Another process's change reaches each instance's cache as a
    // PostgreSQL notice, milliseconds after the commit: awaited, bounded.)
    a.cli(&["user", "revoke", "carol", "inventory.add_item"]);
    eventually("A denies the revoked permission", || {
        carol_a.get("/items/new/").status == 403
    });
    eventually("B denies the revoked permission", || {
        carol_b.get("/items/new/").status == 403
    });
    assert_eq!(carol_b.get("/items/").status, 200);

    // Leaving a group takes its permissions away on both instances.
    let mut bob_a = as_user(&a, "bob");
    let mut bob_b = on(&b, &bob_a);
    assert_eq!(bob_a.get("/items/").status, 200);
    assert_eq!(bob_b.get("/items/").status, 200);
    a.cli(&["group", "leave", "bob", "viewers"]);
    eventually("A denies after leaving", || {
        bob_a.get("/items/").status == 403
    });
    eventually("B denies after leaving", || {
        bob_b.get("/items/").status == 403
    });
    b.cli(&["group", "join", "bob", "viewers"]);
    eventually("A allows after joining", || {
        bob_a.get("/items/").status == 200
    });
    eventually("B allows after joining", || {
        bob_b.get("/items/").status == 200
    });

    // A deactivated user's sessions on both instances are anonymous.
    let mut bob_a = as_user(&a, "bob");
    let mut bob_b = as_user(&b, "bob");
    assert_eq!(bob_b.get("/items/").status, 200);
    b.cli(&["user", "deactivate", "bob"]);
    for bob in [&mut bob_a, &mut bob_b] {
        eventually("bob's session is anonymous", || me(bob).is_none());
        assert_eq!(bob.get("/items/").status, 302);
    }

    // A password change on A ends the user's other sessions on B.
    let mut alice_a = as_user(&a, "alice");
    let mut alice_b = as_user(&b, "alice");
    let seen = alice_a.post_form(
        "/accounts/password/",
        &[
            ("old_password", PASSWORD),
            ("new_password", "another password"),
        ],
    );
    assert_eq!(seen.status, 303);
    assert_eq!(me(&mut alice_a).as_deref(), Some("alice"));
    eventually("B ends alice's other session", || {
        me(&mut alice_b).is_none()
    });
    assert_eq!(on(&a, &alice_b).get("/items/").status, 302);

    // Logout on B kills the session on A too, even for a copy of the cookie.
    let mut erin_b = as_user(&b, "erin");
    let copy = erin_b.cookie.clone();
    assert_eq!(me(&mut on(&a, &erin_b)).as_deref(), Some("erin"));
    assert_eq!(erin_b.post_form("/accounts/logout/", &[]).status, 303);
    let mut replay = a.client();
    replay.cookie = copy;
    assert_eq!(me(&mut replay), None);
    assert_eq!(replay.get("/items/").status, 302);
}

#[test]
fn the_permission_cache_bounds_staleness_on_every_instance() {
    let Some((pg, redis)) = services() else {
        return;
    };
    let db = Database::postgres(&pg);
    let ttl = Duration::from_secs(1);
    let (a, b) = pair(
        &db,
        &[
            ("REDIS_URL", redis.as_str()),
            ("PERMIT_PERMISSION_CACHE_TTL", "1"),
            ("PERMIT_EXACT_CACHE", "off"),
        ],
    );
    let mut carol_a = as_user(&a, "carol");
    let mut carol_b = on(&b, &carol_a);
    assert_eq!(carol_a.get("/items/new/").status, 200);
    assert_eq!(carol_b.get("/items/new/").status, 200);

    a.cli(&["user", "revoke", "carol", "inventory.add_item"]);
    let revoked = Instant::now();
    // Within the TTL either answer may come; past it, only 403.
    std::thread::sleep(ttl + Duration::from_millis(300));
    assert!(revoked.elapsed() >= ttl);
    assert_eq!(carol_a.get("/items/new/").status, 403);
    assert_eq!(carol_b.get("/items/new/").status, 403);

    // Users are not cached: deactivation holds at once.
    a.cli(&["user", "deactivate", "carol"]);
    assert_eq!(carol_b.get("/items/").status, 302);
}

/// The state of an instance's exact cache, as `/api/cache` shows it to a
/// superuser: (state, hits, queries).
fn cache(admin: &mut Client) -> (String, u64, u64) {
    let seen = admin.get("/api/cache");
    assert_eq!(seen.status, 200, "{}", seen.body);
    let json: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    (
        json["state"].as_str().unwrap().to_owned(),
        json["hits"].as_u64().unwrap(),
        json["queries"].as_u64().unwrap(),
    )
}

/// One number from the database.
fn sql_number(url: &str, sql: &str) -> i64 {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    actix_web::rt::System::new().block_on(async move {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        sqlx::Row::get::<i64, _>(&row, 0)
    })
}

/// An API token made on one instance works on the other, queries nothing
/// there in steady state, and loses at once there what its user loses,
/// all of it when revoked (from the CLI, or by SQL) or when the user is
/// deactivated.
#[test]
fn tokens_hold_on_every_instance() {
    let Some((pg, redis)) = services() else {
        return;
    };
    let db = Database::postgres(&pg);
    let (a, b) = pair(&db, &[("REDIS_URL", redis.as_str())]);
    let make = |name: &str| {
        let out = a.cli(&[
            "token",
            "create",
            "carol",
            "--name",
            name,
            "--scope",
            "inventory.view_item",
            "--scope",
            "inventory.add_item",
        ]);
        let token = String::from_utf8(out.stdout).unwrap();
        format!("Bearer {}", token.lines().last().unwrap())
    };
    let first = make("first");
    let mut api = b.client();
    let status = |api: &mut Client, bearer: &str, method: &str| {
        let body = (method == "POST").then(|| ("application/json", "{}".to_owned()));
        api.send(method, "/api/items", &[("authorization", bearer)], body)
            .status
    };
    eventually("B takes the new token", || {
        status(&mut api, &first, "GET") == 200
    });
    // Steady state on B: token requests query nothing.
    let mut alice = as_user(&b, "alice");
    let (state, _, before) = cache(&mut alice);
    assert_eq!(state, "exact");
    for _ in 0..20 {
        assert_eq!(status(&mut api, &first, "GET"), 200);
    }
    let (_, _, after) = cache(&mut alice);
    // `/api/cache` itself is answered from the cache too.
    assert_eq!(after, before, "token requests on B queried the database");
    // carol loses add_item (a 400 for an empty item while she has it).
    assert_eq!(status(&mut api, &first, "POST"), 400);
    a.cli(&["user", "revoke", "carol", "inventory.add_item"]);
    eventually("B denies what carol lost", || {
        status(&mut api, &first, "POST") == 403
    });
    // Revoked from the CLI on A: refused on B.
    a.cli(&["token", "revoke", "carol", "first"]);
    eventually("B refuses the revoked token", || {
        status(&mut api, &first, "GET") == 401
    });
    // Revoked by SQL.
    let second = make("second");
    eventually("B takes the second token", || {
        status(&mut api, &second, "GET") == 200
    });
    admin_sql(&db.url, "DELETE FROM permit_tokens WHERE name = 'second'");
    eventually("B refuses the deleted token", || {
        status(&mut api, &second, "GET") == 401
    });
    // The user deactivated.
    let third = make("third");
    eventually("B takes the third token", || {
        status(&mut api, &third, "GET") == 200
    });
    a.cli(&["user", "deactivate", "carol"]);
    eventually("B refuses a deactivated user's token", || {
        status(&mut api, &third, "GET") == 401
    });
}

/// A session ended on one instance ("log out other devices", or every
/// session from the CLI) is logged out on the other at its next request,
/// and a copy of its cookie with it; session requests query nothing there
/// in steady state.
#[test]
fn sessions_end_on_every_instance() {
    let Some((pg, redis)) = services() else {
        return;
    };
    let db = Database::postgres(&pg);
    let (a, b) = pair(&db, &[("REDIS_URL", redis.as_str())]);
    let mut laptop = as_user(&a, "carol");
    let phone_a = as_user(&a, "carol");
    let mut phone = on(&b, &phone_a);
    let mut stolen = on(&b, &phone_a);
    assert_eq!(me(&mut phone).as_deref(), Some("carol"));
    let mut alice = as_user(&b, "alice");
    let (_, _, before) = cache(&mut alice);
    for _ in 0..20 {
        assert_eq!(me(&mut phone).as_deref(), Some("carol"));
    }
    let (_, _, after) = cache(&mut alice);
    assert_eq!(after, before, "session requests on B queried the database");
    assert_eq!(
        laptop
            .post_form("/accounts/sessions/end-others/", &[])
            .status,
        303
    );
    eventually("B logs the phone out", || me(&mut phone).is_none());
    assert!(me(&mut stolen).is_none());
    let mut on_b = on(&b, &laptop);
    assert_eq!(me(&mut on_b).as_deref(), Some("carol"));
    a.cli(&["session", "end", "carol", "--all"]);
    eventually("B logs the laptop out", || me(&mut on_b).is_none());
}

/// The exact cache is on by default: steady-state requests query nothing on
/// either instance, and a revoke made while one instance's listener is cut
/// off (its notification lost) is still denied there on the next request.
#[test]
fn the_exact_cache_queries_nothing_and_survives_a_lost_listener() {
    let Some((pg, redis)) = services() else {
        return;
    };
    let db = Database::postgres(&pg);
    let (a, b) = pair(&db, &[("REDIS_URL", redis.as_str())]);
    let mut alice_a = as_user(&a, "alice");
    let mut alice_b = on(&b, &alice_a);
    let mut carol_a = as_user(&a, "carol");
    let mut carol_b = on(&b, &carol_a);

    // Steady state: after one request each, none queries.
    for carol in [&mut carol_a, &mut carol_b] {
        assert_eq!(carol.get("/items/new/").status, 200);
    }
    let before = [cache(&mut alice_a), cache(&mut alice_b)];
    for _ in 0..20 {
        for carol in [&mut carol_a, &mut carol_b] {
            assert_eq!(carol.get("/items/new/").status, 200);
            assert_eq!(carol.get("/api/me").status, 200);
        }
    }
    let after = [cache(&mut alice_a), cache(&mut alice_b)];
    for (instance, (before, after)) in before.iter().zip(&after).enumerate() {
        assert_eq!(before.0, "exact", "instance {instance}");
        assert_eq!(
            after.2, before.2,
            "instance {instance} queried in steady state"
        );
        assert!(
            after.1 >= before.1 + 40,
            "instance {instance}: {before:?} {after:?}"
        );
    }

    // Cut B's listener off and revoke in the same transaction: the
    // notification is sent after the listener is gone, so B never hears it.
    let listener = format!("actix-permit listener (pid {})", b.child.id());
    let listeners =
        format!("SELECT count(*) FROM pg_stat_activity WHERE application_name = '{listener}'");
    assert_eq!(sql_number(&db.url, &listeners), 1);
    let cut = sql_number(
        &db.url,
        &format!(
            "WITH cut AS (SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity \
               WHERE application_name = '{listener}'), \
             revoked AS (DELETE FROM permit_user_permissions WHERE \
               user_id = (SELECT id FROM permit_users WHERE username = 'carol') AND \
               permission_id = (SELECT id FROM permit_permissions WHERE codename = 'add_item') \
               RETURNING 1) \
             SELECT (SELECT count(*) FROM cut WHERE done) * 10 + (SELECT count(*) FROM revoked)"
        ),
    );
    assert_eq!(cut, 11, "one listener cut and one permission revoked");
    // B hears of its lost listener a moment after the cut (and A of the
    // revoke a moment after the commit); from then on B bypasses its cache.
    // Without the bypass B would answer 200 for good and this would fail.
    eventually("B denies once its listener is gone", || {
        carol_b.get("/items/new/").status == 403
    });
    eventually("A hears of the revoke", || {
        carol_a.get("/items/new/").status == 403
    });
    assert_eq!(carol_b.get("/items/").status, 200);

    // B listens again and uses its cache again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while cache(&mut alice_b).0 != "exact" {
        assert!(Instant::now() < deadline, "B's listener did not come back");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sql_number(&db.url, &listeners), 1);
    a.cli(&["user", "grant", "carol", "inventory.add_item"]);
    assert_eq!(carol_b.get("/items/new/").status, 200);
    let queries = cache(&mut alice_b).2;
    assert_eq!(carol_b.get("/items/new/").status, 200);
    assert_eq!(cache(&mut alice_b).2, queries);
}

/// The revocation latency (`runtime/benches/revocation.sh`; ignored by the
/// suite): two instances with the exact cache, 200 trials per way of
/// revoking. Each trial grants carol `inventory.add_item`, waits until B
/// allows her, revokes it, and from the moment the revoke returned, asks B
/// until it denies: via the CLI on A's side (from the CLI's exit), and via
/// SQL from here (from the commit).
#[test]
#[ignore = "a benchmark: runtime/benches/revocation.sh"]
fn revocation_latency() {
    let Some((pg, redis)) = services() else {
        return;
    };
    let trials: usize = std::env::var("REVOCATION_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let db = Database::postgres(&pg);
    let (a, b) = pair(&db, &[("REDIS_URL", redis.as_str())]);
    let carol_a = as_user(&a, "carol");
    let mut carol_b = on(&b, &carol_a);
    let revoke_sql = "DELETE FROM permit_user_permissions WHERE \
        user_id = (SELECT id FROM permit_users WHERE username = 'carol') AND \
        permission_id = (SELECT id FROM permit_permissions WHERE codename = 'add_item')";
    let grant_sql = "INSERT INTO permit_user_permissions (user_id, permission_id) \
        SELECT u.id, p.id FROM permit_users u, permit_permissions p \
        WHERE u.username = 'carol' AND p.codename = 'add_item' ON CONFLICT DO NOTHING";
    let mut until = |status: u16, since: Instant| -> (Duration, usize) {
        let mut asked = 0;
        loop {
            asked += 1;
            if carol_b.get("/items/new/").status == status {
                return (since.elapsed(), asked);
            }
            assert!(
                since.elapsed() < Duration::from_secs(5),
                "B never answered {status}"
            );
        }
    };
    // A token revoked on A, until B refuses it.
    let mut api = b.client();
    let mut token_latencies = Vec::with_capacity(trials);
    let mut token_first = 0;
    for trial in 0..trials {
        let name = format!("t{trial}");
        let out = a.cli(&[
            "token",
            "create",
            "carol",
            "--name",
            &name,
            "--scope",
            "inventory.view_item",
        ]);
        let bearer = format!(
            "Bearer {}",
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .last()
                .unwrap()
        );
        let ask = |api: &mut Client| {
            api.send("GET", "/api/items", &[("authorization", &bearer)], None)
                .status
        };
        eventually("B takes the token", || ask(&mut api) == 200);
        a.cli(&["token", "revoke", "carol", &name]);
        let since = Instant::now();
        let mut asked = 0;
        while ask(&mut api) != 401 {
            asked += 1;
            assert!(
                since.elapsed() < Duration::from_secs(5),
                "B never refused the token"
            );
        }
        if asked == 0 {
            token_first += 1;
        }
        token_latencies.push(since.elapsed());
    }
    token_latencies.sort_unstable();
    // A session ended on A (every session of erin's, from the CLI: carol's
    // serves the revocations below), until B logs its copy out.
    let mut session_latencies = Vec::with_capacity(trials);
    let mut session_first = 0;
    for _ in 0..trials {
        let mut session = on(&b, &as_user(&a, "erin"));
        assert_eq!(me(&mut session).as_deref(), Some("erin"));
        a.cli(&["session", "end", "erin", "--all"]);
        let since = Instant::now();
        let mut asked = 0;
        while me(&mut session).is_some() {
            asked += 1;
            assert!(
                since.elapsed() < Duration::from_secs(5),
                "B never ended the session"
            );
        }
        if asked == 0 {
            session_first += 1;
        }
        session_latencies.push(since.elapsed());
    }
    session_latencies.sort_unstable();
    let at =
        |q: f64| session_latencies[((session_latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "ending a session via cli, {trials} trials: logged out by the first request after the end in \
         {session_first}; until logged out: min {:?} p50 {:?} p90 {:?} p99 {:?} max {:?}",
        at(0.0),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
    let at = |q: f64| token_latencies[((token_latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "revocation of a token via cli, {trials} trials: refused by the first request after the revoke in \
         {token_first}; until refused: min {:?} p50 {:?} p90 {:?} p99 {:?} max {:?}",
        at(0.0),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
    for way in ["cli", "sql"] {
        let mut latencies = Vec::with_capacity(trials);
        let mut first_denied = 0;
        for _ in 0..trials {
            admin_sql(&db.url, grant_sql);
            until(200, Instant::now());
            let since = if way == "cli" {
                a.cli(&["user", "revoke", "carol", "inventory.add_item"]);
                Instant::now()
            } else {
                admin_sql(&db.url, revoke_sql);
                Instant::now()
            };
            let (latency, asked) = until(403, since);
            if asked == 1 {
                first_denied += 1;
            }
            latencies.push(latency);
        }
        latencies.sort_unstable();
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
        println!(
            "revocation via {way}, {trials} trials: denied by the first request after the revoke in \
             {first_denied}; until denied: min {:?} p50 {:?} p90 {:?} p99 {:?} max {:?}",
            at(0.0),
            at(0.5),
            at(0.9),
            at(0.99),
            at(1.0)
        );
    }
}

/// Random interleavings of changes (through the cached backend, an
/// uncached one, or plain SQL) and lookups, on PostgreSQL: after every
/// change the cached backend's answers converge to the database's within
/// the notification's delivery, and then stay equal. Catches a change that
/// no trigger reports.
#[test]
fn the_exact_cache_converges_in_any_interleaving_on_postgres() {
    use actix_permit::backend::{SqlBackend, SqlOptions};
    let Some((pg, _)) = services() else {
        return;
    };
    let db = Database::postgres(&pg);
    let url = db.url.clone();
    actix_web::rt::System::new().block_on(async move {
        let cached = SqlBackend::connect(&url).await.unwrap();
        let plain = SqlBackend::connect_with(&url, SqlOptions::new().exact_cache(false))
            .await
            .unwrap();
        let users = ["u0", "u1", "u2"];
        let groups = ["g0", "g1"];
        let perms = ["shop.a", "shop.b", "shop.c"];
        for perm in perms {
            plain.create_permission(perm, perm).await.unwrap();
        }
        for group in groups {
            plain.create_group(group, &[]).await.unwrap();
        }
        let mut ids = Vec::new();
        for user in users {
            ids.push(plain.create_user(user, "a password").await.unwrap());
        }
        let look = |backend: &SqlBackend, id: &str| {
            let (backend, id) = (backend.clone(), id.to_owned());
            async move {
                let user = backend.get_user(&id).await.unwrap().unwrap();
                let set = backend.user_permissions(&*user).await.unwrap();
                let mut set: Vec<String> = set.iter().map(str::to_owned).collect();
                set.sort_unstable();
                (user.is_active(), user.is_superuser(), user.session_auth_hash().to_owned(), set)
            }
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while cached.cache_state() != actix_permit::backend::CacheState::Exact {
            assert!(Instant::now() < deadline, "the listener never came up");
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        // xorshift: the same sequences every run.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut slowest = Duration::ZERO;
        for step in 0..300 {
            let (u, g, p) = (next(users.len()), next(groups.len()), next(perms.len()));
            let writer = if next(2) == 0 { &cached } else { &plain };
            let op = next(9);
            match op {
                0 => writer.grant(users[u], perms[p]).await.unwrap(),
                1 => writer.revoke(users[u], perms[p]).await.unwrap(),
                2 => writer.add_user_to_group(users[u], groups[g]).await.unwrap(),
                3 => writer.remove_user_from_group(users[u], groups[g]).await.unwrap(),
                4 => writer.create_group(groups[g], &[perms[p]]).await.unwrap(),
                5 => writer.revoke_from_group(groups[g], perms[p]).await.unwrap(),
                6 => writer.set_active(users[u], next(2) == 0).await.unwrap(),
                7 => writer.set_superuser(users[u], next(2) == 0).await.unwrap(),
                _ => {
                    sqlx::query(
                        "UPDATE permit_users SET password_hash = password_hash || 'x' \
                         WHERE username = $1",
                    )
                    .bind(users[u])
                    .execute(plain.pool())
                    .await
                    .unwrap();
                }
            }
            let changed = Instant::now();
            for id in &ids {
                loop {
                    let (from_cache, from_db) = (look(&cached, id).await, look(&plain, id).await);
                    if from_cache == from_db {
                        break;
                    }
                    assert!(
                        changed.elapsed() < Duration::from_secs(2),
                        "step {step} (op {op}): user {id} cached {from_cache:?}, database {from_db:?}"
                    );
                    actix_web::rt::time::sleep(Duration::from_millis(1)).await;
                }
            }
            slowest = slowest.max(changed.elapsed());
            // Converged: stays so while nothing changes.
            for id in &ids {
                assert_eq!(look(&cached, id).await, look(&plain, id).await, "step {step}");
            }
        }
        let stats = cached.cache_stats().unwrap();
        assert!(stats.hits > 0, "{stats:?}");
        eprintln!("300 changes: slowest convergence {slowest:?}; {stats:?}");
    });
}

/// A Redis of the test's own, which it can stop and start again.
struct PrivateRedis {
    child: Option<Child>,
}

impl PrivateRedis {
    fn start(port: u16) -> Option<Self> {
        let mut redis = Self { child: None };
        redis.child = Some(
            Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(redis)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn a_redis_outage_fails_closed_and_recovers() {
    let Some((pg, _)) = services() else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Some(mut redis) = PrivateRedis::start(port) else {
        eprintln!("skipped: no redis-server on PATH");
        return;
    };
    let db = Database::postgres(&pg);
    let url = format!("redis://127.0.0.1:{port}");
    let (a, b) = pair(
        &db,
        &[
            ("REDIS_URL", url.as_str()),
            ("PERMIT_SESSION_STORE_TIMEOUT", "1"),
        ],
    );
    let mut alice = as_user(&a, "alice");
    assert_eq!(on(&b, &alice).get("/items/").status, 200);

    redis.stop();
    for server in [&a, &b] {
        for path in ["/items/", "/api/items", "/api/me"] {
            let seen = on(server, &alice).get(path);
            assert!(
                seen.status >= 500,
                "{path} with Redis down: {}",
                seen.status
            );
        }
        // Anonymous visitors are sent to log in, and logging in fails closed.
        assert_eq!(server.client().get("/items/").status, 302);
        let seen = server.client().login("alice", PASSWORD, "");
        assert_ne!(seen.status, 302, "no session without Redis");
    }

    let mut redis = PrivateRedis::start(port).expect("redis-server restarts");
    // It kept nothing: the old session is gone, new logins work on both.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = alice.get("/items/").status;
        if status == 302 {
            break;
        }
        assert!(status >= 500, "while reconnecting: {status}");
        assert!(Instant::now() < deadline, "did not recover");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut alice = as_user(&a, "alice");
    assert_eq!(on(&b, &alice).get("/items/").status, 200);
    assert_eq!(alice.get("/api/me").status, 200);
    redis.stop();
}

/// Failed logins count on every instance: in Redis beside the sessions, or
/// in the database when sessions are cookies.
#[test]
fn failed_logins_count_on_every_instance() {
    let Some((pg, redis)) = services() else {
        return;
    };
    for with_redis in [true, false] {
        let db = Database::postgres(&pg);
        // Redis outlives this run (and CI uses the same one): counts expire
        // within seconds, and the user is new each time.
        let mut env = vec![("PERMIT_LOGIN_THROTTLE", "5,1000,10")];
        if with_redis {
            env.push(("REDIS_URL", redis.as_str()));
        }
        let (a, b) = pair(&db, &env);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("dave-{with_redis}-{}-{stamp}", std::process::id());
        let name = name.as_str();
        a.cli(&["user", "add", name, "--password", "right-password"]);
        for (i, server) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
            let seen = server.client().login(name, &format!("wrong-{i}"), "");
            assert_eq!(seen.status, 200, "redis {with_redis}, attempt {i}");
        }
        for server in [&a, &b] {
            let seen = server.client().login(name, "right-password", "");
            assert_eq!(seen.status, 429, "redis {with_redis}: locked everywhere");
        }
    }
}
