//! Logging in and out: [`authenticate`], [`login`], [`logout`], and
//! proving the password again: [`reauthenticate`].

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
    check_password(req, &auth, username, password, None).await
}

/// Checks that the signed-in user of `req` knows their password (their
/// `username` and `password`, as [`authenticate`] checks them), and if so
/// records the proof with the identity source: `#[recent_login_required]`
/// then lets them through for its `max_age`. `Ok(true)` when recorded;
/// `Ok(false)` for a wrong password, or the username and password of
/// another account (which never changes who is signed in: the request's
/// user stays theirs).
///
/// An attempt is counted by the [`Throttle`](crate::throttle::Throttle)
/// as a login is (a failure stays counted, another account's password
/// included), and waits for a turn of the password hashing bound.
/// [`PermitError::LoginRequired`] when nobody is signed in;
/// [`PermitError::Denied`] for a claim limited to scopes (an API token:
/// it holds no password);
/// [`PermitError::Backend`] when the source cannot record the proof (a
/// source without [`IdentitySource::password_proved`]).
pub async fn reauthenticate(
    req: &HttpRequest,
    username: &str,
    password: &str,
) -> Result<bool, PermitError> {
    let auth = RequestAuth::of(req)?;
    let Some(user) = auth.principal(req).await? else {
        return Err(PermitError::LoginRequired);
    };
    // A claim limited to scopes (an API token) holds no password to prove:
    // refused before any hashing.
    if auth.is_scoped() {
        return Err(PermitError::Denied(crate::error::PermissionDenied));
    }
    if check_password(req, &auth, username, password, Some(user.id()))
        .await?
        .is_none()
    {
        tracing::info!(target: "actix_permit", user = user.id(), "re-authentication refused: wrong password");
        return Ok(false);
    }
    auth.shared()
        .source
        .password_proved(req)
        .await
        .map_err(|err| {
            tracing::error!(target: "actix_permit", user = user.id(), error = %err, "could not record the re-authentication");
            crate::error::BackendError::new(err)
        })?;
    Ok(true)
}

/// [`authenticate`], and with `expect`, a success only for that user id:
/// another account's right password is a failure, counted as one.
async fn check_password(
    req: &HttpRequest,
    auth: &RequestAuth,
    username: &str,
    password: &str,
    expect: Option<&str>,
) -> Result<Option<Arc<dyn AuthUser>>, PermitError> {
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
    let outcome = match (outcome, expect) {
        (Ok(Some(user)), Some(expect)) if user.id() != expect => Ok(None),
        (outcome, _) => outcome,
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
