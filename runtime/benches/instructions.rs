//! Instructions per request, counted by callgrind (through gungraun): no
//! check, the check written by hand in the body, `#[permission_required]`,
//! and actix-web-grants' `#[protect]` on the same permission set, each
//! allowed and denied; an object permission beside the model one. Instruction counts repeat exactly from run to run,
//! so these ratios are the ones to quote; criterion's (`checks`) drift.
//!
//! Every variant is the same `App` (cookie sessions + `Permit`) and the same
//! signed-in user; the backend answers from memory.
//! Run: `runtime/benches/instructions.sh` (installs gungraun's runner).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

mod shared;

use actix_permit::backend::{
    Authentication, Authorization, MemoryBackend, PermsResult, UserResult,
};
use actix_permit::identity::{OneOf, Sessions};
use actix_permit::permission::PermissionSet;
use actix_permit::records::RecordedSessions;
use actix_permit::token::BearerTokens;
use actix_permit::{AuthUser, Permit, login};
use actix_session::SessionMiddleware;
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Cookie, Key};
use actix_web::dev::Service;
use actix_web::{App, HttpRequest, HttpResponse, test, web};
use gungraun::{library_benchmark, library_benchmark_group, main};
use shared::{by_grants, by_hand, by_macro, by_model_on_route, by_object, grants_extractor, open};

/// Requests per measurement: the count reported is for all of them.
const REQUESTS: usize = 100;

/// A user whose id is their name.
#[derive(Debug)]
struct User(String);

impl AuthUser for User {
    fn id(&self) -> &str {
        &self.0
    }
    fn is_active(&self) -> bool {
        true
    }
    fn is_superuser(&self) -> bool {
        false
    }
    fn session_auth_hash(&self) -> &str {
        "fixed"
    }
}

/// Users and permission sets made once, answered from memory, with no
/// password hashing (Argon2 under valgrind would take minutes and is not
/// what is measured). Each user holds 200 permissions; `denied` lacks
/// `app.perm`.
struct Fixed {
    users: HashMap<String, Arc<dyn AuthUser>>,
    perms: HashMap<String, Arc<PermissionSet>>,
    /// `allowed` holds `app.object_perm` on object 7 (as the SQL backend's
    /// exact cache answers it: a lookup and an `Arc`).
    objects: HashMap<(String, String), Arc<PermissionSet>>,
}

impl Fixed {
    fn new() -> Self {
        let mut users = HashMap::new();
        let mut perms = HashMap::new();
        let fillers: Vec<String> = (0..199).map(|i| format!("app.filler_{i}")).collect();
        // "1" is `allowed` again, under the id the token store gives it.
        for (name, main) in [
            ("allowed", "app.perm"),
            ("denied", "app.filler_199"),
            ("1", "app.perm"),
        ] {
            users.insert(
                name.to_owned(),
                Arc::new(User(name.to_owned())) as Arc<dyn AuthUser>,
            );
            let set: PermissionSet = fillers.iter().map(String::as_str).chain([main]).collect();
            perms.insert(name.to_owned(), Arc::new(set));
        }
        let on_seven: PermissionSet = ["app.object_perm"].into_iter().collect();
        let objects = HashMap::from([(("allowed".to_owned(), "7".to_owned()), Arc::new(on_seven))]);
        Self {
            users,
            perms,
            objects,
        }
    }
}

impl Authentication for Fixed {
    async fn get_user(&self, id: &str) -> UserResult {
        Ok(self.users.get(id).cloned())
    }

    async fn authenticate(&self, username: &str, _: &str) -> UserResult {
        Ok(self.users.get(username).cloned())
    }
}

impl Authorization for Fixed {
    async fn user_permissions(&self, user: &dyn AuthUser) -> PermsResult {
        Ok(self.perms.get(user.id()).cloned().unwrap_or_default())
    }

    async fn object_permissions(&self, user: &dyn AuthUser, object: &str) -> PermsResult {
        let key = (user.id().to_owned(), object.to_owned());
        Ok(self.objects.get(&key).cloned().unwrap_or_default())
    }
}

async fn sign_in(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    match actix_permit::authenticate(&req, &name, "").await {
        Ok(Some(user)) => match login(&req, &*user).await {
            Ok(()) => HttpResponse::Ok().finish(),
            Err(_) => HttpResponse::Unauthorized().finish(),
        },
        _ => HttpResponse::Unauthorized().finish(),
    }
}

/// A warm app and a signed-in user's cookie: sends `REQUESTS` requests.
struct Prepared {
    send: Box<dyn Fn() -> u16>,
}

/// The one route each variant's app has at `/x`, besides the login.
fn route(variant: &str) -> fn(&mut web::ServiceConfig) {
    match variant {
        "open" => |cfg| {
            cfg.route("/x", web::get().to(open));
        },
        "hand" => |cfg| {
            cfg.route("/x", web::get().to(by_hand));
        },
        "macro" => |cfg| {
            cfg.route("/x", web::get().to(by_macro));
        },
        "grants" => |cfg| {
            cfg.service(
                web::scope("")
                    .wrap(actix_web_grants::GrantsMiddleware::with_extractor(
                        grants_extractor,
                    ))
                    .route("/x", web::get().to(by_grants)),
            );
        },
        "model_route" => |cfg| {
            cfg.route("/x/{id}", web::get().to(by_model_on_route));
        },
        "object" => |cfg| {
            cfg.route("/x/{id}", web::get().to(by_object));
        },
        other => panic!("no variant {other}"),
    }
}

