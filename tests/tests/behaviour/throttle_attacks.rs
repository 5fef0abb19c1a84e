//! The login throttle under a hostile client (issue 25, part 2): for any
//! generated sequence of attempts from any set of addresses (floods of
//! distinct names, case and Unicode variants of real ones, logins to the
//! attacker's own look-alike accounts, forged `X-Forwarded-For` lines),
//! no account gets more than `per_user` wrong passwords checked and no
//! client more than `per_client`, within one window, and the store stays
//! within its bound, on the memory store and on SQLite.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_permit::backend::{Authentication, Authorization, PermsResult, UserResult};
use actix_permit::{
    AuthUser, Permit,
    backend::{MemoryBackend, SqlBackend, SqlOptions},
    throttle::{MemoryThrottle, Throttle, ThrottleStore},
};
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderName;
use actix_web::{App, test};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::support::{session, signin};

const PER_USER: u64 = 5;
const PER_CLIENT: u64 = 20;

/// Accounts whose password is compared as is (the throttle is under test,
/// not the hash), found by exact name or, as a MySQL collation or a
/// custom Django backend would, caselessly; every wrong password checked
/// is noted against its account.
struct Accounts {
    users: MemoryBackend,
    names: &'static [&'static str],
    caseless: bool,
    wrong: Mutex<HashMap<&'static str, u64>>,
    checks: Mutex<u64>,
}

impl Accounts {
    fn new(names: &'static [&'static str], caseless: bool) -> Arc<Self> {
        let users = MemoryBackend::new();
        for name in names {
            users.add_user(name, &password_of(name)).unwrap();
        }
        Arc::new(Self {
            users,
            names,
            caseless,
            wrong: Mutex::default(),
            checks: Mutex::default(),
        })
    }

    fn account(&self, username: &str) -> Option<&'static str> {
        self.names.iter().copied().find(|name| {
            if self.caseless {
                caseless::compatibility_caseless_match_str(name, username)
            } else {
                *name == username
            }
        })
    }
}

fn password_of(account: &str) -> String {
    format!("pw of {account}")
}

impl Authentication for Accounts {
    async fn get_user(&self, id: &str) -> UserResult {
        self.users.get_user(id).await
    }
    async fn authenticate(&self, username: &str, password: &str) -> UserResult {
        *self.checks.lock().unwrap() += 1;
        let user = self.account(username).and_then(|account| {
            if password == password_of(account) {
                self.users
                    .user(account)
                    .map(|user| user as Arc<dyn AuthUser>)
            } else {
                *self.wrong.lock().unwrap().entry(account).or_default() += 1;
                None
            }
        });
        Ok(user)
    }
}

impl Authorization for Accounts {
    async fn user_permissions(&self, _: &dyn AuthUser) -> PermsResult {
        Ok(Arc::default())
    }
}

/// Who sends an attempt: a client group (hosts of one IPv4 address, or of
/// one IPv6 /64) and the host within it.
#[derive(Debug, Clone, Copy)]
struct Client {
    group: u16,
    host: u16,
}

impl Client {
    fn address(self) -> IpAddr {
        if self.group.is_multiple_of(2) {
            IpAddr::from([10, 9, (self.group >> 8) as u8, self.group as u8])
        } else {
            IpAddr::from([0x2001, 0xdb8, 7, self.group, 0xa, 0, 0, self.host])
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// One attempt at a variant of a real account's name.
    Guess {
        name: String,
        right: bool,
        from: Client,
        forged: Vec<String>,
        one_line: bool,
    },
    /// `count` attempts at names nobody has, each from `from`.
    Flood { count: usize, from: Client },
}

/// Variants of `name` a backend might take for it: case changed per
/// letter, full-width letters, `ß` written as `SS` or `ẞ`, `k` as the
/// Kelvin sign.
fn variant(name: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(0..5_u8, name.chars().count()).prop_map(move |picks| {
        name.chars()
            .zip(picks)
            .map(|(c, pick)| match (c, pick) {
                ('ß', 1) => "SS".to_owned(),
                ('ß', 2) => "ẞ".to_owned(),
                ('k', 3) => "\u{212a}".to_owned(),
                (c, 1 | 3) => c.to_uppercase().collect(),
                (c, 2) if c.is_ascii_lowercase() => {
                    char::from_u32(u32::from(c) + 0xFEE0).unwrap().to_string()
                }
                (c, _) => c.to_string(),
            })
            .collect()
    })
}

fn client() -> impl Strategy<Value = Client> {
    prop_oneof![
        3 => (0..6_u16, 0..4_u16).prop_map(|(group, host)| Client { group, host }),
        1 => (6..2000_u16, any::<u16>()).prop_map(|(group, host)| Client { group, host }),
    ]
}

fn step(names: &'static [&'static str]) -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (
            proptest::sample::select(names.to_vec()).prop_flat_map(variant),
            proptest::bool::weighted(0.3),
            client(),
            proptest::collection::vec(
                prop_oneof![
                    client().prop_map(|c| c.address().to_string()),
                    Just("unknown".to_owned()),
                    Just(" , ".to_owned()),
                ],
                0..3
            ),
            any::<bool>(),
        )
            .prop_map(|(name, right, from, forged, one_line)| Step::Guess {
                name,
                right,
                from,
                forged,
                one_line,
            }),
        1 => (1..400_usize, client()).prop_map(|(count, from)| Step::Flood { count, from }),
    ]
}

