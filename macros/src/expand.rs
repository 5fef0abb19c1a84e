//! Code generation: the handler becomes a wrapper that checks first and only
//! then extracts the handler's own arguments and runs its body.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::visit_mut::VisitMut;
use syn::{FnArg, Ident, ReturnType, Type};

use crate::args::Require;
use crate::handler::{HandlerFn, InferImplTrait};
use crate::stack::{Access, Check, Stack};
use crate::{route, span};

/// The statics that describe the handler for the audit, and the constructor
/// that registers them. `rules` is `None` for a public handler; `public`
/// holds the reserved names of its routes and its entry point when the
/// attribute sits above the routing attribute.
pub(crate) fn registration(
    private: &TokenStream,
    func: &HandlerFn,
    rules: Option<&[TokenStream]>,
    public: Option<(&[String], &Ident)>,
) -> TokenStream {
    let routes = &func.routes;
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

pub(crate) fn generate(stack: &Stack, mut func: HandlerFn, _site: &str) -> TokenStream {
    let private = stack.private();
    let Access::Checks(checks) = &stack.access else {
        // Public, with a route the attribute cannot see (one it sees is
        // `public.rs`'s): registered for the audit, and protected under
        // deny by default.
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
                Require::RecentLogin(secs) => quote!(#private::Require::RecentLogin(#secs)),
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
pub(crate) fn wrapper_fn(
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
        crate::expand_attribute(which, args, item, None, "test")
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
