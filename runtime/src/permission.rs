//! Permission names (`app_label.codename`) and the set of them a user holds.

use std::collections::HashSet;
use std::fmt;

/// Why a string is not a permission name of the form `app_label.codename`.
///
/// The `permission_required` macro applies the same rules at compile time;
/// this is the run-time check for names that come from data (a database, a
/// command line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPermission {
    /// The string is empty.
    #[error("expected \"app_label.codename\", found an empty string")]
    Empty,
    /// The string has no `.` between the app label and the codename.
    #[error("expected \"app_label.codename\", found {0:?} (no `.`)")]
    NoDot(String),
    /// The app label or the codename is empty.
    #[error("expected \"app_label.codename\", found {0:?} (empty app label or codename)")]
    EmptyPart(String),
    /// The string contains whitespace or a control character.
    #[error("expected \"app_label.codename\", found {0:?} (whitespace or control character)")]
    Whitespace(String),
}

/// Checks that `name` has the form `app_label.codename`: non-empty, with a
/// `.` that splits it into a non-empty app label and a non-empty codename,
/// and no whitespace or control characters anywhere.
///
/// Like Django, the codename is everything after the *first* dot.
///
/// ```
/// use actix_permit::permission::validate;
/// assert!(validate("inventory.change_item").is_ok());
/// assert!(validate("change_item").is_err());
/// ```
pub fn validate(name: &str) -> Result<(), InvalidPermission> {
    if name.is_empty() {
        return Err(InvalidPermission::Empty);
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(InvalidPermission::Whitespace(name.to_owned()));
    }
    match name.split_once('.') {
        None => Err(InvalidPermission::NoDot(name.to_owned())),
        Some(("", _)) | Some((_, "")) => Err(InvalidPermission::EmptyPart(name.to_owned())),
        Some(_) => Ok(()),
    }
}

/// The permissions a user holds (their own and their groups'), as
/// `app_label.codename` strings.
///
/// A superuser's "all permissions" is not stored here: the check answers
/// yes for an active superuser before it looks at the set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet {
    names: HashSet<Box<str>>,
}

impl PermissionSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set holds `perm`.
    pub fn contains(&self, perm: &str) -> bool {
        self.names.contains(perm)
    }

    /// Whether the set holds every one of `perms`.
    pub fn contains_all<'a>(&self, perms: impl IntoIterator<Item = &'a str>) -> bool {
        perms.into_iter().all(|p| self.contains(p))
    }

    /// Adds `perm`; returns whether it was new.
    pub fn insert(&mut self, perm: impl Into<Box<str>>) -> bool {
        self.names.insert(perm.into())
    }

    /// How many permissions the set holds.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The names, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|n| &**n)
    }
}

impl<S: Into<Box<str>>> FromIterator<S> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Self {
            names: iter.into_iter().map(Into::into).collect(),
        }
    }
}

impl<S: Into<Box<str>>> Extend<S> for PermissionSet {
    fn extend<I: IntoIterator<Item = S>>(&mut self, iter: I) {
        self.names.extend(iter.into_iter().map(Into::into));
    }
}

/// The objects a user may act on with one permission
/// ([`CurrentUser::objects_for`](crate::CurrentUser::objects_for)), for list
/// pages: every object (an active superuser, or the model permission), or
/// only those whose ids are listed (object permissions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Objects {
    /// Every object of the permission's model.
    All,
    /// Only these object ids, sorted (none for anonymous users).
    Only(Vec<String>),
}

impl Objects {
    /// Whether the object with this id is among them.
    pub fn contains(&self, id: &str) -> bool {
        match self {
            Objects::All => true,
            Objects::Only(ids) => ids.binary_search_by(|held| held.as_str().cmp(id)).is_ok(),
        }
    }
}

impl fmt::Display for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.iter().collect();
        names.sort_unstable();
        f.write_str(&names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_follows_the_macro_rules() {
        assert_eq!(validate("app.perm"), Ok(()));
        assert_eq!(validate("app.perm.extra"), Ok(()));
        assert_eq!(validate(""), Err(InvalidPermission::Empty));
        assert!(matches!(validate("perm"), Err(InvalidPermission::NoDot(_))));
        assert!(matches!(
            validate("app."),
            Err(InvalidPermission::EmptyPart(_))
        ));
        assert!(matches!(
            validate(".perm"),
            Err(InvalidPermission::EmptyPart(_))
        ));
        assert!(matches!(
            validate("app .perm"),
            Err(InvalidPermission::Whitespace(_))
        ));
        assert!(matches!(
            validate("app.pe\u{7}rm"),
            Err(InvalidPermission::Whitespace(_))
        ));
    }

    #[test]
    fn set_membership() {
        let set: PermissionSet = ["a.x", "b.y"].into_iter().collect();
        assert!(set.contains("a.x"));
        assert!(!set.contains("a.y"));
        assert!(set.contains_all(["a.x", "b.y"]));
        assert!(!set.contains_all(["a.x", "c.z"]));
        assert_eq!(set.to_string(), "a.x, b.y");
    }
}
