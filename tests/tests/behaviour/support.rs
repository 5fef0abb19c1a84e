//! A real `App` with real session cookies, and the users every test uses.

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use actix_http::error::PayloadError;
use bytes::Bytes;

use actix_http::Request;
use actix_permit::backend::{Authentication, Authorization, Layer, PermsResult, UserResult};
use actix_permit::{
    AuthUser, CurrentUser, Permit, authenticate,
    backend::{BackendError, MemoryBackend},
    login, logout,
};
use actix_session::SessionMiddleware;
use actix_session::storage::CookieSessionStore;
use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, Key};
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{App, HttpRequest, HttpResponse, test, web};

pub const PASSWORD: &str = "correct horse";

/// The users of the permission matrix.
pub const USERS: [&str; 6] = [
    "anonymous",
    "plain",
    "direct",
    "grouped",
    "super",
    "inactive",
];

/// Counts how often handler bodies ran.
#[derive(Default)]
pub struct Hits(AtomicUsize);

/// The handlers that ran, by name: for tests that must tell which one did.
#[derive(Default)]
pub struct Ran(std::sync::Mutex<Vec<&'static str>>);

impl Ran {
    /// Notes that `name` ran, and answers 200 with its name.
    pub fn hit(&self, name: &'static str) -> HttpResponse {
        self.0.lock().unwrap().push(name);
        HttpResponse::Ok().body(name)
    }

    /// The names noted since the last call, in order.
    pub fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Hits {
    pub fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// plain: nothing; direct: change_item; grouped: editors (change_item,
/// view_item); super: superuser; inactive: superuser, deactivated after login.
pub fn backend() -> Arc<MemoryBackend> {
    let backend = MemoryBackend::new();
    for name in &USERS[1..] {
        backend.add_user(name, PASSWORD).unwrap();
    }
    backend.grant("direct", "inventory.change_item").unwrap();
    backend
        .add_group("editors", ["inventory.change_item", "inventory.view_item"])
        .unwrap();
    backend.add_user_to_group("grouped", "editors").unwrap();
    backend.set_superuser("super", true).unwrap();
    backend.set_superuser("inactive", true).unwrap();
    Arc::new(backend)
}

pub fn session() -> SessionMiddleware<CookieSessionStore> {
    SessionMiddleware::builder(CookieSessionStore::default(), Key::from(&[7; 64]))
        .cookie_secure(false)
        .build()
}

async fn test_login(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    match authenticate(&req, &name, PASSWORD).await {
        Ok(Some(user)) => match login(&req, &*user).await {
            Ok(()) => HttpResponse::Ok().body(user.id().to_owned()),
            Err(err) => HttpResponse::InternalServerError().body(err.to_string()),
        },
        Ok(None) => HttpResponse::Unauthorized().finish(),
        Err(err) => HttpResponse::ServiceUnavailable().body(err.to_string()),
    }
}

async fn test_logout(req: HttpRequest) -> HttpResponse {
    logout(&req).await.unwrap();
    HttpResponse::Ok().finish()
}

async fn whoami(user: CurrentUser) -> HttpResponse {
    HttpResponse::Ok().body(user.id().unwrap_or("anonymous").to_owned())
}

/// Login/logout/whoami routes every test app has.
pub fn session_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/test/login/{name}", web::post().to(test_login))
        .route("/test/logout", web::post().to(test_logout))
        .route("/test/whoami", web::get().to(whoami));
}

/// A test service: `routes` under `permit` and cookie sessions, with `hits`.
pub async fn app(
    permit: Permit,
    hits: Arc<Hits>,
    routes: fn(&mut web::ServiceConfig),
) -> impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error> {
    test::init_service(
        App::new()
            .app_data(web::Data::from(hits))
            .configure(session_routes)
            .configure(routes)
            .wrap(permit)
            .wrap(session()),
    )
    .await
}

/// What a client sees.
#[derive(Debug)]
pub struct Seen {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
    pub cookie: Option<Cookie<'static>>,
}

pub async fn send<S, B>(app: &S, req: test::TestRequest, cookie: Option<&Cookie<'static>>) -> Seen
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let req = match cookie {
        Some(cookie) => req.cookie(cookie.clone()),
        None => req,
    };
    let res = test::call_service(app, req.to_request()).await;
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let cookie = res.response().cookies().next().map(|c| c.into_owned());
    let body = test::read_body(res).await;
    Seen {
        status,
        location,
        body: String::from_utf8_lossy(&body).into_owned(),
        cookie,
    }
}

pub async fn get<S, B>(app: &S, path: &str, cookie: Option<&Cookie<'static>>) -> Seen
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    send(app, test::TestRequest::get().uri(path), cookie).await
}

/// Logs `name` in and returns the session cookie; `None` for "anonymous".
pub async fn login_as<S, B>(app: &S, name: &str) -> Option<Cookie<'static>>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    if name == "anonymous" {
        return None;
    }
    let seen = send(
        app,
        test::TestRequest::default()
            .method(Method::POST)
            .uri(&format!("/test/login/{name}")),
        None,
    )
    .await;
    assert_eq!(
        seen.status,
        StatusCode::OK,
        "login of {name}: {}",
        seen.body
    );
    Some(seen.cookie.expect("login sets the session cookie"))
}

