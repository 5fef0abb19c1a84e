//! API tokens and recorded sessions through a real `App`: `BearerTokens`
//! beside `RecordedSessions` (`OneOf`), over the memory backend and over a
//! real SQLite file (and PostgreSQL when `DATABASE_URL` names one) with
//! its exact cache, changed through the serving backend and through
//! another instance on the same database. What a token may do is its
//! scopes ∩ its user's permissions at every request; a revoked or expired
//! token, or one whose user is inactive, is a 401 `invalid_token`. A
//! session whose record ended (by its user, an administrator, a password
//! change) or went (a logout) is anonymous, and so is every copy of its
//! cookie.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_http::Request;
use actix_permit::backend::{AdminError, MemoryBackend, SqlBackend, SqlOptions};
use actix_permit::identity::OneOf;
use actix_permit::records::{EndReason, RecordedSessions, SessionInfo};
use actix_permit::token::{BearerTokens, NewToken};
use actix_permit::{
    AuthUser as _, Permit, login_required, permission_required, recent_login_required,
};
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpResponse, get, post, test, web};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::support::{PASSWORD, Ran, login_as, remove_db, session, session_routes, temp_db};

const PERMS: [&str; 2] = ["app.change", "app.view"];
const NAMES: [&str; 2] = ["tess", "theo"];

#[permission_required("app.change")]
#[get("/change")]
async fn change(ran: web::Data<Ran>) -> HttpResponse {
    ran.hit("change")
}

#[permission_required("app.view")]
#[get("/view")]
async fn view(ran: web::Data<Ran>) -> HttpResponse {
    ran.hit("view")
}

#[login_required]
#[get("/me")]
async fn me(ran: web::Data<Ran>) -> HttpResponse {
    ran.hit("me")
}

#[permission_required("app.change", object = "id")]
#[get("/things/{id}")]
async fn thing(ran: web::Data<Ran>) -> HttpResponse {
    ran.hit("thing")
}

/// Where creating a token would be: it asks for the password, which a
/// token never proved.
#[recent_login_required(max_age = "10m")]
#[post("/tokens")]
async fn create(ran: web::Data<Ran>) -> HttpResponse {
    ran.hit("create")
}

/// The record the session names.
async fn record(req: actix_web::HttpRequest) -> HttpResponse {
    HttpResponse::Ok().body(actix_permit::records::current(&req).unwrap_or_default())
}

/// Re-authenticates as tess with her password: 204, or the error.
async fn reauth(req: actix_web::HttpRequest) -> HttpResponse {
    match actix_permit::reauthenticate(&req, "tess", PASSWORD).await {
        Ok(true) => HttpResponse::NoContent().finish(),
        Ok(false) => HttpResponse::Unauthorized().finish(),
        Err(err) => actix_web::ResponseError::error_response(&err),
    }
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(session_routes)
        .route("/test/reauth", web::post().to(reauth))
        .route("/test/record", web::get().to(record))
        .service(change)
        .service(view)
        .service(me)
        .service(thing)
        .service(create);
}

/// One of the two stores, and a second instance for the SQL one.
#[derive(Clone)]
enum Store {
    Memory(Arc<MemoryBackend>),
    Sql(Arc<SqlBackend>),
}

impl Store {
    fn permit(&self) -> Permit {
        match self {
            Self::Memory(b) => Permit::new(b.clone()).identity(OneOf::new(
                RecordedSessions::new(b.clone()),
                BearerTokens::new(b.clone()),
            )),
            Self::Sql(b) => Permit::new(b.clone()).identity(OneOf::new(
                RecordedSessions::new(b.clone()),
                BearerTokens::new(b.clone()),
            )),
        }
    }

    async fn grant(&self, user: &str, perm: &str) {
        match self {
            Self::Memory(b) => b.grant(user, perm).unwrap(),
            Self::Sql(b) => b.grant(user, perm).await.unwrap(),
        }
    }

    async fn revoke(&self, user: &str, perm: &str) {
        match self {
            Self::Memory(b) => b.revoke(user, perm).unwrap(),
            Self::Sql(b) => b.revoke(user, perm).await.unwrap(),
        }
    }

    async fn set_active(&self, user: &str, active: bool) {
        match self {
            Self::Memory(b) => b.set_active(user, active).unwrap(),
            Self::Sql(b) => b.set_active(user, active).await.unwrap(),
        }
    }

    async fn create_token(
        &self,
        user: &str,
        name: &str,
        scopes: &[&str],
        expires: Option<Duration>,
    ) -> Result<NewToken, AdminError> {
        match self {
            Self::Memory(b) => b.create_token(user, name, scopes.iter().copied(), expires),
            Self::Sql(b) => {
                b.create_token(user, name, scopes.iter().copied(), expires)
                    .await
            }
        }
    }

