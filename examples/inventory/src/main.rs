//! The actix-permit example: an inventory whose items users may view, add,
//! change and delete according to their Django-style permissions.
//!
//! `inventory` (or `inventory serve`) runs the site; the other subcommands
//! manage users and groups, like Django's `manage.py`. See the README.

mod csrf;
mod manage;
mod routes;
mod server;
mod sessions;
mod settings;
mod store;
mod throttle;
mod web;

use std::process::ExitCode;

use actix_permit::backend::{SqlBackend, SqlOptions};
use clap::{Parser, Subcommand};

use manage::{access, manage_group, manage_session, manage_token, manage_user};
use server::serve;

#[derive(Parser)]
#[command(name = "inventory", about = "The actix-permit example app")]
struct Cli {
    /// Database URL: sqlite://FILE or postgres://...
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://inventory.db",
        global = true
    )]
    database_url: String,
    /// Create the demo users (alice, bob, carol, dave, erin, gina; password
    /// `permit-demo`) and items in a database that has none, and show them
    /// on the login page. The server then refuses to listen on anything but
    /// loopback while a user keeps that password.
    #[arg(long, env = "PERMIT_DEMO", global = true)]
    demo: bool,
    #[command(flatten)]
    settings: settings::Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web site (the default).
    Serve,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Manage a user's API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// See and end a user's sessions (logins).
    #[command(subcommand)]
    Session(SessionCommand),
    /// List every handler with its route and what it requires (no database
    /// needed).
    Routes {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Who may reach what: every user × every route, with why.
    Access {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// With each route's cell and why, one block per user.
        #[arg(long)]
        why: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user.
    Add {
        name: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        superuser: bool,
    },
    /// Grant a permission (app_label.codename) to a user: on every item, or
    /// with --object on that item only.
    Grant {
        name: String,
        perm: String,
        /// The id of the one item the permission is for.
        #[arg(long)]
        object: Option<String>,
    },
    /// Revoke a directly granted permission (with --object: on that item).
    Revoke {
        name: String,
        perm: String,
        /// The id of the item the permission was granted on.
        #[arg(long)]
        object: Option<String>,
    },
    /// Deactivate a user: their sessions end on their next request.
    Deactivate { name: String },
    /// Set a user's password: asked twice on a terminal, read from the
    /// first line of standard input otherwise. Their other sessions end.
    Password { name: String },
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Create a group with permissions (or add permissions to it).
    Add { name: String, perms: Vec<String> },
    /// Put a user into a group.
    Join { user: String, group: String },
    /// Take a user out of a group.
    Leave { user: String, group: String },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a user and print it (alone, on the last
    /// line): it is shown now and never again.
    Create {
        user: String,
        /// A name for it, unique among the user's tokens.
        #[arg(long)]
        name: String,
        /// A permission (app_label.codename) the token may use, as far as
        /// the user holds it; repeat for more.
        #[arg(long = "scope", value_name = "PERM", required = true)]
        scopes: Vec<String>,
        /// Seconds until it stops working (default: until revoked).
        #[arg(long, value_name = "SECONDS")]
        expires: Option<u64>,
    },
    /// List a user's tokens: name, prefix, scopes, created, last used,
    /// expires.
    List { user: String },
    /// Revoke a user's token: refused from the next request on.
    Revoke { user: String, name: String },
}

#[derive(Subcommand)]
enum SessionCommand {
    /// List a user's sessions, one per line: id, device, address, logged
    /// in, last seen, and whether (and why) it ended.
    List { user: String },
    /// End a user's session (by id), or with --all every one of them,
    /// without touching the password: each is logged out at its next
    /// request, on every instance.
    End {
        user: String,
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

#[actix_web::main]
async fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let db = Db {
        url: cli.database_url,
        demo: cli.demo,
    };
    let result = match cli.command {
        None | Some(Command::Serve) => serve(&db, &cli.settings).await,
        Some(Command::User(command)) => manage_user(&db, command).await,
        Some(Command::Group(command)) => manage_group(&db, command).await,
        Some(Command::Token(command)) => manage_token(&db, command).await,
        Some(Command::Session(command)) => manage_session(&db, command).await,
        Some(Command::Routes { json }) => {
            print!("{}", routes::render(json, &routes::reachable().await));
            Ok(())
        }
        Some(Command::Access { json, why }) => access(&db, json, why).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("inventory: {}", redact(&err.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// Logs to standard error, filtered by `RUST_LOG` (`info`,
/// `actix_permit=debug,info`, ...); `info` when it is unset, and when it is
/// not a filter, with a line saying why.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Err(_) => EnvFilter::new("info"),
        Ok(spec) => EnvFilter::try_new(&spec).unwrap_or_else(|err| {
            eprintln!("inventory: RUST_LOG={spec:?} is not a log filter ({err}); logging at info");
            EnvFilter::new("info")
        }),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

type AppResult = Result<(), Box<dyn std::error::Error>>;

/// Where the data is, and whether to seed the demo.
struct Db {
    url: String,
    demo: bool,
}

/// Opens the database. Only the server keeps the user cache (a command
/// makes one change and exits).
async fn open(db: &Db) -> Result<(SqlBackend, store::Items), Box<dyn std::error::Error>> {
    open_with(db, SqlOptions::new().exact_cache(false)).await
}

async fn open_with(
    db: &Db,
    options: SqlOptions,
) -> Result<(SqlBackend, store::Items), Box<dyn std::error::Error>> {
    let backend = SqlBackend::connect_with(&db.url, options).await?;
    let items = store::Items::open(&backend).await?;
    store::seed_permissions(&backend).await?;
    if db.demo && store::seed_demo(&backend, &items).await? {
        tracing::info!(
            "created the demo users alice, bob, carol, dave, erin and gina (password {})",
            store::DEMO_PASSWORD
        );
    }
    Ok((backend, items))
}

/// `text` with the password of every `scheme://user:password@host` URL in
/// it replaced by `***`, for messages and logs.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '/')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..=colon]);
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact("cannot reach postgres://app:hunter2@db.internal:5432/inv: refused"),
            "cannot reach postgres://app:***@db.internal:5432/inv: refused"
        );
        assert_eq!(
            redact("bad REDIS_URL redis://:s3cret@127.0.0.1:6379 and redis://127.0.0.1"),
            "bad REDIS_URL redis://:***@127.0.0.1:6379 and redis://127.0.0.1"
        );
        assert_eq!(redact("sqlite://inventory.db"), "sqlite://inventory.db");
        assert_eq!(redact("no url here"), "no url here");
    }
}
