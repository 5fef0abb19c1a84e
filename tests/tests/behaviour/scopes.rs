//! A claim limited to scopes (what an API token carries): every check, the
//! attributes' and `CurrentUser`'s, on models and on objects, lets through
//! only what the user holds *and* the scopes list; a superuser's claim is
//! no wider than its scopes; and what the user loses, the claim loses.

use std::sync::Arc;

use actix_permit::backend::MemoryBackend;
use actix_permit::identity::{Claim, IdentifyError, IdentitySource};
use actix_permit::{AuthUser, CurrentUser, LoginError, Permit, PermitError, permission_required};
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, get, test, web};
use proptest::prelude::*;

use crate::support::{Hits, backend};

/// `x-user`: the user id; `x-scopes`: the claim's scopes, comma-separated
/// (absent: a claim of the whole user, as a login's).
struct Scoped;

impl IdentitySource for Scoped {
    async fn identify(&self, req: &HttpRequest) -> Result<Option<Claim>, IdentifyError> {
        let header = |name| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Ok(header("x-user").map(|id| {
            let claim = Claim::new(id, None);
            match header("x-scopes") {
                Some(scopes) => claim.limited_to(scopes.split(',').filter(|s| !s.is_empty())),
                None => claim,
            }
        }))
    }

    async fn login(&self, _: &HttpRequest, _: &dyn AuthUser) -> Result<(), LoginError> {
        Err(LoginError::Unsupported)
    }

    async fn logout(&self, _: &HttpRequest) -> Result<(), LoginError> {
        Ok(())
    }
}

