//! Reads actix-web's routing attributes (`#[get("/x")]`, `#[route(..)]`,
//! `#[routes]`) when one of ours sits above them, for the audit and for
//! deny-by-default. Lenient: what it cannot read is simply not known.

use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Expr, Ident, Lit, LitStr, Token};

const METHODS: &[&str] = &[
    "get", "post", "put", "delete", "head", "connect", "options", "trace", "patch",
];

/// One route as the registry records it.
pub(crate) struct Route {
    pub(crate) methods: Vec<String>,
    pub(crate) path: String,
    pub(crate) guarded: bool,
}

/// The routes and the resource name the attributes give.
#[derive(Default)]
pub(crate) struct Routing {
    pub(crate) routes: Vec<Route>,
    pub(crate) name: Option<String>,
}

/// Reads the routing attributes among `attrs`.
pub(crate) fn read(attrs: &[Attribute]) -> Routing {
    let mut routing = Routing::default();
    for attr in attrs {
        let path = attr.path();
        let from_actix = path.segments.len() == 1
            || (path.segments.len() == 2 && path.segments[0].ident == "actix_web");
        let Some(last) = path.segments.last() else {
            continue;
        };
        let kind = last.ident.to_string();
        let method = METHODS.contains(&kind.as_str());
        if !from_actix || !(method || kind == "route") {
            continue;
        }
        let Ok(args) = attr.parse_args::<RouteArgs>() else {
            continue;
        };
        let methods = if method {
            vec![kind.to_uppercase()]
        } else {
            args.methods
        };
        if methods.is_empty() {
            continue;
        }
        if args.name.is_some() {
            routing.name = args.name;
        }
        routing.routes.push(Route {
            methods,
            path: args.path,
            guarded: args.guarded,
        });
    }
    routing
}

struct RouteArgs {
    path: String,
    methods: Vec<String>,
    name: Option<String>,
    guarded: bool,
}

impl Parse for RouteArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let path: LitStr = input.parse()?;
        let mut args = RouteArgs {
            path: path.value(),
            methods: Vec::new(),
            name: None,
            guarded: false,
        };
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value: Expr = input.parse()?;
            let text = match value {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            };
            match (key.to_string().as_str(), text) {
                ("method", Some(method)) => args.methods.push(method.to_uppercase()),
                ("name", Some(name)) => args.name = Some(name),
                ("guard", _) => args.guarded = true,
                _ => {}
            }
        }
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn reads_actix_routing_attributes() {
        let item: syn::ItemFn = parse_quote! {
            #[doc = "x"]
            #[routes]
            #[get("/items", name = "items")]
            #[actix_web::post("/items", guard = "json")]
            #[route("/items/{id}", method = "GET", method = "put")]
            #[other::get("/ignored")]
            async fn f() {}
        };
        let routing = read(&item.attrs);
        assert_eq!(routing.name.as_deref(), Some("items"));
        let shown: Vec<_> = routing
            .routes
            .iter()
            .map(|r| format!("{:?} {} {}", r.methods, r.path, r.guarded))
            .collect();
        assert_eq!(
            shown,
            [
                "[\"GET\"] /items false",
                "[\"POST\"] /items true",
                "[\"GET\", \"PUT\"] /items/{id} false",
            ]
        );
    }
}
