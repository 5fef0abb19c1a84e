-- actix-permit: a record per login (RecordedSessions), named by the
-- session. Times are seconds since the Unix epoch; `ended_why` says why a
-- session ended. Ending or deleting one sends `r:<id>` on `permit_auth`; a
-- new record (nobody can have cached it) and `last_seen` (written once a
-- minute at most) do not.
CREATE TABLE permit_sessions (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES permit_users (id) ON DELETE CASCADE,
    device TEXT NOT NULL,
    address TEXT NOT NULL,
    created BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    ended BIGINT,
    ended_why TEXT
);
CREATE INDEX permit_sessions_user ON permit_sessions (user_id);

CREATE FUNCTION permit_notify_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('permit_auth', 'r:' || OLD.id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER permit_sessions_changed
AFTER DELETE OR UPDATE OF user_id, ended ON permit_sessions
    FOR EACH ROW EXECUTE FUNCTION permit_notify_sessions();

CREATE FUNCTION permit_notify_sessions_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('permit_auth', '*');
    RETURN NULL;
END;
$$;
CREATE TRIGGER permit_sessions_truncated AFTER TRUNCATE ON permit_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION permit_notify_sessions_truncated();
