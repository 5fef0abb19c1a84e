//! Logging in and out, changing one's password, and confirming it again
//! before what `#[recent_login_required]` guards.

use super::*;

#[derive(Deserialize)]
pub(super) struct NextQuery {
    #[serde(default)]
    next: String,
}

#[login_not_required]
#[get("/accounts/login/")]
pub(super) async fn login_page(
    site: web::Data<Site>,
    query: web::Query<NextQuery>,
    user: CurrentUser,
) -> HttpResponse {
    site.page(
        StatusCode::OK,
        "login.html",
        context! { next => query.next.as_str(), username => username(&user), demo => site.demo },
    )
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

#[login_not_required]
#[post("/accounts/login/")]
pub(super) async fn login_submit(
    req: HttpRequest,
    site: web::Data<Site>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, Error> {
    let again = |status: StatusCode, error: String| {
        site.page(
            status,
            "login.html",
            context! {
                error,
                next => form.next.as_str(),
                username_value => form.username.as_str(),
                demo => site.demo,
            },
        )
    };
    let user = match authenticate(&req, &form.username, &form.password).await {
        Ok(user) => user,
        Err(PermitError::Throttled { retry_after }) => {
            return Ok(throttled(
                again,
                "Too many failed logins for this account or from your address.",
                retry_after,
            ));
        }
        Err(err) => return Err(err.into()),
    };
    let Some(user) = user else {
        // The same words whether the user exists or not.
        return Ok(again(
            StatusCode::OK,
            "Please enter a correct username and password.".to_owned(),
        ));
    };
    login(&req, &*user).await?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, after_form(&site, &form.next)))
        .finish())
}

/// Where a form sends the user when it is done: `next` when it is a safe
/// place on this site, otherwise the item list.
fn after_form<'a>(site: &Site, next: &'a str) -> &'a str {
    let hosts: Vec<&str> = site.allowed_hosts.iter().map(String::as_str).collect();
    if is_safe_redirect(next, &hosts, false) {
        next
    } else {
        "/items/"
    }
}

/// The form again (`again`), with a 429, `Retry-After` and `what`
/// followed by how many minutes to wait.
fn throttled(
    again: impl Fn(StatusCode, String) -> HttpResponse,
    what: &str,
    retry_after: std::time::Duration,
) -> HttpResponse {
    let minutes = retry_after.as_secs().div_ceil(60).max(1);
    let plural = if minutes == 1 { "" } else { "s" };
    let mut page = again(
        StatusCode::TOO_MANY_REQUESTS,
        format!("{what} Try again in {minutes} minute{plural}."),
    );
    page.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(retry_after.as_secs().max(1)),
    );
    page
}

#[login_not_required]
#[post("/accounts/logout/")]
pub(super) async fn logout_submit(req: HttpRequest) -> HttpResponse {
    if let Err(err) = logout(&req).await {
        tracing::error!("the logout was not recorded: {err}");
        return HttpResponse::InternalServerError().finish();
    }
    see_other("/accounts/login/")
}

#[recent_login_required(max_age = "10m")]
#[get("/accounts/password/")]
pub(super) async fn password_page(site: web::Data<Site>, user: CurrentUser) -> HttpResponse {
    site.page(
        StatusCode::OK,
        "password.html",
        context! { username => username(&user) },
    )
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    old_password: String,
    new_password: String,
}

#[recent_login_required(max_age = "10m")]
#[post("/accounts/password/")]
pub(super) async fn password_submit(
    req: HttpRequest,
    site: web::Data<Site>,
    user: CurrentUser,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, Error> {
    let name = username(&user).unwrap_or_default().to_owned();
    let retry = |error: &'static str| {
        site.page(
            StatusCode::OK,
            "password.html",
            context! { error, username => name.as_str() },
        )
    };
    if form.new_password.chars().count() < 8 {
        return Ok(retry("The new password must have at least 8 characters."));
    }
    if authenticate(&req, &name, &form.old_password)
        .await?
        .is_none()
    {
        return Ok(retry("Your old password was entered incorrectly."));
    }
    site.backend
        .set_password(&name, &form.new_password)
        .await
        .map_err(admin_error)?;
    // Keep this session: log in again with the new session auth hash.
    if let Some(fresh) = site.backend.user(&name).await.map_err(admin_error)? {
        login(&req, &fresh).await?;
    }
    Ok(see_other("/items/"))
}

/// The re-authentication form of `Config::reauthentication_url`, where
/// `#[recent_login_required]` sends a user whose password is too old.
#[login_required]
#[get("/accounts/reauthenticate/")]
pub(super) async fn reauthenticate_page(
    site: web::Data<Site>,
    query: web::Query<NextQuery>,
    user: CurrentUser,
) -> HttpResponse {
    site.page(
        StatusCode::OK,
        "reauthenticate.html",
        context! { next => query.next.as_str(), username => username(&user) },
    )
}

#[derive(Deserialize)]
pub(super) struct ReauthenticateForm {
    password: String,
    #[serde(default)]
    next: String,
}

/// Checks the password of the signed-in user (never another's: the
/// session stays theirs) and goes back to `next`.
#[login_required]
#[post("/accounts/reauthenticate/")]
pub(super) async fn reauthenticate_submit(
    req: HttpRequest,
    site: web::Data<Site>,
    user: CurrentUser,
    form: web::Form<ReauthenticateForm>,
) -> Result<HttpResponse, Error> {
    let name = username(&user).unwrap_or_default().to_owned();
    let again = |status: StatusCode, error: String| {
        site.page(
            status,
            "reauthenticate.html",
            context! { error, next => form.next.as_str(), username => name.as_str() },
        )
    };
    match reauthenticate(&req, &name, &form.password).await {
        Ok(true) => {}
        Ok(false) => {
            return Ok(again(
                StatusCode::OK,
                "That is not your password.".to_owned(),
            ));
        }
        Err(PermitError::Throttled { retry_after }) => {
            return Ok(throttled(again, "Too many wrong passwords.", retry_after));
        }
        Err(err) => return Err(err.into()),
    }
    Ok(see_other(after_form(&site, &form.next)))
}

#[derive(Deserialize)]
pub(super) struct ApiReauthenticate {
    password: String,
}

/// `POST /api/reauthenticate` `{"password": ".."}`: 204 when it is the
/// signed-in user's, 403 `{"error": "wrong_password"}` when not.
#[login_required]
#[post("/api/reauthenticate")]
pub(super) async fn api_reauthenticate(
    req: HttpRequest,
    user: CurrentUser,
    body: web::Json<ApiReauthenticate>,
) -> Result<HttpResponse, Error> {
    let name = username(&user).unwrap_or_default().to_owned();
    if reauthenticate(&req, &name, &body.password).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Ok(HttpResponse::Forbidden().json(serde_json::json!({ "error": "wrong_password" })))
    }
}
