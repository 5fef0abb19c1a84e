//! OpenAPI security requirements from the attributes (feature `utoipa`).
//!
//! [`secure`] walks a [`utoipa`] document and, for every operation whose
//! method and path match a registered handler, writes down what the
//! handler's attributes require: the session-cookie security scheme,
//! `x-login-required`, `x-permissions` (all of these lists, at least one of
//! each; a list with `"object": "id"` is also met by holding one of its
//! permissions on the object that path segment names), `x-predicate`, and the responses a check can produce (302 to the
//! login page or 403, and 503 when the user store is down). Operations the
//! registry does not know are left as they are and reported, and so are
//! registered routes the document leaves out.
//!
//! ```
//! use actix_permit::openapi::{Anonymous, SecureOptions, secure};
//! use utoipa::openapi::OpenApi;
//!
//! let mut api: OpenApi = serde_json::from_str(
//!     r#"{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}"#,
//! )?;
//! let options = SecureOptions::new("session").anonymous(Anonymous::Status(403));
//! let report = secure(&mut api, &options);
//! assert!(report.secured.is_empty());
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::collections::BTreeMap;

use serde_json::{Value, json};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Components, OpenApi, RefOr, Response};

use crate::access::Require;
use crate::registry::{Access, Handler, handlers};

/// What an anonymous request to a protected operation gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anonymous {
    /// A redirect to this login URL (with `next`): the app's `login_url`.
    Redirect(String),
    /// This status (401 or 403): an app without a login URL, or an API
    /// whose denial rendering answers a status.
    Status(u16),
}

/// How [`secure`] describes the app.
#[derive(Debug, Clone)]
pub struct SecureOptions {
    cookie: String,
    scheme: String,
    bearer: Option<String>,
    anonymous: Anonymous,
    documented: String,
}

impl SecureOptions {
    /// The session cookie's name (the security scheme is an API key in
    /// that cookie, named `session` in the document); anonymous requests
    /// get 403 by default, as the middleware answers without a login URL.
    pub fn new(cookie: impl Into<String>) -> Self {
        Self {
            cookie: cookie.into(),
            scheme: "session".to_owned(),
            bearer: None,
            anonymous: Anonymous::Status(403),
            documented: "/".to_owned(),
        }
    }

    /// What an anonymous request gets, as the app renders denials.
    #[must_use]
    pub fn anonymous(mut self, anonymous: Anonymous) -> Self {
        self.anonymous = anonymous;
        self
    }

    /// The name of the security scheme in `components.securitySchemes`.
    #[must_use]
    pub fn scheme_name(mut self, name: impl Into<String>) -> Self {
        self.scheme = name.into();
        self
    }

    /// API tokens are accepted too ([`BearerTokens`](crate::token::BearerTokens)):
    /// adds an HTTP bearer security scheme named `name`, offered beside
    /// the session on each protected operation with the scopes a token
    /// needs there (one requirement per way to meet an `any(...)`), and a
    /// 401 for a refused token. Operations with `recent_login_required`
    /// do not offer it: a token never proved a password.
    #[must_use]
    pub fn bearer(mut self, name: impl Into<String>) -> Self {
        self.bearer = Some(name.into());
        self
    }

    /// Only registered routes under this path prefix are expected in the
    /// document (`"/api/"`); others are not reported as undocumented.
    #[must_use]
    pub fn documented_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.documented = prefix.into();
        self
    }
}

/// What [`secure`] did and found; each entry is `"METHOD /path"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecureReport {
    /// Operations matched to a registered handler and described.
    pub secured: Vec<String>,
    /// Operations the registry does not know: left untouched.
    pub unknown: Vec<String>,
    /// Registered routes (under the documented prefix) the document lacks.
    pub undocumented: Vec<String>,
}

