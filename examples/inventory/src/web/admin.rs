//! The operators' pages: who may reach what.

use super::*;

/// Every user × every route, with why (`inventory access`, `/admin/access/`).
pub async fn access_matrix(
    backend: &SqlBackend,
) -> Result<actix_permit::audit::Matrix, Box<dyn std::error::Error>> {
    let users = backend.users().await?.into_iter().map(|user| {
        let name = user.username().to_owned();
        (name, Arc::new(user) as Arc<dyn actix_permit::AuthUser>)
    });
    Ok(actix_permit::audit::matrix(backend, users).await?)
}

/// The matrix as JSON: the routes, and per user one cell per route
/// (`allowed`: true, false, or null when a predicate decides per request;
/// `symbol`: ✔, ✘, ? or ◐; `why`). `inventory access --json` prints it and
/// `/admin/access/` renders it.
pub fn matrix_json(matrix: &actix_permit::audit::Matrix) -> serde_json::Value {
    let routes: Vec<_> = matrix
        .columns
        .iter()
        .map(|c| {
            serde_json::json!({
                "method": c.method, "path": c.path, "handler": c.handler, "requires": c.requires,
            })
        })
        .collect();
    let users: Vec<_> = matrix
        .rows
        .iter()
        .map(|row| {
            let cells: Vec<_> = row
                .cells
                .iter()
                .map(|cell| {
                    serde_json::json!({
                        "allowed": cell.allowed(), "symbol": cell.symbol(), "why": cell.detail(),
                    })
                })
                .collect();
            serde_json::json!({ "user": row.user, "cells": cells })
        })
        .collect();
    serde_json::json!({ "routes": routes, "users": users })
}

/// Who may reach what, as a table: for superusers (nobody is granted the
/// permission).
#[permission_required("inventory.view_access")]
#[get("/admin/access/")]
pub(super) async fn access_page(
    site: web::Data<Site>,
    user: CurrentUser,
) -> Result<HttpResponse, Error> {
    let matrix = access_matrix(&site.backend).await.map_err(|err| {
        tracing::error!(error = %err, "cannot compute the access matrix");
        actix_web::error::ErrorServiceUnavailable("the database is unavailable")
    })?;
    Ok(site.page(
        StatusCode::OK,
        "access.html",
        context! { matrix => Value::from(Serde(&matrix_json(&matrix))), username => username(&user) },
    ))
}

/// Whether the user is a superuser (the operators' pages).
pub(super) fn is_superuser(user: &CurrentUser) -> bool {
    user.is_superuser()
}
