//! The user model the app implements ([`AuthUser`]). The request's user, as
//! a handler extracts it, is [`CurrentUser`](crate::CurrentUser).

use std::any::Any;
use std::fmt;

/// A user as the access checks see it. Implement it for your app's user type.
///
/// Like Django's `AbstractBaseUser` + `PermissionsMixin`: an id that is
/// stored in the session, whether the account is active, whether it is a
/// superuser (holds every permission), and a session auth hash.
pub trait AuthUser: Any + Send + Sync + fmt::Debug {
    /// The id stored in the session and handed to [`Authentication::get_user`](crate::backend::Authentication::get_user).
    fn id(&self) -> &str;

    /// An inactive user cannot log in, holds no permissions and is treated
    /// as anonymous by the checks.
    fn is_active(&self) -> bool {
        true
    }

    /// An active superuser holds every permission.
    fn is_superuser(&self) -> bool {
        false
    }

    /// A value derived from the password hash (see
    /// [`session_auth_hash`](crate::password::session_auth_hash)). It is
    /// stored in the session at login and compared on each request: when the
    /// password changes, the user's other sessions end. Return `""` to opt
    /// out (the session then outlives password changes).
    fn session_auth_hash(&self) -> &str;

    /// Whether `stored`, the hash a login put in a session, still binds it
    /// to this user: by default, equal to [`session_auth_hash`](Self::session_auth_hash)
    /// (compared in constant time). A user type whose site rotates secrets
    /// (Django's `SECRET_KEY_FALLBACKS`) also accepts a hash made with a
    /// previous secret.
    fn session_hash_matches(&self, stored: &str) -> bool {
        crate::password::constant_time_eq(stored, self.session_auth_hash())
    }
}
