//! Who may reach what: users × routes, computed from the registry and the
//! backend ([`matrix`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::access::Require;
use crate::backend::{Authorization, BackendError, Introspection, PermissionSource};
use crate::registry::{Access, handlers};
use crate::rules::{self, Standing};
use crate::user::AuthUser;

/// One route of the matrix: a method and path of a registered handler.
#[derive(Debug, Clone)]
pub struct Column {
    /// `"GET"`, `"POST"`, ...
    pub method: &'static str,
    /// The path pattern, without scope prefix.
    pub path: &'static str,
    /// `module::name` of the handler.
    pub handler: String,
    /// What it requires, as [`Access`]'s `Display` says it.
    pub requires: String,
    access: &'static Access,
}

/// Whether a user may reach a route, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Reached; the reasons, one per check: `"public"`, `"signed in"`,
    /// `"superuser"`, `"direct"`, `"group viewers"`, `"held"` (a backend
    /// that cannot tell where a permission comes from).
    Allowed(Vec<String>),
    /// Refused; what is missing: `"inactive"`, or each permission (an
    /// `any(..)` as `"a.x or b.y"`).
    Denied(Vec<String>),
    /// Up to a `user_passes_test` predicate (named), which sees the request.
    Depends(&'static str),
    /// Reached on the objects the user holds these permissions on
    /// (`object = "id"`), not on others: the model permissions are missing.
    OnObjects(Vec<String>),
}

impl Cell {
    /// Whether the user may reach the route (`None`: up to a predicate).
    pub fn allowed(&self) -> Option<bool> {
        match self {
            Self::Allowed(_) => Some(true),
            Self::Denied(_) => Some(false),
            Self::Depends(_) | Self::OnObjects(_) => None,
        }
    }

    /// `✔`, `✘`, `?` or `◐` (on some objects).
    pub fn symbol(&self) -> &'static str {
        match self {
            Self::Allowed(_) => "✔",
            Self::Denied(_) => "✘",
            Self::Depends(_) => "?",
            Self::OnObjects(_) => "◐",
        }
    }

    /// The reasons, or what is missing, or the predicate, in words.
    pub fn detail(&self) -> String {
        match self {
            Self::Allowed(why) => why.join(", "),
            Self::Denied(missing) => missing.join(", "),
            Self::Depends(predicate) => format!("test: {predicate}"),
            Self::OnObjects(perms) => format!("on objects with {}", perms.join(", ")),
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.symbol(), self.detail())
    }
}

/// One user's row.
#[derive(Debug, Clone)]
pub struct MatrixRow {
    /// The label the caller gave the user (a username, say).
    pub user: String,
    /// One cell per [`Matrix::columns`] entry, in the same order.
    pub cells: Vec<Cell>,
}

/// Users × routes ([`matrix`]).
#[derive(Debug, Clone)]
pub struct Matrix {
    /// Every route of every registered handler whose attribute could see
    /// its routing attribute, sorted by path then method.
    pub columns: Vec<Column>,
    /// One row per user, in the order given.
    pub rows: Vec<MatrixRow>,
}

/// Every route the registry knows, as columns.
fn columns() -> Vec<Column> {
    let mut columns: Vec<Column> = handlers()
        .into_iter()
        .flat_map(|handler| {
            handler.routes.iter().flat_map(move |route| {
                route.methods.iter().map(move |method| Column {
                    method,
                    path: route.path,
                    handler: handler.path(),
                    requires: handler.access.to_string(),
                    access: &handler.access,
                })
            })
        })
        .collect();
    columns.sort_by(|a, b| (a.path, a.method).cmp(&(b.path, b.method)));
    columns
}