    async fn set_token_scopes(&self, user: &str, name: &str, scopes: &[&str]) {
        match self {
            Self::Memory(b) => b.set_token_scopes(user, name, scopes.iter().copied()),
            Self::Sql(b) => b.set_token_scopes(user, name, scopes.iter().copied()).await,
        }
        .unwrap();
    }

    async fn revoke_token(&self, user: &str, name: &str) -> Result<(), AdminError> {
        match self {
            Self::Memory(b) => b.revoke_token(user, name),
            Self::Sql(b) => b.revoke_token(user, name).await,
        }
    }

    async fn end_session(&self, user: &str, id: &str, reason: EndReason) {
        // A session already logged out has no record left: nothing to end.
        let _ = match self {
            Self::Memory(b) => b.end_session(user, id, reason),
            Self::Sql(b) => b.end_session(user, id, reason).await,
        };
    }

    async fn end_sessions(&self, user: &str, except: Option<&str>, reason: EndReason) {
        match self {
            Self::Memory(b) => b.end_sessions(user, except, reason).map(drop),
            Self::Sql(b) => b.end_sessions(user, except, reason).await.map(drop),
        }
        .unwrap();
    }

    async fn set_password(&self, user: &str) {
        match self {
            Self::Memory(b) => b.set_password(user, PASSWORD),
            Self::Sql(b) => b.set_password(user, PASSWORD).await,
        }
        .unwrap();
    }

    async fn sessions(&self, user: &str) -> Vec<SessionInfo> {
        match self {
            Self::Memory(b) => b.sessions(user),
            Self::Sql(b) => b.sessions(user).await,
        }
        .unwrap()
    }

    async fn grant_object(&self, user: &str, perm: &str, object: &str) {
        match self {
            Self::Memory(b) => b.grant_object(user, perm, object).unwrap(),
            Self::Sql(b) => b.grant_object(user, perm, object).await.unwrap(),
        }
    }
}

fn memory() -> Store {
    let backend = MemoryBackend::new();
    for name in NAMES {
        backend.add_user(name, PASSWORD).unwrap();
    }
    Store::Memory(Arc::new(backend))
}

/// Two instances on one SQLite file, each with its exact cache, looking
/// for the other's changes before every lookup; the users and permissions
/// made.
async fn sqlite(name: &str) -> (Store, Store, PathBuf) {
    let (path, url) = temp_db(&format!("tokens-{name}"));
    let options = SqlOptions::new().sqlite_check_interval(Duration::ZERO);
    let serving = SqlBackend::connect_with(&url, options.clone())
        .await
        .unwrap();
    let other = SqlBackend::connect_with(&url, options).await.unwrap();
    for perm in PERMS {
        serving.create_permission(perm, perm).await.unwrap();
    }
    for name in NAMES {
        serving.create_user(name, PASSWORD).await.unwrap();
    }
    (
        Store::Sql(Arc::new(serving)),
        Store::Sql(Arc::new(other)),
        path,
    )
}

async fn serve(
    store: &Store,
    ran: Arc<Ran>,
) -> impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error> {
    test::init_service(
        App::new()
            .app_data(web::Data::from(ran))
            .configure(routes)
            .wrap(store.permit())
            .wrap(session()),
    )
    .await
}

/// Status, `WWW-Authenticate` and body of one request with a bearer token.
async fn with_token<S, B>(
    app: &S,
    req: test::TestRequest,
    token: &str,
) -> (StatusCode, Option<String>, String)
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let req = req
        .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
        .to_request();
    let res = test::call_service(app, req).await;
    let status = res.status();
    let challenge = res
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    let body = test::read_body(res).await;
    (
        status,
        challenge,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

async fn status_of<S, B>(app: &S, path: &str, token: &str) -> StatusCode
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    with_token(app, test::TestRequest::get().uri(path), token)
        .await
        .0
}

const REFUSED: Option<&str> = Some("Bearer error=\"invalid_token\"");

