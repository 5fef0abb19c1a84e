//! Reads actix-web's routing attributes (`#[get("/x")]`, `#[route(..)]`,
//! `#[routes]`) when one of ours sits above them, for the audit and for
//! deny-by-default, and rewrites them for a public handler. Lenient when
//! reading: what it cannot read is simply not known.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Expr, Ident, Lit, LitStr, Token};

const METHODS: &[&str] = &[
    "get", "post", "put", "delete", "head", "connect", "options", "trace", "patch", "query",
];

/// One route as the registry records it.
pub(crate) struct Route {
    pub(crate) methods: Vec<String>,
    pub(crate) path: String,
    /// Its own `guard = ".."` or `wrap = ".."`: the route may refuse a
    /// request its path and method match, or answer it without the handler.
    pub(crate) guarded: bool,
    /// Its `name = ".."`.
    pub(crate) name: Option<String>,
}

/// What kind of routing attribute `attr` is, if it is one of actix's.
enum Kind {
    /// `#[get("/x")]` and friends: the method is the attribute's name.
    Method(String),
    /// `#[route("/x", method = "GET", ...)]`
    Route,
    /// `#[routes]`, which stacks several of the above.
    Routes,
}

fn kind(attr: &Attribute) -> Option<Kind> {
    let path = attr.path();
    let from_actix = path.segments.len() == 1
        || (path.segments.len() == 2 && path.segments[0].ident == "actix_web");
    let last = path.segments.last()?.ident.to_string();
    if !from_actix {
        return None;
    }
    if METHODS.contains(&last.as_str()) {
        Some(Kind::Method(last.to_uppercase()))
    } else if last == "route" {
        Some(Kind::Route)
    } else if last == "routes" {
        Some(Kind::Routes)
    } else {
        None
    }
}

/// The names of a route pattern's dynamic segments: `"/items/{id}/{rest:.*}"`
/// has `id` and `rest` (a regex may hold braces of its own).
pub(crate) fn segments(path: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let end = after.find(['}', ':']).unwrap_or(after.len());
        names.push(&after[..end]);
        // Skip to the brace that closes this segment.
        let mut depth = 1;
        let mut close = after.len();
        for (at, c) in after.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = at + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[close..];
    }
    names
}

/// Whether `attr` is one of actix's routing attributes.
pub(crate) fn is_routing(attr: &Attribute) -> bool {
    kind(attr).is_some()
}

/// Reads the routes among `attrs`.
pub(crate) fn read(attrs: &[Attribute]) -> Vec<Route> {
    let mut routes = Vec::new();
    for attr in attrs {
        let methods = match kind(attr) {
            Some(Kind::Method(method)) => vec![method],
            Some(Kind::Route) => Vec::new(),
            Some(Kind::Routes) | None => continue,
        };
        let Ok(args) = attr.parse_args::<RouteArgs>() else {
            continue;
        };
        let mut methods = methods;
        let mut name = None;
        let mut guarded = false;
        for (key, value) in &args.options {
            let text = match value {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            };
            match (key.to_string().as_str(), text) {
                // actix-web-codegen takes the method as written.
                ("method", Some(method)) => methods.push(method),
                ("name", Some(given)) => name = Some(given),
                ("guard" | "wrap", _) => guarded = true,
                _ => {}
            }
        }
        if methods.is_empty() {
            continue;
        }
        routes.push(Route {
            methods,
            path: args.path.value(),
            guarded,
            name,
        });
    }
    routes
}

/// The routing attributes among `attrs`, each route renamed to the name
/// `name(index)` gives it, with `guard` appended to its guards.
pub(crate) fn rewrite(
    attrs: &[Attribute],
    name: impl Fn(usize) -> String,
    guard: &str,
) -> Vec<TokenStream> {
    let mut index = 0;
    let mut out = Vec::new();
    for attr in attrs {
        match kind(attr) {
            None => {}
            Some(Kind::Routes) => out.push(quote!(#attr)),
            Some(Kind::Method(_) | Kind::Route) => {
                let Ok(args) = attr.parse_args::<RouteArgs>() else {
                    out.push(quote!(#attr));
                    continue;
                };
                let path = attr.path();
                let lit = &args.path;
                let kept = args
                    .options
                    .iter()
                    .filter(|(key, _)| key != "name")
                    .map(|(key, value)| quote!(#key = #value));
                let renamed = name(index);
                index += 1;
                out.push(quote! {
                    #[#path(#lit, #(#kept,)* name = #renamed, guard = #guard)]
                });
            }
        }
    }
    out
}

struct RouteArgs {
    path: LitStr,
    options: Vec<(Ident, Expr)>,
}

impl Parse for RouteArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let path: LitStr = input.parse()?;
        let mut options = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            options.push((key, input.parse()?));
        }
        Ok(RouteArgs { path, options })
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
            #[route("/items/{id}", method = "GET", method = "PUT", wrap = "Logger::default()")]
            #[other::get("/ignored")]
            async fn f() {}
        };
        let shown: Vec<_> = read(&item.attrs)
            .iter()
            .map(|r| format!("{:?} {} {} {:?}", r.methods, r.path, r.guarded, r.name))
            .collect();
        assert_eq!(
            shown,
            [
                "[\"GET\"] /items false Some(\"items\")",
                "[\"POST\"] /items true None",
                "[\"GET\", \"PUT\"] /items/{id} true None",
            ]
        );
    }

    #[test]
    fn rewrites_names_and_appends_the_guard() {
        let item: syn::ItemFn = parse_quote! {
            #[routes]
            #[get("/a", name = "given")]
            #[route("/b", method = "PUT", guard = "g")]
            #[doc = "kept out"]
            async fn f() {}
        };
        let out: Vec<String> = rewrite(&item.attrs, |i| format!("id{i}"), "x::routed")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            out,
            [
                "# [routes]",
                "# [get (\"/a\" , name = \"id0\" , guard = \"x::routed\")]",
                "# [route (\"/b\" , method = \"PUT\" , guard = \"g\" , name = \"id1\" , guard = \"x::routed\")]",
            ]
        );
    }

    #[test]
    fn segment_names() {
        assert_eq!(segments("/items/{id}/edit/"), ["id"]);
        assert_eq!(segments("/a/{x}/{y:\\d{2,3}}/{tail}*"), ["x", "y", "tail"]);
        assert_eq!(segments("/static/"), Vec::<&str>::new());
        assert_eq!(segments("/broken/{open"), ["open"]);
    }
}
