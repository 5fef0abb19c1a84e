//! Changing users, groups, permissions and object grants in the SQL
//! backend, as Django's admin and `manage.py` do: each change empties the
//! exact cache's entries it touches, on every instance.

use super::{ALL_USERS, AnyQuery, SqlBackend, SqlUser, USER_BY_NAME, database, user_from_row};
use sqlx::Row;

use crate::backend::AdminError;
use crate::password;
use crate::permission;

impl SqlBackend {
    /// The `id` of the row `query` finds, or the `missing` error.
    async fn find_id(&self, query: AnyQuery<'_>, missing: AdminError) -> Result<i64, AdminError> {
        match query.fetch_optional(&self.pool).await.map_err(database)? {
            Some(row) => row.try_get::<i64, _>("id").map_err(database),
            None => Err(missing),
        }
    }

    /// Runs a statement that changes the auth tables.
    pub(super) async fn run(&self, query: AnyQuery<'_>) -> Result<(), AdminError> {
        let done = query.execute(&self.pool).await.map_err(database);
        self.changed();
        done.map(drop)
    }

    pub(super) async fn user_id(&self, username: &str) -> Result<i64, AdminError> {
        let query = sqlx::query("SELECT id FROM permit_users WHERE username = $1").bind(username);
        self.find_id(query, AdminError::UnknownUser(username.to_owned()))
            .await
    }

    async fn group_id(&self, name: &str) -> Result<i64, AdminError> {
        let query = sqlx::query("SELECT id FROM permit_groups WHERE name = $1").bind(name);
        self.find_id(query, AdminError::UnknownGroup(name.to_owned()))
            .await
    }

    pub(super) async fn permission_id(&self, perm: &str) -> Result<i64, AdminError> {
        let (app_label, codename) = split_permission(perm)?;
        let query =
            sqlx::query("SELECT id FROM permit_permissions WHERE app_label = $1 AND codename = $2")
                .bind(app_label)
                .bind(codename);
        self.find_id(query, AdminError::UnknownPermission(perm.to_owned()))
            .await
    }

    /// Adds an active, non-superuser user and returns their id.
    pub async fn create_user(&self, username: &str, password: &str) -> Result<String, AdminError> {
        if self.user_id(username).await.is_ok() {
            return Err(AdminError::DuplicateUser(username.to_owned()));
        }
        let hash = password::hash_password_blocking(password).await?;
        let row = sqlx::query(
            "INSERT INTO permit_users (username, password_hash, is_active, is_superuser) \
             VALUES ($1, $2, TRUE, FALSE) RETURNING id",
        )
        .bind(username)
        .bind(hash)
        .fetch_one(&self.pool)
        .await
        .map_err(database)?;
        Ok(row.try_get::<i64, _>("id").map_err(database)?.to_string())
    }

    async fn update_user(
        &self,
        username: &str,
        sql: &'static str,
        value: bool,
    ) -> Result<(), AdminError> {
        let id = self.user_id(username).await?;
        self.run(sqlx::query(sql).bind(value).bind(id)).await
    }

    /// Makes a user a superuser, or not.
    pub async fn set_superuser(&self, username: &str, superuser: bool) -> Result<(), AdminError> {
        self.update_user(
            username,
            "UPDATE permit_users SET is_superuser = $1 WHERE id = $2",
            superuser,
        )
        .await
    }

    /// Activates or deactivates a user; a deactivated user's sessions are
    /// anonymous from their next request on.
    pub async fn set_active(&self, username: &str, active: bool) -> Result<(), AdminError> {
        self.update_user(
            username,
            "UPDATE permit_users SET is_active = $1 WHERE id = $2",
            active,
        )
        .await
    }

