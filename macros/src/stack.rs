//! Our attributes stacked on one fn: taken off it and merged into one
//! [`Stack`] of checks (or one public mark).

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::Result;

use crate::args::{Args, Errors, Macro, Require};
use crate::span;

/// Removes our attributes stacked below this one (`#[login_required]`,
/// `#[actix_permit::permission_required(..)]`, and, when this one names a
/// renamed crate with `crate = "path::to::permit"`, `#[permit::login_required]`)
/// so that one wrapper runs all the checks, top to bottom.
pub(crate) fn take_stacked(
    attrs: &mut Vec<syn::Attribute>,
    renamed: Option<&syn::Path>,
) -> Vec<(Macro, Span, TokenStream, syn::Path)> {
    let renamed = renamed
        .and_then(|krate| krate.segments.last())
        .map(|s| &s.ident);
    let mut taken = Vec::new();
    attrs.retain(|attr| {
        let path = attr.path();
        let count = path.segments.len();
        let ours = count == 1
            || path
                .segments
                .first()
                .is_some_and(|s| s.ident == "actix_permit")
            || (count >= 2
                && renamed.is_some_and(|krate| path.segments[count - 2].ident == *krate));
        let which = path
            .segments
            .last()
            .and_then(|s| Macro::from_name(&s.ident.to_string()));
        match which {
            Some(which) if ours => {
                let tokens = match &attr.meta {
                    syn::Meta::List(list) => list.tokens.clone(),
                    other => {
                        // `#[login_required = ...]`: let the argument parser complain.
                        let mut tokens = other.to_token_stream().into_iter();
                        tokens.next();
                        tokens.collect()
                    }
                };
                taken.push((which, span::last_segment(path), tokens, path.clone()));
                false
            }
            _ => true,
        }
    });
    taken
}

/// What a handler requires, as the runtime's `Access` says it: public, or
/// the stacked checks in order.
pub(crate) enum Access {
    Public,
    Checks(Vec<Check>),
}

/// One stacked check: what it requires, and the route segment that names
/// its object (`object = "id"`).
pub(crate) struct Check {
    pub(crate) require: Require,
    pub(crate) object: Option<syn::LitStr>,
}

impl Access {
    /// The checks; none for a public handler.
    pub(crate) fn checks(&self) -> &[Check] {
        match self {
            Access::Public => &[],
            Access::Checks(checks) => checks,
        }
    }
}

/// The merged attributes: what the handler requires, with one `login_url`,
/// `redirect_field` and `crate` for all of them.
pub(crate) struct Stack {
    pub(crate) access: Access,
    pub(crate) login_url: Option<syn::LitStr>,
    pub(crate) redirect_field: Option<syn::LitStr>,
    pub(crate) krate: Option<syn::Path>,
    /// The paths of the attributes merged into this one, so that their
    /// imports count as used.
    pub(crate) uses: Vec<syn::Path>,
    /// The manifest that declares the permissions, if one does.
    pub(crate) manifest: Option<String>,
}

pub(crate) fn merge(stack: Vec<(Macro, Span, Args)>) -> Result<Stack> {
    let mut errors = Errors::default();
    let mut checks = Vec::new();
    let mut merged = Stack {
        access: Access::Public,
        login_url: None,
        redirect_field: None,
        krate: None,
        uses: Vec::new(),
        manifest: None,
    };
    let mut protected_by = None;
    let mut public_at = None;
    for (which, span, args) in stack {
        merge_key(
            "login_url",
            &mut merged.login_url,
            args.login_url,
            &mut errors,
        );
        merge_key(
            "redirect_field",
            &mut merged.redirect_field,
            args.redirect_field,
            &mut errors,
        );
        if let Some(krate) = args.krate {
            merged.krate.get_or_insert(krate);
        }
        match args.require {
            Require::Public => {
                public_at.get_or_insert(span);
            }
            require => {
                protected_by.get_or_insert(which.name());
                checks.push(Check {
                    require,
                    object: args.object,
                });
            }
        }
    }
    if !checks.is_empty() {
        merged.access = Access::Checks(checks);
    }
    if let (Some(span), Some(name)) = (public_at, protected_by) {
        errors.at(
            span,
            format!("`login_not_required` contradicts `{name}` on the same handler; keep one"),
        );
    }
    errors.finish(merged)
}

pub(crate) fn merge_key(
    key: &str,
    merged: &mut Option<syn::LitStr>,
    next: Option<syn::LitStr>,
    errors: &mut Errors,
) {
    match (merged.as_ref(), next) {
        (Some(first), Some(next)) if first.value() != next.value() => errors.at(
            next.span(),
            format!(
                "conflicting `{key}`: {:?} here, {:?} on an attribute above; stacked checks share one `{key}`",
                next.value(),
                first.value()
            ),
        ),
        (None, Some(next)) => *merged = Some(next),
        _ => {}
    }
}

impl Stack {
    /// Where the generated code finds the runtime's shims:
    /// `::actix_permit::__private`, or under the `crate = ".."` name.
    pub(crate) fn private(&self) -> TokenStream {
        let krate = self
            .krate
            .as_ref()
            .map_or_else(|| quote!(::actix_permit), ToTokens::to_token_stream);
        quote!(#krate::__private)
    }
}
