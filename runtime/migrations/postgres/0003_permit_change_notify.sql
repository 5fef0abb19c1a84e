-- actix-permit: tell every instance's exact cache what changed. Each change
-- to the auth tables sends NOTIFY on channel `permit_auth` once the
-- transaction commits, with the payload `u:<user id>` (one user's row, own
-- permissions or groups) or `*` (a group's or a permission's rows: anyone
-- may be affected). PostgreSQL folds identical payloads within a transaction.
CREATE FUNCTION permit_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_data RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN
        row_data := OLD;
    ELSE
        row_data := NEW;
    END IF;
    IF TG_TABLE_NAME = 'permit_users' THEN
        PERFORM pg_notify('permit_auth', 'u:' || row_data.id);
        IF TG_OP = 'UPDATE' AND OLD.id <> NEW.id THEN
            PERFORM pg_notify('permit_auth', 'u:' || OLD.id);
        END IF;
    ELSIF TG_TABLE_NAME IN ('permit_user_groups', 'permit_user_permissions') THEN
        PERFORM pg_notify('permit_auth', 'u:' || row_data.user_id);
        IF TG_OP = 'UPDATE' AND OLD.user_id <> NEW.user_id THEN
            PERFORM pg_notify('permit_auth', 'u:' || OLD.user_id);
        END IF;
    ELSE
        PERFORM pg_notify('permit_auth', '*');
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER permit_users_changed AFTER INSERT OR UPDATE OR DELETE ON permit_users
    FOR EACH ROW EXECUTE FUNCTION permit_notify_change();
CREATE TRIGGER permit_user_groups_changed AFTER INSERT OR UPDATE OR DELETE ON permit_user_groups
    FOR EACH ROW EXECUTE FUNCTION permit_notify_change();
CREATE TRIGGER permit_user_permissions_changed AFTER INSERT OR UPDATE OR DELETE ON permit_user_permissions
    FOR EACH ROW EXECUTE FUNCTION permit_notify_change();
CREATE TRIGGER permit_group_permissions_changed AFTER INSERT OR UPDATE OR DELETE ON permit_group_permissions
    FOR EACH ROW EXECUTE FUNCTION permit_notify_change();
CREATE TRIGGER permit_permissions_changed AFTER UPDATE OR DELETE ON permit_permissions
    FOR EACH ROW EXECUTE FUNCTION permit_notify_change();
CREATE TRIGGER permit_groups_changed AFTER UPDATE OR DELETE ON permit_groups
    FOR EACH ROW EXECUTE FUNCTION permit_notify_change();
-- TRUNCATE fires no row triggers: a statement trigger says "everything".
CREATE FUNCTION permit_notify_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('permit_auth', '*');
    RETURN NULL;
END;
$$;
CREATE TRIGGER permit_users_truncated AFTER TRUNCATE ON permit_users
    FOR EACH STATEMENT EXECUTE FUNCTION permit_notify_truncate();
CREATE TRIGGER permit_user_groups_truncated AFTER TRUNCATE ON permit_user_groups
    FOR EACH STATEMENT EXECUTE FUNCTION permit_notify_truncate();
CREATE TRIGGER permit_user_permissions_truncated AFTER TRUNCATE ON permit_user_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION permit_notify_truncate();
CREATE TRIGGER permit_group_permissions_truncated AFTER TRUNCATE ON permit_group_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION permit_notify_truncate();
CREATE TRIGGER permit_permissions_truncated AFTER TRUNCATE ON permit_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION permit_notify_truncate();
CREATE TRIGGER permit_groups_truncated AFTER TRUNCATE ON permit_groups
    FOR EACH STATEMENT EXECUTE FUNCTION permit_notify_truncate();
