//! [`DjangoCsrf`]: Django's CSRF check (`CsrfViewMiddleware`) in front of
//! a Rust API beside the site, so that a page Django rendered can call it
//! with Django's token and a page on another site cannot.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::{Method, header};
use actix_web::web::{Bytes, BytesMut};
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse};
use futures_core::Stream;
use serde_json::Value;

use super::DjangoSessions;
use crate::django::csrf::token_matches;

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// Renders a refusal: the request and why (Django's wording).
type Render = dyn Fn(&HttpRequest, &str) -> HttpResponse + Send + Sync;

/// Django's CSRF protection for the requests a browser could be tricked
/// into sending: every request whose method is not `GET`, `HEAD`,
/// `OPTIONS` or `TRACE`.
///
/// - An `Origin` header, when the request has one (browsers send it on
///   every such request), must be this site's own origin (the scheme and
///   `Host` the request came to) or one of the
///   [trusted origins](Self::trusted_origins); otherwise 403, with or
///   without a session. This also keeps another site from logging a
///   browser in.
/// - A request that carries the Django session cookie (the ambient
///   authority a forged request would borrow) must carry Django's token:
///   the `X-CSRFToken` header, or for a `POST` form
///   (`application/x-www-form-urlencoded`) the `csrfmiddlewaretoken`
///   field, plain or masked, matching the secret in the `csrftoken`
///   cookie, or in the session with [`use_sessions`](Self::use_sessions)
///   (`CSRF_USE_SESSIONS`). Over HTTPS, a request without `Origin` needs a
///   `Referer` on this site or a trusted origin, as in Django.
///
/// A request without the session cookie (a script, a login form's first
/// post) needs no token; it holds no session to abuse. One that also
/// carries an API token (`Authorization: Bearer`) is not checked at all,
/// `Origin` included: a token is sent by the script that holds it, never
/// added by a browser.
/// A refusal is a 403 (plain text, or what
/// [`render_with`](Self::render_with) makes) and is logged with the reason
/// at `info`; the handler does not run.
///
/// Limits: the form field is read from url-encoded bodies of at most
/// [`form_limit`](Self::form_limit) bytes (a larger form, or a multipart
/// one, must send the header); a refused body is not read further.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # async fn run(backend: std::sync::Arc<actix_permit::backend::DjangoBackend>) {
/// use actix_permit::Permit;
/// use actix_permit::backend::DjangoCsrf;
/// use actix_web::App;
///
/// let sessions = backend.sessions();
/// let app = App::new()
///     .wrap(DjangoCsrf::new().trusted_origins(["https://www.example.com"]))
///     .wrap(Permit::new(backend).identity(sessions));
/// # }
/// ```
#[derive(Clone)]
pub struct DjangoCsrf {
    settings: Arc<Settings>,
}

#[derive(Clone)]
struct Settings {
    session_cookie: String,
    cookie: String,
    header: header::HeaderName,
    trusted: Vec<String>,
    sessions: Option<DjangoSessions>,
    form_limit: usize,
    render: Option<Arc<Render>>,
}

impl std::fmt::Debug for DjangoCsrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.settings;
        f.debug_struct("DjangoCsrf")
            .field("session_cookie", &s.session_cookie)
            .field("cookie", &s.cookie)
            .field("header", &s.header)
            .field("trusted", &s.trusted)
            .field("use_sessions", &s.sessions.is_some())
            .field("form_limit", &s.form_limit)
            .finish_non_exhaustive()
    }
}

impl Default for DjangoCsrf {
    fn default() -> Self {
        Self::new()
    }
}

impl DjangoCsrf {
    /// Django's defaults: session cookie `sessionid`, CSRF cookie
    /// `csrftoken`, header `X-CSRFToken`, no trusted origins, forms up to
    /// 2.5 MB (`DATA_UPLOAD_MAX_MEMORY_SIZE`).
    pub fn new() -> Self {
        Self {
            settings: Arc::new(Settings {
                session_cookie: "sessionid".to_owned(),
                cookie: "csrftoken".to_owned(),
                header: header::HeaderName::from_static("x-csrftoken"),
                trusted: Vec::new(),
                sessions: None,
                form_limit: 2_621_440,
                render: None,
            }),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Settings)) -> Self {
        change(Arc::make_mut(&mut self.settings));
        self
    }

