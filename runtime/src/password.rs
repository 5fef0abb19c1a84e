//! Password hashing (Argon2id) and the session auth hash derived from it.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use blake2::{Blake2b512, Digest};

/// Hashing a password failed (the parameters or the random source).
#[derive(Debug, thiserror::Error)]
#[error("could not hash the password: {0}")]
pub struct PasswordError(String);

/// Hashes `password` with Argon2id and a random salt, as a PHC string
/// (`$argon2id$v=19$...`).
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError(e.to_string()))
}

/// Whether `password` matches the PHC string `hash`. The comparison is done
/// in constant time by `argon2`; a malformed `hash` never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same work as [`verify_password`] on a fixed dummy hash and
/// returns `false`, so that a login for an unknown user takes as long as one
/// with a wrong password (Django does the same).
pub fn verify_dummy(password: &str) -> bool {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    match DUMMY.get_or_init(|| hash_password("actix-permit dummy password").ok()) {
        Some(hash) => {
            let _ = verify_password(password, hash);
            false
        }
        None => false,
    }
}

/// The session auth hash for a user with this password hash: a digest that
/// changes whenever the password does. It is stored in the session at login
/// and compared on every request, so a password change ends the user's other
/// sessions.
pub fn session_auth_hash(password_hash: &str) -> String {
    let digest = Blake2b512::new_with_prefix(b"actix-permit session auth hash\0")
        .chain_update(password_hash.as_bytes())
        .finalize();
    digest[..32].iter().map(|b| format!("{b:02x}")).collect()
}

/// [`hash_password`] on the blocking thread pool, so that the ~20 ms of
/// Argon2 do not stall the async worker.
pub async fn hash_password_blocking(password: &str) -> Result<String, PasswordError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| PasswordError(e.to_string()))?
}

/// [`verify_password`] on the blocking thread pool; `false` if it could not run.
pub async fn verify_password_blocking(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

/// [`verify_dummy`] on the blocking thread pool.
pub async fn verify_dummy_blocking(password: &str) -> bool {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || verify_dummy(&password))
        .await
        .unwrap_or(false)
}

/// Compares two strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let hash = hash_password("s3cret").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &hash));
        assert!(!verify_password("s3cret ", &hash));
        assert!(!verify_password("s3cret", "not a hash"));
        assert!(!verify_dummy("s3cret"));
    }

    #[test]
    fn session_hash_follows_the_password_hash() {
        let a = session_auth_hash("$argon2id$a");
        assert_eq!(a, session_auth_hash("$argon2id$a"));
        assert_ne!(a, session_auth_hash("$argon2id$b"));
        assert_eq!(a.len(), 64);
        assert!(constant_time_eq(&a, &a.clone()));
        assert!(!constant_time_eq(&a, &session_auth_hash("x")));
        assert!(!constant_time_eq("ab", "abc"));
    }
}
