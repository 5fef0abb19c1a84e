//! Django's signing (`django/utils/crypto.py`, `django/core/signing.py`):
//! `salted_hmac`, the signer with its fallback keys, the timestamp signer,
//! and `dumps`/`loads` with their JSON and zlib. Everything read is
//! bounded before any work and checked before it is decoded; nothing here
//! panics on what a client sends.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The longest signed value read, in bytes (a `db` session's data, a
/// `signed_cookies` cookie): longer is refused before any work.
pub const MAX_SIGNED_BYTES: usize = 256 * 1024;

/// The most bytes a compressed payload may inflate to (a zlib bomb stops
/// here).
pub const MAX_INFLATED_BYTES: usize = 1024 * 1024;

/// A site's `SECRET_KEY` and its `SECRET_KEY_FALLBACKS`: signing uses the
/// first, checking tries each in turn.
#[derive(Clone)]
pub struct SecretKeys {
    keys: Vec<String>,
}

impl SecretKeys {
    /// `SECRET_KEY`, then `SECRET_KEY_FALLBACKS` in order.
    pub fn new(secret_key: impl Into<String>, fallbacks: impl IntoIterator<Item = String>) -> Self {
        let mut keys = vec![secret_key.into()];
        keys.extend(fallbacks);
        Self { keys }
    }

    /// `SECRET_KEY`.
    pub fn current(&self) -> &str {
        &self.keys[0]
    }

    /// `SECRET_KEY`, then each fallback.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(String::as_str)
    }
}

/// The keys only by count: never a secret in a log.
impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKeys({} fallbacks)", self.keys.len() - 1)
    }
}

/// Why a signed value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// Longer than [`MAX_SIGNED_BYTES`].
    #[error("the signed value is longer than {MAX_SIGNED_BYTES} bytes")]
    TooLong,
    /// No separator, or a signature no key made.
    #[error("bad signature")]
    BadSignature,
    /// Signed, but older than the age allowed.
    #[error("the signature is older than allowed")]
    Expired,
    /// Signed, but not base64, zlib or JSON as `dumps` writes them, or
    /// inflating past [`MAX_INFLATED_BYTES`].
    #[error("the signed payload is malformed: {0}")]
    Malformed(&'static str),
}

/// `salted_hmac(key_salt, value, secret)` with SHA-256: the key is
/// SHA-256(`key_salt` + `secret`), then HMAC-SHA256 of `value`.
pub fn salted_hmac(key_salt: &str, value: &[u8], secret: &str) -> [u8; 32] {
    let key = Sha256::new()
        .chain_update(key_salt.as_bytes())
        .chain_update(secret.as_bytes())
        .finalize();
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&key)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(value);
    mac.finalize().into_bytes().into()
}

/// Django's `Signer(salt=...)`: `value:signature`, the signature the
/// unpadded URL-safe base64 of `salted_hmac(salt + "signer", value, key)`.
#[derive(Debug, Clone)]
pub struct Signer<'k> {
    keys: &'k SecretKeys,
    salt: String,
}

impl<'k> Signer<'k> {
    /// A signer with `salt`; an empty one is Django's default for the
    /// class, `"django.core.signing.Signer"`.
    pub fn new(keys: &'k SecretKeys, salt: &str) -> Self {
        Self::salted(keys, salt, "django.core.signing.Signer")
    }

    fn salted(keys: &'k SecretKeys, salt: &str, default: &str) -> Self {
        let salt = if salt.is_empty() { default } else { salt };
        Self {
            keys,
            salt: format!("{salt}signer"),
        }
    }

    fn signature(&self, value: &str, key: &str) -> String {
        URL_SAFE_NO_PAD.encode(salted_hmac(&self.salt, value.as_bytes(), key))
    }

    /// `value:signature`, signed with `SECRET_KEY`.
    pub fn sign(&self, value: &str) -> String {
        format!("{value}:{}", self.signature(value, self.keys.current()))
    }

    /// The value, when a key (the current one or a fallback) made its
    /// signature; compared in constant time.
    pub fn unsign<'s>(&self, signed: &'s str) -> Result<&'s str, SigningError> {
        if signed.len() > MAX_SIGNED_BYTES {
            return Err(SigningError::TooLong);
        }
        let (value, signature) = signed.rsplit_once(':').ok_or(SigningError::BadSignature)?;
        let mut matched = subtle::Choice::from(0);
        for key in self.keys.all() {
            matched |= self
                .signature(value, key)
                .as_bytes()
                .ct_eq(signature.as_bytes());
        }
        if bool::from(matched) {
            Ok(value)
        } else {
            Err(SigningError::BadSignature)
        }
    }
}

