//! The login surface under attack (issue 13): password hashing bounded in
//! concurrency, guessing throttled per username and per client across
//! instances, sessions that do not carry over between users, users whose
//! `Debug` tells no secret, and a permission cache that never puts a revoked
//! set back.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use actix_permit::backend::{Authentication, Authorization, Layer, PermsResult, UserResult};
use actix_permit::{
    AuthUser, CurrentUser, Permit,
    backend::{BackendError, CachedBackend, MemoryBackend, SqlBackend},
    throttle::{BoxFuture, MemoryThrottle, Throttle, ThrottleStore},
};
use actix_session::SessionExt;
use actix_web::dev::Service;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, get, post, test, web};

use crate::support::{PASSWORD, backend, get as fetch, send, session, signin};

/// The in-memory backend, counting the password checks that reach it and
/// how many run at once; while `hold` is set, a permission lookup reads the
/// set and then waits.
struct Counting {
    inner: Arc<MemoryBackend>,
    checks: AtomicUsize,
    running: AtomicUsize,
    most: AtomicUsize,
    hold: AtomicBool,
}

impl Counting {
    fn new(inner: Arc<MemoryBackend>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            checks: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            hold: AtomicBool::new(false),
        })
    }
}

impl Layer for Counting {
    type Inner = Arc<MemoryBackend>;
    fn inner(&self) -> &Arc<MemoryBackend> {
        &self.inner
    }

    async fn authenticate(&self, username: &str, password: &str) -> UserResult {
        self.checks.fetch_add(1, Ordering::SeqCst);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let user = self.inner.authenticate(username, password).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        user
    }

