//! Django's CSRF tokens (`django/middleware/csrf.py`): the secret is 32
//! characters of `[a-zA-Z0-9]` (in the `csrftoken` cookie, or the
//! session); a request carries it in the `csrfmiddlewaretoken` form field
//! or the `X-CSRFToken` header, plain or masked (64 characters: a mask,
//! then the secret shifted by it). A token of any other form never matches,
//! and nothing here panics on what a client sends.

use subtle::ConstantTimeEq;

/// The characters of a secret, a mask and a masked token, in Django's order.
const CHARS: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A secret's length.
pub const SECRET_LENGTH: usize = 32;

/// A masked token's length.
pub const TOKEN_LENGTH: usize = 2 * SECRET_LENGTH;

fn index(byte: u8) -> Option<usize> {
    CHARS.iter().position(|&c| c == byte)
}

/// A secret or a token of Django's form: 32 or 64 characters of `CHARS`.
fn well_formed(token: &str) -> bool {
    matches!(token.len(), SECRET_LENGTH | TOKEN_LENGTH) && token.bytes().all(|b| index(b).is_some())
}

/// The secret inside a well-formed secret or masked token.
fn secret_of(token: &str) -> Option<[u8; SECRET_LENGTH]> {
    if !well_formed(token) {
        return None;
    }
    let bytes = token.as_bytes();
    let mut secret = [0u8; SECRET_LENGTH];
    if bytes.len() == SECRET_LENGTH {
        secret.copy_from_slice(bytes);
        return Some(secret);
    }
    let (mask, cipher) = bytes.split_at(SECRET_LENGTH);
    for ((out, &c), &m) in secret.iter_mut().zip(cipher).zip(mask) {
        let shifted = (index(c)? + CHARS.len() - index(m)?) % CHARS.len();
        *out = CHARS[shifted];
    }
    Some(secret)
}

/// Whether `token` (from the form field or the header, plain or masked)
/// carries the secret that `stored` (the cookie's or the session's value,
/// a secret or, as Django before 4.1 wrote cookies, a masked token) holds;
/// compared in constant time.
pub fn token_matches(stored: &str, token: &str) -> bool {
    match (secret_of(stored), secret_of(token)) {
        (Some(stored), Some(token)) => bool::from(stored.ct_eq(&token)),
        _ => false,
    }
}

/// `secret` masked with `mask` (both 32 characters of Django's alphabet),
/// as Django's `get_token` writes a token into a page; `None` for input of
/// another form.
pub fn mask(secret: &str, mask: &str) -> Option<String> {
    if secret.len() != SECRET_LENGTH || mask.len() != SECRET_LENGTH {
        return None;
    }
    let mut token = String::with_capacity(TOKEN_LENGTH);
    token.push_str(mask);
    for (s, m) in secret.bytes().zip(mask.bytes()) {
        token.push(char::from(CHARS[(index(s)? + index(m)?) % CHARS.len()]));
    }
    Some(token)
}
