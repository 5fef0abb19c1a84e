//! `#[recent_login_required]` and `reauthenticate`: who passes, where the
//! others are sent, what a re-authentication may and may not change, and
//! the throttle that counts it.

use std::sync::Arc;

use actix_permit::config::{Config, Reason};
use actix_permit::throttle::{MemoryThrottle, Throttle};
use actix_permit::{
    Permit, PermitError, permission_required, reauthenticate, recent_login_required,
};
use actix_web::cookie::{Cookie, CookieJar, Key};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, test, web};
use proptest::prelude::*;

use crate::support::{Hits, PASSWORD, app, backend, counting_body, get, login_as, send};

#[get("/recent")]
#[recent_login_required(max_age = "1h")]
async fn recent(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("recent")
}

#[get("/second")]
#[recent_login_required(max_age = "2s")]
async fn second(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("second")
}

#[post("/items/{id}/delete")]
#[permission_required("inventory.change_item", object = "id")]
#[recent_login_required(max_age = "10m")]
async fn delete(hits: web::Data<Hits>, body: web::Payload) -> HttpResponse {
    hits.hit();
    let read = body.to_bytes_limited(8 << 20).await;
    HttpResponse::Ok().body(format!(
        "{} bytes",
        read.map_or(0, |b| b.map_or(0, |b| b.len()))
    ))
}

/// `POST /test/reauth/{name}/{right}`: re-authenticates with `name`'s
/// right password, or a wrong one; "ok", "wrong", or the error's response.
async fn reauth(
    req: HttpRequest,
    path: web::Path<(String, bool)>,
) -> Result<HttpResponse, PermitError> {
    let (name, right) = path.into_inner();
    let password = if right { PASSWORD } else { "not the password" };
    Ok(match reauthenticate(&req, &name, password).await? {
        true => HttpResponse::Ok().body("ok"),
        false => HttpResponse::Ok().body("wrong"),
    })
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(recent)
        .service(second)
        .service(delete)
        .route("/test/reauth/{name}/{right}", web::post().to(reauth));
}

fn redirects() -> Config {
    Config::default()
        .login_url("/login/")
        .reauthentication_url("/reauth/")
}

/// The key `support::session` signs and encrypts cookies with.
fn session_key() -> Key {
    Key::from(&[7; 64])
}

