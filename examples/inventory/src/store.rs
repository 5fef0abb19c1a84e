//! The app's own data: items, in the same database as the users, and the
//! demo data created on first start.

use actix_permit::backend::{AdminError, SqlBackend};
use serde::{Deserialize, Serialize};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Row, SqlSafeStr};

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "permit-demo";

/// The demo users `--demo` creates.
pub const DEMO_USERS: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "gina"];

/// The users whose password is still [`DEMO_PASSWORD`] (each checked with
/// Argon2, on the blocking pool).
pub async fn users_with_demo_password(backend: &SqlBackend) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT username, password_hash FROM permit_users ORDER BY username")
        .fetch_all(backend.pool())
        .await?;
    let mut found = Vec::new();
    for row in rows {
        let name: String = row.try_get("username")?;
        let hash: String = row.try_get("password_hash")?;
        if actix_permit::password::verify_password_blocking(DEMO_PASSWORD, &hash).await {
            found.push(name);
        }
    }
    Ok(found)
}

/// The four Django-style model permissions of items.
pub const ITEM_PERMISSIONS: [(&str, &str); 5] = [
    ("inventory.view_item", "Can view item"),
    ("inventory.add_item", "Can add item"),
    ("inventory.change_item", "Can change item"),
    ("inventory.delete_item", "Can delete item"),
    // Granted to nobody: the access matrix is for superusers.
    ("inventory.view_access", "Can view who may reach what"),
];

/// One item.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: i64,
    pub name: String,
    pub quantity: i64,
    /// Who created it (its object permissions were granted to them then);
    /// `None` for the demo's items and items whose creator is gone.
    pub owner: Option<String>,
}

/// What the creator of an item is granted on it: view, change and delete
/// (object permissions; `inventory.add_item` alone gives nothing more).
pub const OWNER_PERMISSIONS: [&str; 3] = [
    "inventory.view_item",
    "inventory.change_item",
    "inventory.delete_item",
];

/// Items with their owner's name.
macro_rules! select_items {
    ($rest:literal) => {
        concat!(
            "SELECT i.id, i.name, i.quantity, u.username AS owner FROM inventory_items i \
             LEFT JOIN permit_users u ON u.id = i.owner_id ",
            $rest
        )
    };
}

/// What a form or JSON body gives for an item.
#[derive(Debug, Deserialize)]
pub struct ItemInput {
    pub name: String,
    pub quantity: u32,
}

impl ItemInput {
    /// A name of 1 to 200 characters after trimming.
    pub fn validate(&self) -> Result<&str, &'static str> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            Err("The name must have 1 to 200 characters.")
        } else {
            Ok(name)
        }
    }
}

/// Items in the app's database.
#[derive(Clone)]
pub struct Items {
    pool: AnyPool,
}

impl Items {
    /// Creates the items table when missing.
    pub async fn open(backend: &SqlBackend) -> Result<Self, sqlx::Error> {
        let sql: [&'static str; 2] = if backend.is_postgres() {
            [
                include_str!("../migrations/postgres.sql"),
                include_str!("../migrations/postgres_owner.sql"),
            ]
        } else {
            [
                include_str!("../migrations/sqlite.sql"),
                include_str!("../migrations/sqlite_owner.sql"),
            ]
        };
        let mut migrator = Migrator::with_migrations(
            (1..)
                .zip(["items", "item owners"].into_iter().zip(sql))
                .map(|(version, (name, sql))| {
                    Migration::new(
                        version,
                        name.into(),
                        MigrationType::Simple,
                        sql.into_sql_str(),
                        false,
                    )
                })
                .collect(),
        );
        migrator.dangerous_set_table_name("_inventory_migrations");
        migrator.run(backend.pool()).await?;
        Ok(Self {
            pool: backend.pool().clone(),
        })
    }

    fn item(row: &sqlx::any::AnyRow) -> Result<Item, sqlx::Error> {
        Ok(Item {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            quantity: row.try_get("quantity")?,
            owner: row.try_get("owner")?,
        })
    }

    /// Every item, by id.
    pub async fn list(&self) -> Result<Vec<Item>, sqlx::Error> {
        let rows = sqlx::query(select_items!("ORDER BY i.id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::item).collect()
    }

    /// One item.
    pub async fn get(&self, id: i64) -> Result<Option<Item>, sqlx::Error> {
        let row = sqlx::query(select_items!("WHERE i.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::item).transpose()
    }

    /// Adds an item created by the user whose id is `owner` (none for the
    /// demo's) and returns its id.
    pub async fn add(
        &self,
        name: &str,
        quantity: u32,
        owner: Option<i64>,
    ) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "INSERT INTO inventory_items (name, quantity, owner_id) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(i64::from(quantity))
        .bind(owner)
        .fetch_one(&self.pool)
        .await?;
        row.try_get("id")
    }

    /// Changes an item; `false` when there is none with this id.
    pub async fn update(&self, id: i64, name: &str, quantity: u32) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE inventory_items SET name = $1, quantity = $2 WHERE id = $3")
            .bind(name)
            .bind(i64::from(quantity))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes an item; `false` when there is none with this id.
    pub async fn delete(&self, id: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM inventory_items WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// The item permissions the handlers name, created when the database has
/// none yet.
pub async fn seed_permissions(backend: &SqlBackend) -> Result<(), AdminError> {
    if !backend.permission_names().await?.is_empty() {
        return Ok(());
    }
    for (perm, name) in ITEM_PERMISSIONS {
        backend.create_permission(perm, name).await?;
    }
    Ok(())
}

/// The demo users (with the published [`DEMO_PASSWORD`]) and a few items,
/// created only on request (`--demo`) and only into a database without
/// them. Returns whether it seeded.
pub async fn seed_demo(backend: &SqlBackend, items: &Items) -> Result<bool, AdminError> {
    seed_permissions(backend).await?;
    if backend.user("alice").await?.is_some() {
        return Ok(false);
    }
    for user in DEMO_USERS {
        backend.create_user(user, DEMO_PASSWORD).await?;
    }
    backend.set_superuser("alice", true).await?;
    backend
        .create_group("viewers", &["inventory.view_item"])
        .await?;
    backend.add_user_to_group("bob", "viewers").await?;
    for perm in [
        "inventory.view_item",
        "inventory.add_item",
        "inventory.change_item",
    ] {
        backend.grant("carol", perm).await?;
    }
    backend.set_superuser("dave", true).await?;
    backend.set_active("dave", false).await?;
    // gina may add items, and then view, change and delete her own only.
    backend.grant("gina", "inventory.add_item").await?;
    for (name, quantity) in [
        ("Hex bolt M8", 120),
        ("Washer 8 mm", 300),
        ("Wing nut M8", 45),
    ] {
        items
            .add(name, quantity, None)
            .await
            .map_err(|e| AdminError::Database(actix_permit::backend::BackendError::new(e)))?;
    }
    Ok(true)
}
