//! The handler registry and the start-up permission check, on this test
//! binary's own handlers.

use actix_permit::audit::{self, Access, CheckError, Handler, OnMissing, check_permissions};
use actix_permit::{
    backend::{MemoryBackend, SqlBackend},
    login_required, permission_required,
};
use actix_web::{HttpResponse, post};

#[login_required(login_url = "/accounts/login/")]
#[permission_required("inventory.change_item", any("inventory.view_item", "shop.view_item"))]
#[post("/audited/{id}", name = "audited_item")]
async fn audited() -> HttpResponse {
    HttpResponse::Ok().finish()
}

fn find(module_suffix: &str, name: &str) -> &'static Handler {
    audit::handlers()
        .into_iter()
        .find(|h| h.name == name && h.module.ends_with(module_suffix))
        .unwrap_or_else(|| panic!("{module_suffix}::{name} is not registered"))
}

fn row(handler: &Handler) -> String {
    let routes: Vec<String> = handler.routes.iter().map(ToString::to_string).collect();
    format!(
        "{} [{}] {} {}",
        handler.resource,
        routes.join(", "),
        handler.access,
        handler.is_anonymous_reachable()
    )
}

#[test]
fn every_annotated_handler_is_registered_with_its_route_and_requirement() {
    let handler = find("behaviour::audit", "audited");
    assert_eq!(handler.path(), "behaviour::audit::audited");
    assert_eq!(
        row(handler),
        "audited_item [POST /audited/{id}] login; perms: inventory.change_item and \
         (inventory.view_item or shop.view_item) false"
    );
    assert_eq!(
        handler.permissions(),
        [
            "inventory.change_item",
            "inventory.view_item",
            "shop.view_item"
        ]
    );
    let Access::Checks(rules) = handler.access else {
        panic!("audited is protected");
    };
    assert_eq!(rules[0].login_url, Some("/accounts/login/"));

    let cases = [
        ("home", "home [GET /] public true"),
        ("about", "about_page [GET /about] public true"),
        ("ping", "ping [GET|PUT /ping] public true"),
        ("guarded", "guarded [GET /guarded (guarded)] public true"),
        ("below", "below [] public false"),
        ("edit", "edit [] perms: inventory.change_item false"),
        ("dashboard", ""),
    ];
    for (name, expected) in cases {
        let found = audit::handlers()
            .into_iter()
            .find(|h| h.name == name && h.module.ends_with("behaviour::deny_by_default"));
        match found {
            Some(handler) => assert_eq!(row(handler), expected, "{name}"),
            None => assert_eq!(expected, "", "{name} is not registered"),
        }
    }

    // A predicate is named as written; `any` groups read as `or`.
    assert_eq!(
        row(find("behaviour::checks", "test_async")),
        "test_async [] test: can_view false"
    );
    assert_eq!(
        row(find("behaviour::checks", "any_perm")),
        "any_perm [] perms: inventory.delete_item or inventory.change_item false"
    );

    // Handlers of a library crate are listed too, routed or not.
    assert_eq!(
        row(find("actix_permit_tests", "library_public")),
        "library_public [GET /library/public] public true"
    );
    assert_eq!(
        row(find("actix_permit_tests", "library_protected")),
        "library_protected [GET /library/protected] perms: app.view false"
    );

    // Sorted by module, then name; every module of this binary is in.
    let all = audit::handlers();
    assert!(
        all.windows(2)
            .all(|w| (w[0].module, w[0].name) <= (w[1].module, w[1].name))
    );
    for module in [
        "checks",
        "extraction",
        "placement",
        "sql",
        "deny_by_default",
    ] {
        assert!(
            all.iter()
                .any(|h| h.module == format!("behaviour::{module}")),
            "nothing registered from {module}"
        );
    }
}

/// Every permission the handlers of this binary name, but one.
fn all_but(left_out: &str) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = audit::handlers()
        .iter()
        .flat_map(|h| h.permissions())
        .filter(|p| *p != left_out)
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

