//! App-wide settings: the login URL, the redirect field, and how denials are
//! rendered ([`Config`], [`Denial`], [`Reason`]).

use std::fmt;
use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};

/// Why a request was not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Nobody (or an inactive user) is logged in and the route needs a user.
    LoginRequired,
    /// The user is logged in but lacks a permission or fails a test.
    Forbidden,
    /// The backend could not answer.
    Unavailable,
    /// The app is misconfigured (no middleware) or a predicate panicked.
    Error,
    /// Too many failed logins for a username or from a client.
    Throttled,
    /// The user is logged in, but `#[recent_login_required]` wants their
    /// password proved more recently than they last did.
    ReauthenticationRequired,
    /// The request's credentials were refused (a bad API token, two
    /// credentials at once): 401, with a `WWW-Authenticate` challenge.
    InvalidCredentials,
}

impl Reason {
    /// The status the default rendering answers with: 403 for
    /// `LoginRequired` without a login URL, for `Forbidden` and for
    /// `ReauthenticationRequired` without a URL to send the user to, 503 for
    /// `Unavailable`, 500 for `Error`, 429 for `Throttled`, 401 for
    /// `InvalidCredentials`. (A configured login URL turns
    /// `LoginRequired` into a 302.)
    pub fn status(self) -> StatusCode {
        match self {
            Self::LoginRequired | Self::Forbidden | Self::ReauthenticationRequired => {
                StatusCode::FORBIDDEN
            }
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Error => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Throttled => StatusCode::TOO_MANY_REQUESTS,
            Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
        }
    }

    /// A short name for logs and API bodies: `login_required`,
    /// `forbidden`, `unavailable`, `error`, `throttled`,
    /// `reauthentication_required`, `invalid_credentials`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginRequired => "login_required",
            Self::Forbidden => "forbidden",
            Self::Unavailable => "unavailable",
            Self::Error => "error",
            Self::Throttled => "throttled",
            Self::ReauthenticationRequired => "reauthentication_required",
            Self::InvalidCredentials => "invalid_credentials",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One denied request, as the render hook sees it.
#[derive(Debug)]
pub struct Denial<'a> {
    pub(crate) reason: Reason,
    pub(crate) login_redirect: Option<String>,
    pub(crate) missing: &'a [&'a str],
    pub(crate) user: Option<&'a std::sync::Arc<dyn crate::user::AuthUser>>,
}

impl Denial<'_> {
    /// Why the request was denied.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// For [`Reason::LoginRequired`] with a login URL configured: where to
    /// send the user (`/accounts/login/?next=/where/they/were`). For
    /// [`Reason::ReauthenticationRequired`]: the re-authentication URL
    /// ([`Config::reauthentication_url`], else the login URL) with the
    /// same `next`.
    pub fn login_redirect(&self) -> Option<&str> {
        self.login_redirect.as_deref()
    }

    /// For [`Reason::Forbidden`] from `permission_required`: the permissions
    /// of which the user held none (one name, or the names of an `any(...)`).
    /// The default rendering does not show them; an app may.
    pub fn missing_permissions(&self) -> &[&str] {
        self.missing
    }

    /// The signed-in user the request was denied to, when the check got as
    /// far as loading one (a [`Reason::Forbidden`] always does): so that a
    /// 403 page can still show who is logged in.
    pub fn user(&self) -> Option<&std::sync::Arc<dyn crate::user::AuthUser>> {
        self.user
    }
}

/// Renders a denial; see [`Config::render_with`].
pub type Renderer = Arc<dyn Fn(&HttpRequest, &Denial<'_>) -> HttpResponse + Send + Sync>;

/// App-wide settings of the [`Permit`](crate::Permit) middleware.
#[derive(Clone)]
pub struct Config {
    pub(crate) login_url: Option<String>,
    pub(crate) redirect_field: String,
    pub(crate) site_origin: Option<String>,
    pub(crate) reauthentication_url: Option<String>,
    pub(crate) renderer: Option<Renderer>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            login_url: None,
            redirect_field: "next".to_owned(),
            site_origin: None,
            reauthentication_url: None,
            renderer: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("login_url", &self.login_url)
            .field("redirect_field", &self.redirect_field)
            .field("site_origin", &self.site_origin)
            .field("reauthentication_url", &self.reauthentication_url)
            .field("renderer", &self.renderer.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl Config {
    /// Where anonymous users are sent (302) when a route needs a user. Unset
    /// (the default), they get 403. A macro's own `login_url` wins.
    pub fn login_url(mut self, url: impl Into<String>) -> Self {
        self.login_url = Some(url.into());
        self
    }

    /// The query parameter that carries the original URL to the login page;
    /// `next` by default. A macro's own `redirect_field` wins.
    pub fn redirect_field(mut self, field: impl Into<String>) -> Self {
        self.redirect_field = field.into();
        self
    }

    /// This site's origin (`https://shop.example`, with a port where one is
    /// used): with a login URL on another site (an SSO page), the `next`
    /// it is sent is this origin and the request's path. It is never
    /// taken from the request's `Host`, `X-Forwarded-Host` or `Forwarded`
    /// headers, which a client (or whoever poisons a cache in front of the
    /// app) chooses. Unset, such a login page gets the path alone, and a
    /// warning says so once. A login URL on this origin gets the path
    /// alone, as Django does.
    pub fn site_origin(mut self, origin: impl Into<String>) -> Self {
        let origin: String = origin.into();
        self.site_origin = Some(origin.trim_end_matches('/').to_owned());
        self
    }

    /// Where `#[recent_login_required]` sends a signed-in user whose
    /// password proof is too old (302, with `next` as for the login URL):
    /// a form that calls [`reauthenticate`](crate::reauthenticate). Unset,
    /// the login URL serves (logging in again proves the password too);
    /// with neither, the answer is a 403.
    pub fn reauthentication_url(mut self, url: impl Into<String>) -> Self {
        self.reauthentication_url = Some(url.into());
        self
    }

    /// Renders every denial (403, login redirect, 503, 500) with `render`,
    /// so an API can answer JSON and a site an HTML page. The hook sees the
    /// request and the [`Denial`]; [`Denial::login_redirect`] holds the
    /// computed login URL.
    pub fn render_with(
        mut self,
        render: impl Fn(&HttpRequest, &Denial<'_>) -> HttpResponse + Send + Sync + 'static,
    ) -> Self {
        self.renderer = Some(Arc::new(render));
        self
    }

    pub(crate) fn render(&self, req: &HttpRequest, denial: &Denial<'_>) -> HttpResponse {
        match &self.renderer {
            Some(render) => render(req, denial),
            None => default_response(denial),
        }
    }
}

/// The default rendering: a 302 to the login (or re-authentication)
/// redirect when there is one, otherwise a short plain-text response with
/// the reason's status.
pub fn default_response(denial: &Denial<'_>) -> HttpResponse {
    match (&denial.reason, &denial.login_redirect) {
        (Reason::LoginRequired | Reason::ReauthenticationRequired, Some(location)) => {
            HttpResponse::Found()
                .insert_header((header::LOCATION, location.as_str()))
                .finish()
        }
        _ => plain_response(denial.reason),
    }
}

pub(crate) fn plain_response(reason: Reason) -> HttpResponse {
    let status = reason.status();
    HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain; charset=utf-8"),
        ))
        .body(status.canonical_reason().unwrap_or("Error"))
}
