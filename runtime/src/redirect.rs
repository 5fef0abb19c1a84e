//! Building the login redirect (`/login/?next=...`).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters is encoded in a query value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The login URL with `field=<next, percent-encoded>` added to its query.
///
/// A query the login URL already has is kept, except an old value of
/// `field`, which is replaced; a fragment stays at the end.
///
/// ```
/// use actix_permit::redirect::login_redirect;
/// assert_eq!(
///     login_redirect("/accounts/login/", "next", "/items/3/edit?x=1"),
///     "/accounts/login/?next=%2Fitems%2F3%2Fedit%3Fx%3D1",
/// );
/// assert_eq!(
///     login_redirect("/login?a=b", "next", "/x"),
///     "/login?a=b&next=%2Fx",
/// );
/// ```
pub fn login_redirect(login_url: &str, field: &str, next: &str) -> String {
    let (before_fragment, fragment) = match login_url.split_once('#') {
        Some((url, frag)) => (url, Some(frag)),
        None => (login_url, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((path, query)) => (path, query),
        None => (before_fragment, ""),
    };
    let mut out = String::with_capacity(login_url.len() + field.len() + next.len() * 3 + 2);
    out.push_str(path);
    out.push('?');
    for pair in query.split('&') {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        if !pair.is_empty() && key != field {
            out.push_str(pair);
            out.push('&');
        }
    }
    out.push_str(field);
    out.push('=');
    out.extend(utf8_percent_encode(next, QUERY_VALUE));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::login_redirect;

    #[test]
    fn merges_queries_and_fragments() {
        assert_eq!(login_redirect("/l", "next", "/"), "/l?next=%2F");
        assert_eq!(login_redirect("/l?", "next", "/a"), "/l?next=%2Fa");
        assert_eq!(
            login_redirect("/l?next=/old&a=b", "next", "/a"),
            "/l?a=b&next=%2Fa"
        );
        assert_eq!(login_redirect("/l#top", "to", "/a b"), "/l?to=%2Fa%20b#top");
        assert_eq!(
            login_redirect("https://sso.example/login", "next", "http://h/ä?x=1&y=2"),
            "https://sso.example/login?next=http%3A%2F%2Fh%2F%C3%A4%3Fx%3D1%26y%3D2"
        );
    }
}
