//! [`CurrentUser`], Django's `request.user`: the extractor over the
//! request's state, deciding by `rules.rs`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest};

use crate::error::PermitError;
use crate::permission::{Objects, PermissionSet};
use crate::rules::{self, Standing};
use crate::state::RequestAuth;
use crate::user::AuthUser;

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
    pub(crate) async fn load(
        auth: Rc<RequestAuth>,
        req: &HttpRequest,
    ) -> Result<Self, PermitError> {
        let user = auth.principal(req).await?;
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

    /// Whether the user is an active superuser acting as one: not when
    /// the request's claim is limited to scopes (an API token), which
    /// holds only those, whoever made it.
    pub fn is_superuser(&self) -> bool {
        self.standing() == Standing::Superuser
    }

    /// The user's effective permissions (own and groups'), loaded at most
    /// once per request. Empty for anonymous; a superuser's set is what the
    /// backend stores, though [`has_perm`](Self::has_perm) answers yes to anything.
    /// With a claim limited to scopes, only those of them in the scopes
    /// (for a superuser, the scopes).
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
        let standing = self.standing();
        Ok(rules::has_all(
            standing,
            &*self.held(standing).await?,
            perms,
        ))
    }

    /// Whether the user holds at least one of `perms`.
    pub async fn has_any_perm(&self, perms: &[&str]) -> Result<bool, PermitError> {
        let standing = self.standing();
        Ok(rules::has_any(
            standing,
            &*self.held(standing).await?,
            perms,
        ))
    }

    fn standing(&self) -> Standing {
        self.auth.standing(self.user.as_deref())
    }

    /// What the rules need to know of the user's permissions: loaded only
    /// when the permissions decide (not for anonymous users or superusers).
    async fn held(&self, standing: Standing) -> Result<Arc<PermissionSet>, PermitError> {
        match standing {
            Standing::Member => self.permissions().await,
            Standing::Anonymous | Standing::Superuser => Ok(Arc::default()),
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
            Err(PermitError::Denied(crate::error::PermissionDenied))
        }
    }

    /// The user, or an error that renders as the app's login response.
    pub fn require_login(&self) -> Result<&Arc<dyn AuthUser>, PermitError> {
        self.user.as_ref().ok_or(PermitError::LoginRequired)
    }

    /// Whether the user holds `perm` on the object whose id is `object`: as
    /// `#[permission_required(perm, object = "id")]` decides, yes for an
    /// active superuser, no for anonymous users, otherwise yes when they
    /// hold `perm` as a model permission (every object) or as an object
    /// permission on this object, directly or through a group. (Django's
    /// `ModelBackend` answers no for every object; this is
    /// django-guardian's question asked together with the model one.)
    pub async fn has_perm_on(&self, perm: &str, object: &str) -> Result<bool, PermitError> {
        let standing = self.standing();
        let Some(user) = &self.user else {
            return Ok(false);
        };
        if rules::on_every_object(standing, &*self.held(standing).await?, perm) {
            return Ok(true);
        }
        Ok(self
            .auth
            .object_permissions(user, object)
            .await?
            .contains(perm))
    }

    /// The permissions the user holds on the object whose id is `object`
    /// as object permissions only (no model permissions; empty for
    /// anonymous users), loaded once per request and object.
    pub async fn object_permissions(
        &self,
        object: &str,
    ) -> Result<Arc<PermissionSet>, PermitError> {
        match &self.user {
            None => Ok(Arc::default()),
            Some(user) => self.auth.object_permissions(user, object).await,
        }
    }

    /// The objects the user may act on with `perm`, for list pages
    /// (django-guardian's `get_objects_for_user`): [`Objects::All`] for an
    /// active superuser or a holder of the model permission, otherwise the
    /// ids of the objects they hold `perm` on (none for anonymous users).
    ///
    pub async fn objects_for(&self, perm: &str) -> Result<Objects, PermitError> {
        let standing = self.standing();
        let Some(user) = &self.user else {
            return Ok(Objects::Only(Vec::new()));
        };
        if rules::on_every_object(standing, &*self.held(standing).await?, perm) {
            return Ok(Objects::All);
        }
        if !self.auth.in_scope(perm) {
            return Ok(Objects::Only(Vec::new()));
        }
        let mut ids = self
            .auth
            .bounded(
                "listing objects",
                self.auth.backend().objects_with_permission(&**user, perm),
            )
            .await?;
        ids.sort_unstable();
        ids.dedup();
        Ok(Objects::Only(ids))
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

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let auth = RequestAuth::of(req);
        let req = req.clone();
        Box::pin(async move { CurrentUser::load(auth?, &req).await })
    }
}
