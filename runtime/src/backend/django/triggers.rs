//! The triggers that keep a [`DjangoBackend`](super::DjangoBackend)'s exact
//! cache exact: on each of the Django site's tables that decide who is
//! logged in and what they may do, a change tells every Rust instance what
//! to forget, the way `SqlBackend`'s own migrations do for its tables.
//!
//! - PostgreSQL: `NOTIFY permit_auth` once the change commits, with
//!   `u:<user id>` (a user's row, memberships, own or object grants),
//!   `s:<session key>` (a session changed or went) or `*` (a group's
//!   permissions, a permission, a content type: anyone may be affected).
//! - SQLite: a counter, `permit_auth_version`, that any change moves; each
//!   instance looks at it (through `PRAGMA data_version`) before it trusts
//!   what it holds.
//!
//! Rows that are only added where nobody can have cached their absence
//! (a new group, permission, content type or session) say nothing.

/// What a change to a table tells the cache.
enum Says {
    /// Forget the user this column names.
    User(String),
    /// Forget the session this column names.
    Session(&'static str),
    /// Forget everything.
    Everything,
}

/// A table the cache depends on: what a change says, and whether new rows
/// matter (a grant does; a new permission row holds nothing yet).
struct Watched {
    table: String,
    says: Says,
    inserts: bool,
}

/// The tables of the site's auth, as this backend reads them.
pub(super) struct Site<'a> {
    pub(super) users: &'a str,
    pub(super) groups: &'a str,
    pub(super) permissions: &'a str,
    pub(super) user_column: &'a str,
    pub(super) guardian: bool,
    pub(super) sessions: bool,
    pub(super) postgres: bool,
}