/// Who may reach which route: for each of `users` (a label and the user),
/// each route of every registered handler, with why, as a request by that
/// user would be decided — Django's rules (an inactive user is refused
/// everything but public routes; an active superuser holds every
/// permission), permissions from [`Authorization::user_permissions`](crate::backend::Authorization::user_permissions) and their
/// sources from [`Introspection::permission_sources`](crate::backend::Introspection::permission_sources). Routes of handlers
/// registered below their routing attribute or routed by hand have no
/// known path and are left out (see [`handlers`](crate::audit::handlers)).
///
/// ```
/// # async fn show(backend: actix_permit::backend::MemoryBackend) -> Result<(), actix_permit::backend::BackendError> {
/// use std::sync::Arc;
/// use actix_permit::{AuthUser, audit};
///
/// let users = ["alice", "bob"].into_iter().filter_map(|name| {
///     let user: Arc<dyn AuthUser> = backend.user(name)?;
///     Some((name.to_owned(), user))
/// });
/// let matrix = audit::matrix(&backend, users).await?;
/// println!("{matrix}");
/// # Ok(()) }
/// ```
pub async fn matrix(
    backend: &(impl Authorization + Introspection),
    users: impl IntoIterator<Item = (String, Arc<dyn AuthUser>)>,
) -> Result<Matrix, BackendError> {
    let columns = columns();
    let mut rows = Vec::new();
    for (label, user) in users {
        let held = backend.user_permissions(&*user).await?;
        let sources = backend.permission_sources(&*user).await?;
        let mut why: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for PermissionSource { permission, group } in sources.iter().flatten() {
            why.entry(permission.as_str())
                .or_default()
                .push(match group {
                    Some(group) => format!("group {group}"),
                    None => "direct".to_owned(),
                });
        }
        let reason = |perm: &str| -> String {
            match why.get(perm) {
                Some(sources) => sources.join(" and "),
                None => "held".to_owned(),
            }
        };
        let cells = columns
            .iter()
            .map(|column| cell(column.access, &*user, &|perm| held.contains(perm), &reason))
            .collect();
        rows.push(MatrixRow { user: label, cells });
    }
    Ok(Matrix { columns, rows })
}

fn cell(
    access: &Access,
    user: &dyn AuthUser,
    holds: &dyn Fn(&str) -> bool,
    reason: &dyn Fn(&str) -> String,
) -> Cell {
    let rules = match access {
        Access::Public => return Cell::Allowed(vec!["public".to_owned()]),
        Access::Checks(rules) => *rules,
    };
    let standing = rules::standing(Some(user));
    if standing == Standing::Anonymous {
        return Cell::Denied(vec!["inactive".to_owned()]);
    }
    let mut why = Vec::new();
    let mut missing = Vec::new();
    let mut per_object = Vec::new();
    let mut depends = None;
    for rule in rules {
        match rule.require {
            Require::Login => why.push("signed in".to_owned()),
            Require::Perms(_) if standing == Standing::Superuser => {
                why.push("superuser".to_owned());
            }
            Require::Perms(groups) => {
                for &any in groups {
                    match any.iter().find(|perm| holds(perm)) {
                        Some(perm) if any.len() == 1 => why.push(reason(perm)),
                        Some(perm) => why.push(format!("{perm}: {}", reason(perm))),
                        // Held on an object, it may still pass there.
                        None if rule.object.is_some() => per_object.push(any.join(" or ")),
                        None => missing.push(any.join(" or ")),
                    }
                }
            }
            Require::Test(predicate) => depends = depends.or(Some(predicate)),
            // The matrix asks what a signed-in user may do; a stale proof
            // only asks for the password again.
            Require::RecentLogin(secs) => why.push(format!(
                "password proved within {}",
                crate::registry::MaxAge(secs)
            )),
        }
    }
    if !missing.is_empty() {
        return Cell::Denied(missing);
    }
    if let Some(predicate) = depends {
        return Cell::Depends(predicate);
    }
    if !per_object.is_empty() {
        return Cell::OnObjects(per_object);
    }
    why.dedup();
    Cell::Allowed(why)
}

impl fmt::Display for Matrix {
    /// A grid, users down and routes across (numbered, with a legend
    /// below); with `{:#}`, one block per user with each route's cell and
    /// why.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !f.alternate() {
            return self.grid(f);
        }
        let width = self
            .columns
            .iter()
            .map(|c| c.method.len() + 1 + c.path.len())
            .max()
            .unwrap_or(0);
        for (index, row) in self.rows.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{}", row.user)?;
            for (column, cell) in self.columns.iter().zip(&row.cells) {
                let route = format!("{} {}", column.method, column.path);
                writeln!(f, "  {route:<width$}  {cell}")?;
            }
        }
        Ok(())
    }
}

impl Matrix {
    fn grid(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name_width = self
            .rows
            .iter()
            .map(|r| r.user.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        write!(f, "{:<name_width$}", "user")?;
        for index in 1..=self.columns.len() {
            write!(f, " {index:>2}")?;
        }
        writeln!(f)?;
        for row in &self.rows {
            write!(f, "{:<name_width$}", row.user)?;
            for cell in &row.cells {
                write!(f, "  {}", cell.symbol())?;
            }
            writeln!(f)?;
        }
        writeln!(f)?;
        for (index, column) in self.columns.iter().enumerate() {
            writeln!(
                f,
                "{:>3}  {} {}  ({})",
                index + 1,
                column.method,
                column.path,
                column.requires
            )?;
        }
        Ok(())
    }
}
