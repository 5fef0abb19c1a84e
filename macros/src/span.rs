//! Where an error points: the one place that picks a token's span.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;

/// The first token of `tokens`, or the call site when there is none.
pub(crate) fn first(tokens: &impl ToTokens) -> Span {
    first_where(tokens.to_token_stream(), |_| true)
}

/// The first word of an item (an identifier or a literal, past attributes
/// and punctuation): the `struct` of a struct, the `impl` of an impl block.
pub(crate) fn first_word(tokens: TokenStream) -> Span {
    first_where(tokens, |token| {
        !matches!(token, TokenTree::Punct(_) | TokenTree::Group(_))
    })
}

/// The last segment of a path: the name, where a misspelt one is.
pub(crate) fn last_segment(path: &syn::Path) -> Span {
    path.segments
        .last()
        .map_or_else(Span::call_site, |segment| segment.ident.span())
}

/// The whole of `tokens`, first to last, where the compiler can join them.
pub(crate) fn whole(tokens: &impl ToTokens) -> Span {
    let mut iter = tokens.to_token_stream().into_iter();
    let first = iter.next().map_or_else(Span::call_site, |t| t.span());
    match iter.last() {
        Some(last) => first.join(last.span()).unwrap_or(first),
        None => first,
    }
}

fn first_where(tokens: TokenStream, keep: impl Fn(&TokenTree) -> bool) -> Span {
    tokens
        .into_iter()
        .find(keep)
        .map_or_else(Span::call_site, |token| token.span())
}