/// The answers for a refused token: an unknown prefix, a wrong secret for
/// a known one, a malformed, a revoked and an expired token are all the
/// same 401, and no handler runs.
async fn refusals(store: Store) {
    let ran = Arc::new(Ran::default());
    let app = serve(&store, ran.clone()).await;
    store.grant("tess", "app.view").await;
    let good = store
        .create_token("tess", "ci", &["app.view"], None)
        .await
        .unwrap();
    let good = good.token().to_owned();
    let fine = with_token(&app, test::TestRequest::get().uri("/view"), &good).await;
    assert_eq!(fine.0, StatusCode::OK);
    let (head, secret) = good.rsplit_once('_').unwrap();
    let wrong_secret = format!("{head}_{}", "0".repeat(secret.len()));
    let unknown_prefix = format!("permit_{}_{secret}", "0".repeat(16));
    let cases = [
        wrong_secret.as_str(),
        unknown_prefix.as_str(),
        &good[..good.len() - 1],
        &good.to_uppercase(),
        "permit_",
        "",
        "not a token",
    ];
    let mut answers = Vec::new();
    for token in cases {
        let answer = with_token(&app, test::TestRequest::get().uri("/view"), token).await;
        assert_eq!(answer.0, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(answer.1.as_deref(), REFUSED, "{token:?}");
        answers.push(answer);
    }
    // Nothing tells an unknown prefix from a wrong secret.
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));
    // The scheme is case-insensitive.
    let req = test::TestRequest::get()
        .uri("/view")
        .insert_header((header::AUTHORIZATION, format!("bEaReR {good}")))
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), StatusCode::OK);
    // Two Authorization headers: refused.
    let req = test::TestRequest::get()
        .uri("/view")
        .append_header((header::AUTHORIZATION, format!("Bearer {good}")))
        .append_header((header::AUTHORIZATION, format!("Bearer {good}")))
        .to_request();
    assert_eq!(
        test::call_service(&app, req).await.status(),
        StatusCode::UNAUTHORIZED
    );
    store.revoke_token("tess", "ci").await.unwrap();
    assert_eq!(
        with_token(&app, test::TestRequest::get().uri("/view"), &good).await,
        answers[0]
    );
    assert!(matches!(
        store.revoke_token("tess", "ci").await,
        Err(AdminError::UnknownToken(_))
    ));
    // Expired: created for one second, refused two seconds later.
    let short = store
        .create_token("tess", "short", &["app.view"], Some(Duration::from_secs(1)))
        .await
        .unwrap();
    tokio_sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        with_token(&app, test::TestRequest::get().uri("/view"), short.token()).await,
        answers[0]
    );
    assert_eq!(ran.take(), ["view", "view"]);
}

async fn tokio_sleep(duration: Duration) {
    actix_rt::time::sleep(duration).await;
}

#[actix_rt::test]
async fn refused_tokens_look_alike_in_memory() {
    refusals(memory()).await;
}

#[actix_rt::test]
async fn refused_tokens_look_alike_in_sqlite() {
    let (serving, _other, path) = sqlite("refusals").await;
    refusals(serving).await;
    remove_db(&path);
}

