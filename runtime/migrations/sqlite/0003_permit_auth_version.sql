-- actix-permit: a counter of changes to the auth tables, for the exact
-- cache. Each instance checks `PRAGMA data_version` (did anyone write?) and,
-- when it moved, this counter (did anyone write to the auth tables?) before
-- it trusts what it cached.
CREATE TABLE permit_auth_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO permit_auth_version (id, version) VALUES (1, 0);

CREATE TRIGGER permit_users_inserted AFTER INSERT ON permit_users
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_users_updated AFTER UPDATE ON permit_users
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_users_deleted AFTER DELETE ON permit_users
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_groups_inserted AFTER INSERT ON permit_groups
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_groups_updated AFTER UPDATE ON permit_groups
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_groups_deleted AFTER DELETE ON permit_groups
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_permissions_inserted AFTER INSERT ON permit_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_permissions_updated AFTER UPDATE ON permit_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_permissions_deleted AFTER DELETE ON permit_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_user_groups_inserted AFTER INSERT ON permit_user_groups
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_user_groups_updated AFTER UPDATE ON permit_user_groups
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_user_groups_deleted AFTER DELETE ON permit_user_groups
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_user_permissions_inserted AFTER INSERT ON permit_user_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_user_permissions_updated AFTER UPDATE ON permit_user_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_user_permissions_deleted AFTER DELETE ON permit_user_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_group_permissions_inserted AFTER INSERT ON permit_group_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_group_permissions_updated AFTER UPDATE ON permit_group_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;

CREATE TRIGGER permit_group_permissions_deleted AFTER DELETE ON permit_group_permissions
BEGIN
    UPDATE permit_auth_version SET version = version + 1;
END;
