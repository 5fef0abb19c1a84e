//! "Your sessions": the account's logins, listed with their device and
//! address, each one endable, and "log out other devices". Only a browser
//! session reaches these pages (an API token has no session to keep).

use actix_permit::records::{self, EndReason, SessionInfo};

use super::*;

fn row(session: &SessionInfo, current: Option<&str>) -> Value {
    context! {
        id => session.id.as_str(),
        device => session.device.as_str(),
        address => session.address.as_str(),
        created => when(session.created),
        last_seen => when(session.last_seen),
        current => Some(session.id.as_str()) == current,
        ended => session.ended.map(|(at, why)| format!("{why} ({})", when(at))),
    }
}

/// The 403 page for a request without a recorded session: a token (or a
/// session from before records) has none to show.
fn no_session(site: &Site, user: &CurrentUser) -> HttpResponse {
    site.error_page(
        StatusCode::FORBIDDEN,
        "Sessions are managed from a browser session.",
        username(user),
    )
}

#[login_required]
#[get("/accounts/sessions/")]
pub(super) async fn sessions_page(
    req: HttpRequest,
    site: web::Data<Site>,
    user: CurrentUser,
) -> Result<HttpResponse, Error> {
    let Some(current) = records::current(&req) else {
        return Ok(no_session(&site, &user));
    };
    let name = username(&user).unwrap_or_default();
    let sessions: Vec<Value> = site
        .backend
        .sessions(name)
        .await
        .map_err(admin_error)?
        .iter()
        .map(|session| row(session, Some(&current)))
        .collect();
    Ok(site.page(
        StatusCode::OK,
        "sessions.html",
        context! { username => name, sessions },
    ))
}

#[derive(Deserialize)]
pub(super) struct EndForm {
    id: String,
}

#[login_required]
#[post("/accounts/sessions/end/")]
pub(super) async fn end_session(
    req: HttpRequest,
    site: web::Data<Site>,
    user: CurrentUser,
    form: web::Form<EndForm>,
) -> Result<HttpResponse, Error> {
    if records::current(&req).is_none() {
        return Ok(no_session(&site, &user));
    }
    let name = username(&user).unwrap_or_default();
    match site
        .backend
        .end_session(name, &form.id, EndReason::ByUser)
        .await
    {
        Ok(()) | Err(AdminError::UnknownSession(_)) => Ok(see_other("/accounts/sessions/")),
        Err(err) => Err(admin_error(err)),
    }
}

#[login_required]
#[post("/accounts/sessions/end-others/")]
pub(super) async fn end_other_sessions(
    req: HttpRequest,
    site: web::Data<Site>,
    user: CurrentUser,
) -> Result<HttpResponse, Error> {
    let Some(current) = records::current(&req) else {
        return Ok(no_session(&site, &user));
    };
    let name = username(&user).unwrap_or_default();
    site.backend
        .end_sessions(name, Some(&current), EndReason::ByUser)
        .await
        .map_err(admin_error)?;
    Ok(see_other("/accounts/sessions/"))
}