impl Site<'_> {
    fn watched(&self) -> Vec<Watched> {
        let user = |table: &str, column: &str| Watched {
            table: table.to_owned(),
            says: Says::User(column.to_owned()),
            inserts: true,
        };
        let all = |table: &str, inserts| Watched {
            table: table.to_owned(),
            says: Says::Everything,
            inserts,
        };
        let column = self.user_column;
        let mut tables = vec![
            user(self.users, "id"),
            user(self.groups, column),
            user(self.permissions, column),
            all("auth_group_permissions", true),
            all("auth_group", false),
            all("auth_permission", false),
            all("django_content_type", false),
        ];
        if self.guardian {
            tables.push(user("guardian_userobjectpermission", "user_id"));
            tables.push(all("guardian_groupobjectpermission", true));
        }
        if self.sessions {
            tables.push(Watched {
                table: "django_session".to_owned(),
                says: Says::Session("session_key"),
                inserts: false,
            });
        }
        tables
    }

    /// The names of the triggers, per table, as the database lists them.
    pub(super) fn expected(&self) -> Vec<(String, String)> {
        let mut names = Vec::new();
        for watched in self.watched() {
            let table = watched.table;
            if self.postgres {
                names.push((table.clone(), "permit_django_changed".to_owned()));
                names.push((table, "permit_django_truncated".to_owned()));
            } else {
                for op in ops(watched.inserts) {
                    names.push((table.clone(), sqlite_name(&table, op)));
                }
            }
        }
        names.sort();
        names
    }

    /// The script that installs the triggers (run again, it replaces them).
    pub(super) fn install(&self) -> String {
        if self.postgres {
            self.install_postgres()
        } else {
            self.install_sqlite()
        }
    }

    /// The script that removes them.
    pub(super) fn remove(&self) -> String {
        let mut sql = String::new();
        for watched in self.watched() {
            let table = &watched.table;
            if self.postgres {
                sql.push_str(&format!(
                    "DROP TRIGGER IF EXISTS permit_django_changed ON {table};\n\
                     DROP TRIGGER IF EXISTS permit_django_truncated ON {table};\n"
                ));
            } else {
                for op in ops(watched.inserts) {
                    sql.push_str(&format!(
                        "DROP TRIGGER IF EXISTS {};\n",
                        sqlite_name(table, op)
                    ));
                }
            }
        }
        if self.postgres {
            sql.push_str("DROP FUNCTION IF EXISTS permit_django_notify();\n");
        }
        sql
    }

    fn install_postgres(&self) -> String {
        let mut sql = String::from(
            "-- actix-permit: tell every Rust instance's exact cache what changed\n\
             -- in the Django site's auth and session tables (NOTIFY permit_auth\n\
             -- once the change commits: u:<user id>, s:<session key> or *).\n\
             CREATE OR REPLACE FUNCTION permit_django_notify() RETURNS trigger\n\
             LANGUAGE plpgsql AS $$\n\
             BEGIN\n\
             \x20   IF TG_LEVEL = 'STATEMENT' OR TG_ARGV[0] = '*' THEN\n\
             \x20       PERFORM pg_notify('permit_auth', '*');\n\
             \x20       RETURN NULL;\n\
             \x20   END IF;\n\
             \x20   IF TG_OP <> 'INSERT' THEN\n\
             \x20       PERFORM pg_notify('permit_auth',\n\
             \x20           COALESCE(TG_ARGV[0] || ':' || (to_jsonb(OLD) ->> TG_ARGV[1]), '*'));\n\
             \x20   END IF;\n\
             \x20   IF TG_OP <> 'DELETE' THEN\n\
             \x20       PERFORM pg_notify('permit_auth',\n\
             \x20           COALESCE(TG_ARGV[0] || ':' || (to_jsonb(NEW) ->> TG_ARGV[1]), '*'));\n\
             \x20   END IF;\n\
             \x20   RETURN NULL;\n\
             END;\n\
             $$;\n",
        );
        for watched in self.watched() {
            let table = &watched.table;
            let events = if watched.inserts {
                "INSERT OR UPDATE OR DELETE"
            } else {
                "UPDATE OR DELETE"
            };
            let args = match &watched.says {
                Says::User(column) => format!("'u', '{column}'"),
                Says::Session(column) => format!("'s', '{column}'"),
                Says::Everything => "'*'".to_owned(),
            };
            sql.push_str(&format!(
                "DROP TRIGGER IF EXISTS permit_django_changed ON {table};\n\
                 CREATE TRIGGER permit_django_changed AFTER {events} ON {table}\n\
                 \x20   FOR EACH ROW EXECUTE FUNCTION permit_django_notify({args});\n\
                 DROP TRIGGER IF EXISTS permit_django_truncated ON {table};\n\
                 CREATE TRIGGER permit_django_truncated AFTER TRUNCATE ON {table}\n\
                 \x20   FOR EACH STATEMENT EXECUTE FUNCTION permit_django_notify('*');\n"
            ));
        }
        sql
    }

    fn install_sqlite(&self) -> String {
        let mut sql = String::from(
            "-- actix-permit: a counter any change to the Django site's auth and\n\
             -- session tables moves; each Rust instance empties its exact cache\n\
             -- when it moved.\n\
             CREATE TABLE IF NOT EXISTS permit_auth_version (\n\
             \x20   id INTEGER PRIMARY KEY CHECK (id = 1),\n\
             \x20   version INTEGER NOT NULL\n\
             );\n\
             INSERT OR IGNORE INTO permit_auth_version (id, version) VALUES (1, 0);\n",
        );
        for watched in self.watched() {
            let table = &watched.table;
            for op in ops(watched.inserts) {
                let name = sqlite_name(table, op);
                sql.push_str(&format!(
                    "DROP TRIGGER IF EXISTS {name};\n\
                     CREATE TRIGGER {name} AFTER {op} ON {table}\n\
                     BEGIN\n\
                     \x20   UPDATE permit_auth_version SET version = version + 1;\n\
                     END;\n"
                ));
            }
        }
        sql
    }
}

fn ops(inserts: bool) -> &'static [&'static str] {
    if inserts {
        &["INSERT", "UPDATE", "DELETE"]
    } else {
        &["UPDATE", "DELETE"]
    }
}

fn sqlite_name(table: &str, op: &str) -> String {
    format!("permit_django_{table}_{}", op.to_ascii_lowercase())
}