    /// Sets a new password; the user's existing sessions end (their
    /// records say so).
    pub async fn set_password(&self, username: &str, password: &str) -> Result<(), AdminError> {
        let id = self.user_id(username).await?;
        let hash = password::hash_password_blocking(password).await?;
        self.run(
            sqlx::query("UPDATE permit_users SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(id),
        )
        .await?;
        self.end_user_sessions(id, None, crate::records::EndReason::PasswordChanged)
            .await
            .map(drop)
    }

    /// Defines a permission (`"app_label.codename"`) with a readable name;
    /// nothing happens when it exists.
    pub async fn create_permission(&self, perm: &str, name: &str) -> Result<(), AdminError> {
        let (app_label, codename) = split_permission(perm)?;
        self.run(
            sqlx::query(
                "INSERT INTO permit_permissions (app_label, codename, name) VALUES ($1, $2, $3) \
             ON CONFLICT (app_label, codename) DO NOTHING",
            )
            .bind(app_label)
            .bind(codename)
            .bind(name),
        )
        .await
    }

    /// Every defined permission, sorted.
    pub async fn permission_names(&self) -> Result<Vec<String>, AdminError> {
        let rows = sqlx::query(
            "SELECT app_label || '.' || codename AS perm FROM permit_permissions ORDER BY perm",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.iter()
            .map(|row| row.try_get::<String, _>("perm").map_err(database))
            .collect()
    }

    /// Grants a defined permission to a user directly.
    pub async fn grant(&self, username: &str, perm: &str) -> Result<(), AdminError> {
        let user = self.user_id(username).await?;
        let perm = self.permission_id(perm).await?;
        self.run(
            sqlx::query(
                "INSERT INTO permit_user_permissions (user_id, permission_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
            )
            .bind(user)
            .bind(perm),
        )
        .await
    }

    /// Takes a directly granted permission away (group permissions stay).
    pub async fn revoke(&self, username: &str, perm: &str) -> Result<(), AdminError> {
        let user = self.user_id(username).await?;
        let perm = self.permission_id(perm).await?;
        self.run(
            sqlx::query(
                "DELETE FROM permit_user_permissions WHERE user_id = $1 AND permission_id = $2",
            )
            .bind(user)
            .bind(perm),
        )
        .await
    }

    /// Creates a group (if new) and gives it the defined permissions `perms`.
    pub async fn create_group(&self, name: &str, perms: &[&str]) -> Result<(), AdminError> {
        self.run(
            sqlx::query(
                "INSERT INTO permit_groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name),
        )
        .await?;
        let group = self.group_id(name).await?;
        for perm in perms {
            let perm = self.permission_id(perm).await?;
            self.run(sqlx::query(
                "INSERT INTO permit_group_permissions (group_id, permission_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            ).bind(group).bind(perm)).await?;
        }
        Ok(())
    }

    /// Makes a user a member of a group.
    pub async fn add_user_to_group(&self, username: &str, group: &str) -> Result<(), AdminError> {
        let user = self.user_id(username).await?;
        let group = self.group_id(group).await?;
        self.run(sqlx::query(
            "INSERT INTO permit_user_groups (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        ).bind(user).bind(group)).await
    }

    /// Ends a user's membership of a group (nothing happens when they are
    /// not a member).
    pub async fn remove_user_from_group(
        &self,
        username: &str,
        group: &str,
    ) -> Result<(), AdminError> {
        let user = self.user_id(username).await?;
        let group = self.group_id(group).await?;
        self.run(
            sqlx::query("DELETE FROM permit_user_groups WHERE user_id = $1 AND group_id = $2")
                .bind(user)
                .bind(group),
        )
        .await
    }

    /// Takes a permission away from a group (its members keep what they
    /// hold directly or through other groups).
    pub async fn revoke_from_group(&self, group: &str, perm: &str) -> Result<(), AdminError> {
        let group = self.group_id(group).await?;
        let perm = self.permission_id(perm).await?;
        self.run(
            sqlx::query(
                "DELETE FROM permit_group_permissions WHERE group_id = $1 AND permission_id = $2",
            )
            .bind(group)
            .bind(perm),
        )
        .await
    }

    /// Grants a defined permission on one object (its id) to a user
    /// directly (django-guardian's `assign_perm`).
    pub async fn grant_object(
        &self,
        username: &str,
        perm: &str,
        object: &str,
    ) -> Result<(), AdminError> {
        let user = self.user_id(username).await?;
        self.object_grant(
            "INSERT INTO permit_user_object_permissions (user_id, object_id, permission_id) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            user,
            perm,
            object,
        )
        .await
    }

    /// Takes a directly granted object permission away (what the user
    /// holds through groups stays).
    pub async fn revoke_object(
        &self,
        username: &str,
        perm: &str,
        object: &str,
    ) -> Result<(), AdminError> {
        let user = self.user_id(username).await?;
        self.object_grant(
            "DELETE FROM permit_user_object_permissions \
             WHERE user_id = $1 AND object_id = $2 AND permission_id = $3",
            user,
            perm,
            object,
        )
        .await
    }

    /// Grants a defined permission on one object to every member of a group.
    pub async fn grant_group_object(
        &self,
        group: &str,
        perm: &str,
        object: &str,
    ) -> Result<(), AdminError> {
        let group = self.group_id(group).await?;
        self.object_grant(
            "INSERT INTO permit_group_object_permissions (group_id, object_id, permission_id) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            group,
            perm,
            object,
        )
        .await
    }

    /// Takes an object permission away from a group.
    pub async fn revoke_group_object(
        &self,
        group: &str,
        perm: &str,
        object: &str,
    ) -> Result<(), AdminError> {
        let group = self.group_id(group).await?;
        self.object_grant(
            "DELETE FROM permit_group_object_permissions \
             WHERE group_id = $1 AND object_id = $2 AND permission_id = $3",
            group,
            perm,
            object,
        )
        .await
    }

    /// Runs `sql`, which grants or revokes a permission on an object for a
    /// user or group (`$1`: its id, `$2`: the object, `$3`: the permission).
    async fn object_grant(
        &self,
        sql: &'static str,
        holder: i64,
        perm: &str,
        object: &str,
    ) -> Result<(), AdminError> {
        let perm = self.permission_id(perm).await?;
        self.run(sqlx::query(sql).bind(holder).bind(object).bind(perm))
            .await
    }

    /// Every object permission granted on one object, to users
    /// (`(username, permission)`) and to groups (`(group, permission)`),
    /// sorted: what an admin page shows for an object.
    pub async fn object_grants(&self, object: &str) -> Result<ObjectGrants, AdminError> {
        let rows = sqlx::query(
            "SELECT u.username AS holder, p.app_label || '.' || p.codename AS perm, CAST(0 AS BIGINT) AS via \
             FROM permit_user_object_permissions uo \
             JOIN permit_users u ON u.id = uo.user_id \
             JOIN permit_permissions p ON p.id = uo.permission_id WHERE uo.object_id = $1 \
             UNION ALL \
             SELECT g.name AS holder, p.app_label || '.' || p.codename AS perm, CAST(1 AS BIGINT) AS via \
             FROM permit_group_object_permissions go \
             JOIN permit_groups g ON g.id = go.group_id \
             JOIN permit_permissions p ON p.id = go.permission_id WHERE go.object_id = $1",
        )
        .bind(object)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        let mut grants = ObjectGrants::default();
        for row in &rows {
            let pair = (
                row.try_get::<String, _>("holder").map_err(database)?,
                row.try_get::<String, _>("perm").map_err(database)?,
            );
            match row.try_get::<i64, _>("via").map_err(database)? {
                0 => grants.users.push(pair),
                _ => grants.groups.push(pair),
            }
        }
        grants.users.sort();
        grants.groups.sort();
        Ok(grants)
    }

    /// Every user, by username.
    pub async fn users(&self) -> Result<Vec<SqlUser>, AdminError> {
        let rows = sqlx::query(ALL_USERS)
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        rows.iter()
            .map(|row| user_from_row(row).map_err(database))
            .collect()
    }

    /// The user with this username, if any.
    pub async fn user(&self, username: &str) -> Result<Option<SqlUser>, AdminError> {
        let row = sqlx::query(USER_BY_NAME)
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(database)?;
        row.map(|row| user_from_row(&row))
            .transpose()
            .map_err(database)
    }
}

/// The object permissions granted on one object
/// ([`SqlBackend::object_grants`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectGrants {
    /// `(username, permission)`, granted to users directly.
    pub users: Vec<(String, String)>,
    /// `(group, permission)`, granted to groups.
    pub groups: Vec<(String, String)>,
}

/// `"app.codename"` → `("app", "codename")`, after checking the form.
fn split_permission(perm: &str) -> Result<(&str, &str), AdminError> {
    permission::validate(perm)?;
    Ok(perm.split_once('.').unwrap_or((perm, "")))
}
