//! The handlers both benches compare (`checks` with criterion,
//! `instructions` with callgrind), so that both measure the same code: no
//! check, the check by hand, `#[permission_required]` (also with `object`),
//! and actix-web-grants' `#[protect]` with its extractor. Each answers the same
//! `&'static str` (200, text/plain).

use std::collections::HashSet;

use actix_permit::{CurrentUser, PermitError, permission_required};
use actix_web::dev::ServiceRequest;

pub async fn open() -> &'static str {
    "ok"
}

pub async fn by_hand(user: CurrentUser) -> Result<&'static str, PermitError> {
    if !user.has_perm("app.perm").await? {
        return Err(actix_permit::PermissionDenied.into());
    }
    Ok("ok")
}

#[permission_required("app.perm")]
pub async fn by_macro() -> &'static str {
    "ok"
}

/// The model permission, on a route with an `{id}`: the baseline of
/// `by_object`.
#[permission_required("app.perm")]
pub async fn by_model_on_route() -> &'static str {
    "ok"
}

/// A permission the signed-in user holds on object 7 only.
#[permission_required("app.object_perm", object = "id")]
pub async fn by_object() -> &'static str {
    "ok"
}

#[actix_web_grants::protect("app.perm")]
pub async fn by_grants() -> &'static str {
    "ok"
}

/// actix-web-grants' extractor: the same permission set, from the same
/// backend, as a `HashSet<String>`.
pub async fn grants_extractor(
    req: &mut ServiceRequest,
) -> Result<HashSet<String>, actix_web::Error> {
    let user = req.extract::<CurrentUser>().await?;
    let perms = user.permissions().await?;
    Ok(perms.iter().map(str::to_owned).collect())
}
