//! The handler registry and the start-up permission check, on this test
//! binary's own handlers.

use actix_permit::audit::{self, Access, CheckError, Handler, OnMissing, check_permissions};
use actix_permit::{MemoryBackend, SqlBackend, login_required, permission_required};
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
        ["behaviour::checks::any_perm", "behaviour::in_code::stacked"]
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
