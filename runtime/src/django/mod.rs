//! Beside a Django site (feature `django`): what a Rust service needs to
//! read and write Django's own auth state. So far: its signing
//! ([`signing`]: `salted_hmac`, signers with `SECRET_KEY_FALLBACKS`,
//! `dumps`/`loads`), its password hashers and session auth hash
//! ([`hashers`]), its CSRF tokens ([`csrf`]). Each is checked against the
//! installed Django in the test suite. `backend::DjangoBackend` (with
//! `sqlite` or `postgres`) reads the site's users, groups, permissions and
//! django-guardian grants with them, and `backend::DjangoSessions` its `db`
//! sessions.

pub mod csrf;
pub mod hashers;
pub mod signing;
