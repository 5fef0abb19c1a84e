//! The identity seam: another source of who the request is plugs into
//! `Permit` and everything after it (the checks, deny by default,
//! `CurrentUser`) answers as it does for a session.

use std::sync::{Arc, Mutex};

use actix_permit::identity::{Claim, IdentifyError, IdentitySource};
use actix_permit::{
    AuthUser, CurrentUser, LoginError, LoginRequired, Permit, login, login_not_required,
    login_required, logout, permission_required,
};
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, get, post, test, web};

use crate::support::{Hits, USERS, backend, get as fetch, send, session, sessions};

/// Who the request is, from headers: `x-user` (an id) and, when present,
/// `x-user-hash` (the hash the claim is bound to). Notes logins and
/// logouts; `x-fail` makes it fail.
#[derive(Clone, Default)]
struct Headers(Arc<Notes>);

#[derive(Default)]
struct Notes {
    logins: Mutex<Vec<String>>,
    logouts: Mutex<usize>,
}

impl IdentitySource for Headers {
    async fn identify(&self, req: &HttpRequest) -> Result<Option<Claim>, IdentifyError> {
        let header = |name| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if header("x-fail").is_some() {
            Err(actix_permit::backend::BackendError::new(
                "the token store is down",
            ))?;
        }
        Ok(header("x-user").map(|user_id| Claim::new(user_id, header("x-user-hash"))))
    }

    async fn login(&self, _: &HttpRequest, user: &dyn AuthUser) -> Result<(), LoginError> {
        self.0.logins.lock().unwrap().push(user.id().to_owned());
        Ok(())
    }

    async fn logout(&self, _: &HttpRequest) -> Result<(), LoginError> {
        *self.0.logouts.lock().unwrap() += 1;
        Ok(())
    }
}

#[permission_required("inventory.change_item")]
#[get("/perm")]
async fn perm(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("perm")
}

#[login_required]
#[get("/member")]
async fn member(hits: web::Data<Hits>, user: CurrentUser) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body(user.id().unwrap_or_default().to_owned())
}

#[login_not_required]
#[get("/open")]
async fn open(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("open")
}

#[get("/plain")]
async fn plain(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("plain")
}

#[login_not_required]
#[post("/enter/{name}")]
async fn enter(
    req: HttpRequest,
    name: web::Path<String>,
    users: web::Data<Arc<actix_permit::backend::MemoryBackend>>,
) -> HttpResponse {
    let user = users.user(&name).unwrap();
    login(&req, &*user).await.unwrap();
    logout(&req).await.unwrap();
    HttpResponse::Ok().finish()
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(perm)
        .service(member)
        .service(open)
        .service(plain)
        .service(enter);
}

const PATHS: [&str; 4] = ["/perm", "/member", "/open", "/plain"];

/// Every user of the matrix, on every kind of route, under deny by
/// default: what the client sees, and whether the handler ran, is the
/// same whether the session or the header source says who they are.
#[actix_rt::test]
async fn a_header_source_gets_what_a_session_gets() {
    let users = backend();
    let (session_hits, header_hits) = (Arc::new(Hits::default()), Arc::new(Hits::default()));
    let by_session = test::init_service(
        App::new()
            .app_data(web::Data::from(session_hits.clone()))
            .configure(routes)
            .wrap(LoginRequired::new())
            .wrap(Permit::new(users.clone()))
            .wrap(session()),
    )
    .await;
    // Logged in where deny by default does not guard the test login route;
    // the cookie, signed with the same key, holds on either app.
    let logins = crate::support::app(Permit::new(users.clone()), Arc::default(), |_| {}).await;
    let cookies = sessions(&logins, &users).await;
    let source = Headers::default();
    let by_header = test::init_service(
        App::new()
            .app_data(web::Data::from(header_hits.clone()))
            .configure(routes)
            .wrap(LoginRequired::new())
            .wrap(Permit::new(users.clone()).identity(source.clone()))
            .wrap(session()),
    )
    .await;
    let mut compared = 0;
    for (name, cookie) in &cookies {
        let id = users.user(name).map(|user| user.id().to_owned());
        let hash = users
            .user(name)
            .map(|user| user.session_auth_hash().to_owned());
        for path in PATHS {
            let hits_before = session_hits.get();
            let session_saw = fetch(&by_session, path, cookie.as_ref()).await;
            let session_ran = session_hits.get() - hits_before;
            let mut req = test::TestRequest::get().uri(path);
            if let (Some(id), Some(hash)) = (&id, &hash) {
                req = req
                    .insert_header(("x-user", id.as_str()))
                    .insert_header(("x-user-hash", hash.as_str()));
            }
            let hits_before = header_hits.get();
            let header_saw = send(&by_header, req, None).await;
            let header_ran = header_hits.get() - hits_before;
            assert_eq!(
                (header_saw.status, &header_saw.body, header_ran),
                (session_saw.status, &session_saw.body, session_ran),
                "{name} on {path}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, USERS.len() * PATHS.len());
    // The matrix holds both answers: someone was let in, someone was not.
    assert!(
        fetch(&by_session, "/perm", cookies[2].1.as_ref())
            .await
            .status
            == StatusCode::OK
            && fetch(&by_session, "/perm", cookies[1].1.as_ref())
                .await
                .status
                == StatusCode::FORBIDDEN
    );
    assert_eq!(*source.0.logouts.lock().unwrap(), 0);
}

/// A claim bound to a hash that is not the user's is anonymous, and the
/// source is told to end it; a claim bound to nothing (a token) is not
/// checked against the password; a failing source fails closed; `login`
/// and `logout` go to the source.
#[actix_rt::test]
async fn the_source_is_held_to_the_same_rules() {
    let users = backend();
    let source = Headers::default();
    let hits = Arc::new(Hits::default());
    let app = test::init_service(
        App::new()
            .app_data(web::Data::from(hits.clone()))
            .app_data(web::Data::new(users.clone()))
            .configure(routes)
            .wrap(Permit::new(users.clone()).identity(source.clone()))
            .wrap(session()),
    )
    .await;
    let direct = users.user("direct").unwrap();
    let as_direct = |hash: Option<&str>| {
        let req = test::TestRequest::get()
            .uri("/perm")
            .insert_header(("x-user", direct.id()));
        match hash {
            Some(hash) => req.insert_header(("x-user-hash", hash)),
            None => req,
        }
    };

    let stale = send(&app, as_direct(Some("an old password's hash")), None).await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    assert_eq!(*source.0.logouts.lock().unwrap(), 1);

    let unbound = send(&app, as_direct(None), None).await;
    assert_eq!(
        (unbound.status, unbound.body.as_str()),
        (StatusCode::OK, "perm")
    );
    assert_eq!(hits.get(), 1);

    let down = send(&app, as_direct(None).insert_header(("x-fail", "1")), None).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(hits.get(), 1);

    let entered = send(&app, test::TestRequest::post().uri("/enter/grouped"), None).await;
    assert_eq!(entered.status, StatusCode::OK);
    let grouped = users.user("grouped").unwrap().id().to_owned();
    assert_eq!(*source.0.logins.lock().unwrap(), [grouped]);
    assert_eq!(*source.0.logouts.lock().unwrap(), 2);
}