/// Django's `TimestampSigner`: the value, `:`, the signing time in base 62,
/// signed.
#[derive(Debug, Clone)]
pub struct TimestampSigner<'k> {
    signer: Signer<'k>,
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn base62(mut n: u64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(BASE62[(n % 62) as usize]);
        n /= 62;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

fn from_base62(text: &str) -> Option<u64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if negative || digits.is_empty() || digits.len() > 11 {
        return None;
    }
    digits.bytes().try_fold(0u64, |n, byte| {
        let digit = BASE62.iter().position(|&d| d == byte)?;
        n.checked_mul(62)?.checked_add(digit as u64)
    })
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

impl<'k> TimestampSigner<'k> {
    /// A timestamp signer with `salt`; an empty one is Django's default
    /// for the class, `"django.core.signing.TimestampSigner"`.
    pub fn new(keys: &'k SecretKeys, salt: &str) -> Self {
        Self {
            signer: Signer::salted(keys, salt, "django.core.signing.TimestampSigner"),
        }
    }

    /// `value:timestamp:signature`, signed at `now` (Unix seconds).
    pub fn sign_at(&self, value: &str, now: u64) -> String {
        self.signer.sign(&format!("{value}:{}", base62(now)))
    }

    /// The value and when it was signed (Unix seconds), when a key made the
    /// signature and, with `max_age`, it is no older than that at `now`.
    pub fn unsign_at<'s>(
        &self,
        signed: &'s str,
        max_age: Option<u64>,
        now: u64,
    ) -> Result<(&'s str, u64), SigningError> {
        let inner = self.signer.unsign(signed)?;
        let (value, timestamp) = inner.rsplit_once(':').ok_or(SigningError::BadSignature)?;
        let signed_at = from_base62(timestamp).ok_or(SigningError::BadSignature)?;
        if let Some(max_age) = max_age
            && now.saturating_sub(signed_at) > max_age
        {
            return Err(SigningError::Expired);
        }
        Ok((value, signed_at))
    }
}

/// `json.dumps(obj, separators=(",", ":"))` as Python writes it: ASCII
/// only, every other character (and DEL) as `\uXXXX`, astral ones as a
/// surrogate pair.
pub fn python_json(value: &serde_json::Value) -> String {
    let json = value.to_string();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && c != '\u{7f}' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// Django's `signing.dumps(obj, salt=salt, compress=True)` at `now`: the
/// JSON as Python writes it, zlib-compressed when that saves at least two
/// bytes (then prefixed with `.`), URL-safe base64 without padding, signed
/// with the timestamp signer.
pub fn dumps_at(value: &serde_json::Value, keys: &SecretKeys, salt: &str, now: u64) -> String {
    let json = python_json(value);
    let compressed = {
        use std::io::Write;
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder
            .write_all(json.as_bytes())
            .and_then(|()| encoder.finish())
            .ok()
    };
    let payload = match compressed {
        Some(compressed) if compressed.len() + 1 < json.len() => {
            format!(".{}", URL_SAFE_NO_PAD.encode(compressed))
        }
        _ => URL_SAFE_NO_PAD.encode(json),
    };
    TimestampSigner::new(keys, salt).sign_at(&payload, now)
}

/// [`dumps_at`] now.
pub fn dumps(value: &serde_json::Value, keys: &SecretKeys, salt: &str) -> String {
    dumps_at(value, keys, salt, unix_now())
}

/// [`loads_at`] now.
pub fn loads(
    signed: &str,
    keys: &SecretKeys,
    salt: &str,
    max_age: Option<u64>,
) -> Result<serde_json::Value, SigningError> {
    loads_at(signed, keys, salt, max_age, unix_now())
}

/// Django's `signing.loads(signed, salt=salt, max_age=max_age)` at `now`:
/// the signature first (any key), then the age, then the payload, inflated
/// to at most [`MAX_INFLATED_BYTES`] and read as Django reads it (latin-1
/// JSON).
pub fn loads_at(
    signed: &str,
    keys: &SecretKeys,
    salt: &str,
    max_age: Option<u64>,
    now: u64,
) -> Result<serde_json::Value, SigningError> {
    let (payload, _) = TimestampSigner::new(keys, salt).unsign_at(signed, max_age, now)?;
    let (compressed, encoded) = match payload.strip_prefix('.') {
        Some(rest) => (true, rest),
        None => (false, payload),
    };
    let mut bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| SigningError::Malformed("not base64"))?;
    if compressed {
        let mut inflated = Vec::new();
        flate2::read::ZlibDecoder::new(bytes.as_slice())
            .take(MAX_INFLATED_BYTES as u64 + 1)
            .read_to_end(&mut inflated)
            .map_err(|_| SigningError::Malformed("not zlib"))?;
        if inflated.len() > MAX_INFLATED_BYTES {
            return Err(SigningError::Malformed("inflates past the bound"));
        }
        bytes = inflated;
    }
    // Django decodes the bytes as latin-1: one character per byte.
    let text: String = bytes.iter().map(|&byte| char::from(byte)).collect();
    serde_json::from_str(&text).map_err(|_| SigningError::Malformed("not JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_round_trips_and_refuses_what_python_would_not_write() {
        for n in [0, 1, 61, 62, 1_765_000_000, u64::from(u32::MAX)] {
            assert_eq!(from_base62(&base62(n)), Some(n));
        }
        for bad in ["", "-1", "a!", "zzzzzzzzzzzz"] {
            assert_eq!(from_base62(bad), None, "{bad}");
        }
    }

    #[test]
    fn python_json_escapes_as_python_does() {
        let value = serde_json::json!({"k": "é\u{7f}😀\n"});
        assert_eq!(python_json(&value), r#"{"k":"\u00e9\u007f\ud83d\ude00\n"}"#);
    }
}
