//! The handler as the macros read it, once: its signature parsed, its body
//! kept as tokens, its routing attributes read into [`Route`]s.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::visit_mut::{self, VisitMut};
use syn::{Error, FnArg, Result, Type};

use crate::args::{Errors, Macro};
use crate::{route, span};

/// actix-web implements `FromRequest` for tuples of up to 16 extractors.
pub(crate) const MAX_ARGS: usize = 16;

/// A handler as the macros read it: the signature parsed, the body kept as
/// tokens (no full parse of what the user wrote inside it, as tokio-macros
/// does), inner attributes apart so that they stay inside the body.
pub(crate) struct HandlerFn {
    /// Outer attributes (`#[..]` before the fn).
    pub(crate) attrs: Vec<syn::Attribute>,
    pub(crate) vis: syn::Visibility,
    pub(crate) sig: syn::Signature,
    /// Inner attributes (`#![..]` at the start of the body).
    pub(crate) inner: Vec<syn::Attribute>,
    /// The rest of the body, untouched.
    pub(crate) body: TokenStream,
    /// The routes of actix's routing attributes among `attrs` (`#[get]`,
    /// `#[route]`, `#[routes]`), read once.
    pub(crate) routes: Vec<route::Route>,
}

impl syn::parse::Parse for HandlerFn {
    fn parse(input: syn::parse::ParseStream<'_>) -> Result<Self> {
        let attrs = input.call(syn::Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let content;
        syn::braced!(content in input);
        let inner = content.call(syn::Attribute::parse_inner)?;
        let body = content.parse()?;
        let routes = route::read(&attrs);
        Ok(Self {
            attrs,
            vis,
            sig,
            inner,
            body,
            routes,
        })
    }
}

impl ToTokens for HandlerFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let Self {
            attrs,
            vis,
            sig,
            inner,
            body,
            routes: _,
        } = self;
        tokens.extend(quote!(#(#attrs)* #vis #sig { #(#inner)* #body }));
    }
}

/// The item must be an `async fn` that actix can call.
pub(crate) fn parse_handler(which: Macro, item: TokenStream) -> Result<HandlerFn> {
    let name = which.name();
    let func = match syn::parse2::<HandlerFn>(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            return Err(Error::new(
                span::first_word(item),
                format!("#[{name}] applies to an `async fn` handler, not to this item"),
            ));
        }
    };
    let sig = &func.sig;
    let mut errors = Errors::default();
    if let Some(constness) = &sig.constness {
        errors.at(
            constness.span,
            format!("#[{name}] cannot be used on a `const fn`: handlers are `async fn`"),
        );
    }
    if let syn::Safety::Unsafe(unsafety) = &sig.safety {
        errors.at(
            unsafety.span,
            format!(
                "#[{name}] cannot be used on an `unsafe fn`: actix calls handlers as safe functions"
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.at(
            abi.extern_token.span,
            format!("#[{name}] cannot be used on an `extern` fn: handlers use the Rust ABI"),
        );
    }
    let specific = sig.constness.is_some()
        || matches!(sig.safety, syn::Safety::Unsafe(_))
        || sig.abi.is_some();
    if sig.asyncness.is_none() && !specific {
        errors.at(
            sig.fn_token.span,
            format!("expected `async fn`, found `fn`: #[{name}] wraps actix-web handlers, which are async"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic.dots.spans[0], "handlers cannot be variadic");
    }
    for (index, arg) in sig.inputs.iter().enumerate() {
        match arg {
            FnArg::Receiver(receiver) => errors.at(
                receiver.self_token.span,
                format!("#[{name}] handlers cannot take `self`: actix-web calls handlers as plain functions of their extractors"),
            ),
            FnArg::Typed(typed) => {
                if index == MAX_ARGS {
                    errors.at(
                        span::first(&typed.pat),
                        format!("actix-web handlers take at most {MAX_ARGS} arguments; this is argument {}", index + 1),
                    );
                }
                if let Some(span) = impl_trait_span(&typed.ty) {
                    errors.at(span, "handler arguments need concrete extractor types, not `impl Trait`");
                }
            }
        }
    }
    errors.finish(func)
}

pub(crate) fn impl_trait_span(ty: &Type) -> Option<Span> {
    struct Find(Option<Span>);
    impl syn::visit_mut::VisitMut for Find {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(it) = ty {
                self.0.get_or_insert(it.impl_token.span);
            } else {
                visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut find = Find(None);
    find.visit_type_mut(&mut ty.clone());
    find.0
}

/// `impl Trait` anywhere in a type becomes `_`, so that the type can annotate
/// a `let` and still be inferred.
pub(crate) struct InferImplTrait;

impl VisitMut for InferImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if matches!(ty, Type::ImplTrait(_)) {
            *ty = Type::Infer(syn::TypeInfer {
                attrs: Vec::new(),
                underscore_token: Default::default(),
            });
        } else {
            visit_mut::visit_type_mut(self, ty);
        }
    }
}