#[actix_rt::test]
async fn a_permission_missing_from_the_backend_is_reported_with_its_handlers() {
    let sql = SqlBackend::connect("sqlite::memory:").await.unwrap();
    for perm in all_but("inventory.delete_item") {
        sql.create_permission(perm, perm).await.unwrap();
    }
    let missing = check_permissions(&sql, OnMissing::Warn).await.unwrap();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0].permission, "inventory.delete_item");
    let mut named_by: Vec<String> = missing[0].handlers.iter().map(|h| h.path()).collect();
    named_by.sort();
    assert_eq!(
        named_by,
        [
            "behaviour::checks::any_perm",
            "behaviour::in_code::stacked",
            "behaviour::objects::either",
            "behaviour::scopes::delete_on",
            "behaviour::scopes::view_or_delete"
        ]
    );

    match check_permissions(&sql, OnMissing::Refuse).await {
        Err(CheckError::Missing(missing)) => assert_eq!(missing.len(), 1),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let err = check_permissions(&sql, OnMissing::Refuse)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "permission \"inventory.delete_item\" is not defined in the backend; named by behaviour::"
        ),
        "{err}"
    );

    sql.create_permission("inventory.delete_item", "delete")
        .await
        .unwrap();
    let missing = check_permissions(&sql, OnMissing::Refuse).await.unwrap();
    assert!(missing.is_empty(), "{missing:?}");
}

#[actix_rt::test]
async fn the_memory_backend_defines_what_it_grants() {
    let memory = MemoryBackend::new();
    memory.add_user("u", "pw").unwrap();
    for perm in all_but("shop.view_item") {
        memory.grant("u", perm).unwrap();
    }
    let missing = check_permissions(&memory, OnMissing::Warn).await.unwrap();
    let names: Vec<_> = missing.iter().map(|m| m.permission).collect();
    assert_eq!(names, ["shop.view_item"]);
    memory.add_group("viewers", ["shop.view_item"]).unwrap();
    assert!(
        check_permissions(&memory, OnMissing::Refuse)
            .await
            .unwrap()
            .is_empty()
    );
}

#[actix_rt::test]
async fn a_backend_that_is_down_fails_the_check() {
    let sql = SqlBackend::connect("sqlite::memory:").await.unwrap();
    sql.pool().close().await;
    let err = check_permissions(&sql, OnMissing::Warn).await.unwrap_err();
    assert!(matches!(err, CheckError::Backend(_)), "{err:?}");
}

/// The access matrix of one route (`POST /audited/{id}`: signed in, and
/// `change_item` and (`view_item` or `shop.view_item`)) for every kind of
/// user, with why; from the memory backend and from SQLite.
#[actix_rt::test]
async fn the_access_matrix_says_who_and_why() {
    use std::sync::Arc;

    use actix_permit::AuthUser;
    use actix_permit::audit::Cell;

    let memory = MemoryBackend::new();
    let sql = SqlBackend::connect("sqlite::memory:").await.unwrap();
    for perm in [
        "inventory.change_item",
        "inventory.view_item",
        "shop.view_item",
    ] {
        sql.create_permission(perm, perm).await.unwrap();
    }
    for user in ["direct", "grouped", "partly", "super", "inactive"] {
        memory.add_user(user, "a password").unwrap();
        sql.create_user(user, "a password").await.unwrap();
    }
    memory.grant("direct", "inventory.change_item").unwrap();
    memory.grant("direct", "shop.view_item").unwrap();
    memory
        .add_group("editors", ["inventory.change_item", "inventory.view_item"])
        .unwrap();
    memory.add_user_to_group("grouped", "editors").unwrap();
    memory.grant("grouped", "inventory.change_item").unwrap();
    memory.grant("partly", "inventory.view_item").unwrap();
    memory.set_superuser("super", true).unwrap();
    memory.set_superuser("inactive", true).unwrap();
    memory.set_active("inactive", false).unwrap();
    sql.grant("direct", "inventory.change_item").await.unwrap();
    sql.grant("direct", "shop.view_item").await.unwrap();
    sql.create_group("editors", &["inventory.change_item", "inventory.view_item"])
        .await
        .unwrap();
    sql.add_user_to_group("grouped", "editors").await.unwrap();
    sql.grant("grouped", "inventory.change_item").await.unwrap();
    sql.grant("partly", "inventory.view_item").await.unwrap();
    sql.set_superuser("super", true).await.unwrap();
    sql.set_superuser("inactive", true).await.unwrap();
    sql.set_active("inactive", false).await.unwrap();

    let expected = [
        (
            "direct",
            Cell::Allowed(vec![
                "signed in".into(),
                "direct".into(),
                "shop.view_item: direct".into(),
            ]),
        ),
        (
            "grouped",
            Cell::Allowed(vec![
                "signed in".into(),
                "direct and group editors".into(),
                "inventory.view_item: group editors".into(),
            ]),
        ),
        ("partly", Cell::Denied(vec!["inventory.change_item".into()])),
        (
            "super",
            Cell::Allowed(vec!["signed in".into(), "superuser".into()]),
        ),
        ("inactive", Cell::Denied(vec!["inactive".into()])),
    ];
    let names = ["direct", "grouped", "partly", "super", "inactive"];
    let from_memory = audit::matrix(
        &memory,
        names.map(|name| {
            let user: Arc<dyn AuthUser> = memory.user(name).unwrap();
            (name.to_owned(), user)
        }),
    )
    .await
    .unwrap();
    let mut from_sql = Vec::new();
    for name in names {
        let user: Arc<dyn AuthUser> = Arc::new(sql.user(name).await.unwrap().unwrap());
        from_sql.push((name.to_owned(), user));
    }
    let from_sql = audit::matrix(&sql, from_sql).await.unwrap();
    for matrix in [&from_memory, &from_sql] {
        let column = matrix
            .columns
            .iter()
            .position(|c| c.path == "/audited/{id}" && c.method == "POST")
            .expect("the audited route is a column");
        assert_eq!(matrix.columns[column].handler, "behaviour::audit::audited");
        for ((name, cell), row) in expected.iter().zip(&matrix.rows) {
            assert_eq!(row.user, *name);
            assert_eq!(&row.cells[column], cell, "{name}");
        }
        // Public routes are open to all, the inactive user included; a
        // predicate's route is up to the predicate.
        for (column, route) in matrix.columns.iter().enumerate() {
            if route.requires == "public" {
                assert!(
                    matrix
                        .rows
                        .iter()
                        .all(|row| row.cells[column].allowed() == Some(true))
                );
            }
            if route.requires.starts_with("test: ") {
                let super_row = &matrix.rows[3];
                assert_eq!(super_row.cells[column].allowed(), None, "{route:?}");
            }
        }
        let text = matrix.to_string();
        assert!(text.contains("POST /audited/{id}"), "{text}");
        assert!(format!("{matrix:#}").contains("✘ inactive"));
    }
}

