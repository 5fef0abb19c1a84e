//! Where users and permissions come from: the [`Backend`] trait and its errors.

use std::fmt;
use std::sync::Arc;

pub use crate::error::{BackendError, BoxFuture};
use crate::permission::PermissionSet;
use crate::user::AuthUser;

#[cfg(feature = "cache")]
mod cache;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod exact;
mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod watch;

#[cfg(feature = "cache")]
pub use cache::CachedBackend;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use exact::{CacheState, CacheStats};
pub use memory::{MemoryBackend, MemoryUser};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::{ObjectGrants, SqlBackend, SqlOptions, SqlUser};

/// A user as the built-in backends store it: id, username, Argon2 password
/// hash, active and superuser flags. [`MemoryUser`] and `SqlUser` are this
/// type; downcast a [`CurrentUser`](crate::CurrentUser) to it. Its `Debug`
/// leaves the password and session hashes out.
#[derive(Clone)]
pub struct StoredUser {
    id: String,
    username: String,
    pub(crate) password_hash: String,
    session_hash: String,
    pub(crate) active: bool,
    pub(crate) superuser: bool,
}

impl StoredUser {
    pub(crate) fn new(
        id: String,
        username: String,
        password_hash: String,
        active: bool,
        superuser: bool,
    ) -> Self {
        Self {
            id,
            username,
            session_hash: crate::password::session_auth_hash(&password_hash),
            password_hash,
            active,
            superuser,
        }
    }

    pub(crate) fn set_password_hash(&mut self, hash: String) {
        self.session_hash = crate::password::session_auth_hash(&hash);
        self.password_hash = hash;
    }

    /// The login name.
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for StoredUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("active", &self.active)
            .field("superuser", &self.superuser)
            .finish_non_exhaustive()
    }
}

impl AuthUser for StoredUser {
    fn id(&self) -> &str {
        &self.id
    }
    fn is_active(&self) -> bool {
        self.active
    }
    fn is_superuser(&self) -> bool {
        self.superuser
    }
    fn session_auth_hash(&self) -> &str {
        &self.session_hash
    }
}

