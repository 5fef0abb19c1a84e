//! The four route shapes that got anonymous requests past `LoginRequired`
//! to a handler nobody annotated (issue 12), kept as regression cases: no
//! anonymous request runs one, whatever the host, method or path.

use std::sync::Arc;

use actix_permit::{LoginRequired, Permit, login_not_required, login_required, scope};
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, get, guard, post, test, web};

use crate::support::{Ran, backend, login_as, send, session, session_routes};

macro_rules! gated_app {
    ($ran:expr, $routes:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::from(Arc::clone(&$ran)))
                .configure(session_routes)
                .configure($routes)
                .wrap(LoginRequired::new())
                .wrap(Permit::new(backend()))
                .wrap(session()),
        )
        .await
    };
}

/// Sends an anonymous request; answers its status and body.
async fn anonymous<S, B>(app: &S, method: &str, host: &str, path: &str) -> (StatusCode, String)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let req = test::TestRequest::default()
        .method(method.parse().unwrap())
        .insert_header(("host", host))
        .uri(path);
    let seen = send(app, req, None).await;
    (seen.status, seen.body)
}

// 1. The same fn name in another scope.
#[login_not_required]
#[get("/")]
async fn index(ran: web::Data<Ran>) -> HttpResponse {
    ran.hit("root index")
}

mod admin {
    use super::*;

    #[get("/")]
    pub async fn index(ran: web::Data<Ran>) -> HttpResponse {
        ran.hit("admin index")
    }

    #[login_required]
    #[get("/webhook")]
    pub async fn webhook_get(ran: web::Data<Ran>) -> HttpResponse {
        ran.hit("admin webhook get")
    }

    #[post("/webhook")]
    pub async fn webhook_post(ran: web::Data<Ran>) -> HttpResponse {
        ran.hit("admin webhook post")
    }

    #[get("/home")]
    pub async fn home(ran: web::Data<Ran>) -> HttpResponse {
        ran.hit("admin home")
    }

    #[get("/users")]
    pub async fn users(ran: web::Data<Ran>) -> HttpResponse {
        ran.hit("admin users")
    }
}

#[actix_web::test]
async fn a_fn_name_shared_with_a_public_handler_opens_nothing() {
    let ran = Arc::new(Ran::default());
    let app = gated_app!(ran, |cfg: &mut web::ServiceConfig| {
        cfg.service(index)
            .service(web::scope("/admin").service(admin::index));
    });
    for path in ["/admin/", "/admin", "/admin//", "/%61dmin/"] {
        let (status, body) = anonymous(&app, "GET", "localhost", path).await;
        assert_ne!(status, StatusCode::OK, "{path}: {body}");
    }
    assert_eq!(ran.take(), Vec::<&str>::new());
    assert_eq!(
        anonymous(&app, "GET", "localhost", "/").await,
        (StatusCode::OK, "root index".to_owned())
    );
    assert_eq!(ran.take(), ["root index"]);
}

// 2. A public route of the same relative path elsewhere.
#[login_not_required]
#[post("/webhook")]
async fn billing_webhook(ran: web::Data<Ran>) -> HttpResponse {
    ran.hit("billing webhook")
}

#[actix_web::test]
async fn a_public_path_elsewhere_opens_no_method_fall_through() {
    let ran = Arc::new(Ran::default());
    // As the issue wrote it, and with the public handler in a plain scope,
    // where it is reachable.
    for plain in [false, true] {
        let app = gated_app!(ran, move |cfg: &mut web::ServiceConfig| {
            if plain {
                cfg.service(scope("/billing").service(billing_webhook));
            } else {
                cfg.service(web::scope("/billing").service(billing_webhook));
            }
            cfg.service(
                web::scope("/admin")
                    .service(admin::webhook_get)
                    .service(admin::webhook_post),
            );
        });
        for method in ["POST", "GET", "PUT"] {
            let (status, body) = anonymous(&app, method, "localhost", "/admin/webhook").await;
            assert_ne!(status, StatusCode::OK, "{method}: {body}");
        }
        assert_eq!(ran.take(), Vec::<&str>::new());
        let (status, _) = anonymous(&app, "POST", "localhost", "/billing/webhook").await;
        if plain {
            assert_eq!(status, StatusCode::OK);
            assert_eq!(ran.take(), ["billing webhook"]);
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "inside a web::scope");
            assert_eq!(ran.take(), Vec::<&str>::new());
        }
    }
}

// 3. A scope's default service.
async fn fallback(ran: web::Data<Ran>) -> HttpResponse {
    ran.hit("fallback")
}

