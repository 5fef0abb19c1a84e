//! The user model the app implements ([`AuthUser`]) and the extractor that
//! hands the current user to a handler ([`CurrentUser`]).

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use crate::error::PermitError;
use crate::middleware::RequestAuth;
use crate::permission::PermissionSet;

/// A user as the access checks see it. Implement it for your app's user type.
///
/// Like Django's `AbstractBaseUser` + `PermissionsMixin`: an id that is
/// stored in the session, whether the account is active, whether it is a
/// superuser (holds every permission), and a session auth hash.
pub trait AuthUser: Any + Send + Sync + fmt::Debug {
    /// The id stored in the session and handed to [`Backend::get_user`](crate::Backend::get_user).
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
}

/// The user making the request: authenticated or anonymous.
///
/// Extract it in a handler to check permissions in code, Django's
/// `request.user`:
///
/// ```
/// use actix_permit::{CurrentUser, PermitError};
/// use actix_web::{HttpResponse, post};
///
/// #[post("/items/{id}/publish")]
/// async fn publish(user: CurrentUser) -> Result<HttpResponse, PermitError> {
///     user.require_perm("inventory.publish_item").await?;
///     Ok(HttpResponse::Ok().body("published"))
/// }
/// ```
///
/// Extraction fails with a 500 when the [`Permit`](crate::Permit) middleware
/// is missing, and with a 503 when the backend cannot load the user.
#[derive(Clone)]
pub struct CurrentUser {
    auth: Rc<RequestAuth>,
    user: Option<Arc<dyn AuthUser>>,
}

impl CurrentUser {
    pub(crate) async fn load(auth: Rc<RequestAuth>) -> Result<Self, PermitError> {
        let user = auth.principal().await?;
        Ok(Self { auth, user })
    }

    pub(crate) fn from_parts(auth: Rc<RequestAuth>, user: Option<Arc<dyn AuthUser>>) -> Self {
        Self { auth, user }
    }

    /// The authenticated, active user; `None` for anonymous.
    pub fn user(&self) -> Option<&Arc<dyn AuthUser>> {
        self.user.as_ref()
    }

    /// The user as your app's type `U`, when authenticated and of that type.
    pub fn downcast<U: AuthUser>(&self) -> Option<&U> {
        let user: &dyn Any = &**self.user.as_ref()?;
        user.downcast_ref::<U>()
    }

    /// The user's id; `None` for anonymous.
    pub fn id(&self) -> Option<&str> {
        self.user.as_deref().map(AuthUser::id)
    }

    /// Whether an active user is logged in.
    pub fn is_authenticated(&self) -> bool {
        self.user.is_some()
    }

    /// Whether nobody is logged in (or the session's user is inactive).
    pub fn is_anonymous(&self) -> bool {
        self.user.is_none()
    }

    /// Whether the user is an active superuser.
    pub fn is_superuser(&self) -> bool {
        self.user.as_deref().is_some_and(AuthUser::is_superuser)
    }

    /// The user's effective permissions (own and groups'), loaded at most
    /// once per request. Empty for anonymous; a superuser's set is what the
    /// backend stores, though [`has_perm`](Self::has_perm) answers yes to anything.
    pub async fn permissions(&self) -> Result<Arc<PermissionSet>, PermitError> {
        self.auth.permissions(self.user.as_ref()).await
    }

    /// Whether the user holds `perm` (`"app_label.codename"`), as Django's
    /// `user.has_perm`: no for anonymous, yes for an active superuser,
    /// otherwise the user's own and group permissions decide.
    pub async fn has_perm(&self, perm: &str) -> Result<bool, PermitError> {
        self.has_perms(&[perm]).await
    }

    /// Whether the user holds every one of `perms`.
    pub async fn has_perms(&self, perms: &[&str]) -> Result<bool, PermitError> {
        match &self.user {
            None => Ok(false),
            Some(user) if user.is_superuser() => Ok(true),
            Some(_) => Ok(self
                .permissions()
                .await?
                .contains_all(perms.iter().copied())),
        }
    }

    /// Whether the user holds at least one of `perms`.
    pub async fn has_any_perm(&self, perms: &[&str]) -> Result<bool, PermitError> {
        match &self.user {
            None => Ok(false),
            Some(user) if user.is_superuser() => Ok(true),
            Some(_) => {
                let set = self.permissions().await?;
                Ok(perms.iter().any(|p| set.contains(p)))
            }
        }
    }

    /// `Ok(())` when the user holds `perm`, otherwise an error that renders
    /// as the app's login response (anonymous) or 403 (authenticated).
    pub async fn require_perm(&self, perm: &str) -> Result<(), PermitError> {
        if self.has_perm(perm).await? {
            Ok(())
        } else if self.is_anonymous() {
            Err(PermitError::LoginRequired)
        } else {
            Err(PermitError::Denied(crate::PermissionDenied))
        }
    }

    /// The user, or an error that renders as the app's login response.
    pub fn require_login(&self) -> Result<&Arc<dyn AuthUser>, PermitError> {
        self.user.as_ref().ok_or(PermitError::LoginRequired)
    }

    /// Whether the user holds `perm` on one object (Django's
    /// `user.has_perm(perm, obj)`): yes for an active superuser, no for
    /// anonymous, otherwise the backend's
    /// [`has_object_perm`](crate::Backend::has_object_perm) decides (by
    /// default: no object permissions).
    pub async fn has_object_perm(
        &self,
        perm: &str,
        obj: &(dyn Any + Send + Sync),
    ) -> Result<bool, PermitError> {
        match &self.user {
            None => Ok(false),
            Some(user) if user.is_superuser() => Ok(true),
            Some(user) => Ok(self
                .auth
                .guarded(
                    "checking an object permission",
                    self.auth.backend().has_object_perm(&**user, perm, obj),
                )
                .await?),
        }
    }
}

/// The id and flags only: never a password or session hash, whatever the
/// app's user type prints.
impl fmt::Debug for CurrentUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.user {
            Some(user) => f
                .debug_struct("CurrentUser")
                .field("id", &user.id())
                .field("active", &user.is_active())
                .field("superuser", &user.is_superuser())
                .finish(),
            None => f.write_str("CurrentUser(Anonymous)"),
        }
    }
}

impl FromRequest for CurrentUser {
    type Error = PermitError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, PermitError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let auth = RequestAuth::of(req);
        Box::pin(async move { CurrentUser::load(auth?).await })
    }
}
