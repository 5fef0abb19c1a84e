//! Behaviour of the macros and the runtime through a real `App`, real
//! session cookies and the in-memory backend.

mod audit;
mod bypasses;
mod checks;
mod credentials;
mod deny_by_default;
mod deny_model;
mod django_auth;
mod django_backend;
mod django_cache;
mod django_csrf;
mod django_redirect;
mod django_sessions;
mod exact_cache;
mod extraction;
mod failures;
mod identity;
mod in_code;
mod login_surface;
mod object_ids;
mod objects;
mod placement;
mod recent_login;
mod scopes;
mod security;
mod sessions;
mod sql;
mod support;
mod throttle_attacks;
mod tokens_and_sessions;