#[actix_web::test]
async fn default_services_need_a_user() {
    let ran = Arc::new(Ran::default());
    let app = test::init_service(
        App::new()
            .app_data(web::Data::from(Arc::clone(&ran)))
            .configure(session_routes)
            .service(index)
            .service(web::scope("/admin").default_service(web::to(fallback)))
            .service(scope("/open").default_service(web::to(fallback)))
            .default_service(web::to(fallback))
            .wrap(LoginRequired::new().public("/test/login/"))
            .wrap(Permit::new(backend()))
            .wrap(session()),
    )
    .await;
    for path in [
        "/admin/anything",
        "/admin/",
        "/open/x",
        "/nowhere",
        "/index",
    ] {
        let (status, body) = anonymous(&app, "GET", "localhost", path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    // A public route refusing a method sends no request on to the default.
    let (status, _) = anonymous(&app, "DELETE", "localhost", "/").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(ran.take(), Vec::<&str>::new());
    // Signed-in users still get there.
    let cookie = login_as(&app, "plain").await;
    let seen = send(
        &app,
        test::TestRequest::get().uri("/admin/anything"),
        cookie.as_ref(),
    )
    .await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(ran.take(), ["fallback"]);
}

// 4. Guarded scopes: virtual hosts.
#[login_not_required]
#[get("/home")]
async fn www_home(ran: web::Data<Ran>) -> HttpResponse {
    ran.hit("www home")
}

#[actix_web::test]
async fn host_guarded_scopes_keep_their_handlers_protected() {
    let ran = Arc::new(Ran::default());
    let app = gated_app!(ran, |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::scope("")
                .guard(guard::Host("www.example.com"))
                .service(www_home),
        )
        .service(
            web::scope("")
                .guard(guard::Host("admin.example.com"))
                .service(admin::home)
                .service(admin::users),
        );
    });
    for host in ["admin.example.com", "www.example.com", "other.example.com"] {
        for path in ["/home", "/users", "/home/", "/Home"] {
            let (status, body) = anonymous(&app, "GET", host, path).await;
            assert_ne!(status, StatusCode::OK, "{host}{path}: {body}");
        }
    }
    assert_eq!(ran.take(), Vec::<&str>::new());
    // The public handler stays protected: the app does not list it as
    // reachable (and a warning named it when it was registered).
    let res = actix_web::dev::Service::call(&app, test::TestRequest::get().uri("/").to_request())
        .await
        .unwrap();
    let reachable = actix_permit::audit::reachable(res.request());
    assert!(
        reachable.iter().all(|r| r.handler.name != "www_home"),
        "{reachable:?}"
    );
}

// Two public handlers a macro writes exactly alike get the same reserved
// route name: neither can be told apart, so both stay protected.
macro_rules! twin {
    ($module:ident) => {
        mod $module {
            use super::*;

            #[login_not_required]
            #[get("/twin")]
            pub async fn twin(ran: web::Data<Ran>) -> HttpResponse {
                ran.hit("twin")
            }
        }
    };
}

twin!(twin_a);
twin!(twin_b);

#[actix_web::test]
async fn a_macro_writing_two_public_handlers_alike_keeps_both_protected() {
    let ran = Arc::new(Ran::default());
    let app = gated_app!(ran, |cfg: &mut web::ServiceConfig| {
        cfg.service(scope("/a").service(twin_a::twin))
            .service(scope("/b").service(twin_b::twin));
    });
    for path in ["/a/twin", "/b/twin"] {
        let (status, _) = anonymous(&app, "GET", "localhost", path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(ran.take(), Vec::<&str>::new());
    // Named as colliding (LoginRequired warns about each pair).
    let twins: Vec<String> = actix_permit::audit::route_collisions()
        .into_iter()
        .flat_map(|(a, b)| [a.path(), b.path()])
        .collect();
    assert!(
        twins.iter().any(|p| p.ends_with("twin_a::twin"))
            && twins.iter().any(|p| p.ends_with("twin_b::twin")),
        "{twins:?}"
    );
}

// A public handler with several routes (`#[routes]`): each route is public,
// and a method none of them takes is not.
#[login_not_required]
#[actix_web::routes]
#[get("/multi")]
#[post("/multi/send", name = "multi_send")]
async fn multi(ran: web::Data<Ran>) -> HttpResponse {
    ran.hit("multi")
}

/// Unannotated, on the path of the public routes.
#[actix_web::put("/multi")]
async fn multi_put(ran: web::Data<Ran>) -> HttpResponse {
    ran.hit("multi put")
}

#[actix_web::test]
async fn every_route_of_a_public_multi_route_handler_is_public_and_only_those() {
    let ran = Arc::new(Ran::default());
    let app = gated_app!(ran, |cfg: &mut web::ServiceConfig| {
        cfg.service(scope("/m").service(multi).service(multi_put));
    });
    assert_eq!(
        anonymous(&app, "GET", "localhost", "/m/multi").await,
        (StatusCode::OK, "multi".to_owned())
    );
    assert_eq!(
        anonymous(&app, "POST", "localhost", "/m/multi/send").await,
        (StatusCode::OK, "multi".to_owned())
    );
    for (method, path) in [
        ("PUT", "/m/multi"),
        ("GET", "/m/multi/send"),
        ("DELETE", "/m/multi"),
    ] {
        let (status, body) = anonymous(&app, method, "localhost", path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
    }
    assert_eq!(ran.take(), ["multi", "multi"]);
    // The names the app gave still build URLs.
    let req = test::TestRequest::get().uri("/m/multi").to_request();
    let res = actix_web::dev::Service::call(&app, req).await.unwrap();
    let url = res.request().url_for_static("multi_send").unwrap();
    assert_eq!(url.path(), "/m/multi/send");
}
