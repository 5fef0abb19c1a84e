//! Where users and permissions come from, by capability: [`Authentication`]
//! (who the users are), [`Authorization`] (what they may do),
//! [`Introspection`] (what the audit asks); [`Backend`] is the first two,
//! [`Layer`] wraps one without forwarding by hand.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

pub use crate::error::{BackendError, BoxFuture};
use crate::permission::PermissionSet;
use crate::user::AuthUser;

#[cfg(all(feature = "django", any(feature = "sqlite", feature = "postgres")))]
mod django;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod exact;
mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "cache")]
mod ttl;

#[cfg(all(feature = "django", any(feature = "sqlite", feature = "postgres")))]
pub use django::{
    CsrfService, DjangoBackend, DjangoCsrf, DjangoOptions, DjangoSessions, DjangoUser, UserTables,
};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use exact::{CacheState, CacheStats};
pub use memory::{MemoryBackend, MemoryUser};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::{ObjectGrants, SqlBackend, SqlOptions, SqlUser};
#[cfg(feature = "cache")]
pub use ttl::CachedBackend;

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
    /// A new token's name, scopes or expiry is out of bounds, or its user
    /// holds as many tokens as one may.
    #[error("{0}")]
    InvalidToken(String),
    /// The user has no token of this name.
    #[error("no token named {0:?}")]
    UnknownToken(String),
    /// The user has no session with this id.
    #[error("no session {0:?}")]
    UnknownSession(String),
    /// The user has a token of this name already.
    #[error("a token named {0:?} exists already")]
    DuplicateToken(String),
}

/// What [`Authentication::get_user`] and [`Authentication::authenticate`]
/// answer: the user, `None` when there is no such (active) user, or an
/// error.
pub type UserResult = Result<Option<Arc<dyn AuthUser>>, BackendError>;

/// What [`Authorization`] answers for a user's permissions.
pub type PermsResult = Result<Arc<PermissionSet>, BackendError>;

/// Who the users are, as Django's authentication backends' `get_user` and
/// `authenticate`. Write the methods as `async fn`.
pub trait Authentication: Send + Sync + 'static {
    /// Loads the user whose [`AuthUser::id`] is `id`; `Ok(None)` when there
    /// is none (a deleted user's session then becomes anonymous).
    fn get_user(&self, id: &str) -> impl Future<Output = UserResult> + Send;

    /// Checks credentials; `Ok(None)` for an unknown user, a wrong password
    /// or an inactive user. Implementations should take the same time
    /// whether the user exists or not.
    fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> impl Future<Output = UserResult> + Send;
}

/// What the users may do, as Django's `ModelBackend` and django-guardian's
/// `ObjectPermissionBackend` answer it. Write the methods as `async fn`.
///
/// Only what is stored: the effective-permission rules (inactive users
/// hold nothing, an active superuser holds everything, a model permission
/// covers every object) are applied by the caller.
pub trait Authorization: Send + Sync + 'static {
    /// The user's own permissions together with their groups' permissions.
    /// Called at most once per request.
    fn user_permissions(&self, user: &dyn AuthUser) -> impl Future<Output = PermsResult> + Send;

    /// The permissions `user` holds on one object (django-guardian's object
    /// permissions), directly or through a group: `object` is the object's
    /// id, and each permission names the model it is for
    /// (`"inventory.change_item"` on object `"3"` is item 3). Called at most
    /// once per request and object. The default holds none, as Django's
    /// `ModelBackend`.
    fn object_permissions(
        &self,
        user: &dyn AuthUser,
        object: &str,
    ) -> impl Future<Output = PermsResult> + Send {
        let _ = (user, object);
        std::future::ready(Ok(Arc::default()))
    }

    /// The ids of the objects on which `user` holds `perm` as an object
    /// permission, directly or through a group, sorted (guardian's
    /// `get_objects_for_user`, without the model permission: see
    /// [`CurrentUser::objects_for`](crate::CurrentUser::objects_for)). The
    /// default: none.
    fn objects_with_permission(
        &self,
        user: &dyn AuthUser,
        perm: &str,
    ) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send {
        let _ = (user, perm);
        std::future::ready(Ok(Vec::new()))
    }
}

