//! The attribute macros of [actix-permit](https://docs.rs/actix-permit).
//! Use them through that crate, which documents them and which the
//! generated code calls.
//!
//! How it is built, in the order an expansion runs: `args.rs` parses an
//! attribute's arguments (permission strings are checked here);
//! `handler.rs` reads the fn once (signature, body as tokens, routing
//! attributes into routes); `stack.rs` takes our other attributes off the
//! fn and merges them into one stack of checks; `valid.rs` checks what
//! needs the whole stack (declared permissions with `declared.rs`,
//! `object = ".."` against the routes); then `public.rs` generates a
//! public handler above its routing attribute (reserved route names,
//! sentinel, entry point; `route.rs` rewrites the routing attributes) and
//! `expand.rs` every other handler (the wrapper that checks before any
//! extractor, and the registration). `span.rs` places errors. This file
//! runs the steps and turns errors into `compile_error!`s beside the
//! unchanged fn.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proc_macro::TokenStream;

mod args;
mod declared;
mod expand;
#[cfg(test)]
mod fuzz;
mod handler;
mod public;
mod route;
mod span;
mod stack;
mod valid;

use std::path::Path;

use proc_macro2::TokenStream as TokenStream2;
use syn::{Error, Result};

use args::{Args, Errors, Macro};
use handler::parse_handler;
use proc_macro2::Span;
use quote::quote;
use stack::{Access, merge, take_stacked};
use valid::{declared_only, objects_in_routes};

/// Expands `which`; the file the attribute is written in tells whose
/// declared permissions apply.
fn run(which: Macro, args: TokenStream, item: TokenStream) -> TokenStream {
    let span = proc_macro::Span::call_site();
    let source = span.local_file();
    // Where the attribute stands: what makes a public route's reserved
    // resource name unique.
    let site = format!("{}:{}:{}", span.file(), span.line(), span.column());
    expand_attribute(which, args.into(), item.into(), source.as_deref(), &site).into()
}

/// See `actix_permit::login_required`.
#[proc_macro_attribute]
pub fn login_required(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Macro::LoginRequired, args, item)
}

/// See `actix_permit::permission_required`.
#[proc_macro_attribute]
pub fn permission_required(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Macro::PermissionRequired, args, item)
}

/// See `actix_permit::user_passes_test`.
#[proc_macro_attribute]
pub fn user_passes_test(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Macro::UserPassesTest, args, item)
}

/// See `actix_permit::recent_login_required`.
#[proc_macro_attribute]
pub fn recent_login_required(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Macro::RecentLoginRequired, args, item)
}

/// See `actix_permit::login_not_required`.
#[proc_macro_attribute]
pub fn login_not_required(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Macro::LoginNotRequired, args, item)
}

/// Expands one attribute, together with any of ours stacked below it on the
/// same fn; on error, the fn comes back unchanged next to the errors, so the
/// build fails but tools still see the fn.
pub(crate) fn expand_attribute(
    which: Macro,
    args: TokenStream2,
    item: TokenStream2,
    source: Option<&Path>,
    site: &str,
) -> TokenStream2 {
    try_expand(which, args, item.clone(), source, site).unwrap_or_else(|err| with_errors(item, err))
}

/// The expansion, or every error found (all the bad literals at once).
fn try_expand(
    which: Macro,
    args: TokenStream2,
    item: TokenStream2,
    source: Option<&Path>,
    site: &str,
) -> Result<TokenStream2> {
    let mut errors = Errors::default();
    let own = Args::parse(which, args).map_err(|e| errors.push(e)).ok();
    let func = parse_handler(which, item.clone())
        .map_err(|e| errors.push(e))
        .ok();
    let (Some(own), Some(mut func)) = (own, func) else {
        return errors.finish(()).map(|()| item);
    };
    let renamed = own.krate.clone();
    let mut stack = vec![(which, Span::call_site(), own)];
    let mut uses = Vec::new();
    for (stacked, span, tokens, path) in take_stacked(&mut func.attrs, renamed.as_ref()) {
        uses.push(path);
        match Args::parse(stacked, tokens) {
            Ok(args) => stack.push((stacked, span, args)),
            Err(err) => errors.push(err),
        }
    }
    errors.finish(())?;
    let mut stack = merge(stack)?;
    objects_in_routes(&stack, &func)?;
    stack.manifest = declared_only(&stack, source)?;
    stack.uses = uses;
    if matches!(stack.access, Access::Public) && !func.routes.is_empty() {
        let private = stack.private();
        return Ok(public::generate_public(&stack, func, &private, site));
    }
    Ok(expand::generate(&stack, func, site))
}

fn with_errors(item: TokenStream2, err: Error) -> TokenStream2 {
    let errors = err.to_compile_error();
    quote!(#item #errors)
}