    /// The session cookie's name (`SESSION_COOKIE_NAME`).
    pub fn session_cookie(self, name: &str) -> Self {
        self.with(|s| name.clone_into(&mut s.session_cookie))
    }

    /// The CSRF cookie's name (`CSRF_COOKIE_NAME`).
    pub fn cookie_name(self, name: &str) -> Self {
        self.with(|s| name.clone_into(&mut s.cookie))
    }

    /// The header the token comes in (`CSRF_HEADER_NAME`, as the header
    /// is sent: `x-csrftoken` for Django's `HTTP_X_CSRFTOKEN`).
    pub fn header_name(self, name: header::HeaderName) -> Self {
        self.with(|s| s.header = name)
    }

    /// `CSRF_TRUSTED_ORIGINS`: origins (`https://www.example.com`, or
    /// `https://*.example.com` for its subdomains) whose pages may post
    /// here besides this site's own.
    pub fn trusted_origins(self, origins: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let origins: Vec<String> = origins
            .into_iter()
            .map(|o| o.into().trim_end_matches('/').to_owned())
            .collect();
        self.with(|s| s.trusted = origins)
    }

    /// `CSRF_USE_SESSIONS`: the secret is the session's `_csrftoken`, read
    /// through `sessions` (one query per checked request), not a cookie.
    pub fn use_sessions(self, sessions: DjangoSessions) -> Self {
        self.with(|s| s.sessions = Some(sessions))
    }

    /// The largest url-encoded form read for its `csrfmiddlewaretoken`; a
    /// larger one without the header is refused.
    pub fn form_limit(self, bytes: usize) -> Self {
        self.with(|s| s.form_limit = bytes)
    }

    /// Renders a refusal (a JSON body for an API, say) instead of the plain
    /// 403; `reason` is Django's wording (`CSRF token missing.`). The
    /// response should keep a 4xx status.
    pub fn render_with(
        self,
        render: impl Fn(&HttpRequest, &str) -> HttpResponse + Send + Sync + 'static,
    ) -> Self {
        self.with(|s| s.render = Some(Arc::new(render)))
    }
}

impl<S, B> Transform<S, ServiceRequest> for DjangoCsrf
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = CsrfService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(CsrfService {
            service: Rc::new(service),
            settings: Arc::clone(&self.settings),
        }))
    }
}

/// The service [`DjangoCsrf`] wraps an app in.
pub struct CsrfService<S> {
    service: Rc<S>,
    settings: Arc<Settings>,
}

impl<S, B> Service<ServiceRequest> for CsrfService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let settings = Arc::clone(&self.settings);
        Box::pin(async move {
            if let Err(reason) = settings.check(&mut req).await {
                tracing::info!(target: "actix_permit", reason, path = req.path(), "request refused by the CSRF check");
                let response = match &settings.render {
                    Some(render) => render(req.request(), reason),
                    None => HttpResponse::Forbidden()
                        .content_type("text/plain; charset=utf-8")
                        .body(format!("Forbidden (CSRF verification failed: {reason})")),
                };
                return Ok(req.into_response(response).map_into_right_body());
            }
            service
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        })
    }
}

/// Why a request was refused, in Django's words.
type Refusal = &'static str;