/// The session cookie as it would be had the password last been proved
/// `ago` before now: the server's own key rewrites the proof's time, as
/// the clock would have aged it.
fn aged(cookie: &Cookie<'static>, ago: std::time::Duration) -> Cookie<'static> {
    let key = session_key();
    let mut jar = CookieJar::new();
    jar.add_original(cookie.clone());
    let plain = jar
        .private(&key)
        .get(cookie.name())
        .expect("our session cookie");
    let mut state: std::collections::HashMap<String, String> =
        serde_json::from_str(plain.value()).unwrap();
    // The login's time (seconds, actix-identity's) and a re-authentication's
    // (milliseconds, ours), when there is one.
    let since = (std::time::SystemTime::now() - ago)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let login = state
        .get_mut("actix_identity.logged_in_at")
        .expect("a login records its time");
    *login = since.as_secs().to_string();
    if let Some(proof) = state.get_mut("actix_permit.proved_at") {
        *proof = since.as_millis().to_string();
    }
    jar.private_mut(&key).add(Cookie::new(
        cookie.name().to_owned(),
        serde_json::to_string(&state).unwrap(),
    ));
    jar.get(cookie.name()).unwrap().clone().into_owned()
}

/// The session cookie after `seen`: a new one replaces it, a removal ends it.
fn follow(cookie: Option<Cookie<'static>>, seen: &crate::support::Seen) -> Option<Cookie<'static>> {
    match &seen.cookie {
        Some(set) if set.value().is_empty() => None,
        Some(set) => Some(set.clone()),
        None => cookie,
    }
}

#[actix_rt::test]
async fn a_fresh_login_passes_and_an_old_one_is_sent_to_reauthenticate() {
    let hits = Arc::new(Hits::default());
    let app = app(
        Permit::new(backend()).config(redirects()),
        hits.clone(),
        routes,
    )
    .await;

    // Nobody signed in: the login page, as for login_required.
    let seen = get(&app, "/recent", None).await;
    assert_eq!(seen.status, StatusCode::FOUND);
    assert_eq!(seen.location.as_deref(), Some("/login/?next=/recent"));

    // A login proves the password.
    let cookie = login_as(&app, "plain").await;
    let seen = get(&app, "/recent?x=1", cookie.as_ref()).await;
    assert_eq!(
        (seen.status, seen.body.as_str()),
        (StatusCode::OK, "recent")
    );
    assert_eq!(hits.get(), 1);

    // Two hours later: the re-authentication form, with `next`.
    let old = aged(
        cookie.as_ref().unwrap(),
        std::time::Duration::from_secs(7_200),
    );
    let seen = get(&app, "/recent?x=1", Some(&old)).await;
    assert_eq!(seen.status, StatusCode::FOUND);
    assert_eq!(
        seen.location.as_deref(),
        Some("/reauth/?next=/recent%3Fx%3D1")
    );
    assert_eq!(hits.get(), 1, "the handler did not run");
    // Still signed in as before.
    assert_eq!(get(&app, "/test/whoami", Some(&old)).await.body, "1");

    // 59 minutes is recent enough for 1h, not for 10m.
    let fifty_nine = aged(
        cookie.as_ref().unwrap(),
        std::time::Duration::from_secs(59 * 60),
    );
    assert_eq!(
        get(&app, "/recent", Some(&fifty_nine)).await.status,
        StatusCode::OK
    );

    // Re-authenticating brings it back, in the same session of the same user.
    let seen = send(
        &app,
        test::TestRequest::post().uri("/test/reauth/plain/true"),
        Some(&old),
    )
    .await;
    assert_eq!(seen.body, "ok");
    let renewed = follow(Some(old.clone()), &seen).unwrap();
    assert_eq!(get(&app, "/test/whoami", Some(&renewed)).await.body, "1");
    assert_eq!(
        get(&app, "/recent", Some(&renewed)).await.status,
        StatusCode::OK
    );
    assert_eq!(hits.get(), 3);

    // And time really passes: past two seconds (the login's time is kept in
    // whole seconds), `max_age = "2s"` wants it again.
    let fresh = login_as(&app, "plain").await;
    assert_eq!(
        get(&app, "/second", fresh.as_ref()).await.status,
        StatusCode::OK
    );
    actix_rt::time::sleep(std::time::Duration::from_millis(3_100)).await;
    let seen = get(&app, "/second", fresh.as_ref()).await;
    assert_eq!(seen.location.as_deref(), Some("/reauth/?next=/second"));
}

#[actix_rt::test]
async fn without_a_reauthentication_page_the_login_page_or_a_403_answers() {
    let hits = Arc::new(Hits::default());
    let login_only = app(
        Permit::new(backend()).config(Config::default().login_url("/login/")),
        hits.clone(),
        routes,
    )
    .await;
    let cookie = login_as(&login_only, "plain").await.unwrap();
    let old = aged(&cookie, std::time::Duration::from_secs(7_200));
    let seen = get(&login_only, "/recent", Some(&old)).await;
    assert_eq!(seen.location.as_deref(), Some("/login/?next=/recent"));

    let bare = app(Permit::new(backend()), hits.clone(), routes).await;
    let cookie = login_as(&bare, "plain").await.unwrap();
    let old = aged(&cookie, std::time::Duration::from_secs(7_200));
    let seen = get(&bare, "/recent", Some(&old)).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN);
    assert_eq!(seen.location, None);

    // An API's renderer sees the reason.
    let api = app(
        Permit::new(backend()).config(Config::default().render_with(|_, denial| {
            HttpResponse::build(denial.reason().status())
                .json(serde_json::json!({ "error": denial.reason().as_str() }))
        })),
        hits.clone(),
        routes,
    )
    .await;
    let cookie = login_as(&api, "plain").await.unwrap();
    let old = aged(&cookie, std::time::Duration::from_secs(7_200));
    let seen = get(&api, "/recent", Some(&old)).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN);
    assert_eq!(seen.body, r#"{"error":"reauthentication_required"}"#);
    assert_eq!(
        Reason::ReauthenticationRequired.as_str(),
        "reauthentication_required"
    );
    assert_eq!(hits.get(), 0);
}

#[actix_rt::test]
async fn stacked_checks_run_in_order_before_the_body_is_read() {
    let hits = Arc::new(Hits::default());
    let app = app(
        Permit::new(backend()).config(redirects()),
        hits.clone(),
        routes,
    )
    .await;
    let direct = login_as(&app, "direct").await.unwrap();
    let plain = login_as(&app, "plain").await.unwrap();
    let read = std::rc::Rc::new(std::cell::Cell::new(0));
    let post = |cookie: &Cookie<'static>| {
        test::TestRequest::post()
            .uri("/items/7/delete")
            .cookie(cookie.clone())
    };

    // The permission is checked first: a user without it gets 403 even
    // with a fresh login.
    let res = test::call_service(&app, counting_body(post(&plain), 4, &read)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // With the permission but an old proof: sent to re-authenticate, and
    // not a byte of the body is read.
    let old = aged(&direct, std::time::Duration::from_secs(11 * 60));
    let res = test::call_service(&app, counting_body(post(&old), 4, &read)).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(read.get(), 0);
    assert_eq!(hits.get(), 0);
    // With both, the handler runs and reads the body.
    let res = test::call_service(&app, counting_body(post(&direct), 4, &read)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(test::read_body(res).await, "4194304 bytes");
    assert_eq!(read.get(), 4 * crate::support::CHUNK);
    assert_eq!(hits.get(), 1);
}

#[actix_rt::test]
async fn reauthentication_is_throttled_like_a_login() {
    let hits = Arc::new(Hits::default());
    let throttle = Throttle::new(MemoryThrottle::new())
        .per_user(3)
        .per_client(100);
    let app = app(
        Permit::new(backend())
            .config(redirects())
            .throttle(throttle),
        hits.clone(),
        routes,
    )
    .await;
    let cookie = login_as(&app, "plain").await.unwrap();
    let old = aged(&cookie, std::time::Duration::from_secs(7_200));
    let attempt = |name: &str, right: bool| {
        test::TestRequest::post()
            .uri(&format!("/test/reauth/{name}/{right}"))
            .peer_addr("203.0.113.9:4000".parse().unwrap())
    };
    // Another account's right password is a failure, counted against that
    // account, and never signs this session in as them.
    let seen = send(&app, attempt("direct", true), Some(&old)).await;
    assert_eq!(seen.body, "wrong");
    assert_eq!(
        get(
            &app,
            "/test/whoami",
            Some(&follow(Some(old.clone()), &seen).unwrap())
        )
        .await
        .body,
        "1"
    );
    for _ in 0..2 {
        assert_eq!(
            send(&app, attempt("direct", true), Some(&old)).await.body,
            "wrong"
        );
    }
    // "direct" is now locked for logins too.
    let seen = send(
        &app,
        test::TestRequest::post().uri("/test/login/direct"),
        None,
    )
    .await;
    assert_eq!(
        seen.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        seen.body
    );
    assert!(
        seen.body.contains("too many failed logins"),
        "{}",
        seen.body
    );

    // Wrong passwords for one's own account lock it the same way, even
    // against the right one afterwards.
    for _ in 0..3 {
        assert_eq!(
            send(&app, attempt("plain", false), Some(&old)).await.body,
            "wrong"
        );
    }
    let seen = send(&app, attempt("plain", true), Some(&old)).await;
    assert_eq!(seen.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        get(&app, "/recent", Some(&old)).await.status,
        StatusCode::FOUND
    );
    assert_eq!(hits.get(), 0);

    // Anonymous: nothing to re-authenticate; the login page.
    let seen = send(&app, attempt("plain", true), None).await;
    assert_eq!(
        seen.location.as_deref(),
        Some("/login/?next=/test/reauth/plain/true")
    );
}

/// One step of a client's life with one session.
#[derive(Debug, Clone)]
enum Step {
    Login(usize),
    Logout,
    /// Re-authenticate as the signed-in user (`None`; "plain" when nobody
    /// is) or as this user, with the right password or not.
    Reauth(Option<usize>, bool),
    /// The proof ages past `max_age`.
    Age,
    Visit,
}

const NAMES: [&str; 3] = ["plain", "direct", "grouped"];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0..NAMES.len()).prop_map(Step::Login),
        1 => Just(Step::Logout),
        3 => any::<bool>().prop_map(|right| Step::Reauth(None, right)),
        2 => ((0..NAMES.len()), any::<bool>()).prop_map(|(user, right)| Step::Reauth(Some(user), right)),
        2 => Just(Step::Age),
        3 => Just(Step::Visit),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Over random interleavings of logins, logouts, re-authentications
    /// (right, wrong, another account's) and ageing: the handler runs
    /// exactly when a plain model says the session's user proved their
    /// password within `max_age`, and a re-authentication never changes
    /// who the session belongs to.
    #[core::prelude::v1::test]
    fn recent_login_follows_the_model(steps in proptest::collection::vec(step(), 1..24)) {
        actix_rt::System::new().block_on(async move {
            let hits = Arc::new(Hits::default());
            let app = app(Permit::new(backend()).config(redirects()), hits.clone(), routes).await;
            // The model: who is signed in, and whether their proof is recent.
            let mut user: Option<usize> = None;
            let mut proved = false;
            let mut cookie: Option<Cookie<'static>> = None;
            let mut runs = 0;
            for step in steps {
                match step {
                    Step::Login(who) => {
                        cookie = login_as(&app, NAMES[who]).await;
                        user = Some(who);
                        proved = true;
                    }
                    Step::Logout => {
                        let seen = send(&app, test::TestRequest::post().uri("/test/logout"), cookie.as_ref()).await;
                        cookie = follow(cookie, &seen);
                        user = None;
                    }
                    Step::Reauth(who, right) => {
                        let who = who.or(user).unwrap_or(0);
                        let uri = format!("/test/reauth/{}/{right}", NAMES[who]);
                        let seen = send(&app, test::TestRequest::post().uri(&uri), cookie.as_ref()).await;
                        match user {
                            None => prop_assert_eq!(seen.status, StatusCode::FOUND),
                            Some(me) if me == who && right => {
                                prop_assert_eq!(seen.body.as_str(), "ok");
                                proved = true;
                            }
                            Some(_) => prop_assert_eq!(seen.body.as_str(), "wrong"),
                        }
                        cookie = follow(cookie, &seen);
                    }
                    Step::Age => {
                        if user.is_some() {
                            cookie = cookie.as_ref().map(|c| aged(c, std::time::Duration::from_secs(3_601)));
                            proved = false;
                        }
                    }
                    Step::Visit => {
                        let seen = get(&app, "/recent", cookie.as_ref()).await;
                        let expected = match (user, proved) {
                            (Some(_), true) => None,
                            (Some(_), false) => Some("/reauth/?next=/recent"),
                            (None, _) => Some("/login/?next=/recent"),
                        };
                        prop_assert_eq!(seen.location.as_deref(), expected);
                        runs += usize::from(expected.is_none());
                        prop_assert_eq!(hits.get(), runs);
                    }
                }
                let whoami = get(&app, "/test/whoami", cookie.as_ref()).await.body;
                let expected = user.map_or("anonymous".to_owned(), |who| (who + 1).to_string());
                prop_assert_eq!(whoami, expected);
            }
            Ok(())
        })?;
    }
}

