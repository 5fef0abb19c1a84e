//! Logging in and out: [`authenticate`], [`login`], [`logout`].

use std::sync::Arc;

use actix_identity::Identity;
use actix_session::SessionExt;
use actix_web::{HttpMessage, HttpRequest, ResponseError};

use crate::error::PermitError;
use crate::middleware::{RequestAuth, SESSION_HASH_KEY};
use crate::user::AuthUser;

/// Logging a user in could not be recorded in the session.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The [`Permit`](crate::Permit) middleware does not wrap this route.
    #[error("the actix_permit::Permit middleware does not wrap this route")]
    MissingMiddleware,
    /// The session store refused the value.
    #[error("could not store the login in the session: {0}")]
    Session(String),
}

impl ResponseError for LoginError {}

/// Checks credentials with the app's backend: the user for a right username
/// and password of an active account, `None` otherwise (the time taken does
/// not tell which part was wrong).
pub async fn authenticate(
    req: &HttpRequest,
    username: &str,
    password: &str,
) -> Result<Option<Arc<dyn AuthUser>>, PermitError> {
    let auth = RequestAuth::of(req)?;
    Ok(auth.backend().authenticate(username, password).await?)
}

/// Logs `user` in: their id and session auth hash go into the session, and
/// the session gets a new key (so a session id fixed before login is useless).
pub fn login(req: &HttpRequest, user: &dyn AuthUser) -> Result<(), LoginError> {
    RequestAuth::of(req).map_err(|_| LoginError::MissingMiddleware)?;
    Identity::login(&req.extensions(), user.id().to_owned())
        .map_err(|e| LoginError::Session(e.to_string()))?;
    req.get_session()
        .insert(SESSION_HASH_KEY, user.session_auth_hash())
        .map_err(|e| LoginError::Session(e.to_string()))?;
    Ok(())
}

/// Logs the user out: the whole session is removed, server and client side.
pub fn logout(req: &HttpRequest) {
    req.get_session().purge();
}
