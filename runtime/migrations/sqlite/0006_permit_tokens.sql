-- actix-permit: API tokens. The secret is kept only as its digest (hex);
-- `scopes` lists permission names separated by spaces; times are seconds
-- since the Unix epoch. A change to what a token is (not its last use,
-- written once a minute at most) bumps the exact cache's counter.
CREATE TABLE permit_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES permit_users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    digest TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT,
    last_used BIGINT,
    UNIQUE (user_id, name)
);

CREATE TRIGGER permit_tokens_inserted AFTER INSERT ON permit_tokens
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_tokens_updated
AFTER UPDATE OF user_id, name, prefix, digest, scopes, expires ON permit_tokens
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_tokens_deleted AFTER DELETE ON permit_tokens
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;