/// What the audit asks a backend ([`audit::matrix`](crate::audit::matrix),
/// [`audit::check_permissions`](crate::audit::check_permissions)); a
/// backend that cannot tell needs none of it, and `impl Introspection for
/// MyBackend {}` says "I cannot tell" for both.
pub trait Introspection: Send + Sync + 'static {
    /// Where each of the user's permissions comes from, for the access
    /// matrix: one entry per permission and source, `None` as the source
    /// when held directly, `Some(group)` when through that group. `Ok(None)`
    /// (the default) when the backend cannot tell; the matrix then says
    /// "held".
    fn permission_sources(
        &self,
        user: &dyn AuthUser,
    ) -> impl Future<Output = Result<Option<Vec<PermissionSource>>, BackendError>> + Send {
        let _ = user;
        std::future::ready(Ok(None))
    }

    /// Every permission the backend defines, for the start-up check; `None`
    /// (the default) when it has no such list, and then nothing is
    /// reported.
    fn defined_permissions(
        &self,
    ) -> impl Future<Output = Result<Option<Vec<String>>, BackendError>> + Send {
        std::future::ready(Ok(None))
    }
}

/// What [`Permit`](crate::Permit) needs of a store of users, groups and
/// permissions: [`Authentication`] and [`Authorization`]. Implemented for
/// every type that has both; [`Introspection`] is the audit's, and
/// optional.
pub trait Backend: Authentication + Authorization {}

impl<B: Authentication + Authorization> Backend for B {}

/// A backend around another that changes part of what it answers (a
/// cache, a counter, a fault injector): write the methods it changes, as
/// `async fn`; every other one asks [`inner`](Layer::inner), and so does
/// [`Introspection`] when the inner backend has it. (An `Arc` of a
/// backend is the backend, shared.)
///
/// A layer has each method twice, as a `Layer` method and as the
/// capability's: where `Layer` is imported, call a layer's methods by the
/// capability's path (`Authorization::user_permissions(&cache, user)`).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use actix_permit::AuthUser;
/// use actix_permit::backend::{Layer, MemoryBackend, PermsResult};
///
/// /// Counts permission loads; everything else is the memory backend's.
/// struct Counting {
///     inner: MemoryBackend,
///     loads: AtomicUsize,
/// }
///
/// impl Layer for Counting {
///     type Inner = MemoryBackend;
///     fn inner(&self) -> &MemoryBackend {
///         &self.inner
///     }
///     async fn user_permissions(&self, user: &dyn AuthUser) -> PermsResult {
///         self.loads.fetch_add(1, Ordering::Relaxed);
///         self.inner.user_permissions(user).await
///     }
/// }
/// # use actix_permit::backend::Authorization as _;
/// # let _ = actix_permit::Permit::new(Counting { inner: MemoryBackend::new(), loads: AtomicUsize::new(0) });
/// ```
pub trait Layer: Send + Sync + 'static {
    /// The backend it wraps.
    type Inner: Backend;

    /// The backend it wraps.
    fn inner(&self) -> &Self::Inner;

    /// [`Authentication::get_user`]; by default the inner backend's.
    fn get_user(&self, id: &str) -> impl Future<Output = UserResult> + Send {
        Authentication::get_user(self.inner(), id)
    }

    /// [`Authentication::authenticate`]; by default the inner backend's.
    fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> impl Future<Output = UserResult> + Send {
        Authentication::authenticate(self.inner(), username, password)
    }

    /// [`Authorization::user_permissions`]; by default the inner backend's.
    fn user_permissions(&self, user: &dyn AuthUser) -> impl Future<Output = PermsResult> + Send {
        Authorization::user_permissions(self.inner(), user)
    }

    /// [`Authorization::object_permissions`]; by default the inner
    /// backend's.
    fn object_permissions(
        &self,
        user: &dyn AuthUser,
        object: &str,
    ) -> impl Future<Output = PermsResult> + Send {
        Authorization::object_permissions(self.inner(), user, object)
    }

    /// [`Authorization::objects_with_permission`]; by default the inner
    /// backend's.
    fn objects_with_permission(
        &self,
        user: &dyn AuthUser,
        perm: &str,
    ) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send {
        Authorization::objects_with_permission(self.inner(), user, perm)
    }
}

impl<L: Layer> Authentication for L {
    fn get_user(&self, id: &str) -> impl Future<Output = UserResult> + Send {
        Layer::get_user(self, id)
    }

    fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> impl Future<Output = UserResult> + Send {
        Layer::authenticate(self, username, password)
    }
}