/// Which store a run counts in.
#[derive(Clone, Copy, Debug)]
enum Store {
    Memory,
    Sqlite,
    /// The database `DATABASE_URL` names, its throttle table emptied first.
    Postgres,
}

/// The accounts of a run: real ones, and on the exact backend the
/// attacker's own look-alikes (`Alice`, `BOB`, whose passwords they know).
const EXACT: &[&str] = &["alice", "Alice", "bob", "BOB", "straße"];
const CASELESS: &[&str] = &["alice", "bob", "straße", "kelvin"];

async fn run(
    store: Store,
    accounts: &'static [&'static str],
    caseless: bool,
    proxy: bool,
    steps: Vec<Step>,
) -> Result<(), TestCaseError> {
    let backend = Accounts::new(accounts, caseless);
    let (counts, memory): (Arc<dyn ThrottleStore>, _) = match store {
        Store::Memory => {
            let memory = Arc::new(MemoryThrottle::with_max_bytes(
                60 * (MemoryThrottle::KEY_BYTES + 48),
            ));
            (memory.clone(), Some(memory))
        }
        Store::Sqlite => {
            let url = "sqlite::memory:";
            let sql = SqlBackend::connect_with(url, SqlOptions::new().throttle_rows(60))
                .await
                .unwrap();
            (Arc::new(sql), None)
        }
        Store::Postgres => {
            let url = std::env::var("DATABASE_URL").unwrap();
            let options = SqlOptions::new().exact_cache(false).throttle_rows(60);
            let sql = SqlBackend::connect_with(&url, options).await.unwrap();
            sqlx::query("DELETE FROM permit_login_failures")
                .execute(sql.pool())
                .await
                .unwrap();
            (Arc::new(sql), None)
        }
    };
    let mut throttle = Throttle::from_arc(counts)
        .per_user(PER_USER)
        .per_client(PER_CLIENT)
        .window(Duration::from_secs(600));
    if proxy {
        throttle = throttle.client_header(HeaderName::from_static("x-forwarded-for"));
    }
    let app = test::init_service(
        App::new()
            .service(signin)
            .wrap(Permit::new(backend.clone()).throttle(throttle))
            .wrap(session()),
    )
    .await;
    let mut per_client: HashMap<u16, u64> = HashMap::new();
    let send = async |name: &str, password: &str, from: Client, forged: &[String], one_line| {
        let mut req = test::TestRequest::post()
            .uri("/signin")
            .set_form([("username", name), ("password", password)]);
        let real = from.address();
        if proxy {
            // The client's forged lines, then the line the proxy appends
            // (or, rewriting, its entry at the end of the one line).
            req = req.peer_addr("127.0.0.1:4000".parse().unwrap());
            if one_line {
                let mut line = forged.join(", ");
                line.push_str(&format!(", {real}"));
                req = req.append_header(("x-forwarded-for", line));
            } else {
                for forged in forged {
                    req = req.append_header(("x-forwarded-for", forged.as_str()));
                }
                req = req.append_header(("x-forwarded-for", real.to_string()));
            }
        } else {
            req = req.peer_addr(std::net::SocketAddr::new(real, 4000));
        }
        let before = *backend.checks.lock().unwrap();
        let res = test::call_service(&app, req.to_request()).await;
        let status = res.status();
        let body = test::read_body(res).await;
        let checked = *backend.checks.lock().unwrap() - before;
        (status, body, checked)
    };
    for step in steps {
        match step {
            Step::Guess {
                name,
                right,
                from,
                forged,
                one_line,
            } => {
                let password = match (right, backend.account(&name)) {
                    (true, Some(account)) => password_of(account),
                    _ => "a guess".to_owned(),
                };
                let (status, body, checked) = send(&name, &password, from, &forged, one_line).await;
                prop_assert!(
                    matches!(
                        status,
                        StatusCode::OK
                            | StatusCode::TOO_MANY_REQUESTS
                            | StatusCode::SERVICE_UNAVAILABLE
                    ),
                    "{status}"
                );
                if body.as_ref() == b"wrong" {
                    *per_client.entry(from.group).or_default() += checked;
                }
            }
            Step::Flood { count, from } => {
                for n in 0..count {
                    let name = format!("nobody-{n}-{}", from.host);
                    let (_, body, checked) = send(&name, "x", from, &[], false).await;
                    if body.as_ref() == b"wrong" {
                        *per_client.entry(from.group).or_default() += checked;
                    }
                }
            }
        }
        for (account, wrong) in backend.wrong.lock().unwrap().iter() {
            MOST_PER_ACCOUNT[store as usize]
                .fetch_max(*wrong, std::sync::atomic::Ordering::Relaxed);
            prop_assert!(
                *wrong <= PER_USER,
                "{account}: {wrong} wrong passwords checked in one window"
            );
        }
        for (group, failed) in &per_client {
            MOST_PER_CLIENT[store as usize]
                .fetch_max(*failed, std::sync::atomic::Ordering::Relaxed);
            prop_assert!(
                *failed <= PER_CLIENT,
                "client group {group}: {failed} failed checks in one window"
            );
        }
        if let Some(memory) = &memory {
            prop_assert!(memory.bytes() <= 60 * (MemoryThrottle::KEY_BYTES + 48));
        }
    }
    Ok(())
}