/// A cookie and a token together are refused as ambiguous; a token never
/// passes `recent_login_required` (so it cannot create tokens there); a
/// bad name, an undefined scope and a duplicate are refused at creation.
#[actix_rt::test]
async fn a_token_is_no_login() {
    let (store, _other, path) = sqlite("no-login").await;
    let Store::Sql(backend) = &store else {
        unreachable!()
    };
    let ran = Arc::new(Ran::default());
    let app = serve(&store, ran.clone()).await;
    store.grant("tess", "app.change").await;
    let token = store
        .create_token("tess", "ci", &["app.change"], None)
        .await
        .unwrap();
    let cookie = login_as(&app, "tess").await.unwrap();
    let req = test::TestRequest::get()
        .uri("/change")
        .cookie(cookie.clone())
        .insert_header((header::AUTHORIZATION, format!("Bearer {}", token.token())));
    let res = test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers().get(header::WWW_AUTHENTICATE).unwrap(),
        "Bearer error=\"invalid_request\""
    );
    let (status, _, _) = with_token(
        &app,
        test::TestRequest::post().uri("/tokens"),
        token.token(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Nor can it prove a password, even the right one.
    let (status, _, _) = with_token(
        &app,
        test::TestRequest::post().uri("/test/reauth"),
        token.token(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let req = test::TestRequest::post()
        .uri("/test/reauth")
        .cookie(cookie.clone());
    assert_eq!(
        test::call_service(&app, req.to_request()).await.status(),
        StatusCode::NO_CONTENT
    );
    // The session alone may.
    let req = test::TestRequest::post().uri("/tokens").cookie(cookie);
    assert_eq!(
        test::call_service(&app, req.to_request()).await.status(),
        StatusCode::OK
    );
    assert_eq!(ran.take(), ["create"]);
    assert!(matches!(
        store.create_token("tess", "ci", &[], None).await,
        Err(AdminError::DuplicateToken(_))
    ));
    assert!(matches!(
        store
            .create_token("tess", "x", &["app.nothing"], None)
            .await,
        Err(AdminError::UnknownPermission(_))
    ));
    for name in ["", " padded", "line\nbreak", &"n".repeat(65)] {
        assert!(matches!(
            store.create_token("tess", name, &[], None).await,
            Err(AdminError::InvalidToken(_))
        ));
    }
    assert!(matches!(
        store
            .create_token("tess", "x", &[], Some(Duration::ZERO))
            .await,
        Err(AdminError::InvalidToken(_))
    ));
    // The secret is nowhere in the database, and the listing has none.
    let secret = token.token().rsplit_once('_').unwrap().1;
    let rows = sqlx_rows(&path).await;
    assert!(!rows.is_empty() && !rows.iter().any(|row| row.contains(secret)));
    let listed = backend.tokens("tess").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "ci");
    assert!(
        token
            .token()
            .starts_with(&format!("permit_{}_", listed[0].prefix))
    );
    assert!(!format!("{token:?}{listed:?}").contains(secret));
    remove_db(&path);
}

/// Every column of every token row, as text.
async fn sqlx_rows(path: &std::path::Path) -> Vec<String> {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("SELECT prefix || ' ' || digest || ' ' || scopes AS line FROM permit_tokens")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>("line"))
        .collect()
}

/// In steady state a token request queries nothing, and its last use is
/// written once (not at every request).
#[actix_rt::test]
async fn token_requests_query_nothing_in_steady_state() {
    let (store, _other, path) = sqlite("steady").await;
    let Store::Sql(backend) = &store else {
        unreachable!()
    };
    let ran = Arc::new(Ran::default());
    let app = serve(&store, ran.clone()).await;
    store.grant("tess", "app.view").await;
    let token = store
        .create_token("tess", "ci", &["app.view"], None)
        .await
        .unwrap();
    assert_eq!(
        status_of(&app, "/view", token.token()).await,
        StatusCode::OK
    );
    let warm = backend.cache_stats().unwrap();
    for _ in 0..50 {
        assert_eq!(
            status_of(&app, "/view", token.token()).await,
            StatusCode::OK
        );
    }
    assert_eq!(backend.cache_stats().unwrap().queries, warm.queries);
    let listed = backend.tokens("tess").await.unwrap();
    assert!(listed[0].last_used.is_some());
    // An unknown prefix is answered from the same table: no query either.
    let unknown = format!("permit_{}_{}", "1".repeat(16), "2".repeat(64));
    assert_eq!(
        status_of(&app, "/view", &unknown).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(backend.cache_stats().unwrap().queries, warm.queries);
    remove_db(&path);
}

/// Object permissions follow the same rule: the scope and the user's
/// grant on that object.
#[actix_rt::test]
async fn object_checks_need_the_scope_too() {
    for store in [memory(), sqlite("objects").await.0] {
        let ran = Arc::new(Ran::default());
        let app = serve(&store, ran.clone()).await;
        store.grant_object("tess", "app.change", "7").await;
        let scoped = store
            .create_token("tess", "change", &["app.change"], None)
            .await
            .unwrap();
        let unscoped = store
            .create_token("tess", "view", &["app.view"], None)
            .await
            .unwrap();
        assert_eq!(
            status_of(&app, "/things/7", scoped.token()).await,
            StatusCode::OK
        );
        assert_eq!(
            status_of(&app, "/things/8", scoped.token()).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status_of(&app, "/things/7", unscoped.token()).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(ran.take(), ["thing"]);
    }
}

/// A step of the model test.
#[derive(Debug, Clone)]
enum Op {
    Grant(usize, usize),
    Revoke(usize, usize),
    Active(usize, bool),
    /// A new token of a user with the scopes marked.
    Create(usize, [bool; 2]),
    /// The scopes of the n-th token created (modulo how many there are).
    Scopes(usize, [bool; 2]),
    RevokeToken(usize),
    /// A login of a user: a new session (its cookie kept as first sent,
    /// as a stolen copy would be).
    Login(usize),
    /// The n-th session logs out.
    Logout(usize),
    /// The n-th session is ended by its user.
    End(usize),
    /// The n-th session's user ends all their others.
    EndOthers(usize),
    /// An administrator ends all of a user's sessions.
    EndAll(usize),
    /// A user's password is set (to the same one): their sessions end.
    Password(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..NAMES.len();
    let perm = 0..PERMS.len();
    prop_oneof![
        3 => (user.clone(), perm.clone()).prop_map(|(u, p)| Op::Grant(u, p)),
        2 => (user.clone(), perm).prop_map(|(u, p)| Op::Revoke(u, p)),
        1 => (user.clone(), any::<bool>()).prop_map(|(u, a)| Op::Active(u, a)),
        2 => (user, any::<[bool; 2]>()).prop_map(|(u, s)| Op::Create(u, s)),
        2 => (0..8usize, any::<[bool; 2]>()).prop_map(|(t, s)| Op::Scopes(t, s)),
        1 => (0..8usize).prop_map(Op::RevokeToken),
        3 => (0..NAMES.len()).prop_map(Op::Login),
        1 => (0..8usize).prop_map(Op::Logout),
        1 => (0..8usize).prop_map(Op::End),
        1 => (0..8usize).prop_map(Op::EndOthers),
        1 => (0..NAMES.len()).prop_map(Op::EndAll),
        1 => (0..NAMES.len()).prop_map(Op::Password),
    ]
}

struct ModelSession {
    user: usize,
    cookie: actix_web::cookie::Cookie<'static>,
    record: String,
    alive: bool,
}

/// One credential the model asks with: its name, its user, what the
/// request carries, a token's scopes (`None`: a session), whether it
/// still holds.
type Asked<'a> = (String, usize, Credential<'a>, Option<[bool; 2]>, bool);

/// What a request carries.
enum Credential<'a> {
    Token(&'a str),
    Cookie(&'a actix_web::cookie::Cookie<'static>),
}

async fn ask<S, B>(app: &S, path: &str, credential: &Credential<'_>) -> StatusCode
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    match credential {
        Credential::Token(token) => status_of(app, path, token).await,
        Credential::Cookie(cookie) => {
            let req = test::TestRequest::get().uri(path).cookie((*cookie).clone());
            test::call_service(app, req.to_request()).await.status()
        }
    }
}

struct ModelToken {
    user: usize,
    name: String,
    token: String,
    scopes: [bool; 2],
    live: bool,
}

fn scopes_of(marked: [bool; 2]) -> Vec<&'static str> {
    PERMS
        .iter()
        .zip(marked)
        .filter_map(|(perm, on)| on.then_some(*perm))
        .collect()
}

/// Runs `ops` against a store (changes through `writers`, chosen per
/// step) and a plain model; after every step, every token on every route
/// answers as the model says, and a handler ran exactly on each 200.
///
/// `notified`: the second writer's changes reach the serving instance by
/// a notification (PostgreSQL), so its checks may wait for it, up to two
/// seconds; the serving instance's own changes hold at once.
async fn interleaving(
    serving: Store,
    writers: [Store; 2],
    ops: Vec<(Op, bool)>,
    notified: bool,
) -> Result<(), TestCaseError> {
    let ran = Arc::new(Ran::default());
    let app = serve(&serving, ran.clone()).await;
    let mut perms = [[false; 2]; 2];
    let mut active = [true; 2];
    let mut tokens: Vec<ModelToken> = Vec::new();
    let mut sessions: Vec<ModelSession> = Vec::new();
    for (step, (op, first)) in ops.into_iter().enumerate() {
        let store = &writers[usize::from(!first)];
        match op {
            Op::Grant(u, p) => {
                store.grant(NAMES[u], PERMS[p]).await;
                perms[u][p] = true;
            }
            Op::Revoke(u, p) => {
                store.revoke(NAMES[u], PERMS[p]).await;
                perms[u][p] = false;
            }
            Op::Active(u, on) => {
                store.set_active(NAMES[u], on).await;
                active[u] = on;
            }
            Op::Create(u, scopes) => {
                let name = format!("t{step}");
                let made = store
                    .create_token(NAMES[u], &name, &scopes_of(scopes), None)
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                tokens.push(ModelToken {
                    user: u,
                    name,
                    token: made.token().to_owned(),
                    scopes,
                    live: true,
                });
            }
            Op::Scopes(t, scopes) if !tokens.is_empty() => {
                let count = tokens.len();
                let t = &mut tokens[t % count];
                if t.live {
                    store
                        .set_token_scopes(NAMES[t.user], &t.name, &scopes_of(scopes))
                        .await;
                    t.scopes = scopes;
                }
            }
            Op::RevokeToken(t) if !tokens.is_empty() => {
                let count = tokens.len();
                let t = &mut tokens[t % count];
                let done = store.revoke_token(NAMES[t.user], &t.name).await;
                prop_assert_eq!(done.is_ok(), t.live);
                t.live = false;
            }
            Op::Login(u) => {
                // An inactive user cannot log in.
                if active[u] {
                    let cookie = login_as(&app, NAMES[u]).await.unwrap();
                    let req = test::TestRequest::get()
                        .uri("/test/record")
                        .cookie(cookie.clone());
                    let record =
                        test::read_body(test::call_service(&app, req.to_request()).await).await;
                    let record = String::from_utf8(record.to_vec()).unwrap();
                    prop_assert!(!record.is_empty());
                    sessions.push(ModelSession {
                        user: u,
                        cookie,
                        record,
                        alive: true,
                    });
                }
            }
            Op::Logout(n) if !sessions.is_empty() => {
                let count = sessions.len();
                let s = &mut sessions[n % count];
                let req = test::TestRequest::post()
                    .uri("/test/logout")
                    .cookie(s.cookie.clone());
                test::call_service(&app, req.to_request()).await;
                s.alive = false;
            }
            Op::End(n) if !sessions.is_empty() => {
                let count = sessions.len();
                let s = &mut sessions[n % count];
                store
                    .end_session(NAMES[s.user], &s.record, EndReason::ByUser)
                    .await;
                s.alive = false;
            }
            Op::EndOthers(n) if !sessions.is_empty() => {
                let (user, record) = {
                    let s = &sessions[n % sessions.len()];
                    (s.user, s.record.clone())
                };
                store
                    .end_sessions(NAMES[user], Some(&record), EndReason::ByUser)
                    .await;
                for s in sessions
                    .iter_mut()
                    .filter(|s| s.user == user && s.record != record)
                {
                    s.alive = false;
                }
            }
            Op::EndAll(u) => {
                store
                    .end_sessions(NAMES[u], None, EndReason::ByAdministrator)
                    .await;
                for s in sessions.iter_mut().filter(|s| s.user == u) {
                    s.alive = false;
                }
            }
            Op::Password(u) => {
                store.set_password(NAMES[u]).await;
                for s in sessions.iter_mut().filter(|s| s.user == u) {
                    s.alive = false;
                }
            }
            Op::Scopes(..) | Op::RevokeToken(_) | Op::Logout(_) | Op::End(_) | Op::EndOthers(_) => {
            }
        }
        // Every token, then every session, on every route.
        let mut asked: Vec<Asked<'_>> = Vec::new();
        for t in &tokens {
            asked.push((
                t.name.clone(),
                t.user,
                Credential::Token(&t.token),
                Some(t.scopes),
                t.live,
            ));
        }
        for (n, s) in sessions.iter().enumerate() {
            asked.push((
                format!("session {n}"),
                s.user,
                Credential::Cookie(&s.cookie),
                None,
                s.alive,
            ));
        }
        for (name, user, credential, scopes, live) in &asked {
            for (path, perm) in [("/change", Some(0)), ("/view", Some(1)), ("/me", None)] {
                let works = *live && active[*user];
                let expected = if !works {
                    // A refused token is a 401; a dead session is anonymous.
                    if scopes.is_some() {
                        StatusCode::UNAUTHORIZED
                    } else {
                        StatusCode::FORBIDDEN
                    }
                } else if perm.is_none_or(|p| scopes.is_none_or(|s| s[p]) && perms[*user][p]) {
                    StatusCode::OK
                } else {
                    StatusCode::FORBIDDEN
                };
                let waited = std::time::Instant::now();
                loop {
                    let got = ask(&app, path, credential).await;
                    prop_assert_eq!(ran.take().len(), usize::from(got == StatusCode::OK));
                    if got == expected {
                        break;
                    }
                    if first || !notified || waited.elapsed() > Duration::from_secs(2) {
                        prop_assert_eq!(
                            got,
                            expected,
                            "step {}: {} of {} on {}",
                            step,
                            name,
                            NAMES[*user],
                            path
                        );
                    }
                    actix_rt::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }
    Ok(())
}

/// Where the model runs.
#[derive(Clone, Copy, PartialEq)]
enum Over {
    Memory,
    Sqlite,
    Postgres,
}

/// A fresh database on the PostgreSQL server `admin` names, two instances
/// on it, and how to drop it.
async fn postgres(admin: &str, n: usize) -> (Store, Store, String) {
    let name = format!("permit_tokens_{}_{n}", std::process::id());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => unreachable!("a database URL has a path"),
    };
    let serving = SqlBackend::connect(&url).await.unwrap();
    let other = SqlBackend::connect(&url).await.unwrap();
    for perm in PERMS {
        serving.create_permission(perm, perm).await.unwrap();
    }
    for user in NAMES {
        serving.create_user(user, PASSWORD).await.unwrap();
    }
    // Both listeners are up before the first step.
    for backend in [&serving, &other] {
        while backend.cache_state() != actix_permit::backend::CacheState::Exact {
            actix_rt::time::sleep(Duration::from_millis(5)).await;
        }
    }
    (
        Store::Sql(Arc::new(serving)),
        Store::Sql(Arc::new(other)),
        name,
    )
}

async fn drop_postgres(admin: &str, name: &str) {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
}

/// Runs the model `cases` times.
fn run_model(cases: u32, over: Over) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let system = actix_rt::System::new();
    let case = std::sync::atomic::AtomicUsize::new(0);
    let outcome = runner.run(
        &proptest::collection::vec((op(), any::<bool>()), 1..40),
        |ops| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            system.block_on(async {
                match over {
                    Over::Sqlite => {
                        let (serving, other, path) = sqlite(&format!("model-{n}")).await;
                        let outcome =
                            interleaving(serving.clone(), [serving, other], ops, false).await;
                        remove_db(&path);
                        outcome
                    }
                    Over::Postgres => {
                        let admin = std::env::var("DATABASE_URL").unwrap_or_default();
                        let (serving, other, name) = postgres(&admin, n).await;
                        let outcome =
                            interleaving(serving.clone(), [serving, other], ops, true).await;
                        drop_postgres(&admin, &name).await;
                        outcome
                    }
                    Over::Memory => {
                        let store = memory();
                        interleaving(store.clone(), [store.clone(), store], ops, false).await
                    }
                }
            })
        },
    );
    if let Err(err) = outcome {
        panic!("{err}");
    }
}

/// The model over the memory backend.
#[core::prelude::v1::test]
fn tokens_follow_the_model_in_memory() {
    run_model(64, Over::Memory);
}

/// The model over SQLite with the exact cache, each change made through
/// the serving instance or through another one on the same file.
#[core::prelude::v1::test]
fn tokens_follow_the_model_in_sqlite_across_instances() {
    run_model(24, Over::Sqlite);
}

/// The model over PostgreSQL with the exact cache, when `DATABASE_URL`
/// names a server (`.ci/run` sets it): the other instance's changes reach
/// the serving one by `NOTIFY`.
#[core::prelude::v1::test]
fn tokens_follow_the_model_in_postgresql_across_instances() {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => run_model(12, Over::Postgres),
        _ => eprintln!("skipped: DATABASE_URL names no PostgreSQL server"),
    }
}

/// The record of the session `cookie` names.
async fn record_of<S, B>(app: &S, cookie: &actix_web::cookie::Cookie<'static>) -> String
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let req = test::TestRequest::get()
        .uri("/test/record")
        .cookie(cookie.clone());
    let body = test::read_body(test::call_service(app, req.to_request()).await).await;
    String::from_utf8(body.to_vec()).unwrap()
}

async fn whoami<S, B>(app: &S, cookie: &actix_web::cookie::Cookie<'static>) -> String
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let req = test::TestRequest::get()
        .uri("/test/whoami")
        .cookie(cookie.clone())
        .insert_header((
            header::USER_AGENT,
            "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        ));
    let body = test::read_body(test::call_service(app, req.to_request()).await).await;
    String::from_utf8(body.to_vec()).unwrap()
}

/// Sessions a user sees and ends: each login is listed with its device
/// and address; ending one kills every copy of its cookie; "log out other
/// devices" keeps the one asking; a logout is not listed; a password
/// change ends the others and the list says so.
async fn sessions_seen_and_ended(store: Store) {
    let ran = Arc::new(Ran::default());
    let app = serve(&store, ran).await;
    let id = whoami(&app, &login_as(&app, "theo").await.unwrap()).await;
    let req = |ua: &'static str| {
        test::TestRequest::post()
            .uri("/test/login/tess")
            .insert_header((header::USER_AGENT, ua))
            .peer_addr("198.51.100.7:5000".parse().unwrap())
    };
    let mut cookies = Vec::new();
    for ua in [
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36",
        "curl/8.5.0",
    ] {
        let res = test::call_service(&app, req(ua).to_request()).await;
        assert!(res.status().is_success());
        cookies.push(res.response().cookies().next().unwrap().into_owned());
    }
    let listed = store.sessions("tess").await;
    let devices: Vec<&str> = listed.iter().map(|s| s.device.as_str()).collect();
    assert_eq!(listed.len(), 3);
    for device in ["Firefox on Linux", "Chrome on Android", "curl"] {
        assert!(devices.contains(&device), "{devices:?}");
    }
    assert!(
        listed
            .iter()
            .all(|s| s.address == "198.51.100.7" && s.ended.is_none())
    );
    let records: Vec<String> = {
        let mut out = Vec::new();
        for cookie in &cookies {
            out.push(record_of(&app, cookie).await);
        }
        out
    };
    // Ending one: that cookie, and every copy of it, is anonymous.
    store
        .end_session("tess", &records[0], EndReason::ByUser)
        .await;
    assert_eq!(whoami(&app, &cookies[0]).await, "anonymous");
    assert_ne!(whoami(&app, &cookies[1]).await, "anonymous");
    // Log out other devices, from the second.
    store
        .end_sessions("tess", Some(&records[1]), EndReason::ByUser)
        .await;
    assert_eq!(whoami(&app, &cookies[2]).await, "anonymous");
    let tess = whoami(&app, &cookies[1]).await;
    assert_ne!(tess, "anonymous");
    // theo was not touched.
    let theo = login_as(&app, "theo").await.unwrap();
    assert_eq!(whoami(&app, &theo).await, id);
    // A logout leaves no record.
    let req = test::TestRequest::post()
        .uri("/test/logout")
        .cookie(theo.clone());
    test::call_service(&app, req.to_request()).await;
    assert_eq!(whoami(&app, &theo).await, "anonymous");
    assert_eq!(store.sessions("theo").await.len(), 1);
    // A password change ends the rest, and says so.
    store.set_password("tess").await;
    assert_eq!(whoami(&app, &cookies[1]).await, "anonymous");
    let listed = store.sessions("tess").await;
    let reasons: Vec<Option<EndReason>> =
        listed.iter().map(|s| s.ended.map(|(_, why)| why)).collect();
    assert_eq!(listed.len(), 3);
    assert_eq!(
        reasons
            .iter()
            .filter(|r| **r == Some(EndReason::ByUser))
            .count(),
        2
    );
    assert!(
        reasons.contains(&Some(EndReason::PasswordChanged)),
        "{reasons:?}"
    );
    // Unknown ids are refused.
    assert!(matches!(
        match &store {
            Store::Memory(b) => b.end_session("tess", "nope", EndReason::ByUser),
            Store::Sql(b) => b.end_session("tess", "nope", EndReason::ByUser).await,
        },
        Err(AdminError::UnknownSession(_))
    ));
}

#[actix_rt::test]
async fn sessions_are_seen_and_ended_in_memory() {
    sessions_seen_and_ended(memory()).await;
}

#[actix_rt::test]
async fn sessions_are_seen_and_ended_in_sqlite() {
    let (store, _other, path) = sqlite("sessions").await;
    sessions_seen_and_ended(store).await;
    remove_db(&path);
}

/// A session request queries nothing in steady state, as a token request.
#[actix_rt::test]
async fn session_requests_query_nothing_in_steady_state() {
    let (store, _other, path) = sqlite("session-steady").await;
    let Store::Sql(backend) = &store else {
        unreachable!()
    };
    let app = serve(&store, Arc::new(Ran::default())).await;
    let cookie = login_as(&app, "tess").await.unwrap();
    whoami(&app, &cookie).await;
    let warm = backend.cache_stats().unwrap();
    for _ in 0..50 {
        assert_ne!(whoami(&app, &cookie).await, "anonymous");
    }
    assert_eq!(backend.cache_stats().unwrap().queries, warm.queries);
    remove_db(&path);
}

/// What logins can make a store keep is bounded: 100 live sessions per
/// user (a login past them ends the least recently seen) and 100 ended.
#[actix_rt::test]
async fn a_user_keeps_at_most_a_hundred_sessions_of_each_kind() {
    use actix_permit::records::{MAX_SESSIONS_PER_USER, RecordStore};
    let (sql, _other, path) = sqlite("bounded").await;
    for store in [memory(), sql] {
        let user = match &store {
            Store::Memory(b) => b.user("tess").unwrap().id().to_owned(),
            Store::Sql(b) => b.user("tess").await.unwrap().unwrap().id().to_owned(),
        };
        for _ in 0..230 {
            match &store {
                Store::Memory(b) => b.open_record(&user, "d", "a").await.unwrap(),
                Store::Sql(b) => b.open_record(&user, "d", "a").await.unwrap(),
            };
        }
        let listed = store.sessions("tess").await;
        let live = listed.iter().filter(|s| s.ended.is_none()).count();
        let ended = listed.len() - live;
        assert_eq!(live, MAX_SESSIONS_PER_USER);
        assert!(ended <= MAX_SESSIONS_PER_USER, "{ended} ended kept");
        assert!(
            listed
                .iter()
                .filter_map(|s| s.ended)
                .all(|(_, why)| why == EndReason::TooMany)
        );
    }
    remove_db(&path);
}
