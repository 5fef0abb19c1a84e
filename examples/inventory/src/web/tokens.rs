//! The account's API tokens: listed, created (the token shown once) and
//! revoked. Every page here needs the password entered recently, so that
//! a token, which never proved one, can neither see nor make tokens.

use std::time::{Duration, SystemTime};

use actix_permit::token::{NewToken, TokenInfo};

use super::*;

/// A time as the pages and the CLI show it (HTTP's date format, UTC).
pub(crate) fn when(at: SystemTime) -> String {
    header::HttpDate::from(at).to_string()
}

fn row(token: &TokenInfo, now: SystemTime) -> Value {
    context! {
        name => token.name.as_str(),
        prefix => token.prefix.as_str(),
        scopes => token.scopes.clone(),
        created => when(token.created),
        last_used => token.last_used.map_or_else(|| "never".to_owned(), when),
        expires => match token.expires {
            Some(at) if token.is_expired(now) => format!("expired {}", when(at)),
            Some(at) => when(at),
            None => "never".to_owned(),
        },
    }
}

/// The page: the user's tokens, the form, and a token just made or an
/// error.
async fn page(
    site: &Site,
    user: &CurrentUser,
    status: StatusCode,
    created: Option<&NewToken>,
    error: Option<&str>,
) -> Result<HttpResponse, Error> {
    let name = username(user).unwrap_or_default();
    let now = SystemTime::now();
    let tokens: Vec<Value> = site
        .backend
        .tokens(name)
        .await
        .map_err(admin_error)?
        .iter()
        .map(|token| row(token, now))
        .collect();
    let permissions = site.backend.permission_names().await.map_err(admin_error)?;
    let created =
        created.map(|made| context! { name => made.info.name.as_str(), token => made.token() });
    Ok(site.page(
        status,
        "tokens.html",
        context! { username => name, tokens, permissions, created, error },
    ))
}

#[recent_login_required(max_age = "2h")]
#[get("/accounts/tokens/")]
pub(super) async fn tokens_page(
    site: web::Data<Site>,
    user: CurrentUser,
) -> Result<HttpResponse, Error> {
    page(&site, &user, StatusCode::OK, None, None).await
}

/// The longest form this page takes: a name and every scope.
const FORM_LIMIT: usize = 16 << 10;

/// `name`, `scope` (repeated) and `expires` (seconds, or empty: never).
#[recent_login_required(max_age = "10m")]
#[post("/accounts/tokens/")]
pub(super) async fn create_token(
    site: web::Data<Site>,
    user: CurrentUser,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    if body.len() > FORM_LIMIT {
        return page(
            &site,
            &user,
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            Some("The form is too large."),
        )
        .await;
    }
    let (mut name, mut scopes, mut expires) = (String::new(), Vec::new(), None);
    for (key, value) in form_urlencoded::parse(&body) {
        match &*key {
            "name" => name = value.into_owned(),
            "scope" => scopes.push(value.into_owned()),
            "expires" if !value.is_empty() => match value.parse::<u64>() {
                Ok(secs) => expires = Some(Duration::from_secs(secs)),
                Err(_) => {
                    return page(
                        &site,
                        &user,
                        StatusCode::BAD_REQUEST,
                        None,
                        Some("The expiry is not a number of seconds."),
                    )
                    .await;
                }
            },
            _ => {}
        }
    }
    let owner = username(&user).unwrap_or_default().to_owned();
    let made = site
        .backend
        .create_token(
            &owner,
            name.trim(),
            scopes.iter().map(String::as_str),
            expires,
        )
        .await;
    match made {
        Ok(made) => page(&site, &user, StatusCode::CREATED, Some(&made), None).await,
        Err(
            err @ (AdminError::InvalidToken(_)
            | AdminError::DuplicateToken(_)
            | AdminError::UnknownPermission(_)
            | AdminError::InvalidPermission(_)),
        ) => {
            page(
                &site,
                &user,
                StatusCode::BAD_REQUEST,
                None,
                Some(&err.to_string()),
            )
            .await
        }
        Err(err) => Err(admin_error(err)),
    }
}

#[derive(Deserialize)]
pub(super) struct RevokeForm {
    name: String,
}

#[recent_login_required(max_age = "2h")]
#[post("/accounts/tokens/revoke/")]
pub(super) async fn revoke_token(
    site: web::Data<Site>,
    user: CurrentUser,
    form: web::Form<RevokeForm>,
) -> Result<HttpResponse, Error> {
    let owner = username(&user).unwrap_or_default().to_owned();
    match site.backend.revoke_token(&owner, &form.name).await {
        Ok(()) | Err(AdminError::UnknownToken(_)) => Ok(see_other("/accounts/tokens/")),
        Err(err) => Err(admin_error(err)),
    }
}