/// A source that names a user by header and keeps no record of proofs
/// (the trait's default `password_proved`).
struct NoProofs;

impl actix_permit::identity::IdentitySource for NoProofs {
    async fn identify(
        &self,
        req: &HttpRequest,
    ) -> Result<Option<actix_permit::identity::Claim>, actix_permit::identity::IdentifyError> {
        Ok(req
            .headers()
            .get("x-user")
            .and_then(|v| v.to_str().ok())
            .map(|id| actix_permit::identity::Claim::new(id, None)))
    }

    async fn login(
        &self,
        _: &HttpRequest,
        _: &dyn actix_permit::AuthUser,
    ) -> Result<(), actix_permit::LoginError> {
        Err(actix_permit::LoginError::Unsupported)
    }

    async fn logout(&self, _: &HttpRequest) -> Result<(), actix_permit::LoginError> {
        Ok(())
    }
}

/// A claim without a proof is never recent, and re-authenticating where
/// the source cannot record it fails closed (503), never a pass.
#[actix_rt::test]
async fn a_source_without_proofs_never_passes() {
    let hits = Arc::new(Hits::default());
    let app = app(
        Permit::new(backend())
            .identity(NoProofs)
            .config(redirects()),
        hits.clone(),
        routes,
    )
    .await;
    let as_plain = |req: test::TestRequest| req.insert_header(("x-user", "1"));
    let seen = send(
        &app,
        as_plain(test::TestRequest::get().uri("/recent")),
        None,
    )
    .await;
    assert_eq!(seen.location.as_deref(), Some("/reauth/?next=/recent"));
    let seen = send(
        &app,
        as_plain(test::TestRequest::post().uri("/test/reauth/plain/true")),
        None,
    )
    .await;
    assert_eq!(seen.status, StatusCode::SERVICE_UNAVAILABLE);
    let seen = send(
        &app,
        as_plain(test::TestRequest::get().uri("/recent")),
        None,
    )
    .await;
    assert_eq!(seen.status, StatusCode::FOUND);
    assert_eq!(hits.get(), 0);
}