/// `/items/{id:\d+}` and `/items/{item}` both as `/items/{}`.
fn shape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0usize;
    for c in path.chars() {
        match c {
            '{' => {
                if depth == 0 {
                    out.push_str("{}");
                }
                depth += 1;
            }
            '}' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The operations of a path item, by upper-case method.
fn operations(item: &mut utoipa::openapi::PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("GET", item.get.as_mut()),
        ("PUT", item.put.as_mut()),
        ("POST", item.post.as_mut()),
        ("DELETE", item.delete.as_mut()),
        ("OPTIONS", item.options.as_mut()),
        ("HEAD", item.head.as_mut()),
        ("PATCH", item.patch.as_mut()),
        ("TRACE", item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.map(|op| (method, op)))
    .collect()
}

/// Describes every documented operation whose method and path a registered
/// handler serves (paths as the routing attribute wrote them: a handler in
/// a scope is registered without the scope's prefix). Adds the security
/// scheme to the components. Warns (`tracing`) about unknown operations
/// and undocumented routes, and returns them.
pub fn secure(api: &mut OpenApi, options: &SecureOptions) -> SecureReport {
    let mut routes: BTreeMap<(String, &'static str), &'static Handler> = BTreeMap::new();
    for handler in handlers() {
        for route in handler.routes {
            for method in route.methods {
                routes.insert((shape(route.path), method), handler);
            }
        }
    }
    let mut report = SecureReport::default();
    let mut seen = Vec::new();
    for (path, item) in api.paths.paths.iter_mut() {
        for (method, op) in operations(item) {
            let key = (shape(path), method);
            let label = format!("{method} {path}");
            match routes.get(&key) {
                Some(handler) => {
                    describe(op, &handler.access, options);
                    seen.push(key);
                    report.secured.push(label);
                }
                None => report.unknown.push(label),
            }
        }
    }
    for ((path, method), handler) in &routes {
        let documented = handler
            .routes
            .iter()
            .any(|route| shape(route.path) == *path && route.path.starts_with(&options.documented));
        if documented && !seen.contains(&(path.clone(), *method)) {
            let route = handler
                .routes
                .iter()
                .find(|route| shape(route.path) == *path)
                .map_or(path.as_str(), |route| route.path);
            report.undocumented.push(format!("{method} {route}"));
        }
    }
    api.components
        .get_or_insert_with(Components::new)
        .add_security_scheme(
            options.scheme.clone(),
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                options.cookie.clone(),
                "The session cookie set by signing in".to_owned(),
            ))),
        );
    if let Some(bearer) = &options.bearer {
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(
            "An API token (`permit_…`): what it may do is its scopes, the permissions \
             listed here, as far as its user holds them"
                .to_owned(),
        );
        api.components
            .get_or_insert_with(Components::new)
            .add_security_scheme(bearer.clone(), SecurityScheme::Http(http));
    }
    for label in &report.unknown {
        tracing::warn!(target: "actix_permit", operation = %label, "documented, but no handler with an access attribute serves it; left untouched");
    }
    for label in &report.undocumented {
        tracing::warn!(target: "actix_permit", route = %label, "routed with an access attribute, but not in the OpenAPI document");
    }
    report
}

