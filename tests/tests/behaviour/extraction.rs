//! The check runs before the handler's own extractors: a denied request gets
//! the same 403 whatever its body or path holds, and its body is not read.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use actix_permit::{Permit, permission_required};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, test, web};
use bytes::Bytes;
use serde::Deserialize;

use crate::support::{CHUNK, Hits, app, backend, counting_body, login_as, send};

#[derive(Deserialize)]
struct ItemForm {
    name: String,
    quantity: u32,
}

#[post("/items/{id}")]
#[permission_required("inventory.change_item")]
async fn update(
    id: web::Path<u32>,
    form: web::Json<ItemForm>,
    hits: web::Data<Hits>,
) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body(format!("{id}: {} x{}", form.name, form.quantity))
}

#[post("/upload")]
#[permission_required("inventory.change_item")]
async fn upload(body: Bytes, hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body(body.len().to_string())
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(16 << 20))
        .service(update)
        .service(upload);
}

fn json_post(path: &str, body: &'static str) -> test::TestRequest {
    test::TestRequest::post()
        .uri(path)
        .insert_header(("content-type", "application/json"))
        .set_payload(body)
}

#[actix_rt::test]
async fn denied_requests_get_403_whatever_the_body_or_path() {
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(backend()), hits.clone(), routes).await;
    let plain = login_as(&app, "plain").await;
    let direct = login_as(&app, "direct").await;

    let requests = [
        ("/items/3", "{not json"),
        ("/items/abc", "{\"name\": \"x\", \"quantity\": 1}"),
        ("/items/abc", "{not json"),
        ("/items/3", "{\"name\": \"x\", \"quantity\": -1}"),
    ];
    for (path, body) in requests {
        for cookie in [None, plain.as_ref()] {
            let seen = send(&app, json_post(path, body), cookie).await;
            assert_eq!(seen.status, StatusCode::FORBIDDEN, "{path} {body}");
            assert_eq!(seen.body, "Forbidden");
        }
    }
    assert_eq!(hits.get(), 0);

    // The same requests from a user who may: the extractors answer as usual.
    let expected = [
        StatusCode::BAD_REQUEST,
        StatusCode::NOT_FOUND,
        StatusCode::NOT_FOUND,
        StatusCode::BAD_REQUEST,
    ];
    for ((path, body), status) in requests.into_iter().zip(expected) {
        let seen = send(&app, json_post(path, body), direct.as_ref()).await;
        assert_eq!(seen.status, status, "{path} {body}: {}", seen.body);
    }
    assert_eq!(hits.get(), 0);
    let seen = send(
        &app,
        json_post("/items/3", "{\"name\": \"bolt\", \"quantity\": 7}"),
        direct.as_ref(),
    )
    .await;
    assert_eq!(
        (seen.status, seen.body.as_str()),
        (StatusCode::OK, "3: bolt x7")
    );
    assert_eq!(hits.get(), 1);
}

#[actix_rt::test]
async fn a_denied_large_body_is_never_read() {
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(backend()), hits.clone(), routes).await;
    for (user, status, expected_read) in [
        ("anonymous", StatusCode::FORBIDDEN, 0),
        ("plain", StatusCode::FORBIDDEN, 0),
        ("direct", StatusCode::OK, 10 * CHUNK),
    ] {
        let cookie = login_as(&app, user).await;
        let read = Rc::new(Cell::new(0));
        let mut req = test::TestRequest::post()
            .uri("/upload")
            .insert_header(("content-length", (10 * CHUNK).to_string()));
        if let Some(cookie) = cookie {
            req = req.cookie(cookie);
        }
        let req = counting_body(req, 10, &read);
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), status, "{user}");
        assert_eq!(read.get(), expected_read, "{user}: bytes read");
        let body = test::read_body(res).await;
        if status == StatusCode::OK {
            assert_eq!(body, (10 * CHUNK).to_string());
        }
    }
    assert_eq!(hits.get(), 1);
}
