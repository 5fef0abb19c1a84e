//! What is checked before anything is generated: permissions the crate
//! declares, and `object = ".."` segments that the routes have.

use std::path::Path;

use syn::{Error, Result};

use crate::args::{Errors, Require};
use crate::handler::HandlerFn;
use crate::stack::Stack;
use crate::{declared, route};

/// When the package declares its permissions, every permission literal must
/// be one of them; answers the declaring manifest.
pub(crate) fn declared_only(stack: &Stack, source: Option<&Path>) -> Result<Option<String>> {
    let lits: Vec<&syn::LitStr> = stack
        .access
        .checks()
        .iter()
        .filter_map(|check| match &check.require {
            Require::Perms(groups) => Some(groups.iter().flatten()),
            _ => None,
        })
        .flatten()
        .collect();
    let Some(first) = lits.first() else {
        return Ok(None);
    };
    let declared = match declared::find(source) {
        Ok(Some(declared)) => declared,
        Ok(None) => return Ok(None),
        Err(message) => return Err(Error::new(first.span(), message)),
    };
    let names: Vec<&str> = declared.names.iter().map(String::as_str).collect();
    let mut errors = Errors::default();
    for lit in lits {
        let name = lit.value();
        if names.contains(&name.as_str()) {
            continue;
        }
        // Permission names share long prefixes: only a near miss is a typo.
        let close = crate::args::suggest(&name, &names)
            .filter(|close| crate::args::edit_distance(&name, close) <= (close.len() / 8).max(2));
        let hint = match close {
            Some(close) => format!("did you mean {close:?}?"),
            None => "declare it there, or name a declared one".to_owned(),
        };
        errors.at(
            lit.span(),
            format!(
                "{name:?} is not declared in Cargo.toml [package.metadata.actix-permit] permissions; {hint}"
            ),
        );
    }
    errors.finish(Some(declared.manifest.to_string_lossy().into_owned()))
}

/// Every `object = "id"` names a segment of each route the attribute can
/// see (above `#[get("/items/{id}")]`); below the routing attribute, or
/// routed by hand, the runtime checks instead (a 500 and a log line).
pub(crate) fn objects_in_routes(stack: &Stack, func: &HandlerFn) -> Result<()> {
    let routes = &func.routes;
    let mut errors = Errors::default();
    for object in stack
        .access
        .checks()
        .iter()
        .filter_map(|c| c.object.as_ref())
    {
        let wanted = object.value();
        for route in routes {
            let segments = route::segments(&route.path);
            if segments.iter().any(|segment| *segment == wanted) {
                continue;
            }
            let has = if segments.is_empty() {
                "no segments".to_owned()
            } else {
                let names: Vec<String> = segments.iter().map(|s| format!("{{{s}}}")).collect();
                format!("only {}", names.join(", "))
            };
            let hint = crate::args::suggest(&wanted, &segments)
                .map(|close| format!("; did you mean object = {close:?}?"))
                .unwrap_or_default();
            errors.at(
                object.span(),
                format!(
                    "object = {wanted:?} names no segment of the route {:?}, which has {has}{hint}",
                    route.path
                ),
            );
        }
    }
    errors.finish(())
}
