//! Property tests: arbitrary token streams, as arguments and as the item,
//! never make the macros panic; they answer with code or a compile error.

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use proptest::prelude::*;
use quote::quote;

use crate::args::{Args, Macro};
use crate::expand_attribute as expand;

const WORDS: &[&str] = &[
    "any",
    "login_url",
    "redirect_field",
    "crate",
    "login_uri",
    "async",
    "fn",
    "unsafe",
    "const",
    "extern",
    "self",
    "struct",
    "impl",
    "pub",
    "where",
    "handler",
    "web",
    "Path",
    "u32",
    "impl",
    "dyn",
    "move",
    "return",
    "mut",
    "r#type",
];

const PUNCT: &[char] = &[
    '=', ',', ':', '.', '#', '!', '&', '-', '<', '>', '*', '?', '\'', ';',
];

fn token(depth: u32) -> BoxedStrategy<TokenTree> {
    let leaf = prop_oneof![
        proptest::sample::select(WORDS).prop_map(|w| match w.strip_prefix("r#") {
            Some(raw) => TokenTree::Ident(Ident::new_raw(raw, Span::call_site())),
            None => TokenTree::Ident(Ident::new(w, Span::call_site())),
        }),
        "[a-z._ /:\\\\\u{0}-\u{7f}\u{e9}\u{2028}]{0,12}"
            .prop_map(|s| TokenTree::Literal(Literal::string(&s))),
        any::<i64>().prop_map(|n| TokenTree::Literal(Literal::i64_unsuffixed(n))),
        any::<char>().prop_map(|c| TokenTree::Literal(Literal::character(c))),
        (proptest::sample::select(PUNCT), any::<bool>()).prop_map(|(c, joint)| {
            let spacing = if joint {
                Spacing::Joint
            } else {
                Spacing::Alone
            };
            TokenTree::Punct(Punct::new(c, spacing))
        }),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    prop_oneof![
        4 => leaf,
        1 => (
            proptest::sample::select(&[Delimiter::Parenthesis, Delimiter::Brace, Delimiter::Bracket][..]),
            proptest::collection::vec(token(depth - 1), 0..6),
        )
            .prop_map(|(delimiter, inner)| {
                TokenTree::Group(Group::new(delimiter, inner.into_iter().collect()))
            }),
    ]
    .boxed()
}

fn stream() -> impl Strategy<Value = TokenStream> {
    proptest::collection::vec(token(2), 0..12).prop_map(|tokens| tokens.into_iter().collect())
}

const MACROS: [Macro; 5] = [
    Macro::LoginRequired,
    Macro::PermissionRequired,
    Macro::UserPassesTest,
    Macro::LoginNotRequired,
    Macro::RecentLoginRequired,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arguments_never_panic(args in stream()) {
        let handler = quote!(async fn handler(x: web::Path<u32>) -> impl Responder { x });
        for which in MACROS {
            let _ = Args::parse(which, args.clone());
            let _ = expand(which, args.clone(), handler.clone(), None, "fuzz");
        }
    }

    #[test]
    fn items_never_panic(item in stream(), prefix in proptest::sample::select(&["", "async fn f", "fn f", "#[get(\"/\")] async fn f"][..])) {
        let prefix: TokenStream = prefix.parse().unwrap_or_default();
        let item: TokenStream = prefix.into_iter().chain(item).collect();
        for which in MACROS {
            let _ = expand(which, quote!("app.perm"), item.clone(), None, "fuzz");
            let _ = expand(which, TokenStream::new(), item.clone(), None, "fuzz");
        }
    }
}
