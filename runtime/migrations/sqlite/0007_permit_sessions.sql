-- actix-permit: a record per login (RecordedSessions), named by the
-- session. Times are seconds since the Unix epoch; `ended_why` says why a
-- session ended. Ending or deleting one bumps the exact cache's counter; a
-- new record (nobody can have cached it) and `last_seen` (written once a
-- minute at most) do not.
CREATE TABLE permit_sessions (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES permit_users (id) ON DELETE CASCADE,
    device TEXT NOT NULL,
    address TEXT NOT NULL,
    created BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    ended BIGINT,
    ended_why TEXT
);
CREATE INDEX permit_sessions_user ON permit_sessions (user_id);

CREATE TRIGGER permit_sessions_updated AFTER UPDATE OF user_id, ended ON permit_sessions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_sessions_deleted AFTER DELETE ON permit_sessions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;
