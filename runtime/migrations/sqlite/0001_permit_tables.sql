-- actix-permit: users, groups and permissions, shaped like Django's auth tables.
CREATE TABLE permit_users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE permit_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE permit_permissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_label TEXT NOT NULL,
    codename TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (app_label, codename)
);

CREATE TABLE permit_user_groups (
    user_id INTEGER NOT NULL REFERENCES permit_users (id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES permit_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);

CREATE TABLE permit_user_permissions (
    user_id INTEGER NOT NULL REFERENCES permit_users (id) ON DELETE CASCADE,
    permission_id INTEGER NOT NULL REFERENCES permit_permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, permission_id)
);

CREATE TABLE permit_group_permissions (
    group_id INTEGER NOT NULL REFERENCES permit_groups (id) ON DELETE CASCADE,
    permission_id INTEGER NOT NULL REFERENCES permit_permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, permission_id)
);
