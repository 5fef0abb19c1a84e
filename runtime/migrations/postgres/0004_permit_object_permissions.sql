-- actix-permit: object permissions (django-guardian's shape). A row grants
-- one permission on one object, to a user or to a group's members. The
-- object is its id as text; its type is the model the permission is for
-- (`inventory.change_item` on object `3` is item 3), as in Django, where
-- each permission belongs to one model.
CREATE TABLE permit_user_object_permissions (
    user_id BIGINT NOT NULL REFERENCES permit_users (id) ON DELETE CASCADE,
    object_id TEXT NOT NULL,
    permission_id BIGINT NOT NULL REFERENCES permit_permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, object_id, permission_id)
);
CREATE INDEX permit_user_object_permissions_by_permission
    ON permit_user_object_permissions (permission_id, user_id);

CREATE TABLE permit_group_object_permissions (
    group_id BIGINT NOT NULL REFERENCES permit_groups (id) ON DELETE CASCADE,
    object_id TEXT NOT NULL,
    permission_id BIGINT NOT NULL REFERENCES permit_permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, object_id, permission_id)
);
CREATE INDEX permit_group_object_permissions_by_permission
    ON permit_group_object_permissions (permission_id, group_id);

-- The exact cache hears of every change, as for the other auth tables: a
-- user's object permissions concern that user (`u:<id>`), a group's anyone.
CREATE OR REPLACE FUNCTION permit_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
    ELSIF TG_TABLE_NAME IN ('permit_user_groups', 'permit_user_permissions',
                            'permit_user_object_permissions') THEN
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

CREATE TRIGGER permit_user_object_permissions_changed
    AFTER INSERT OR UPDATE OR DELETE ON permit_user_object_permissions
    FOR EACH ROW EXECUTE FUNCTION permit_notify_change();
CREATE TRIGGER permit_group_object_permissions_changed
    AFTER INSERT OR UPDATE OR DELETE ON permit_group_object_permissions
    FOR EACH ROW EXECUTE FUNCTION permit_notify_change();
CREATE TRIGGER permit_user_object_permissions_truncated
    AFTER TRUNCATE ON permit_user_object_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION permit_notify_truncate();
CREATE TRIGGER permit_group_object_permissions_truncated
    AFTER TRUNCATE ON permit_group_object_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION permit_notify_truncate();
