//! `inventory routes`: the permission audit of the app, as a table or JSON.

use std::cell::RefCell;
use std::fmt::Write;
use std::rc::Rc;

use actix_permit::audit::{self, Handler, Reachable};
use actix_web::dev::Service;
use actix_web::{App, test};
use serde_json::json;

use crate::web::{self, deny_by_default};

/// A path no route of the app matches.
const PROBE: &str = "/-/audit";

/// What anonymous requests reach in the app's own routing, as deny by
/// default proves it: the routes are built in memory (no database, no
/// socket), and one request that no route matches is sent through them to
/// get hold of the app's resource map.
pub async fn reachable() -> Vec<Reachable> {
    let seen = Rc::new(RefCell::new(None));
    let keep = Rc::clone(&seen);
    let app = test::init_service(
        App::new()
            .configure(web::routes)
            .wrap(deny_by_default().public(PROBE))
            .wrap_fn(move |req, srv| {
                let keep = Rc::clone(&keep);
                let answer = srv.call(req);
                async move {
                    let res = answer.await?;
                    *keep.borrow_mut() = Some(res.request().clone());
                    Ok(res)
                }
            }),
    )
    .await;
    let _ = test::call_service(&app, test::TestRequest::get().uri(PROBE).to_request()).await;
    let req = seen.borrow_mut().take();
    req.map(|req| audit::reachable(&req)).unwrap_or_default()
}

/// The audit: every handler, and what anonymous users can reach.
pub fn render(as_json: bool, reachable: &[Reachable]) -> String {
    let handlers = audit::handlers();
    let reaches = |handler: &Handler| reachable.iter().any(|r| std::ptr::eq(r.handler, handler));
    let public_paths = deny_by_default().public_paths().to_vec();
    if as_json {
        let listed: Vec<_> = handlers.iter().map(|h| to_json(h, reaches(h))).collect();
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
                if reaches(h) { "yes" } else { "no" }.to_owned(),
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
    for found in reachable {
        let path = found.path.as_deref().unwrap_or(found.route.path);
        let methods = found.methods.join("|");
        let _ = writeln!(out, "  {methods} {path}  ({})", found.handler.path());
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

fn to_json(handler: &Handler, anonymous: bool) -> serde_json::Value {
    // The route segments that name an object a check may pass on.
    let objects: Vec<&str> = match handler.access {
        audit::Access::Public => Vec::new(),
        audit::Access::Checks(rules) => rules.iter().filter_map(|rule| rule.object).collect(),
    };
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
        "objects": objects,
        "public": handler.is_public(),
        "anonymous": anonymous,
    })
}
