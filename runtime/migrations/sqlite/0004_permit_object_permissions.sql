-- actix-permit: object permissions (django-guardian's shape). A row grants
-- one permission on one object, to a user or to a group's members. The
-- object is its id as text; its type is the model the permission is for
-- (`inventory.change_item` on object `3` is item 3), as in Django, where
-- each permission belongs to one model.
CREATE TABLE permit_user_object_permissions (
    user_id INTEGER NOT NULL REFERENCES permit_users (id) ON DELETE CASCADE,
    object_id TEXT NOT NULL,
    permission_id INTEGER NOT NULL REFERENCES permit_permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, object_id, permission_id)
);
CREATE INDEX permit_user_object_permissions_by_permission
    ON permit_user_object_permissions (permission_id, user_id);

CREATE TABLE permit_group_object_permissions (
    group_id INTEGER NOT NULL REFERENCES permit_groups (id) ON DELETE CASCADE,
    object_id TEXT NOT NULL,
    permission_id INTEGER NOT NULL REFERENCES permit_permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, object_id, permission_id)
);
CREATE INDEX permit_group_object_permissions_by_permission
    ON permit_group_object_permissions (permission_id, group_id);

-- The exact cache hears of every change, as for the other auth tables.
CREATE TRIGGER permit_user_object_permissions_inserted AFTER INSERT ON permit_user_object_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_user_object_permissions_updated AFTER UPDATE ON permit_user_object_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_user_object_permissions_deleted AFTER DELETE ON permit_user_object_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_group_object_permissions_inserted AFTER INSERT ON permit_group_object_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_group_object_permissions_updated AFTER UPDATE ON permit_group_object_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_group_object_permissions_deleted AFTER DELETE ON permit_group_object_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;