/// Writes one handler's requirement into its operation.
fn describe(op: &mut Operation, access: &Access, options: &SecureOptions) {
    let rules = match access {
        Access::Public => {
            op.security = Some(Vec::new());
            let ext = ExtensionsBuilder::new()
                .add("x-login-required", false)
                .build();
            op.extensions
                .get_or_insert_with(Default::default)
                .merge(ext);
            return;
        }
        Access::Checks(rules) => *rules,
    };
    let mut all = Vec::new();
    let mut predicates = Vec::new();
    let mut recent: Option<u64> = None;
    for rule in rules {
        match rule.require {
            Require::Login => {}
            Require::RecentLogin(secs) => recent = Some(recent.map_or(secs, |r| r.min(secs))),
            Require::Perms(groups) => {
                all.extend(groups.iter().map(|any| match rule.object {
                    // Held on every object, or on the one this segment names.
                    Some(segment) => json!({ "any": any, "object": segment }),
                    None => json!({ "any": any }),
                }));
            }
            Require::Test(predicate) => predicates.push(predicate),
        }
    }
    let mut security = vec![SecurityRequirement::new::<_, [&str; 0], &str>(
        options.scheme.clone(),
        [],
    )];
    let bearer = options.bearer.as_ref().filter(|_| recent.is_none());
    if let Some(bearer) = bearer {
        for scopes in scope_choices(rules) {
            security.push(SecurityRequirement::new(bearer.clone(), scopes));
        }
    }
    op.security = Some(security);
    let mut ext = ExtensionsBuilder::new().add("x-login-required", true);
    if !all.is_empty() {
        ext = ext.add("x-permissions", json!({ "all": all }));
    }
    if let Some(secs) = recent {
        // The strictest `max_age`, in seconds.
        ext = ext.add("x-recent-login", json!({ "max_age": secs }));
    }
    match predicates.as_slice() {
        [] => {}
        [one] => ext = ext.add("x-predicate", *one),
        many => ext = ext.add("x-predicate", Value::from(many.to_vec())),
    }
    op.extensions
        .get_or_insert_with(Default::default)
        .merge(ext.build());
    let denied = if all.is_empty() && predicates.is_empty() {
        "Signed in, but the account cannot be used"
    } else {
        "Not allowed: the user lacks a required permission or fails the test"
    };
    // A status the document gives is kept as written; one added here
    // twice (403 for anonymous clients and for a denial) says both.
    let mut added: Vec<String> = Vec::new();
    let mut add = |status: String, description: String| {
        let ours = added.contains(&status);
        match op.responses.responses.entry(status.clone()) {
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(RefOr::T(Response::new(description)));
                added.push(status);
            }
            std::collections::btree_map::Entry::Occupied(mut entry) => {
                if let (true, RefOr::T(response)) = (ours, entry.get_mut()) {
                    response.description = format!("{}. {description}", response.description);
                }
            }
        }
    };
    // A macro's own `login_url` wins over the app's rendering.
    let anonymous = rules.iter().find_map(|rule| rule.login_url).map_or_else(
        || options.anonymous.clone(),
        |url| Anonymous::Redirect(url.to_owned()),
    );
    match &anonymous {
        Anonymous::Redirect(url) => add(
            "302".to_owned(),
            format!("Not signed in: redirected to {url} with the URL asked for in `next`"),
        ),
        Anonymous::Status(status) => add(status.to_string(), "Not signed in".to_owned()),
    }
    if let Some(secs) = recent {
        let stale = format!(
            "the password was last entered over {} ago: enter it again (`reauthentication_required`)",
            crate::registry::MaxAge(secs)
        );
        let description = if all.is_empty() && predicates.is_empty() {
            format!("Signed in, but {stale}")
        } else {
            format!("{denied}; or {stale}")
        };
        add("403".to_owned(), description);
    }
    if !all.is_empty() || !predicates.is_empty() {
        add("403".to_owned(), denied.to_owned());
    }
    if bearer.is_some() {
        add(
            "401".to_owned(),
            "The bearer token is malformed, unknown, revoked or expired, or its user cannot \
             sign in (`WWW-Authenticate: Bearer error=\"invalid_token\"`)"
                .to_owned(),
        );
    }
    add(
        "503".to_owned(),
        "The user store is unavailable; nothing was done".to_owned(),
    );
}

/// The ways a token's scopes can meet `rules`: one scope from each
/// `any(...)` list, as sorted sets without repeats; past 16 ways, the
/// first 16 (`x-permissions` says the rest).
fn scope_choices(rules: &[crate::access::Rule]) -> Vec<Vec<&'static str>> {
    let mut choices: Vec<Vec<&'static str>> = vec![Vec::new()];
    for rule in rules {
        let Require::Perms(groups) = rule.require else {
            continue;
        };
        for any in groups {
            let mut next = Vec::new();
            for choice in &choices {
                for perm in *any {
                    let mut with = choice.clone();
                    if !with.contains(perm) {
                        with.push(perm);
                        with.sort_unstable();
                    }
                    if !next.contains(&with) && next.len() < 16 {
                        next.push(with);
                    }
                }
            }
            choices = next;
        }
    }
    choices
}

#[cfg(test)]
mod tests {
    use super::shape;

    #[test]
    fn paths_compare_by_shape() {
        assert_eq!(shape("/items/{id}/edit"), "/items/{}/edit");
        assert_eq!(shape("/items/{id:\\d{1,3}}"), "/items/{}");
        assert_eq!(shape("/a"), "/a");
    }
}