    async fn user_permissions(&self, user: &dyn AuthUser) -> PermsResult {
        let set = self.inner.user_permissions(user).await?;
        while self.hold.load(Ordering::SeqCst) {
            actix_rt::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(set)
    }
}

/// Who the session says is logged in, and what else it holds.
#[get("/whoami")]
async fn whoami(req: HttpRequest, user: CurrentUser) -> HttpResponse {
    let noted: Option<String> = req.get_session().get("note").ok().flatten();
    HttpResponse::Ok().body(format!(
        "{} {}",
        user.id().unwrap_or("anonymous"),
        noted.unwrap_or_default()
    ))
}

/// Leaves a note in the session.
#[post("/note")]
async fn note(req: HttpRequest) -> HttpResponse {
    req.get_session().insert("note", "private").unwrap();
    HttpResponse::Ok().finish()
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(signin).service(whoami).service(note);
}

fn attempt(username: &str, password: &str, client: &str) -> test::TestRequest {
    test::TestRequest::post()
        .uri("/signin")
        .peer_addr(format!("{client}:40000").parse().unwrap())
        .set_form([("username", username), ("password", password)])
}

macro_rules! login_app {
    ($permit:expr) => {
        Rc::new(
            test::init_service(App::new().configure(routes).wrap($permit).wrap(session())).await,
        )
    };
}

/// What one flooded request got.
#[derive(Debug)]
struct Got {
    status: StatusCode,
    body: String,
    retry_after: Option<String>,
}

/// Sends `count` requests at once; answers what each got.
async fn flood<S, B>(
    app: &Rc<S>,
    count: usize,
    req: impl Fn(usize) -> test::TestRequest,
) -> Vec<Got>
where
    S: Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        > + 'static,
    B: actix_web::body::MessageBody + 'static,
{
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let app = Rc::clone(app);
            let req = req(i).to_request();
            actix_rt::spawn(async move {
                let res = app.call(req).await.unwrap();
                let status = res.status();
                let retry_after = res
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                let body = test::read_body(res).await;
                Got {
                    status,
                    body: String::from_utf8_lossy(&body).into_owned(),
                    retry_after,
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    seen
}

#[actix_rt::test]
async fn password_hashing_is_bounded_and_a_flood_is_refused_fast() {
    let counting = Counting::new(backend());
    let app = login_app!(Permit::new(counting.clone()).password_work(1, 2));
    let seen = flood(&app, 40, |i| {
        // Known and unknown users alike: the dummy hash counts too.
        let user = if i % 2 == 0 { "plain" } else { "nobody" };
        attempt(user, "wrong password", "10.0.0.1")
    })
    .await;
    let refused: Vec<&Got> = seen
        .iter()
        .filter(|got| got.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let answered = seen.iter().filter(|got| got.body == "wrong").count();
    assert_eq!(refused.len() + answered, 40, "{seen:?}");
    assert!(refused.len() >= 30, "a queue of 2 cannot hold 40: {seen:?}");
    assert!(
        refused
            .iter()
            .all(|got| got.retry_after.as_deref() == Some("1")),
        "{refused:?}"
    );
    assert_eq!(
        counting.most.load(Ordering::SeqCst),
        1,
        "one check at a time"
    );
    assert_eq!(counting.checks.load(Ordering::SeqCst), answered);
    // Once the flood is over, logins go through.
    let seen = send(&*app, attempt("plain", PASSWORD, "10.0.0.1"), None).await;
    assert_eq!(seen.body, "in");
}

#[actix_rt::test]
async fn guessing_is_throttled_without_running_the_hash() {
    let counting = Counting::new(backend());
    let throttle = Throttle::new(MemoryThrottle::new()).window(Duration::from_millis(800));
    let app = login_app!(Permit::new(counting.clone()).throttle(throttle));
    let seen = flood(&app, 1000, |i| {
        attempt("plain", &format!("guess {i}"), "10.0.0.9")
    })
    .await;
    let wrong = seen.iter().filter(|got| got.body == "wrong").count();
    let throttled = seen
        .iter()
        .filter(|got| got.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(wrong + throttled, 1000, "every guess is answered");
    assert_eq!(wrong, 5, "five failures allowed");
    assert_eq!(
        counting.checks.load(Ordering::SeqCst),
        5,
        "the hash ran five times"
    );
    // The right password is refused too, and says for how long.
    let res = app
        .call(attempt("plain", PASSWORD, "10.0.0.9").to_request())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=1).contains(&wait), "{wait}");
    // Another user from the same address is not locked out.
    let bob = send(&*app, attempt("direct", PASSWORD, "10.0.0.9"), None).await;
    assert_eq!(bob.body, "in");
    // After the cool-off the right password works, and resets the count.
    actix_rt::time::sleep(Duration::from_millis(900)).await;
    let alice = send(&*app, attempt("plain", PASSWORD, "10.0.0.9"), None).await;
    assert_eq!(alice.body, "in");
    assert_eq!(counting.checks.load(Ordering::SeqCst), 7);
}

#[actix_rt::test]
async fn one_client_guessing_many_names_is_throttled_too() {
    let counting = Counting::new(backend());
    let throttle = Throttle::new(MemoryThrottle::new()).per_client(20);
    let app = login_app!(Permit::new(counting.clone()).throttle(throttle));
    for i in 0..60 {
        let _ = send(&*app, attempt(&format!("user{i}"), "x", "10.0.0.7"), None).await;
    }
    assert_eq!(counting.checks.load(Ordering::SeqCst), 20);
    let other = send(&*app, attempt("plain", PASSWORD, "10.0.0.8"), None).await;
    assert_eq!(other.body, "in", "another address is not locked");
}

#[actix_rt::test]
async fn two_instances_share_the_counts() {
    let dir = std::env::temp_dir().join(format!("permit-throttle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("shared.db").display());
    let store = Arc::new(SqlBackend::connect(&url).await.unwrap());
    let other = Arc::new(SqlBackend::connect(&url).await.unwrap());
    let users = backend();
    let first = login_app!(
        Permit::new(users.clone()).throttle(Throttle::from_arc(store as Arc<dyn ThrottleStore>))
    );
    let second = login_app!(
        Permit::new(users).throttle(Throttle::from_arc(other as Arc<dyn ThrottleStore>))
    );
    for (i, app) in [&first, &second, &first, &second, &first]
        .into_iter()
        .enumerate()
    {
        let seen = send(
            &**app,
            attempt("plain", "wrong", &format!("10.1.0.{i}")),
            None,
        )
        .await;
        assert_eq!(seen.body, "wrong");
    }
    let seen = send(&*second, attempt("plain", PASSWORD, "10.1.0.9"), None).await;
    assert_eq!(seen.status, StatusCode::TOO_MANY_REQUESTS);
    std::fs::remove_dir_all(&dir).ok();
}

#[actix_rt::test]
async fn a_new_user_logging_in_starts_an_empty_session() {
    let app = login_app!(Permit::new(backend()));
    let first = send(&*app, attempt("plain", PASSWORD, "10.2.0.1"), None).await;
    let cookie = first.cookie.unwrap();
    let noted = send(&*app, test::TestRequest::post().uri("/note"), Some(&cookie)).await;
    let cookie = noted.cookie.unwrap_or(cookie);
    let seen = fetch(&*app, "/whoami", Some(&cookie)).await;
    assert!(seen.body.ends_with(" private"), "{}", seen.body);
    // The same user again keeps the session; another user does not.
    let again = send(&*app, attempt("plain", PASSWORD, "10.2.0.1"), Some(&cookie)).await;
    let cookie = again.cookie.unwrap();
    let seen = fetch(&*app, "/whoami", Some(&cookie)).await;
    assert!(seen.body.ends_with(" private"), "{}", seen.body);
    let switched = send(
        &*app,
        attempt("direct", PASSWORD, "10.2.0.1"),
        Some(&cookie),
    )
    .await;
    let cookie = switched.cookie.unwrap();
    let seen = fetch(&*app, "/whoami", Some(&cookie)).await;
    assert!(!seen.body.contains("private"), "{}", seen.body);
    assert!(!seen.body.starts_with("anonymous"), "{}", seen.body);
}

#[::core::prelude::v1::test]
fn debug_of_users_tells_no_hash() {
    let users = backend();
    let user = users.user("plain").unwrap();
    let shown = format!("{user:?}");
    assert!(shown.contains("plain"), "{shown}");
    assert!(!shown.contains("argon2"), "{shown}");
    assert!(!shown.contains(user.session_auth_hash()), "{shown}");
}

#[actix_rt::test]
async fn a_lookup_in_flight_across_a_revocation_is_not_cached() {
    let inner = backend();
    inner.grant("plain", "inventory.change_item").unwrap();
    let user = inner.user("plain").unwrap();
    let held = Counting::new(Arc::clone(&inner));
    held.hold.store(true, Ordering::SeqCst);
    let cache = Rc::new(CachedBackend::new(held, Duration::from_secs(60)));
    let lookup = {
        let (cache, user) = (Rc::clone(&cache), Arc::clone(&user));
        actix_rt::spawn(async move {
            Authorization::user_permissions(&*cache, &*user)
                .await
                .unwrap()
        })
    };
    actix_rt::time::sleep(Duration::from_millis(20)).await;
    // Revoked, and the cache told, while the old set is on its way.
    inner.revoke("plain", "inventory.change_item").unwrap();
    cache.invalidate("1");
    cache.invalidate_all();
    cache.inner().hold.store(false, Ordering::SeqCst);
    let old = lookup.await.unwrap();
    assert!(
        old.contains("inventory.change_item"),
        "the lookup read before the revocation"
    );
    let now = Authorization::user_permissions(&*cache, &*user)
        .await
        .unwrap();
    assert!(
        !now.contains("inventory.change_item"),
        "the old set was put back"
    );
}

#[actix_rt::test]
async fn a_login_ends_after_its_lifetime_or_when_idle() {
    for (permit, idle) in [
        (
            Permit::new(backend()).session_lifetime(Some(Duration::from_secs(1))),
            false,
        ),
        (
            Permit::new(backend())
                .session_lifetime(None)
                .idle_timeout(Some(Duration::from_secs(2))),
            true,
        ),
    ] {
        let app = login_app!(permit);
        let seen = send(&*app, attempt("plain", PASSWORD, "10.3.0.1"), None).await;
        let mut cookie = seen.cookie.unwrap();
        assert!(
            !fetch(&*app, "/whoami", Some(&cookie))
                .await
                .body
                .starts_with("anonymous")
        );
        if idle {
            // Requests keep an idle timeout from running out.
            for _ in 0..3 {
                actix_rt::time::sleep(Duration::from_millis(500)).await;
                let seen = fetch(&*app, "/whoami", Some(&cookie)).await;
                assert!(!seen.body.starts_with("anonymous"), "still active");
                cookie = seen.cookie.unwrap_or(cookie);
            }
        }
        // actix-identity keeps whole seconds: wait past the deadline's second.
        actix_rt::time::sleep(Duration::from_millis(if idle { 3200 } else { 2100 })).await;
        let seen = fetch(&*app, "/whoami", Some(&cookie)).await;
        assert!(
            seen.body.starts_with("anonymous"),
            "idle {idle}: {}",
            seen.body
        );
    }
}

/// A throttle store that counts attempts but hangs when one is recorded as
/// a success or taken back.
struct HangsOnSettle(MemoryThrottle);

impl ThrottleStore for HangsOnSettle {
    fn hit<'a>(
        &'a self,
        key: &'a str,
        window: Duration,
        limit: u64,
    ) -> BoxFuture<'a, Result<actix_permit::throttle::Failures, BackendError>> {
        self.0.hit(key, window, limit)
    }
    fn undo<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(std::future::pending())
    }
}

#[actix_rt::test]
async fn a_hanging_throttle_store_fails_closed_within_the_timeout() {
    let permit = Permit::new(backend())
        .backend_timeout(Some(Duration::from_millis(100)))
        .throttle(Throttle::new(HangsOnSettle(MemoryThrottle::new())));
    let app = login_app!(permit);
    let seen = send(&*app, attempt("plain", PASSWORD, "10.4.0.1"), None).await;
    assert_eq!(
        seen.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        seen.body
    );
    assert!(seen.cookie.is_none(), "not logged in");
}

/// Issue 25, part 2: where every client would share one address count (a
/// proxy's peer address, or none at all), the first login attempt says so.
#[actix_rt::test]
async fn a_shared_client_address_is_warned_about_once() {
    let (logs, _guard) = crate::support::Logs::capture();
    let app = login_app!(Permit::new(backend()).throttle(Throttle::new(MemoryThrottle::new())));
    for _ in 0..3 {
        send(&*app, attempt("plain", "wrong", "127.0.0.1"), None).await;
    }
    let text = logs.text();
    assert_eq!(
        text.matches("the peer address is a loopback or private address")
            .count(),
        1,
        "{text}"
    );
    let (logs, _guard) = crate::support::Logs::capture();
    let throttle = Throttle::new(MemoryThrottle::new()).client_header(
        actix_web::http::header::HeaderName::from_static("x-forwarded-for"),
    );
    let app = login_app!(Permit::new(backend()).throttle(throttle));
    send(&*app, attempt("plain", "wrong", "10.5.0.1"), None).await;
    assert!(
        logs.text()
            .contains("the client header has no address in its last entry"),
        "{}",
        logs.text()
    );
}