impl Settings {
    async fn check(&self, req: &mut ServiceRequest) -> Result<(), Refusal> {
        if matches!(
            *req.method(),
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) {
            return Ok(());
        }
        // An API token is no ambient credential (a browser never adds one
        // by itself): without the session cookie there is nothing to forge.
        if req.cookie(&self.session_cookie).is_none() && bearer(req) {
            return Ok(());
        }
        let info = req.connection_info().clone();
        let secure = info.scheme().eq_ignore_ascii_case("https");
        let own = format!("{}://{}", info.scheme(), info.host());
        let origin = req.headers().get(header::ORIGIN).map(|o| o.to_str());
        let has_origin = origin.is_some();
        if let Some(origin) = origin {
            let origin = origin.map_err(|_| "Origin checking failed - malformed Origin.")?;
            if !self.origin_allowed(&own, origin) {
                return Err("Origin checking failed - does not match any trusted origins.");
            }
        }
        let Some(session) = req.cookie(&self.session_cookie) else {
            return Ok(());
        };
        if !has_origin && secure {
            self.referer_allowed(req, info.host())?;
        }
        let secret = match &self.sessions {
            Some(sessions) => sessions
                .value(session.value(), "_csrftoken")
                .await
                .map_err(|_| "CSRF secret unavailable (the session store did not answer).")?
                .and_then(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .ok_or("CSRF token from the session is missing.")?,
            None => req
                .cookie(&self.cookie)
                .map(|c| c.value().to_owned())
                .ok_or("CSRF cookie not set.")?,
        };
        let mut token = String::new();
        if *req.method() == Method::POST && is_form(req) {
            token = self.form_token(req).await?;
        }
        if token.is_empty() {
            token = match req.headers().get(&self.header) {
                Some(value) => value
                    .to_str()
                    .map_err(|_| "CSRF token has invalid characters.")?
                    .to_owned(),
                None => return Err("CSRF token missing."),
            };
        }
        if token_matches(&secret, &token) {
            Ok(())
        } else {
            Err("CSRF token incorrect.")
        }
    }

    /// This site's origin, a trusted one, or one under a trusted
    /// `scheme://*.domain` (the domain itself included); compared as
    /// Django compares them, exactly (browsers send them in lower case).
    fn origin_allowed(&self, own: &str, origin: &str) -> bool {
        origin == own
            || self.trusted.iter().any(|trusted| {
                match (trusted.split_once("://"), origin.split_once("://")) {
                    (Some((scheme, pattern)), Some((origin_scheme, host))) => {
                        scheme == origin_scheme && same_domain(host, pattern)
                    }
                    _ => false,
                }
            })
    }

    /// Django's check for HTTPS requests without `Origin`: the `Referer`
    /// must be an `https` URL on this host or a trusted origin's host.
    fn referer_allowed(&self, req: &ServiceRequest, host: &str) -> Result<(), Refusal> {
        let referer = req
            .headers()
            .get(header::REFERER)
            .ok_or("Referer checking failed - no Referer.")?
            .to_str()
            .map_err(|_| "Referer checking failed - Referer is malformed.")?;
        let (scheme, rest) = referer
            .split_once("://")
            .ok_or("Referer checking failed - Referer is malformed.")?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        if authority.is_empty() {
            return Err("Referer checking failed - Referer is malformed.");
        }
        if scheme != "https" {
            return Err("Referer checking failed - Referer is insecure while host is secure.");
        }
        let trusted = self.trusted.iter().any(|trusted| {
            trusted
                .split_once("://")
                .is_some_and(|(_, pattern)| same_domain(authority, pattern))
        });
        if trusted || same_domain(authority, host) {
            Ok(())
        } else {
            Err("Referer checking failed - does not match any trusted origins.")
        }
    }

    /// The form's `csrfmiddlewaretoken` (empty when absent); the body is
    /// read up to the limit and put back for the handler.
    async fn form_token(&self, req: &mut ServiceRequest) -> Result<String, Refusal> {
        const TOO_LARGE: Refusal = "the form is larger than the limit for finding its CSRF token.";
        // A declared length past the limit is refused before a byte is read.
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.form_limit as u64) {
            return Err(TOO_LARGE);
        }
        let mut payload = req.take_payload();
        let mut body = BytesMut::new();
        while let Some(chunk) = poll_fn(|cx| Pin::new(&mut payload).poll_next(cx)).await {
            let chunk = chunk.map_err(|_| "the form could not be read.")?;
            if body.len() + chunk.len() > self.form_limit {
                return Err(TOO_LARGE);
            }
            body.extend_from_slice(&chunk);
        }
        let body: Bytes = body.freeze();
        let token = form_urlencoded::parse(&body)
            .find(|(name, _)| name == "csrfmiddlewaretoken")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        req.set_payload(Payload::from(body));
        Ok(token)
    }
}

/// Django's `is_same_domain` for a trusted origin's host: `*.example.com`
/// matches `example.com` and its subdomains, anything else itself.
fn same_domain(host: &str, pattern: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(domain) if domain.starts_with('.') => host.ends_with(domain) || host == &domain[1..],
        _ => host == pattern,
    }
}

/// Whether the request carries `Authorization: Bearer …`.
fn bearer(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.as_bytes().get(..7))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
}

fn is_form(req: &ServiceRequest) -> bool {
    req.mime_type().ok().flatten().is_some_and(|mime| {
        mime.type_() == "application" && mime.subtype() == "x-www-form-urlencoded"
    })
}
