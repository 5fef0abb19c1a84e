//! What the app protects: every handler carrying one of the attributes is
//! registered when the program starts, so the app can list them
//! ([`handlers`]), check at start that the permissions they name exist
//! ([`check_permissions`]), and tell who may reach what ([`matrix`]).
//!
//! Registration goes through the [`inventory`](https://docs.rs/inventory)
//! crate: the attribute submits the handler's description, which a
//! constructor adds to the list before `main`, so nothing is listed by hand
//! and a handler cannot be forgotten. On a target where those constructors
//! do not run the crate does not compile (a `compile_error!` names the
//! target), and should one slip through, [`handlers`] panics at start
//! rather than answer an empty list.
//!
//! As with any link-time registration, handlers of a library crate are
//! listed when the program links that library's code, which it does as soon
//! as it uses something from it (a library nothing uses is not linked, and
//! its handlers cannot serve a request either).

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use crate::backend::{BackendError, Introspection};

mod matrix;

pub use crate::access::{Require, Rule};
pub use crate::backend::PermissionSource;
pub use crate::deny::{Reachable, reachable, route_collisions};
pub use crate::registry::{Access, Entry, Handler, Route, handlers};
pub use matrix::{Cell, Column, Matrix, MatrixRow, matrix};

/// A permission that some handler names and the backend does not define:
/// that route would answer 403 to everyone but superusers, forever.
#[derive(Debug, Clone)]
pub struct MissingPermission {
    /// The permission, as the handler names it.
    pub permission: &'static str,
    /// The handlers that name it.
    pub handlers: Vec<&'static Handler>,
}

impl fmt::Display for MissingPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "permission {:?} is not defined in the backend; named by ",
            self.permission
        )?;
        for (i, handler) in self.handlers.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", handler.path())?;
        }
        Ok(())
    }
}

/// What [`check_permissions`] does when a permission is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMissing {
    /// Log each one (`warn`, target `actix_permit`) and go on.
    Warn,
    /// Return [`CheckError::Missing`]: the app should refuse to start.
    Refuse,
}

/// Why [`check_permissions`] failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Handlers name permissions the backend does not define.
    #[error("{} permission(s) named by handlers are not defined: {}", .0.len(), Listed(.0))]
    Missing(Vec<MissingPermission>),
    /// The backend could not list its permissions.
    #[error("cannot check the permissions handlers name: {0}")]
    Backend(#[from] BackendError),
}

struct Listed<'a>(&'a [MissingPermission]);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, missing) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { "" } else { "; " })?;
            write!(f, "{missing}")?;
        }
        Ok(())
    }
}

/// Django's system check for permissions: every permission a registered
/// handler names must be defined by the backend
/// ([`Introspection::defined_permissions`]). Returns the missing ones (empty when
/// all exist, or when the backend does not define permissions).
///
/// ```no_run
/// # async fn start(backend: actix_permit::backend::MemoryBackend) -> Result<(), Box<dyn std::error::Error>> {
/// use actix_permit::audit::{OnMissing, check_permissions};
///
/// check_permissions(&backend, OnMissing::Refuse).await?; // before HttpServer::new
/// # Ok(()) }
/// ```
pub async fn check_permissions(
    backend: &impl Introspection,
    on_missing: OnMissing,
) -> Result<Vec<MissingPermission>, CheckError> {
    let Some(defined) = backend.defined_permissions().await? else {
        return Ok(Vec::new());
    };
    let missing = missing_from(&handlers(), &defined.into_iter().collect());
    for each in &missing {
        tracing::warn!(target: "actix_permit", permission = each.permission, "{each}");
    }
    match on_missing {
        OnMissing::Refuse if !missing.is_empty() => Err(CheckError::Missing(missing)),
        _ => Ok(missing),
    }
}

fn missing_from(
    handlers: &[&'static Handler],
    defined: &HashSet<String>,
) -> Vec<MissingPermission> {
    let mut missing: BTreeMap<&'static str, Vec<&'static Handler>> = BTreeMap::new();
    for handler in handlers {
        for perm in handler.permissions() {
            if !defined.contains(perm) {
                missing.entry(perm).or_default().push(handler);
            }
        }
    }
    missing
        .into_iter()
        .map(|(permission, handlers)| MissingPermission {
            permission,
            handlers,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    static EDIT: Handler = Handler {
        name: "edit",
        module: "app::items",
        resource: "edit",
        routes: &[Route {
            methods: &["GET", "POST"],
            path: "/items/{id}",
            guarded: false,
            name: "edit",
            id: "edit",
        }],
        access: Access::Checks(&[
            Rule {
                require: Require::Login,
                login_url: None,
                redirect_field: None,
                handler: "edit",
                object: None,
            },
            Rule {
                require: Require::Perms(&[&["app.change"], &["app.a", "app.b"]]),
                login_url: None,
                redirect_field: None,
                handler: "edit",
                object: Some("id"),
            },
            Rule {
                require: Require::Test("crate::is_staff"),
                login_url: None,
                redirect_field: None,
                handler: "edit",
                object: None,
            },
        ]),
        entry: None,
    };

    static HOME: Handler = Handler {
        name: "home",
        module: "app",
        resource: "home",
        routes: &[],
        access: Access::Public,
        entry: None,
    };

    #[test]
    fn audit_columns() {
        assert_eq!(EDIT.path(), "app::items::edit");
        assert_eq!(EDIT.routes[0].to_string(), "GET|POST /items/{id}");
        assert_eq!(
            EDIT.access.to_string(),
            "login; perms: app.change and (app.a or app.b) (or on {id}); test: crate::is_staff"
        );
        assert_eq!(EDIT.permissions(), ["app.change", "app.a", "app.b"]);
        assert_eq!(HOME.access.to_string(), "public");
        assert!(!HOME.is_anonymous_reachable(), "route unknown: fail closed");
        let any = Require::Perms(&[&["a.x", "a.y"]]);
        assert_eq!(any.to_string(), "perms: a.x or a.y");
    }

    #[test]
    fn missing_permissions_name_their_handlers() {
        let defined: HashSet<String> = ["app.change".to_owned(), "app.a".to_owned()].into();
        let missing = missing_from(&[&EDIT, &HOME], &defined);
        assert_eq!(missing.len(), 1);
        assert_eq!(
            missing[0].to_string(),
            "permission \"app.b\" is not defined in the backend; named by app::items::edit"
        );
    }
}
