//! The management commands (`inventory user ...`, `group ...`, `access`),
//! like Django's `manage.py`.

use actix_permit::backend::{AdminError, SqlBackend};

use crate::{
    AppResult, Db, GroupCommand, SessionCommand, TokenCommand, UserCommand, open, store, web,
};

pub(crate) async fn manage_user(db: &Db, command: UserCommand) -> AppResult {
    let (backend, _) = open(db).await?;
    match command {
        UserCommand::Add {
            name,
            password,
            superuser,
        } => {
            let id = backend.create_user(&name, &password).await?;
            if superuser {
                backend.set_superuser(&name, true).await?;
            }
            println!("created user {name} (id {id})");
        }
        UserCommand::Grant { name, perm, object } => {
            let done = match &object {
                Some(object) => backend.grant_object(&name, &perm, object).await,
                None => backend.grant(&name, &perm).await,
            };
            if let Err(err) = done {
                return Err(explain(&backend, err).await);
            }
            match object {
                Some(object) => println!("granted {perm} on item {object} to {name}"),
                None => println!("granted {perm} to {name}"),
            }
        }
        UserCommand::Revoke { name, perm, object } => {
            let done = match &object {
                Some(object) => backend.revoke_object(&name, &perm, object).await,
                None => backend.revoke(&name, &perm).await,
            };
            if let Err(err) = done {
                return Err(explain(&backend, err).await);
            }
            match object {
                Some(object) => println!("revoked {perm} on item {object} from {name}"),
                None => println!("revoked {perm} from {name}"),
            }
        }
        UserCommand::Deactivate { name } => {
            backend.set_active(&name, false).await?;
            println!("deactivated {name}");
        }
        UserCommand::Password { name } => {
            if backend.user(&name).await?.is_none() {
                return Err(AdminError::UnknownUser(name).into());
            }
            let password = read_new_password(&name)?;
            backend.set_password(&name, &password).await?;
            println!("changed the password of {name}");
        }
    }
    Ok(())
}

pub(crate) async fn access(db: &Db, json: bool, why: bool) -> AppResult {
    let (backend, _) = open(db).await?;
    let matrix = web::access_matrix(&backend).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&web::matrix_json(&matrix))?
        );
    } else if why {
        print!("{matrix:#}");
    } else {
        print!("{matrix}");
    }
    Ok(())
}

pub(crate) async fn manage_group(db: &Db, command: GroupCommand) -> AppResult {
    let (backend, _) = open(db).await?;
    match command {
        GroupCommand::Add { name, perms } => {
            let perms: Vec<&str> = perms.iter().map(String::as_str).collect();
            if let Err(err) = backend.create_group(&name, &perms).await {
                return Err(explain(&backend, err).await);
            }
            println!("group {name} holds {}", perms.join(", "));
        }
        GroupCommand::Join { user, group } => {
            backend.add_user_to_group(&user, &group).await?;
            println!("{user} joined {group}");
        }
        GroupCommand::Leave { user, group } => {
            backend.remove_user_from_group(&user, &group).await?;
            println!("{user} left {group}");
        }
    }
    Ok(())
}

pub(crate) async fn manage_token(db: &Db, command: TokenCommand) -> AppResult {
    let (backend, _) = open(db).await?;
    match command {
        TokenCommand::Create {
            user,
            name,
            scopes,
            expires,
        } => {
            let expires = expires.map(std::time::Duration::from_secs);
            let made = backend
                .create_token(&user, &name, scopes.iter().map(String::as_str), expires)
                .await;
            let made = match made {
                Ok(made) => made,
                Err(err) => return Err(explain(&backend, err).await),
            };
            println!(
                "created token {name} for {user} (prefix {}), scopes {}{}",
                made.info.prefix,
                made.info.scopes.join(" "),
                match made.info.expires {
                    Some(at) => format!(", expires {}", web::when(at)),
                    None => String::new(),
                }
            );
            println!("it is shown once; send it as `Authorization: Bearer <token>`:");
            println!("{}", made.token());
        }
        TokenCommand::List { user } => {
            let now = std::time::SystemTime::now();
            for token in backend.tokens(&user).await? {
                println!(
                    "{}\tprefix {}\tscopes {}\tcreated {}\tlast used {}\t{}",
                    token.name,
                    token.prefix,
                    token.scopes.join(" "),
                    web::when(token.created),
                    token
                        .last_used
                        .map_or_else(|| "never".to_owned(), web::when),
                    match token.expires {
                        Some(at) if token.is_expired(now) => format!("expired {}", web::when(at)),
                        Some(at) => format!("expires {}", web::when(at)),
                        None => "no expiry".to_owned(),
                    }
                );
            }
        }
        TokenCommand::Revoke { user, name } => {
            backend.revoke_token(&user, &name).await?;
            println!("revoked token {name} of {user}");
        }
    }
    Ok(())
}

pub(crate) async fn manage_session(db: &Db, command: SessionCommand) -> AppResult {
    use actix_permit::records::EndReason;
    let (backend, _) = open(db).await?;
    match command {
        SessionCommand::List { user } => {
            for session in backend.sessions(&user).await? {
                println!(
                    "{}\t{}\t{}\tlogged in {}\tlast seen {}\t{}",
                    session.id,
                    session.device,
                    session.address,
                    web::when(session.created),
                    web::when(session.last_seen),
                    match session.ended {
                        Some((at, why)) => format!("{why} ({})", web::when(at)),
                        None => "active".to_owned(),
                    }
                );
            }
        }
        SessionCommand::End { user, id, all } => match id {
            Some(id) if !all => {
                backend
                    .end_session(&user, &id, EndReason::ByAdministrator)
                    .await?;
                println!("ended session {id} of {user}");
            }
            _ => {
                let ended = backend
                    .end_sessions(&user, None, EndReason::ByAdministrator)
                    .await?;
                println!("ended {ended} session(s) of {user}");
            }
        },
    }
    Ok(())
}

/// A new password: asked twice without echo on a terminal, the first line
/// of standard input otherwise. At least 8 characters.
fn read_new_password(name: &str) -> Result<String, Box<dyn std::error::Error>> {
    use std::io::IsTerminal;
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("New password for {name}: "))?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            return Err("the two passwords differ; nothing changed".into());
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.chars().count() < 8 {
        return Err("the password must have at least 8 characters; nothing changed".into());
    }
    if password == store::DEMO_PASSWORD {
        return Err("that is the published demo password; nothing changed".into());
    }
    Ok(password)
}

/// Adds the defined permissions to an unknown-permission error.
async fn explain(backend: &SqlBackend, err: AdminError) -> Box<dyn std::error::Error> {
    match err {
        AdminError::UnknownPermission(perm) => {
            let defined = backend.permission_names().await.unwrap_or_default();
            format!(
                "no permission {perm:?} is defined; defined: {}",
                defined.join(", ")
            )
            .into()
        }
        other => other.into(),
    }
}