impl<L: Layer> Authorization for L {
    fn user_permissions(&self, user: &dyn AuthUser) -> impl Future<Output = PermsResult> + Send {
        Layer::user_permissions(self, user)
    }

    fn object_permissions(
        &self,
        user: &dyn AuthUser,
        object: &str,
    ) -> impl Future<Output = PermsResult> + Send {
        Layer::object_permissions(self, user, object)
    }

    fn objects_with_permission(
        &self,
        user: &dyn AuthUser,
        perm: &str,
    ) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send {
        Layer::objects_with_permission(self, user, perm)
    }
}

impl<L: Layer> Introspection for L
where
    L::Inner: Introspection,
{
    fn permission_sources(
        &self,
        user: &dyn AuthUser,
    ) -> impl Future<Output = Result<Option<Vec<PermissionSource>>, BackendError>> + Send {
        self.inner().permission_sources(user)
    }

    fn defined_permissions(
        &self,
    ) -> impl Future<Output = Result<Option<Vec<String>>, BackendError>> + Send {
        self.inner().defined_permissions()
    }
}

impl<B: Authentication> Authentication for Arc<B> {
    fn get_user(&self, id: &str) -> impl Future<Output = UserResult> + Send {
        (**self).get_user(id)
    }

    fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> impl Future<Output = UserResult> + Send {
        (**self).authenticate(username, password)
    }
}

impl<B: Authorization> Authorization for Arc<B> {
    fn user_permissions(&self, user: &dyn AuthUser) -> impl Future<Output = PermsResult> + Send {
        (**self).user_permissions(user)
    }

    fn object_permissions(
        &self,
        user: &dyn AuthUser,
        object: &str,
    ) -> impl Future<Output = PermsResult> + Send {
        (**self).object_permissions(user, object)
    }

    fn objects_with_permission(
        &self,
        user: &dyn AuthUser,
        perm: &str,
    ) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send {
        (**self).objects_with_permission(user, perm)
    }
}

impl<B: Introspection> Introspection for Arc<B> {
    fn permission_sources(
        &self,
        user: &dyn AuthUser,
    ) -> impl Future<Output = Result<Option<Vec<PermissionSource>>, BackendError>> + Send {
        (**self).permission_sources(user)
    }

    fn defined_permissions(
        &self,
    ) -> impl Future<Output = Result<Option<Vec<String>>, BackendError>> + Send {
        (**self).defined_permissions()
    }
}

/// The form the middleware holds a backend in (`Arc<dyn Dyn>`): each
/// method's future boxed, so that the generated code needs no generics.
pub(crate) trait Dyn: Send + Sync + 'static {
    fn get_user<'a>(&'a self, id: &'a str) -> BoxFuture<'a, UserResult>;
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, UserResult>;
    fn user_permissions<'a>(&'a self, user: &'a dyn AuthUser) -> BoxFuture<'a, PermsResult>;
    fn object_permissions<'a>(
        &'a self,
        user: &'a dyn AuthUser,
        object: &'a str,
    ) -> BoxFuture<'a, PermsResult>;
    fn objects_with_permission<'a>(
        &'a self,
        user: &'a dyn AuthUser,
        perm: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, BackendError>>;
}

impl<B: Backend> Dyn for B {
    fn get_user<'a>(&'a self, id: &'a str) -> BoxFuture<'a, UserResult> {
        Box::pin(Authentication::get_user(self, id))
    }
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, UserResult> {
        Box::pin(Authentication::authenticate(self, username, password))
    }
    fn user_permissions<'a>(&'a self, user: &'a dyn AuthUser) -> BoxFuture<'a, PermsResult> {
        Box::pin(Authorization::user_permissions(self, user))
    }
    fn object_permissions<'a>(
        &'a self,
        user: &'a dyn AuthUser,
        object: &'a str,
    ) -> BoxFuture<'a, PermsResult> {
        Box::pin(Authorization::object_permissions(self, user, object))
    }
    fn objects_with_permission<'a>(
        &'a self,
        user: &'a dyn AuthUser,
        perm: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, BackendError>> {
        Box::pin(Authorization::objects_with_permission(self, user, perm))
    }
}

/// A permission a user holds and where it comes from
/// ([`Introspection::permission_sources`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PermissionSource {
    /// `"app_label.codename"`.
    pub permission: String,
    /// `None`: granted to the user directly; `Some(name)`: through the group.
    pub group: Option<String>,
}
