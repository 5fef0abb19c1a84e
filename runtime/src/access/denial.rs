//! The one place where a denial is logged and rendered: with the app's
//! [`Config`](crate::config::Config), its login redirect and `next`.

use std::fmt;

use actix_web::{HttpRequest, HttpResponse};

use super::Rule;
use crate::config::{Config, Denial, Reason};
use crate::error::PermitError;
use crate::redirect::login_redirect;
use crate::state::RequestAuth;

/// Logs a denial and renders it with the app's config.
pub(super) fn deny(
    req: &HttpRequest,
    auth: &RequestAuth,
    rule: &Rule,
    reason: Reason,
    missing: &[&str],
) -> HttpResponse {
    tracing::info!(
        target: "actix_permit",
        reason = reason.as_str(),
        user = %UserOf(auth),
        route = %RouteOf(req),
        handler = rule.handler,
        missing = ?missing,
        "request denied"
    );
    render(
        req,
        auth,
        reason,
        missing,
        rule.login_url,
        rule.redirect_field,
    )
}

/// Renders an error from a check in code, or a backend failure, with the
/// app's config.
pub(crate) fn deny_error(req: &HttpRequest, auth: &RequestAuth, err: &PermitError) -> HttpResponse {
    let reason = err.reason();
    if matches!(reason, Reason::LoginRequired | Reason::Forbidden) {
        tracing::info!(
            target: "actix_permit",
            reason = reason.as_str(),
            user = %UserOf(auth),
            route = %RouteOf(req),
            "request denied by the handler"
        );
    } else {
        tracing::error!(target: "actix_permit", reason = reason.as_str(), path = req.path(), error = %err, "request failed closed");
    }
    let mut response = render(req, auth, reason, &[], None, None);
    err.add_headers(&mut response);
    response
}

/// The user id for logs, formatted only when a log is written (some crates
/// turn on `tracing`'s `log` fallback, which builds the fields eagerly).
struct UserOf<'a>(&'a RequestAuth);

impl fmt::Display for UserOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.principal_if_loaded() {
            Some(user) => f.write_str(user.id()),
            None => f.write_str("anonymous"),
        }
    }
}

/// The matched route pattern (or the path), formatted only when logged.
pub(super) struct RouteOf<'a>(pub(super) &'a HttpRequest);

impl fmt::Display for RouteOf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.match_pattern() {
            Some(pattern) => f.write_str(&pattern),
            None => f.write_str(self.0.path()),
        }
    }
}

pub(super) fn render(
    req: &HttpRequest,
    auth: &RequestAuth,
    reason: Reason,
    missing: &[&str],
    login_url: Option<&str>,
    redirect_field: Option<&str>,
) -> HttpResponse {
    let config = auth.config();
    let login_url = login_url.or(config.login_url.as_deref());
    let target = match reason {
        Reason::LoginRequired => login_url,
        Reason::ReauthenticationRequired => config.reauthentication_url.as_deref().or(login_url),
        _ => None,
    };
    let login_redirect = match target {
        Some(url) => {
            let field = redirect_field.unwrap_or(&config.redirect_field);
            let next = next_url(req, url, config);
            Some(login_redirect(url, field, &next))
        }
        _ => None,
    };
    config.render(
        req,
        &Denial {
            reason,
            login_redirect,
            missing,
            user: auth.principal_if_loaded(),
        },
    )
}

/// The URL to come back to, as Django's `redirect_to_login` gets it: the
/// path and query as the request carried them (a bare trailing `?`
/// dropped); prefixed with the configured site origin when the login page
/// is on another site. Never built from forwarded headers.
fn next_url(req: &HttpRequest, login_url: &str, config: &Config) -> String {
    let uri = req.uri();
    let path = match uri.query() {
        Some(query) if !query.is_empty() => {
            uri.path_and_query().map_or(uri.path(), |pq| pq.as_str())
        }
        _ => uri.path(),
    };
    let Some(at) = login_url.find("://") else {
        return path.to_owned();
    };
    let login_origin = login_url[at + 3..]
        .find(['/', '?', '#'])
        .map_or(login_url, |end| &login_url[..at + 3 + end]);
    match config.site_origin.as_deref() {
        Some(origin) if origin.eq_ignore_ascii_case(login_origin) => path.to_owned(),
        Some(origin) => format!("{origin}{path}"),
        None => {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(target: "actix_permit", login_url, "the login URL is on another site but no Config::site_origin is set: its `next` is the path alone");
            });
            path.to_owned()
        }
    }
}
