-- actix-permit: failed-login counts for the login throttle, shared by every
-- instance on this database. `expires_at` is in Unix milliseconds.
CREATE TABLE permit_login_failures (
    key TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
