//! Django's rules, written once: who counts as signed in, who holds what.
//! Pure functions over a user and what the backend answered; the check
//! (`access`), [`CurrentUser`](crate::CurrentUser) and the audit's matrix
//! all decide here, so they cannot drift apart. (OpenAPI only describes
//! the requirements; it decides nothing.)

use std::time::{Duration, SystemTime};

use crate::permission::PermissionSet;
use crate::user::AuthUser;

/// What a user counts as for a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Nobody, or an inactive user: holds nothing (`ModelBackend` gives an
    /// inactive user no permissions, and the session treats them as
    /// anonymous).
    Anonymous,
    /// An active superuser: holds every permission, on every object.
    Superuser,
    /// An active user whose own and groups' permissions decide.
    Member,
}

/// The standing of `user`.
pub(crate) fn standing(user: Option<&dyn AuthUser>) -> Standing {
    match user {
        Some(user) if !user.is_active() => Standing::Anonymous,
        Some(user) if user.is_superuser() => Standing::Superuser,
        Some(_) => Standing::Member,
        None => Standing::Anonymous,
    }
}

/// The first requirement left unmet: `groups` is a list of "any of"
/// lists, each met when `holds` one of its permissions (`"a.x", "b.y"` is
/// `[["a.x"], ["b.y"]]`, `any("a.x", "b.y")` is `[["a.x", "b.y"]]`).
/// `None`: every one is met.
pub(crate) fn first_unmet<'g>(
    groups: &[&'g [&'g str]],
    holds: impl Fn(&str) -> bool,
) -> Option<&'g [&'g str]> {
    groups
        .iter()
        .copied()
        .find(|any| !any.iter().any(|perm| holds(perm)))
}

/// Django's `user.has_perms(perms)`: no for anonymous, yes for an active
/// superuser, otherwise `held` (own and groups') must hold every one.
pub(crate) fn has_all(standing: Standing, held: &PermissionSet, perms: &[&str]) -> bool {
    match standing {
        Standing::Anonymous => false,
        Standing::Superuser => true,
        Standing::Member => held.contains_all(perms.iter().copied()),
    }
}

/// At least one of `perms` (no for anonymous, yes for a superuser).
pub(crate) fn has_any(standing: Standing, held: &PermissionSet, perms: &[&str]) -> bool {
    match standing {
        Standing::Anonymous => false,
        Standing::Superuser => true,
        Standing::Member => perms.iter().any(|perm| held.contains(perm)),
    }
}

/// Whether `perm` holds on every object: a superuser, or a holder of the
/// model permission (django-guardian asks the object only when the model
/// permission is missing).
pub(crate) fn on_every_object(standing: Standing, held: &PermissionSet, perm: &str) -> bool {
    has_all(standing, held, &[perm])
}

/// Whether a password proved at `proved_at` is recent at `now`: no older
/// than `max_age`. Unknown, or later than `now` (a clock that went back),
/// is not recent.
pub(crate) fn proved_within(
    proved_at: Option<SystemTime>,
    now: SystemTime,
    max_age: Duration,
) -> bool {
    proved_at
        .and_then(|at| now.duration_since(at).ok())
        .is_some_and(|age| age <= max_age)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct User {
        active: bool,
        superuser: bool,
    }

    impl AuthUser for User {
        fn id(&self) -> &str {
            "1"
        }
        fn is_active(&self) -> bool {
            self.active
        }
        fn is_superuser(&self) -> bool {
            self.superuser
        }
        fn session_auth_hash(&self) -> &str {
            ""
        }
    }

    /// Every combination of the flags, against Django's `has_perm`.
    #[test]
    fn standing_follows_djangos_flags() {
        let held: PermissionSet = ["a.x"].into_iter().collect();
        for active in [false, true] {
            for superuser in [false, true] {
                let user = User { active, superuser };
                let standing = standing(Some(&user));
                let django = active && (superuser || held.contains("a.y"));
                assert_eq!(has_all(standing, &held, &["a.y"]), django, "{user:?}");
                assert_eq!(
                    has_any(standing, &held, &["a.x", "a.y"]),
                    active,
                    "{user:?}"
                );
            }
        }
        assert_eq!(standing(None), Standing::Anonymous);
        assert_eq!(
            first_unmet(&[&["a.x"], &["a.y", "a.x"], &["a.z"]], |p| held.contains(p)),
            Some(&["a.z"][..])
        );
        assert_eq!(first_unmet(&[&["a.y", "a.x"]], |p| held.contains(p)), None);
    }

    /// Over generated proof times and ages: recent exactly when the proof
    /// is known, not in the future, and no older than `max_age`.
    #[test]
    fn a_proof_is_recent_up_to_max_age() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let max_age = Duration::from_millis(seed % 10_000);
            let offset = i64::try_from(seed % 30_000).unwrap_or(0) - 10_000;
            let at = if offset >= 0 {
                now - Duration::from_millis(offset.unsigned_abs())
            } else {
                now + Duration::from_millis(offset.unsigned_abs())
            };
            let expected = offset >= 0 && offset.unsigned_abs() <= max_age.as_millis() as u64;
            assert_eq!(
                proved_within(Some(at), now, max_age),
                expected,
                "{offset} {max_age:?}"
            );
            assert!(!proved_within(None, now, max_age));
        }
    }
}
