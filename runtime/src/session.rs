//! Logging in and out: [`authenticate`], [`login`], [`logout`].

use std::sync::Arc;

use actix_web::HttpRequest;

use crate::error::PermitError;
use crate::identity::{IdentitySource, LoginError};
use crate::password::Busy;
use crate::state::RequestAuth;
use crate::throttle::Locked;
use crate::user::AuthUser;

/// Checks credentials with the app's backend: the user for a right username
/// and password of an active account, `None` otherwise (the time taken does
/// not tell which part was wrong).
///
/// The password hash it runs waits for a turn of the app's
/// password hashing bound ([`Permit::password_work`](crate::Permit::password_work))
/// ([`PermitError::Overloaded`], a 503, when the queue is full). With a
/// [`Throttle`](crate::throttle::Throttle) on [`Permit`](crate::Permit), an
/// attempt for a username or from a client with too many recent failures
/// is refused ([`PermitError::Throttled`], a 429) without hashing. The
/// backend call is bounded by the backend timeout, and a panic in it is a
/// 503, as for every backend call.
pub async fn authenticate(
    req: &HttpRequest,
    username: &str,
    password: &str,
) -> Result<Option<Arc<dyn AuthUser>>, PermitError> {
    let auth = RequestAuth::of(req)?;
    let shared = auth.shared();
    let throttled = match &shared.throttle {
        None => None,
        Some(throttle) => {
            let keys = throttle.keys(req, username);
            if let Some(locked) = auth
                .bounded("counting a login attempt", throttle.reserve(&keys))
                .await?
            {
                let (retry_after, what, key) = match locked {
                    Locked::User(wait) => (wait, "username", &keys[0]),
                    Locked::Client(wait) => (wait, "client address", &keys[1]),
                };
                tracing::warn!(target: "actix_permit", key = key.as_str(), retry_after_secs = retry_after.as_secs(), "login refused: too many failed attempts for this {what}");
                return Err(PermitError::Throttled { retry_after });
            }
            Some((throttle, keys))
        }
    };
    let outcome = match shared.password_work.turn().await {
        Ok(_turn) => {
            auth.bounded(
                "authenticating",
                shared.backend.authenticate(username, password),
            )
            .await
        }
        Err(Busy) => {
            tracing::warn!(target: "actix_permit", "login refused: the password hashing queue is full");
            if let Some((throttle, keys)) = &throttled {
                // Never checked, so not a failure.
                auth.bounded("uncounting a login attempt", throttle.release(keys))
                    .await?;
            }
            return Err(PermitError::Overloaded);
        }
    };
    if let Some((throttle, keys)) = &throttled {
        // A failure stays counted; a success, or a check that never
        // answered, is taken back (and resets nothing).
        if !matches!(outcome, Ok(None)) {
            auth.bounded("recording a login attempt", throttle.release(keys))
                .await?;
        }
    }
    Ok(outcome?)
}

/// Logs `user` in through the app's identity source. With the default
/// ([`identity::Sessions`](crate::identity::Sessions)): their id and session
/// auth hash go into the session, and the session gets a new key (so a
/// session id fixed before login is useless); when the session belonged to
/// another user, it starts empty: nothing of theirs carries over (Django
/// flushes it too).
pub async fn login(req: &HttpRequest, user: &dyn AuthUser) -> Result<(), LoginError> {
    let auth = RequestAuth::of(req).map_err(|_| LoginError::MissingMiddleware)?;
    auth.shared().source.login(req, user).await
}

/// Logs the user out through the app's identity source. With the default,
/// the whole session is removed, server and client side.
///
/// What that revokes depends on the session store. With a server-side store
/// (actix-session's Redis store) the session is deleted on the server: every
/// copy of the cookie is dead from now on. With the cookie store the session
/// *is* the cookie: this browser loses it, but a copy taken earlier (by
/// malware, a shared machine, a proxy log) stays valid until its login
/// lifetime ends ([`Permit::session_lifetime`](crate::Permit::session_lifetime),
/// two weeks by default), the user's password changes, or the user is
/// deactivated. Use a server-side store when a logout must end the session
/// everywhere.
///
/// Without the [`Permit`](crate::Permit) middleware, the session is
/// removed all the same.
pub async fn logout(req: &HttpRequest) -> Result<(), LoginError> {
    match RequestAuth::of(req) {
        Ok(auth) => auth.shared().source.logout(req).await,
        Err(_) => crate::identity::Sessions.logout(req).await,
    }
}