#[permission_required("inventory.change_item")]
#[get("/change")]
async fn change(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

#[permission_required(any("inventory.view_item", "inventory.delete_item"))]
#[get("/view-or-delete")]
async fn view_or_delete(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

#[permission_required("inventory.delete_item", object = "id")]
#[get("/delete/{id}")]
async fn delete_on(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

/// What `CurrentUser` says, one line per question.
#[get("/asks/{id}")]
async fn asks(user: CurrentUser, id: web::Path<String>) -> Result<HttpResponse, PermitError> {
    let mut out = format!("superuser {}\n", user.is_superuser());
    for perm in PERMS {
        out += &format!(
            "{perm} {} {} {:?}\n",
            user.has_perm(perm).await?,
            user.has_perm_on(perm, &id).await?,
            user.objects_for(perm).await?
        );
    }
    Ok(HttpResponse::Ok().body(out))
}

const PERMS: [&str; 3] = [
    "inventory.change_item",
    "inventory.view_item",
    "inventory.delete_item",
];

/// Users 1-4 of `support::backend`; "direct" also holds delete on "7".
const USERS: [&str; 4] = ["plain", "direct", "grouped", "super"];

fn with_object_grant() -> Arc<MemoryBackend> {
    let backend = backend();
    backend
        .grant_object("direct", "inventory.delete_item", "7")
        .unwrap();
    backend
}

async fn scoped_app(
    backend: Arc<MemoryBackend>,
    hits: Arc<Hits>,
) -> impl Service<actix_http::Request, Response = ServiceResponse<Body>, Error = actix_web::Error> {
    test::init_service(
        App::new()
            .app_data(web::Data::from(hits))
            .service(change)
            .service(view_or_delete)
            .service(delete_on)
            .service(asks)
            .wrap(Permit::new(backend).identity(Scoped)),
    )
    .await
}

type Body = actix_web::body::EitherBody<actix_web::body::BoxBody>;

async fn status<S>(app: &S, path: &str, user: &str, scopes: Option<&str>) -> StatusCode
where
    S: Service<actix_http::Request, Response = ServiceResponse<Body>, Error = actix_web::Error>,
{
    let id = (USERS.iter().position(|u| *u == user).unwrap() + 1).to_string();
    let mut req = test::TestRequest::get()
        .uri(path)
        .insert_header(("x-user", id));
    if let Some(scopes) = scopes {
        req = req.insert_header(("x-scopes", scopes));
    }
    test::call_service(app, req.to_request()).await.status()
}

/// What the user holds without scopes: Django's rules over `support::backend`.
fn holds(user: &str, perm: &str, object: Option<&str>) -> bool {
    match user {
        "super" => true,
        "direct" => {
            perm == "inventory.change_item"
                || (perm == "inventory.delete_item" && object == Some("7"))
        }
        "grouped" => perm == "inventory.change_item" || perm == "inventory.view_item",
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Over generated users, scopes and objects, every route answers as
    /// the model says: allowed exactly when the user holds the permission
    /// (as Django, superusers all) and the scopes list it; without scopes,
    /// exactly as the user holds it.
    #[core::prelude::v1::test]
    fn a_scoped_claim_holds_the_intersection(
        user in 0..USERS.len(),
        scopes in proptest::option::of(proptest::sample::subsequence(PERMS.to_vec(), 0..=3)),
        object in prop_oneof![Just("7"), Just("8")],
    ) {
        actix_rt::System::new().block_on(async move {
            let hits = Arc::new(Hits::default());
            let app = scoped_app(with_object_grant(), hits.clone()).await;
            let user = USERS[user];
            let joined = scopes.as_ref().map(|s| s.join(","));
            let in_scope = |perm: &str| scopes.as_ref().is_none_or(|s| s.contains(&perm));
            let may = |perm: &str, object: Option<&str>| in_scope(perm) && holds(user, perm, object);
            let expect = |allowed: bool| if allowed { StatusCode::OK } else { StatusCode::FORBIDDEN };
            let mut runs = 0;
            for (path, allowed) in [
                ("/change".to_owned(), may("inventory.change_item", None)),
                (
                    "/view-or-delete".to_owned(),
                    may("inventory.view_item", None) || may("inventory.delete_item", None),
                ),
                (format!("/delete/{object}"), may("inventory.delete_item", Some(object))),
            ] {
                let seen = status(&app, &path, user, joined.as_deref()).await;
                prop_assert_eq!(seen, expect(allowed), "{} {:?} {}", user, scopes, path);
                runs += usize::from(allowed);
                prop_assert_eq!(hits.get(), runs);
            }
            // CurrentUser answers the same questions the same way.
            let id = (USERS.iter().position(|u| *u == user).unwrap() + 1).to_string();
            let mut req = test::TestRequest::get()
                .uri(&format!("/asks/{object}"))
                .insert_header(("x-user", id));
            if let Some(joined) = &joined {
                req = req.insert_header(("x-scopes", joined.as_str()));
            }
            let body = test::call_and_read_body(&app, req.to_request()).await;
            let body = String::from_utf8(body.to_vec()).unwrap();
            let mut lines = body.lines();
            let superuser = user == "super" && scopes.is_none();
            let first = format!("superuser {superuser}");
            prop_assert_eq!(lines.next(), Some(first.as_str()));
            for perm in PERMS {
                let everywhere = may(perm, None);
                let objects = if everywhere {
                    "All".to_owned()
                } else if may(perm, Some("7")) {
                    "Only([\"7\"])".to_owned()
                } else {
                    "Only([])".to_owned()
                };
                let line = format!("{perm} {everywhere} {} {objects}", may(perm, Some(object)));
                prop_assert_eq!(lines.next(), Some(line.as_str()), "{} {:?}", user, scopes);
            }
            Ok(())
        })?;
    }
}

/// What the user loses, the scoped claim loses at once; a deactivated
/// user's claim is refused whatever its scopes.
#[actix_rt::test]
async fn a_scoped_claim_shrinks_with_the_user() {
    let backend = with_object_grant();
    let app = scoped_app(backend.clone(), Arc::default()).await;
    let scopes = Some("inventory.change_item,inventory.delete_item");
    assert_eq!(
        status(&app, "/change", "direct", scopes).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&app, "/delete/7", "direct", scopes).await,
        StatusCode::OK
    );
    backend.revoke("direct", "inventory.change_item").unwrap();
    backend
        .revoke_object("direct", "inventory.delete_item", "7")
        .unwrap();
    assert_eq!(
        status(&app, "/change", "direct", scopes).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&app, "/delete/7", "direct", scopes).await,
        StatusCode::FORBIDDEN
    );
    // Granted again, it is back: the scopes did not change, the user did.
    backend.grant("direct", "inventory.change_item").unwrap();
    assert_eq!(
        status(&app, "/change", "direct", scopes).await,
        StatusCode::OK
    );
    // Deactivated: a claim sent with each request is refused.
    backend.set_active("direct", false).unwrap();
    assert_eq!(
        status(&app, "/change", "direct", scopes).await,
        StatusCode::UNAUTHORIZED
    );
    // A superuser's scoped claim: only its scopes, even empty.
    assert_eq!(
        status(&app, "/change", "super", Some("")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            &app,
            "/view-or-delete",
            "super",
            Some("inventory.view_item")
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        status(&app, "/change", "super", Some("inventory.view_item")).await,
        StatusCode::FORBIDDEN
    );
}