/// An app of its own for each variant, so that the route table, the path
/// and everything but the handler are the same.
///
/// The `token_*` variants are `macro` with the session and API tokens side
/// by side (`OneOf(Sessions, BearerTokens)`): `token_session` sends the
/// session cookie, `token_allowed` a token of the same user scoped to the
/// permission, `token_unknown` a token whose prefix is unknown and
/// `token_wrong` one whose secret is wrong (both refused with 401);
/// `token_records` sends the session cookie with `RecordedSessions` in
/// place of `Sessions` (each login a record the request reads).
fn prepare(variant: &'static str, user: &'static str, status: u16) -> Prepared {
    let path = if matches!(variant, "model_route" | "object") {
        "/x/7"
    } else {
        "/x"
    };
    let tokens = Arc::new(MemoryBackend::new());
    let mut bearer = None;
    let mut permit = Permit::new(Fixed::new());
    if let Some(kind) = variant.strip_prefix("token_") {
        tokens.add_user("allowed", "").unwrap();
        let made = tokens
            .create_token("allowed", "bench", ["app.perm"], None)
            .unwrap();
        let good = made.token().to_owned();
        let (head, secret) = good.rsplit_once('_').unwrap();
        bearer = match kind {
            "session" | "records" => None,
            "allowed" => Some(good.clone()),
            "unknown" => Some(format!("permit_{}_{secret}", "0".repeat(16))),
            "wrong" => Some(format!("{head}_{}", "0".repeat(secret.len()))),
            other => panic!("no variant token_{other}"),
        };
        permit = if kind == "records" {
            // The example's sources: each login a record in the store.
            permit.identity(OneOf::new(
                RecordedSessions::new(Arc::clone(&tokens)),
                BearerTokens::new(Arc::clone(&tokens)),
            ))
        } else {
            permit.identity(OneOf::new(Sessions, BearerTokens::new(Arc::clone(&tokens))))
        };
    }
    let routes = route(variant.strip_prefix("token_").map_or(variant, |_| "macro"));
    let rt = actix_rt::System::new();
    let app = rt.block_on(test::init_service(
        App::new()
            .route("/login/{name}", web::post().to(sign_in))
            .configure(routes)
            .wrap(permit)
            .wrap(
                SessionMiddleware::builder(CookieSessionStore::default(), Key::from(&[3; 64]))
                    .cookie_secure(false)
                    .build(),
            ),
    ));
    let res = rt.block_on(test::call_service(
        &app,
        test::TestRequest::post()
            .uri(&format!("/login/{user}"))
            .to_request(),
    ));
    assert!(res.status().is_success(), "login {user}");
    let cookie: Cookie<'static> = res.response().cookies().next().unwrap().into_owned();
    let send = move || {
        let req = test::TestRequest::get().uri(path);
        let req = match &bearer {
            Some(token) => req.insert_header(("authorization", format!("Bearer {token}"))),
            None => req.cookie(cookie.clone()),
        };
        let req = req.to_request();
        rt.block_on(app.call(req)).unwrap().status().as_u16()
    };
    // Warm: the first requests fill lazily made state.
    for _ in 0..10 {
        assert_eq!(send(), status, "{path} as {user}");
    }
    Prepared {
        send: Box::new(send),
    }
}

#[library_benchmark]
#[bench::unprotected(setup = prepare, args = ("open", "allowed", 200))]
#[bench::by_hand_allowed(setup = prepare, args = ("hand", "allowed", 200))]
#[bench::by_hand_denied(setup = prepare, args = ("hand", "denied", 403))]
#[bench::macro_allowed(setup = prepare, args = ("macro", "allowed", 200))]
#[bench::macro_denied(setup = prepare, args = ("macro", "denied", 403))]
#[bench::grants_allowed(setup = prepare, args = ("grants", "allowed", 200))]
#[bench::grants_denied(setup = prepare, args = ("grants", "denied", 403))]
#[bench::model_on_route(setup = prepare, args = ("model_route", "allowed", 200))]
#[bench::object_allowed(setup = prepare, args = ("object", "allowed", 200))]
#[bench::object_denied(setup = prepare, args = ("object", "denied", 403))]
#[bench::token_session(setup = prepare, args = ("token_session", "allowed", 200))]
#[bench::token_allowed(setup = prepare, args = ("token_allowed", "allowed", 200))]
#[bench::token_unknown(setup = prepare, args = ("token_unknown", "allowed", 401))]
#[bench::token_wrong(setup = prepare, args = ("token_wrong", "allowed", 401))]
#[bench::token_records(setup = prepare, args = ("token_records", "allowed", 200))]
fn requests(prepared: Prepared) -> Prepared {
    for _ in 0..REQUESTS {
        black_box((prepared.send)());
    }
    prepared
}

library_benchmark_group!(name = checks; benchmarks = requests);

main!(library_benchmark_groups = checks);
