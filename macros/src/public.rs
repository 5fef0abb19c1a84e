//! `#[login_not_required]` above a routing attribute: the reserved route
//! names, the sentinel and the entry point that deny by default proves
//! against.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::Ident;

use crate::expand::{registration, wrapper_fn};
use crate::handler::HandlerFn;
use crate::route;
use crate::stack::Stack;

/// A reserved resource name for each route of a public handler: unique to
/// this attribute (its file and position) and this handler (its tokens),
/// readable in logs. Two handlers that a `macro_rules!` writes alike share
/// both; the runtime then trusts the name for neither.
pub(crate) fn reserved_ids(func: &HandlerFn, site: &str) -> Vec<String> {
    let name = func.sig.ident.to_string();
    let tokens = func.to_token_stream().to_string();
    // FNV-1a: stable across builds and platforms, no dependency.
    let hash = site
        .bytes()
        .chain(tokens.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    (0..func.routes.len())
        .map(|index| format!("__permit:{name}:{hash:016x}:{index}"))
        .collect()
}

/// A `#[login_not_required]` handler above its routing attribute becomes a
/// service factory of its own that wraps actix's: its routes get reserved
/// names, and registering it tells the runtime where it landed (see
/// `runtime/src/deny/public.rs`).
pub(crate) fn generate_public(
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
