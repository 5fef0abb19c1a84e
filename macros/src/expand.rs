//! Code generation: the handler becomes a wrapper that checks first and only
//! then extracts the handler's own arguments and runs its body.

use std::path::Path;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::visit_mut::{self, VisitMut};
use syn::{Error, FnArg, Ident, Result, ReturnType, Type};

use crate::args::{Args, Errors, Macro, Require};
use crate::{declared, route, span};

/// actix-web implements `FromRequest` for tuples of up to 16 extractors.
const MAX_ARGS: usize = 16;

/// Expands one attribute, together with any of ours stacked below it on the
/// same fn; on error, the fn comes back unchanged next to the errors, so the
/// build fails but tools still see the fn.
pub(crate) fn expand(
    which: Macro,
    args: TokenStream,
    item: TokenStream,
    source: Option<&Path>,
    site: &str,
) -> TokenStream {
    try_expand(which, args, item.clone(), source, site).unwrap_or_else(|err| with_errors(item, err))
}

/// The expansion, or every error found (all the bad literals at once).
fn try_expand(
    which: Macro,
    args: TokenStream,
    item: TokenStream,
    source: Option<&Path>,
    site: &str,
) -> Result<TokenStream> {
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
    Ok(generate(&stack, func, site))
}

/// When the package declares its permissions, every permission literal must
/// be one of them; answers the declaring manifest.
fn declared_only(stack: &Stack, source: Option<&Path>) -> Result<Option<String>> {
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
fn objects_in_routes(stack: &Stack, func: &HandlerFn) -> Result<()> {
    let routes = route::read(&func.attrs);
    let mut errors = Errors::default();
    for object in stack
        .access
        .checks()
        .iter()
        .filter_map(|c| c.object.as_ref())
    {
        let wanted = object.value();
        for route in &routes {
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

fn with_errors(item: TokenStream, err: Error) -> TokenStream {
    let errors = err.to_compile_error();
    quote!(#item #errors)
}

/// Removes our attributes stacked below this one (`#[login_required]`,
/// `#[actix_permit::permission_required(..)]`, and, when this one names a
/// renamed crate with `crate = "path::to::permit"`, `#[permit::login_required]`)
/// so that one wrapper runs all the checks, top to bottom.
fn take_stacked(
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
enum Access {
    Public,
    Checks(Vec<Check>),
}

/// One stacked check: what it requires, and the route segment that names
/// its object (`object = "id"`).
struct Check {
    require: Require,
    object: Option<syn::LitStr>,
}

impl Access {
    /// The checks; none for a public handler.
    fn checks(&self) -> &[Check] {
        match self {
            Access::Public => &[],
            Access::Checks(checks) => checks,
        }
    }
}

/// The merged attributes: what the handler requires, with one `login_url`,
/// `redirect_field` and `crate` for all of them.
struct Stack {
    access: Access,
    login_url: Option<syn::LitStr>,
    redirect_field: Option<syn::LitStr>,
    krate: Option<syn::Path>,
    /// The paths of the attributes merged into this one, so that their
    /// imports count as used.
    uses: Vec<syn::Path>,
    /// The manifest that declares the permissions, if one does.
    manifest: Option<String>,
}

fn merge(stack: Vec<(Macro, Span, Args)>) -> Result<Stack> {
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

fn merge_key(
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
        Ok(Self {
            attrs,
            vis,
            sig,
            inner,
            body,
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
        } = self;
        tokens.extend(quote!(#(#attrs)* #vis #sig { #(#inner)* #body }));
    }
}

/// The item must be an `async fn` that actix can call.
fn parse_handler(which: Macro, item: TokenStream) -> Result<HandlerFn> {
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

fn impl_trait_span(ty: &Type) -> Option<Span> {
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
struct InferImplTrait;

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

/// The statics that describe the handler for the audit, and the constructor
/// that registers them. `rules` is `None` for a public handler; `public`
/// holds the reserved names of its routes and its entry point when the
/// attribute sits above the routing attribute.
fn registration(
    private: &TokenStream,
    func: &HandlerFn,
    rules: Option<&[TokenStream]>,
    public: Option<(&[String], &Ident)>,
) -> TokenStream {
    let routes = route::read(&func.attrs);
    let name = func.sig.ident.to_string();
    let resource = routes
        .iter()
        .find_map(|route| route.name.clone())
        .unwrap_or_else(|| name.clone());
    let listed = routes.iter().enumerate().map(|(index, route)| {
        let route::Route {
            methods,
            path,
            guarded,
            name: given,
        } = route;
        let given = given.clone().unwrap_or_else(|| name.clone());
        let id = public.map_or_else(|| given.clone(), |(ids, _)| ids[index].clone());
        quote!(#private::Route { methods: &[#(#methods),*], path: #path, guarded: #guarded, name: #given, id: #id })
    });
    // The rules live inside the handler's one static (fewer items per
    // handler: cheaper to compile).
    let access = match rules {
        None => quote!(#private::Access::Public),
        Some(rules) => quote!(#private::Access::Checks(&[#(#rules),*])),
    };
    let entry = match public {
        Some((_, entry)) => quote!(::core::option::Option::Some(#entry)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        static __PERMIT_HANDLER: #private::Handler = #private::Handler {
            name: #name,
            module: ::core::module_path!(),
            resource: #resource,
            routes: &[#(#listed),*],
            access: #access,
            entry: #entry,
        };
        // `inventory`'s own macro, through our re-export: the user's crate
        // needs no dependency of its own, and its `#![forbid(unsafe_code)]`
        // does not look inside another crate's macro (ui pass case).
        #private::inventory::submit!(#private::Registered(&__PERMIT_HANDLER));
    }
}

/// A reserved resource name for each route of a public handler: unique to
/// this attribute (its file and position) and this handler (its tokens),
/// readable in logs. Two handlers that a `macro_rules!` writes alike share
/// both; the runtime then trusts the name for neither.
fn reserved_ids(func: &HandlerFn, site: &str) -> Vec<String> {
    let name = func.sig.ident.to_string();
    let tokens = func.to_token_stream().to_string();
    // FNV-1a: stable across builds and platforms, no dependency.
    let hash = site
        .bytes()
        .chain(tokens.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    (0..route::read(&func.attrs).len())
        .map(|index| format!("__permit:{name}:{hash:016x}:{index}"))
        .collect()
}

/// A `#[login_not_required]` handler above its routing attribute becomes a
/// service factory of its own that wraps actix's: its routes get reserved
/// names, and registering it tells the runtime where it landed (see
/// `actix_permit::middleware::public`).
fn generate_public(
    stack: &Stack,
    func: HandlerFn,
    private: &TokenStream,
    site: &str,
) -> TokenStream {
    let ids = reserved_ids(&func, site);
    let entry = Ident::new("__permit_entry", Span::mixed_site());
    let wrapper = Ident::new("__permit_handler", Span::mixed_site());
    let proven = Ident::new("__permit_proven", Span::mixed_site());
    let unproven = Ident::new("__permit_unproven", Span::mixed_site());
    let config = Ident::new("__permit_config", Span::mixed_site());
    let req = Ident::new("__permit_req", Span::mixed_site());
    let payload = Ident::new("__permit_payload", Span::mixed_site());
    let register = registration(private, &func, None, Some((&ids, &entry)));
    let guard = format!("{private}::routed");
    let proven_routes = route::rewrite(&func.attrs, |i| ids[i].clone(), &guard);
    let unproven_routes = route::rewrite(&func.attrs, |i| format!("{}:unproven", ids[i]), &guard);

    let mut docs = Vec::new();
    let mut cfgs = Vec::new();
    let mut others = Vec::new();
    for attr in &func.attrs {
        if attr.path().is_ident("doc") {
            docs.push(attr);
        } else if attr.path().is_ident("cfg") {
            cfgs.push(attr);
        } else if !route::is_routing(attr) {
            others.push(attr);
        }
    }
    let vis = &func.vis;
    let ident = &func.sig.ident;
    let body = wrapper_fn(
        stack,
        &func,
        private,
        &wrapper,
        (&TokenStream::new(), &[]),
        true,
    );
    quote! {
        #(#docs)*
        #(#cfgs)*
        #[allow(non_camel_case_types, missing_docs)]
        #vis struct #ident;

        #(#cfgs)*
        impl #private::HttpServiceFactory for #ident {
            fn register(self, #config: &mut #private::AppService) {
                #(#others)*
                #body
                fn #entry(#req: #private::HttpRequest, #payload: #private::RawPayload) -> #private::EntryFuture {
                    #private::erase(#wrapper(::core::clone::Clone::clone(&#req), #private::Payload::from(#payload)), #req)
                }
                #register
                #(#proven_routes)*
                async fn #proven(#req: #private::HttpRequest, #payload: #private::Payload) -> impl #private::Responder {
                    #wrapper(#req, #payload).await
                }
                #(#unproven_routes)*
                async fn #unproven(#req: #private::HttpRequest, #payload: #private::Payload) -> impl #private::Responder {
                    #wrapper(#req, #payload).await
                }
                #private::register_public(#config, &__PERMIT_HANDLER, #proven, #unproven);
            }
        }
    }
}

fn generate(stack: &Stack, mut func: HandlerFn, site: &str) -> TokenStream {
    let krate = stack
        .krate
        .as_ref()
        .map_or_else(|| quote!(::actix_permit), ToTokens::to_token_stream);
    let private = quote!(#krate::__private);
    let Access::Checks(checks) = &stack.access else {
        if !route::read(&func.attrs).is_empty() {
            return generate_public(stack, func, &private, site);
        }
        // Public, with a route the attribute cannot see: registered for the
        // audit, and protected under deny by default.
        let mut register = preamble(stack);
        register.extend(registration(&private, &func, None, None));
        let body = &func.body;
        func.body = quote!(#register #body);
        return func.into_token_stream();
    };

    let option = |lit: &Option<syn::LitStr>| match lit {
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let login_url = option(&stack.login_url);
    let redirect_field = option(&stack.redirect_field);
    let handler = func.sig.ident.to_string();
    let req = Ident::new("__permit_req", Span::mixed_site());
    let rules: Vec<TokenStream> = checks
        .iter()
        .map(|Check { require, object }| {
            let object = option(object);
            let kind = match require {
                Require::Login | Require::Public => quote!(#private::Require::Login),
                Require::Perms(groups) => {
                    let groups = groups.iter().map(|group| quote!(&[#(#group),*]));
                    quote!(#private::Require::Perms(&[#(#groups),*]))
                }
                Require::Test(path) => {
                    let name = path.to_token_stream().to_string().replace(' ', "");
                    quote!(#private::Require::Test(#name))
                }
            };
            quote! {
                #private::Rule {
                    require: #kind,
                    login_url: #login_url,
                    redirect_field: #redirect_field,
                    handler: #handler,
                    object: #object,
                }
            }
        })
        .collect();
    let register = registration(&private, &func, Some(&rules), None);
    let awaits: Vec<TokenStream> = checks
        .iter()
        .enumerate()
        .map(|(index, check)| {
            let rule = quote!(#private::rule_at(&__PERMIT_HANDLER, #index));
            match (&check.require, &check.object) {
                (Require::Test(path), None) => {
                    let span = span::last_segment(path);
                    let erase = quote_spanned!(span=> #private::Predicate::__erase(&#path));
                    quote!(#private::check_test(&#req, #rule, #erase).await)
                }
                (Require::Test(path), Some(_)) => {
                    let span = span::last_segment(path);
                    let erase = quote_spanned!(span=> #private::ObjectPredicate::__erase(&#path));
                    quote!(#private::check_test_on(&#req, #rule, #erase).await)
                }
                _ => quote!(#private::check_at(&#req, &__PERMIT_HANDLER, #index).await),
            }
        })
        .collect();
    let attrs = &func.attrs;
    let vis = &func.vis;
    let wrapper = wrapper_fn(
        stack,
        &func,
        &private,
        &func.sig.ident,
        (&register, &awaits),
        false,
    );
    quote!(#(#attrs)* #vis #wrapper)
}

/// The merged attributes' imports count as used, and editing the declared
/// permissions rebuilds the crate, so re-checks it.
fn preamble(stack: &Stack) -> TokenStream {
    let uses = &stack.uses;
    let mut preamble = quote!(#(#[allow(unused_imports)] use #uses as _;)*);
    if let Some(manifest) = &stack.manifest {
        preamble.extend(quote!(
            const _: &[u8] = ::core::include_bytes!(#manifest);
        ));
    }
    preamble
}

/// The handler as a fn named `ident` that takes the request and its body,
/// holds `items` (its registration), awaits each of `checks` in turn (each
/// a `Result<(), HttpResponse>`), and only then extracts the handler's own
/// arguments and runs its body. No attributes, no visibility.
///
/// Shaped for the compiler's sake (each measured, BENCHMARKS.md): a
/// handler without arguments takes only the request unless
/// `payload_always` (one parameter fewer to carry and drop), and the steps
/// nest as `match`es rather than returning early.
fn wrapper_fn(
    stack: &Stack,
    func: &HandlerFn,
    private: &TokenStream,
    ident: &Ident,
    (items, checks): (&TokenStream, &[TokenStream]),
    payload_always: bool,
) -> TokenStream {
    let req = Ident::new("__permit_req", Span::mixed_site());
    let payload = Ident::new("__permit_payload", Span::mixed_site());
    let sig = &func.sig;
    let mut pats = Vec::new();
    let mut tys = Vec::new();
    let mut arg_attrs = Vec::new();
    for arg in &sig.inputs {
        if let FnArg::Typed(typed) = arg {
            pats.push(&typed.pat);
            tys.push(&typed.ty);
            arg_attrs.push(&typed.attrs);
        }
    }
    let fake_return = match &sig.output {
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            InferImplTrait.visit_type_mut(&mut ty);
            if matches!(ty, Type::Infer(_)) {
                TokenStream::new()
            } else {
                let ret = Ident::new("__permit_return", Span::mixed_site());
                quote! {
                    #[allow(
                        unreachable_code,
                        clippy::diverging_sub_expression,
                        clippy::empty_loop,
                        clippy::let_unit_value,
                        clippy::let_with_type_underscore,
                        clippy::needless_return
                    )]
                    if false {
                        let #ret: #ty = loop {};
                        return #ret;
                    }
                }
            }
        }
        ReturnType::Default => TokenStream::new(),
    };

    // A body that cannot leave early (no `return`, no `?` anywhere in its
    // tokens) runs in place; otherwise in an async block of its own, so that
    // its early exits leave the body, with the body's own type.
    let body = &func.body;
    let run_body = if exits_early(body.clone()) {
        quote!(async move { #fake_return #body }.await)
    } else {
        quote!({ #body })
    };
    let user_output = match &sig.output {
        ReturnType::Type(_, ty) => ty.to_token_stream(),
        ReturnType::Default => quote!(()),
    };
    let left = Ident::new("__permit_left", Span::mixed_site());
    let (payload_param, mut tail) = if pats.is_empty() {
        let param = if payload_always {
            quote!(_: #private::Payload,)
        } else {
            TokenStream::new()
        };
        (param, quote!(#private::Either::Right(#run_body)))
    } else {
        let args = Ident::new("__permit_args", Span::mixed_site());
        let index = (0..pats.len()).map(syn::Index::from);
        (
            quote!(#payload: #private::Payload,),
            quote! {{
                let mut #payload = #payload.into_inner();
                match #private::extract::<(#(#tys,)*)>(&#req, &mut #payload).await {
                    ::core::result::Result::Err(#left) => #private::Either::Left(#left),
                    ::core::result::Result::Ok(#args) => {
                        // Each argument as the user wrote it, attributes included.
                        #(#(#arg_attrs)* let #pats = #args.#index;)*
                        #private::Either::Right(#run_body)
                    }
                }
            }},
        )
    };
    for check in checks.iter().rev() {
        tail = quote! {
            match #check {
                ::core::result::Result::Err(#left) => #private::Either::Left(#left),
                ::core::result::Result::Ok(()) => #tail,
            }
        };
    }
    let preamble = preamble(stack);
    let inner = &func.inner;
    let generics = &sig.generics;
    let where_clause = &sig.generics.where_clause;
    let asyncness = &sig.asyncness;
    let fn_token = &sig.fn_token;
    quote! {
        #asyncness #fn_token #ident #generics(
            #req: #private::HttpRequest,
            #payload_param
        ) -> #private::Either<#private::HttpResponse, #user_output> #where_clause {
            #(#inner)*
            #preamble
            #items
            #tail
        }
    }
}

/// Whether `tokens` hold a `return` or a `?` anywhere (in any group):
/// then the body may leave early.
fn exits_early(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident == "return",
        proc_macro2::TokenTree::Punct(punct) => punct.as_char() == '?',
        proc_macro2::TokenTree::Group(group) => exits_early(group.stream()),
        proc_macro2::TokenTree::Literal(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use crate::args::Macro;

    fn expand_in_tests(
        which: Macro,
        args: proc_macro2::TokenStream,
        item: proc_macro2::TokenStream,
    ) -> proc_macro2::TokenStream {
        super::expand(which, args, item, None, "test")
    }

    #[test]
    fn only_a_body_that_can_leave_early_gets_a_block_of_its_own() {
        for (body, own_block) in [
            (quote!("ok"), false),
            (quote!(let x = f().await; x), false),
            (quote!(if a { return "no"; } "yes"), true),
            (quote!(let n = parse(s)?; n), true),
            (
                quote!(g(|| {
                    return 1;
                })),
                true,
            ),
        ] {
            assert_eq!(super::exits_early(body.clone()), own_block, "{body}");
            let out = expand_in_tests(
                Macro::LoginRequired,
                quote!(),
                quote!(async fn f() -> &'static str { #body }),
            )
            .to_string();
            assert_eq!(out.contains("async move"), own_block, "{out}");
        }
    }

    #[test]
    fn errors_keep_the_fn_unchanged() {
        let item = quote!(
            #[doc = "edit"]
            pub async fn edit<T: Clone>(x: T) -> T
            where
                T: Copy,
            {
                x
            }
        );
        let out =
            expand_in_tests(Macro::PermissionRequired, quote!("nodot"), item.clone()).to_string();
        assert!(out.starts_with(&item.to_string()), "{out}");
        assert!(out.contains("compile_error"), "{out}");
    }

    #[test]
    fn generated_code_names_only_our_private_paths_and_core() {
        let item = quote! {
            /// Docs stay.
            #[get("/x")]
            pub(crate) async fn edit<S>(data: web::Data<S>) -> impl Responder where S: Send + 'static { "" }
        };
        let out = expand_in_tests(
            Macro::PermissionRequired,
            quote!("app.change", any("a.b", "c.d")),
            item,
        )
        .to_string();
        assert!(!out.contains("actix_web"), "{out}");
        assert!(
            out.contains(":: actix_permit :: __private :: check"),
            "{out}"
        );
        for kept in [
            "# [doc = r\" Docs stay.\"]",
            "# [get (\"/x\")]",
            "pub (crate)",
            "where S : Send + 'static",
            "< S >",
        ] {
            assert!(out.contains(kept), "{kept} missing in {out}");
        }
        let renamed = expand_in_tests(
            Macro::LoginRequired,
            quote!(crate = "::permit"),
            quote!(
                async fn f() {}
            ),
        )
        .to_string();
        assert!(renamed.contains(":: permit :: __private"), "{renamed}");
        assert!(!renamed.contains("actix_permit"), "{renamed}");
    }

    #[test]
    fn stacked_attributes_merge_into_one_wrapper() {
        let item = quote! {
            #[actix_permit::permission_required("app.view")]
            #[user_passes_test(crate::is_staff)]
            async fn f() {}
        };
        let out = expand_in_tests(Macro::LoginRequired, quote!(), item).to_string();
        assert_eq!(out.matches("async fn f").count(), 1, "{out}");
        let login = out.find("Require :: Login").unwrap();
        let perms = out.find("Require :: Perms").unwrap();
        let test = out.find("Require :: Test").unwrap();
        assert!(
            login < perms && perms < test,
            "checks run top to bottom: {out}"
        );
        assert!(
            !out.contains("# [actix_permit :: permission_required"),
            "{out}"
        );
        assert!(
            out.contains("use actix_permit :: permission_required as _"),
            "{out}"
        );
    }
}
