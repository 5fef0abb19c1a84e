//! `inventory routes`: the permission audit of the app, as a table or JSON.

use std::fmt::Write;

use actix_permit::audit::{self, Handler};
use serde_json::json;

use crate::web::deny_by_default;

/// The audit: every handler, and what anonymous users can reach.
pub fn render(as_json: bool) -> String {
    let handlers = audit::handlers();
    let public_paths = deny_by_default().public_paths().to_vec();
    if as_json {
        let listed: Vec<_> = handlers.iter().map(|h| to_json(h)).collect();
        let document = json!({
            "deny_by_default": true,
            "handlers": listed,
            "public_paths": public_paths,
        });
        return format!("{document:#}\n");
    }
    let rows: Vec<[String; 4]> = handlers
        .iter()
        .map(|h| {
            [
                h.path(),
                route_column(h),
                h.access.to_string(),
                if h.is_anonymous_reachable() {
                    "yes"
                } else {
                    "no"
                }
                .to_owned(),
            ]
        })
        .collect();
    let header = ["HANDLER", "ROUTE", "REQUIRES", "ANONYMOUS"].map(str::to_owned);
    let mut widths = [0; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "\nDeny by default is on: every other route needs a signed-in user."
    );
    let _ = writeln!(out, "Reachable without signing in:");
    for handler in handlers.iter().filter(|h| h.is_anonymous_reachable()) {
        for route in handler.anonymous_routes() {
            let _ = writeln!(out, "  {route}  ({})", handler.path());
        }
    }
    for path in &public_paths {
        let _ = writeln!(out, "  {path}  (LoginRequired::public)");
    }
    out
}

fn route_column(handler: &Handler) -> String {
    if handler.routes.is_empty() {
        return "?".to_owned();
    }
    let routes: Vec<String> = handler.routes.iter().map(ToString::to_string).collect();
    routes.join(", ")
}

fn to_json(handler: &Handler) -> serde_json::Value {
    let routes: Vec<_> = handler
        .routes
        .iter()
        .map(|r| json!({ "methods": r.methods, "path": r.path, "guarded": r.guarded }))
        .collect();
    json!({
        "handler": handler.path(),
        "resource": handler.resource,
        "routes": routes,
        "requires": handler.access.to_string(),
        "permissions": handler.permissions(),
        "public": handler.is_public(),
        "anonymous": handler.is_anonymous_reachable(),
    })
}
