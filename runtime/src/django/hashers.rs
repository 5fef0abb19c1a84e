//! Django's password hashers (`django/contrib/auth/hashers.py`), for
//! checking a password against what `auth_user.password` holds: PBKDF2
//! (SHA-256, SHA-1), Argon2, bcrypt (with and without SHA-256) and scrypt.
//! The parameters come from the stored string: each is bounded
//! ([`HashLimits`]) before any work, and a string that is malformed, of an
//! unknown hasher or over a bound is an error (the caller answers "wrong
//! password" and logs why), never a panic. Nothing here writes a hash, so
//! nothing here can write one that Django would re-hash.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

use super::signing::salted_hmac;

/// The most work a stored hash may ask for. The defaults are well above
/// what Django writes (PBKDF2: 1,500,000 iterations in 6.1; Argon2: 100 MiB,
/// 2 passes, 8 lanes; bcrypt: cost 12; scrypt: N = 16,384, r = 8, p = 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    /// PBKDF2 iterations.
    pub pbkdf2_iterations: u32,
    /// Argon2 memory, KiB.
    pub argon2_memory_kib: u32,
    /// Argon2 passes.
    pub argon2_passes: u32,
    /// Argon2 lanes.
    pub argon2_lanes: u32,
    /// bcrypt cost (log2 of its rounds).
    pub bcrypt_cost: u32,
    /// scrypt memory, bytes (128 × N × r).
    pub scrypt_memory_bytes: u64,
    /// scrypt parallelism.
    pub scrypt_parallelism: u32,
}

impl Default for HashLimits {
    fn default() -> Self {
        Self {
            pbkdf2_iterations: 5_000_000,
            argon2_memory_kib: 256 * 1024,
            argon2_passes: 16,
            argon2_lanes: 64,
            bcrypt_cost: 16,
            scrypt_memory_bytes: 256 << 20,
            scrypt_parallelism: 64,
        }
    }
}

/// Why a stored password could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// Django's unusable password (`!` and 40 characters): nothing matches.
    #[error("the user has no usable password")]
    Unusable,
    /// A hasher this crate does not check (`md5`, `unsalted_sha1`, ...).
    #[error("passwords hashed with {0:?} are not checked")]
    Unsupported(String),
    /// The string is not that hasher's form.
    #[error("a malformed {0} hash")]
    Malformed(&'static str),
    /// A parameter above its [`HashLimits`] bound.
    #[error("the {0} hash asks for more work than allowed")]
    OverLimit(&'static str),
}

/// Whether `password` is the one `encoded` (the `password` column) was
/// made from.
pub fn check_password(
    password: &str,
    encoded: &str,
    limits: &HashLimits,
) -> Result<bool, HashError> {
    if encoded.starts_with('!') {
        return Err(HashError::Unusable);
    }
    let (algorithm, rest) = encoded
        .split_once('$')
        .ok_or_else(|| HashError::Unsupported(String::new()))?;
    match algorithm {
        "pbkdf2_sha256" => pbkdf2::<sha2::Sha256>("pbkdf2_sha256", password, rest, limits),
        "pbkdf2_sha1" => pbkdf2::<sha1::Sha1>("pbkdf2_sha1", password, rest, limits),
        "argon2" => argon2(password, rest, limits),
        "bcrypt_sha256" => {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(password.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            bcrypt("bcrypt_sha256", hex.as_bytes(), rest, limits)
        }
        "bcrypt" => bcrypt("bcrypt", password.as_bytes(), rest, limits),
        "scrypt" => scrypt(password, rest, limits),
        other => Err(HashError::Unsupported(other.chars().take(32).collect())),
    }
}

/// Django's session auth hash of a user whose `password` column is
/// `password_field`, under `secret`: 64 lower-case hex digits.
pub fn session_auth_hash(password_field: &str, secret: &str) -> String {
    salted_hmac(
        "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
        password_field.as_bytes(),
        secret,
    )
    .iter()
    .map(|b| format!("{b:02x}"))
    .collect()
}

/// `<iterations>$<salt>$<base64 of the key>`.
fn pbkdf2<D>(
    name: &'static str,
    password: &str,
    rest: &str,
    limits: &HashLimits,
) -> Result<bool, HashError>
where
    D: hmac::EagerHash,
{
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(HashError::Malformed(name));
    };
    let iterations: u32 = iterations.parse().map_err(|_| HashError::Malformed(name))?;
    if iterations == 0 {
        return Err(HashError::Malformed(name));
    }
    if iterations > limits.pbkdf2_iterations {
        return Err(HashError::OverLimit(name));
    }
    let expected = STANDARD
        .decode(expected)
        .map_err(|_| HashError::Malformed(name))?;
    if expected.is_empty() || expected.len() > 64 {
        return Err(HashError::Malformed(name));
    }
    let mut derived = vec![0u8; expected.len()];
    ::pbkdf2::pbkdf2_hmac::<D>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut derived,
    );
    Ok(bool::from(derived.ct_eq(&expected)))
}

