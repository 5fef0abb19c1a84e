//! The JSON API, its OpenAPI document and Swagger UI, and the load runs'
//! baseline.

use super::*;

/// What the user cache is doing, for operators: `exact` (answered from
/// memory, kept exact by the database's notices), `bypassed` (its channel
/// is down: every request queries) or `off`; how many lookups it answered
/// and how many queried.
#[user_passes_test(is_superuser)]
#[get("/api/cache")]
pub(super) async fn api_cache(site: web::Data<Site>) -> HttpResponse {
    let state = match site.backend.cache_state() {
        CacheState::Exact => "exact",
        CacheState::Bypassed => "bypassed",
        _ => "off",
    };
    let stats = site.backend.cache_stats().unwrap_or_default();
    HttpResponse::Ok().json(serde_json::json!({
        "state": state,
        "hits": stats.hits,
        "queries": stats.queries,
    }))
}

/// Who the session belongs to and what they may do.
#[login_required]
#[get("/api/me")]
pub(super) async fn api_me(user: CurrentUser) -> Result<HttpResponse, Error> {
    let mut permissions: Vec<String> = if user.is_superuser() {
        vec!["*".to_owned()]
    } else {
        user.permissions()
            .await?
            .iter()
            .map(str::to_owned)
            .collect()
    };
    permissions.sort_unstable();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "username": username(&user),
        "permissions": permissions,
    })))
}

#[permission_required(any("inventory.view_item", "inventory.add_item"))]
#[get("/api/items")]
pub(super) async fn api_list(
    site: web::Data<Site>,
    user: CurrentUser,
) -> Result<impl Responder, Error> {
    Ok(web::Json(visible_items(&site, &user).await?))
}

/// The API's OpenAPI document: `src/openapi.json` (what the handlers do)
/// with what each operation requires added from the attributes.
pub fn api_document() -> Result<(String, actix_permit::openapi::SecureReport), serde_json::Error> {
    use actix_permit::openapi::{Anonymous, SecureOptions, secure};
    let mut api: utoipa::openapi::OpenApi = serde_json::from_str(include_str!("../openapi.json"))?;
    // `/api/` answers 403 JSON to anonymous requests, never a redirect.
    // An API token works there too, with the scopes each operation needs.
    let options = SecureOptions::new(SESSION_COOKIE)
        .bearer("token")
        .anonymous(Anonymous::Status(403))
        .documented_prefix("/api/");
    let report = secure(&mut api, &options);
    Ok((serde_json::to_string_pretty(&api)?, report))
}

/// The API's OpenAPI 3.1 document, with what each operation requires.
#[login_required]
#[get("/api/openapi.json")]
pub(super) async fn api_openapi(site: web::Data<Site>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(site.api_document.to_string())
}

/// Where Swagger UI's files are: `PERMIT_SWAGGER_UI_DIR`, or what `npm ci`
/// in `examples/inventory` installed (no CDN: the page works offline).
pub(super) fn swagger_ui_dir() -> std::path::PathBuf {
    std::env::var_os("PERMIT_SWAGGER_UI_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/swagger-ui-dist"),
        std::path::PathBuf::from,
    )
}

/// The only files `/api-docs/` serves, and their types.
pub(super) const SWAGGER_FILES: [(&str, &str); 2] = [
    ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    ("swagger-ui.css", "text/css; charset=utf-8"),
];

/// Swagger UI on `/api/openapi.json`, from files served here.
#[login_required]
#[get("/api-docs/")]
pub(super) async fn api_docs(site: web::Data<Site>, user: CurrentUser) -> HttpResponse {
    if !swagger_ui_dir().join(SWAGGER_FILES[0].0).is_file() {
        return site.error_page(
            StatusCode::NOT_FOUND,
            "Swagger UI is not installed: run `npm ci --ignore-scripts` in examples/inventory \
             (or set PERMIT_SWAGGER_UI_DIR). The document itself is at /api/openapi.json.",
            username(&user),
        );
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("../../templates/api_docs.html"))
}

/// Swagger UI's two files, and the script that starts it.
#[login_required]
#[get("/api-docs/{file}")]
pub(super) async fn api_docs_file(file: web::Path<String>) -> HttpResponse {
    if file.as_str() == "start.js" {
        return HttpResponse::Ok()
            .content_type("text/javascript; charset=utf-8")
            .body(include_str!("../../templates/api_docs_start.js"));
    }
    let Some((name, content_type)) = SWAGGER_FILES
        .iter()
        .find(|(name, _)| *name == file.as_str())
    else {
        return HttpResponse::NotFound().finish();
    };
    match std::fs::read(swagger_ui_dir().join(name)) {
        Ok(bytes) => HttpResponse::Ok()
            .content_type(*content_type)
            .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
            .body(bytes),
        Err(_) => HttpResponse::NotFound().finish(),
    }
}

/// Where the load runs' baseline is served.
pub(super) const LOAD_BASELINE: &str = "/load/items";

/// `api_list`'s body with no check: only with `PERMIT_LOAD_BASELINE=1`.
pub(super) async fn load_items(site: web::Data<Site>) -> Result<impl Responder, Error> {
    Ok(web::Json(site.items.list().await.map_err(database_error)?))
}

#[permission_required("inventory.add_item")]
#[post("/api/items")]
pub(super) async fn api_create(
    site: web::Data<Site>,
    user: CurrentUser,
    input: web::Json<ItemInput>,
) -> Result<HttpResponse, Error> {
    let name = match input.validate() {
        Ok(name) => name,
        Err(detail) => {
            return Ok(HttpResponse::BadRequest()
                .json(serde_json::json!({ "error": "bad_request", "detail": detail })));
        }
    };
    let id = add_owned(&site, &user, name, input.quantity).await?;
    match site.items.get(id).await.map_err(database_error)? {
        Some(item) => Ok(HttpResponse::Created().json(item)),
        None => Ok(HttpResponse::NotFound().json(serde_json::json!({ "error": "not_found" }))),
    }
}

#[permission_required("inventory.delete_item", object = "id")]
#[recent_login_required(max_age = "10m")]
#[delete("/api/items/{id}")]
pub(super) async fn api_delete(
    site: web::Data<Site>,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    if site.items.delete(*id).await.map_err(database_error)? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Ok(HttpResponse::NotFound().json(serde_json::json!({ "error": "not_found" })))
    }
}