/// `openapi::secure` describes a documented operation from its handler's
/// attributes (here `POST /audited/{id}`, documented as `{item}`), leaves
/// an unknown one untouched, and reports both ways of disagreeing.
#[test]
fn openapi_operations_get_their_handlers_requirements() {
    use actix_permit::openapi::{Anonymous, SecureOptions, secure};

    let mut api: utoipa::openapi::OpenApi = serde_json::from_value(serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/audited/{item}": {"post": {"responses": {"200": {"description": "ok"}}}},
            "/nowhere": {"get": {"responses": {"200": {"description": "ok"}}}}
        }
    }))
    .unwrap();
    let options = SecureOptions::new("sid")
        .anonymous(Anonymous::Status(401))
        .documented_prefix("/audited");
    let report = secure(&mut api, &options);
    assert_eq!(report.secured, ["POST /audited/{item}"]);
    assert_eq!(report.unknown, ["GET /nowhere"]);
    assert_eq!(report.undocumented, Vec::<String>::new());
    let doc = serde_json::to_value(&api).unwrap();
    let op = &doc["paths"]["/audited/{item}"]["post"];
    assert_eq!(op["security"], serde_json::json!([{"session": []}]));
    assert_eq!(op["x-login-required"], true);
    assert_eq!(
        op["x-permissions"],
        serde_json::json!({"all": [{"any": ["inventory.change_item"]}, {"any": ["inventory.view_item", "shop.view_item"]}]})
    );
    // The macro's own login URL: a redirect, not the app's 401.
    let responses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
    assert_eq!(responses, ["200", "302", "403", "503"]);
    assert_eq!(
        doc["paths"]["/nowhere"]["get"],
        serde_json::json!({"responses": {"200": {"description": "ok"}}}),
        "left untouched"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["session"]["name"],
        "sid"
    );

    // Documenting nothing under the prefix: the route is reported.
    let mut empty: utoipa::openapi::OpenApi = serde_json::from_value(serde_json::json!({
        "openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}
    }))
    .unwrap();
    let report = secure(&mut empty, &options);
    assert_eq!(report.undocumented, ["POST /audited/{id}"]);
}