/// A PHC string after `argon2`: `$argon2id$v=19$m=..,t=..,p=..$salt$hash`.
fn argon2(password: &str, rest: &str, limits: &HashLimits) -> Result<bool, HashError> {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    const NAME: &str = "argon2";
    let phc = format!("${rest}");
    let hash = PasswordHash::new(&phc).map_err(|_| HashError::Malformed(NAME))?;
    let param = |key: &str| -> Result<u32, HashError> {
        hash.params
            .get_decimal(key)
            .ok_or(HashError::Malformed(NAME))
    };
    let (memory, passes, lanes) = (param("m")?, param("t")?, param("p")?);
    if memory > limits.argon2_memory_kib
        || passes > limits.argon2_passes
        || lanes > limits.argon2_lanes
    {
        return Err(HashError::OverLimit(NAME));
    }
    match argon2::Argon2::default().verify_password(password.as_bytes(), &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(_) => Err(HashError::Malformed(NAME)),
    }
}

/// bcrypt's own string (`$2b$12$...`), after the hasher's name and its `$`.
fn bcrypt(
    name: &'static str,
    secret: &[u8],
    stored: &str,
    limits: &HashLimits,
) -> Result<bool, HashError> {
    if !stored.starts_with('$') {
        return Err(HashError::Malformed(name));
    }
    let cost: u32 = stored
        .get(4..6)
        .and_then(|cost| cost.parse().ok())
        .ok_or(HashError::Malformed(name))?;
    if cost > limits.bcrypt_cost {
        return Err(HashError::OverLimit(name));
    }
    ::bcrypt::verify(secret, stored).map_err(|_| HashError::Malformed(name))
}

/// `<N>$<salt>$<r>$<p>$<base64 of 64 bytes>`.
fn scrypt(password: &str, rest: &str, limits: &HashLimits) -> Result<bool, HashError> {
    const NAME: &str = "scrypt";
    let parts: Vec<&str> = rest.splitn(5, '$').collect();
    let [n, salt, r, p, expected] = parts.as_slice() else {
        return Err(HashError::Malformed(NAME));
    };
    let number = |text: &str| text.parse::<u32>().map_err(|_| HashError::Malformed(NAME));
    let (n, r, p) = (number(n)?, number(r)?, number(p)?);
    if !n.is_power_of_two() || n < 2 || r == 0 || p == 0 {
        return Err(HashError::Malformed(NAME));
    }
    if 128 * u64::from(n) * u64::from(r) > limits.scrypt_memory_bytes
        || p > limits.scrypt_parallelism
    {
        return Err(HashError::OverLimit(NAME));
    }
    let expected = STANDARD
        .decode(expected)
        .map_err(|_| HashError::Malformed(NAME))?;
    if expected.is_empty() || expected.len() > 64 {
        return Err(HashError::Malformed(NAME));
    }
    let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| HashError::Malformed(NAME))?;
    let params = ::scrypt::Params::new(log_n, r, p).map_err(|_| HashError::Malformed(NAME))?;
    let mut derived = vec![0u8; expected.len()];
    ::scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut derived)
        .map_err(|_| HashError::Malformed(NAME))?;
    Ok(bool::from(derived.ct_eq(&expected)))
}