fn property(store: Store, cases: u32) {
    let system = actix_rt::System::new();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let shapes = prop_oneof![Just((EXACT, false)), Just((CASELESS, true)),].prop_flat_map(
        |(accounts, caseless)| {
            (
                Just(accounts),
                Just(caseless),
                any::<bool>(),
                proptest::collection::vec(step(accounts), 1..60),
            )
        },
    );
    let outcome = runner.run(&shapes, |(accounts, caseless, proxy, steps)| {
        system.block_on(run(store, accounts, caseless, proxy, steps))
    });
    if let Err(err) = outcome {
        panic!("{err}");
    }
    eprintln!(
        "throttle, {store:?} store, {cases} generated attacks: at most {} wrong passwords checked for one account and {} for one client in a window (limits {PER_USER} and {PER_CLIENT})",
        MOST_PER_ACCOUNT[store as usize].load(std::sync::atomic::Ordering::Relaxed),
        MOST_PER_CLIENT[store as usize].load(std::sync::atomic::Ordering::Relaxed),
    );
}

/// The most wrong passwords any account, and any client, got checked in
/// one window across the cases run (for the figures the tests print).
static MOST_PER_ACCOUNT: [std::sync::atomic::AtomicU64; 3] =
    [const { std::sync::atomic::AtomicU64::new(0) }; 3];
static MOST_PER_CLIENT: [std::sync::atomic::AtomicU64; 3] =
    [const { std::sync::atomic::AtomicU64::new(0) }; 3];

#[::core::prelude::v1::test]
fn no_account_or_client_gets_more_checks_than_its_limit_memory_store() {
    property(Store::Memory, 64);
}

#[::core::prelude::v1::test]
fn no_account_or_client_gets_more_checks_than_its_limit_sqlite_store() {
    property(Store::Sqlite, 16);
}

/// On PostgreSQL, when `DATABASE_URL` names one (CI sets it); otherwise it
/// says so and passes.
#[::core::prelude::v1::test]
fn no_account_or_client_gets_more_checks_than_its_limit_postgres_store() {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => property(Store::Postgres, 8),
        _ => eprintln!("skipped: set DATABASE_URL=postgres://... to run"),
    }
}