/// Session cookies for every user of [`USERS`]; "inactive" is deactivated
/// after logging in.
pub async fn sessions<S, B>(
    app: &S,
    backend: &MemoryBackend,
) -> Vec<(&'static str, Option<Cookie<'static>>)>
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut out = Vec::new();
    for name in USERS {
        out.push((name, login_as(app, name).await));
    }
    backend.set_active("inactive", false).unwrap();
    out
}

/// The in-memory backend, with a switch that makes it fail and counters of
/// how often it was asked.
pub struct Flaky {
    pub inner: Arc<MemoryBackend>,
    pub fail_users: std::sync::atomic::AtomicBool,
    pub fail_perms: std::sync::atomic::AtomicBool,
    pub user_loads: AtomicUsize,
    pub perm_loads: AtomicUsize,
}

impl Flaky {
    pub fn new(inner: Arc<MemoryBackend>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            fail_users: false.into(),
            fail_perms: false.into(),
            user_loads: AtomicUsize::new(0),
            perm_loads: AtomicUsize::new(0),
        })
    }
}

fn down() -> BackendError {
    BackendError::new("database is down")
}

impl Layer for Flaky {
    type Inner = Arc<MemoryBackend>;
    fn inner(&self) -> &Arc<MemoryBackend> {
        &self.inner
    }

    async fn get_user(&self, id: &str) -> UserResult {
        self.user_loads.fetch_add(1, Ordering::SeqCst);
        if self.fail_users.load(Ordering::SeqCst) {
            return Err(down());
        }
        self.inner.get_user(id).await
    }

    async fn user_permissions(&self, user: &dyn AuthUser) -> PermsResult {
        self.perm_loads.fetch_add(1, Ordering::SeqCst);
        if self.fail_perms.load(Ordering::SeqCst) {
            return Err(down());
        }
        self.inner.user_permissions(user).await
    }
}

/// The memory backend, noting every object it is asked about.
pub struct Recording {
    pub inner: Arc<MemoryBackend>,
    pub asked: std::sync::Mutex<Vec<String>>,
}

impl Recording {
    pub fn new(inner: Arc<MemoryBackend>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            asked: std::sync::Mutex::default(),
        })
    }

    /// The objects asked about so far, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Layer for Recording {
    type Inner = Arc<MemoryBackend>;
    fn inner(&self) -> &Arc<MemoryBackend> {
        &self.inner
    }

    async fn object_permissions(&self, user: &dyn AuthUser, object: &str) -> PermsResult {
        self.asked.lock().unwrap().push(object.to_owned());
        self.inner.object_permissions(user, object).await
    }
}

#[derive(serde::Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

/// A login view: 200 "in" or "wrong"; a throttled or overloaded attempt is
/// the error's own response (429 or 503, with `Retry-After`).
#[actix_web::post("/signin")]
pub async fn signin(
    req: HttpRequest,
    form: web::Form<Credentials>,
) -> Result<HttpResponse, actix_permit::PermitError> {
    match authenticate(&req, &form.username, &form.password).await? {
        Some(user) => {
            login(&req, &*user)
                .await
                .map_err(|_| actix_permit::PermitError::MissingMiddleware)?;
            Ok(HttpResponse::Ok().body("in"))
        }
        None => Ok(HttpResponse::Ok().body("wrong")),
    }
}

/// Collects what `tracing` logs while the guard lives.
#[derive(Clone, Default)]
pub struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A body of `chunks` MiB that counts the bytes anyone reads from it.
struct CountingBody {
    chunks_left: usize,
    read: Rc<Cell<usize>>,
}

/// One chunk of a [`counting_body`].
pub const CHUNK: usize = 1 << 20;

impl futures_core::Stream for CountingBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.chunks_left == 0 {
            return Poll::Ready(None);
        }
        self.chunks_left -= 1;
        self.read.set(self.read.get() + CHUNK);
        Poll::Ready(Some(Ok(Bytes::from(vec![b'x'; CHUNK]))))
    }
}

/// `req` with a body of `chunks` MiB whose bytes, once read, `read` counts.
pub fn counting_body(req: test::TestRequest, chunks: usize, read: &Rc<Cell<usize>>) -> Request {
    let body = CountingBody {
        chunks_left: chunks,
        read: Rc::clone(read),
    };
    let stream: actix_http::BoxedPayloadStream = Box::pin(body);
    req.to_request().replace_payload(stream.into()).0
}

/// Whether python3 imports every one of `modules` (a comparison with
/// Django needs them); with `PERMIT_DJANGO_TESTS=require` (`.ci/run`), a
/// missing one fails the test instead of skipping it. `-I`: not from the
/// working directory, where `tests/django/` (our scripts) would pass for
/// the package.
pub fn python_has(modules: &[&str]) -> bool {
    let found = std::process::Command::new("python3")
        .args(["-I", "-c", &format!("import {}", modules.join(", "))])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found || std::env::var("PERMIT_DJANGO_TESTS").as_deref() != Ok("require"),
        "PERMIT_DJANGO_TESTS=require, but python3 cannot import {modules:?}"
    );
    if !found {
        eprintln!("skipped: needs python3 with {modules:?} (pip install)");
    }
    found
}

/// A fresh SQLite file under the temporary directory, and its URL.
pub fn temp_db(name: &str) -> (std::path::PathBuf, String) {
    let path = std::env::temp_dir().join(format!(
        "actix-permit-{name}-{}-{:?}.db",
        std::process::id(),
        std::thread::current().id()
    ));
    remove_db(&path);
    let url = format!("sqlite://{}", path.display());
    (path, url)
}

pub fn remove_db(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}
