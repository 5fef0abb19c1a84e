//! The attribute macros of [actix-permit](https://docs.rs/actix-permit).
//! Use them through that crate, which documents them and which the
//! generated code calls.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proc_macro::TokenStream;

mod args;
mod declared;
mod expand;
#[cfg(test)]
mod fuzz;
mod route;
mod span;

use args::Macro;

/// Expands `which`; the file the attribute is written in tells whose
/// declared permissions apply.
fn run(which: Macro, args: TokenStream, item: TokenStream) -> TokenStream {
    let span = proc_macro::Span::call_site();
    let source = span.local_file();
    // Where the attribute stands: what makes a public route's reserved
    // resource name unique.
    let site = format!("{}:{}:{}", span.file(), span.line(), span.column());
    expand::expand(which, args.into(), item.into(), source.as_deref(), &site).into()
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

/// See `actix_permit::login_not_required`.
#[proc_macro_attribute]
pub fn login_not_required(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Macro::LoginNotRequired, args, item)
}