/// A change to the users, groups or permissions of a backend
/// ([`MemoryBackend`], `SqlBackend`) that could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// No user has this username.
    #[error("no user named {0:?}")]
    UnknownUser(String),
    /// No group has this name.
    #[error("no group named {0:?}")]
    UnknownGroup(String),
    /// The permission is not defined (SQL backend: create it first).
    #[error("no permission {0:?} is defined")]
    UnknownPermission(String),
    /// The username is taken.
    #[error("a user named {0:?} exists already")]
    DuplicateUser(String),
    /// A permission name is not `app_label.codename`.
    #[error(transparent)]
    InvalidPermission(#[from] crate::permission::InvalidPermission),
    /// The password could not be hashed.
    #[error(transparent)]
    Password(#[from] crate::password::PasswordError),
    /// The database failed.
    #[error(transparent)]
    Database(BackendError),
}

/// What [`Backend::get_user`] and [`Backend::authenticate`] answer: the user,
/// `None` when there is no such (active) user, or an error.
pub type UserResult = Result<Option<Arc<dyn AuthUser>>, BackendError>;

/// A store of users, groups and permissions, as Django's authentication
/// backends. Dyn-compatible: the middleware holds an `Arc<dyn Backend>`.
///
/// The effective-permission rules (inactive users hold nothing, an active
/// superuser holds everything) are applied by the caller, so an
/// implementation only answers what is stored.
pub trait Backend: Send + Sync + 'static {
    /// Loads the user whose [`AuthUser::id`] is `id`; `Ok(None)` when there
    /// is none (a deleted user's session then becomes anonymous).
    fn get_user<'a>(&'a self, id: &'a str) -> BoxFuture<'a, UserResult>;

    /// Checks credentials; `Ok(None)` for an unknown user, a wrong password
    /// or an inactive user. Implementations should take the same time
    /// whether the user exists or not.
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, UserResult>;

    /// The user's own permissions together with their groups' permissions.
    /// Called at most once per request.
    fn user_permissions<'a>(
        &'a self,
        user: &'a dyn AuthUser,
    ) -> BoxFuture<'a, Result<Arc<PermissionSet>, BackendError>>;

    /// The permissions `user` holds on one object (django-guardian's object
    /// permissions), directly or through a group: `object` is the object's
    /// id, and each permission names the model it is for
    /// (`"inventory.change_item"` on object `"3"` is item 3). Only what is
    /// stored: model permissions, superusers and inactive users are the
    /// caller's to apply. Called at most once per request and object. The
    /// default holds none, as Django's `ModelBackend`.
    fn object_permissions<'a>(
        &'a self,
        user: &'a dyn AuthUser,
        object: &'a str,
    ) -> BoxFuture<'a, Result<Arc<PermissionSet>, BackendError>> {
        let _ = (user, object);
        Box::pin(std::future::ready(Ok(Arc::default())))
    }

    /// The ids of the objects on which `user` holds `perm` as an object
    /// permission, directly or through a group, sorted (guardian's
    /// `get_objects_for_user`, without the model permission: see
    /// [`CurrentUser::objects_for`](crate::CurrentUser::objects_for)). The
    /// default: none.
    fn objects_with_permission<'a>(
        &'a self,
        user: &'a dyn AuthUser,
        perm: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, BackendError>> {
        let _ = (user, perm);
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    /// Where each of the user's permissions comes from, for the access
    /// matrix ([`audit::matrix`](crate::audit::matrix)): one entry per
    /// permission and source, `None` as the source when held directly,
    /// `Some(group)` when through that group. `Ok(None)` (the default) when
    /// the backend cannot tell; the matrix then says "held".
    fn permission_sources<'a>(
        &'a self,
        user: &'a dyn AuthUser,
    ) -> BoxFuture<'a, Result<Option<Vec<PermissionSource>>, BackendError>> {
        let _ = user;
        Box::pin(std::future::ready(Ok(None)))
    }

    /// Every permission the backend defines, for the start-up check
    /// ([`audit::check_permissions`](crate::audit::check_permissions));
    /// `None` (the default) when it has no such list, and then nothing is
    /// reported.
    fn defined_permissions(&self) -> BoxFuture<'_, Result<Option<Vec<String>>, BackendError>> {
        Box::pin(std::future::ready(Ok(None)))
    }
}

impl<B: Backend + ?Sized> Backend for Arc<B> {
    fn get_user<'a>(&'a self, id: &'a str) -> BoxFuture<'a, UserResult> {
        (**self).get_user(id)
    }

    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, UserResult> {
        (**self).authenticate(username, password)
    }

    fn user_permissions<'a>(
        &'a self,
        user: &'a dyn AuthUser,
    ) -> BoxFuture<'a, Result<Arc<PermissionSet>, BackendError>> {
        (**self).user_permissions(user)
    }

    fn object_permissions<'a>(
        &'a self,
        user: &'a dyn AuthUser,
        object: &'a str,
    ) -> BoxFuture<'a, Result<Arc<PermissionSet>, BackendError>> {
        (**self).object_permissions(user, object)
    }

    fn objects_with_permission<'a>(
        &'a self,
        user: &'a dyn AuthUser,
        perm: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, BackendError>> {
        (**self).objects_with_permission(user, perm)
    }

    fn permission_sources<'a>(
        &'a self,
        user: &'a dyn AuthUser,
    ) -> BoxFuture<'a, Result<Option<Vec<PermissionSource>>, BackendError>> {
        (**self).permission_sources(user)
    }

    fn defined_permissions(&self) -> BoxFuture<'_, Result<Option<Vec<String>>, BackendError>> {
        (**self).defined_permissions()
    }
}

/// A permission a user holds and where it comes from
/// ([`Backend::permission_sources`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PermissionSource {
    /// `"app_label.codename"`.
    pub permission: String,
    /// `None`: granted to the user directly; `Some(name)`: through the group.
    pub group: Option<String>,
}
