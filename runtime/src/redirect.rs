//! Building the login redirect (`/login/?next=...`) and checking the `next`
//! value a login form hands back ([`is_safe_redirect`]).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters and `/` is encoded in
/// the `next` value, as Django's `redirect_to_login` writes it
/// (`QueryDict.urlencode(safe="/")`).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The login URL with `field=<next, percent-encoded>` in its query, as
/// Django's `redirect_to_login` writes it, so a Django login page on the
/// same domain reads it unchanged: `/` is left as is, a query the login
/// URL already has is kept, an old value of `field` is replaced where it
/// stands (later ones are dropped), and a fragment stays at the end.
///
/// ```
/// use actix_permit::redirect::login_redirect;
/// assert_eq!(
///     login_redirect("/accounts/login/", "next", "/items/3/edit?x=1"),
///     "/accounts/login/?next=/items/3/edit%3Fx%3D1",
/// );
/// assert_eq!(
///     login_redirect("/login?next=old&a=b", "next", "/x"),
///     "/login?next=/x&a=b",
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
    let mut placed = false;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        if key != field {
            out.push_str(pair);
        } else if !placed {
            placed = true;
            push_field(&mut out, field, next);
        } else {
            continue;
        }
        out.push('&');
    }
    if placed {
        out.pop();
    } else {
        push_field(&mut out, field, next);
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

fn push_field(out: &mut String, field: &str, next: &str) {
    out.push_str(field);
    out.push('=');
    out.extend(utf8_percent_encode(next, QUERY_VALUE));
}

/// The longest redirect target accepted.
const MAX_REDIRECT_LEN: usize = 2048;

/// Whether `url` is safe to redirect to after login: a path on this site, or
/// an absolute `http(s)` URL whose host is one of `allowed_hosts` (compared
/// without case; give `host:port` where a port is used). With
/// `require_https`, absolute URLs must be `https`.
///
/// Follows Django's `url_has_allowed_host_and_scheme`, a little stricter:
/// scheme-relative `//host` and `///host`, backslash variants (`/\host`,
/// `\\host`), one-slash `http:/host`, other schemes (`javascript:`,
/// `data:`), user info (`https://good@evil`), empty values, values over 2048
/// bytes, and any whitespace, control or invisible format character
/// (zero-width space, BOM, direction marks) anywhere are all refused.
/// Allowed hosts come from the app's configuration, never from `Host` or
/// `X-Forwarded-*` headers.
///
/// ```
/// use actix_permit::redirect::is_safe_redirect;
/// assert!(is_safe_redirect("/items/3/?tab=edit", &[], false));
/// assert!(is_safe_redirect("https://shop.example/items/", &["shop.example"], true));
/// assert!(!is_safe_redirect("//evil.example/", &["shop.example"], false));
/// assert!(!is_safe_redirect("javascript:alert(1)", &[], false));
/// ```
pub fn is_safe_redirect(url: &str, allowed_hosts: &[&str], require_https: bool) -> bool {
    if url.is_empty() || url.len() > MAX_REDIRECT_LEN || url.chars().any(is_invisible) {
        return false;
    }
    // Browsers read `\` as `/` in many places: the URL must be safe both ways.
    allowed_host_and_scheme(url, allowed_hosts, require_https)
        && allowed_host_and_scheme(&url.replace('\\', "/"), allowed_hosts, require_https)
}

/// Whitespace, control characters and the invisible format characters
/// (Unicode category Cf: zero-width spaces, direction marks, the BOM) that
/// browsers may drop or act on.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{600}'..='\u{605}'
                | '\u{61c}'
                | '\u{6dd}'
                | '\u{70f}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0001}'
                | '\u{e0020}'..='\u{e007f}'
        )
}

fn allowed_host_and_scheme(url: &str, allowed_hosts: &[&str], require_https: bool) -> bool {
    if url.starts_with("///") {
        return false;
    }
    let (scheme, rest) = split_scheme(url);
    let netloc = rest.strip_prefix("//").map(|after| {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        &after[..end]
    });
    match (scheme, netloc) {
        // A path on this site: `/x`, `x/y`, `?q`, `#f`.
        (None, None) => true,
        // `http:/x`, `javascript:...`, `http:///x`: a scheme without a host.
        (Some(_), None) | (_, Some("")) => false,
        (scheme, Some(host)) => {
            let scheme_ok = match scheme.map(str::to_ascii_lowercase).as_deref() {
                Some("https") => true,
                Some("http") | None => !require_https,
                Some(_) => false,
            };
            scheme_ok
                && allowed_hosts
                    .iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(host))
        }
    }
}

/// Splits `scheme:` off as Python's `urlsplit` does: letters, digits, `+`,
/// `-`, `.`, starting with a letter.
fn split_scheme(url: &str) -> (Option<&str>, &str) {
    if let Some((scheme, rest)) = url.split_once(':') {
        let mut chars = scheme.chars();
        let starts_alpha = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if starts_alpha && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
            return (Some(scheme), rest);
        }
    }
    (None, url)
}

#[cfg(test)]
mod tests {
    use super::{is_safe_redirect, login_redirect};

    #[test]
    fn safe_redirects() {
        let hosts = ["testserver", "shop.example:8443"];
        let safe = [
            "/",
            "/items/",
            "/items/3/edit/?x=1&y=%2F%2F#frag",
            "items/3/",
            "?page=2",
            "#top",
            "/path:with:colons",
            "/%2F%2Fevil.com",
            "http://testserver/x",
            "https://testserver/x",
            "HTTPS://TESTSERVER/x",
            "//testserver/x",
            "https://shop.example:8443/",
        ];
        for url in safe {
            assert!(
                is_safe_redirect(url, &hosts, false),
                "{url:?} should be safe"
            );
        }
        let unsafe_ = [
            "",
            "//evil.com",
            "///evil.com",
            "////evil.com",
            "\\\\evil.com",
            "/\\evil.com",
            "\\/evil.com",
            "http:/evil.com",
            "https:evil.com",
            "http:///evil.com",
            "https://evil.com",
            "http://evil.com/testserver",
            "http://testserver@evil.com",
            "https://evil.com@testserver",
            "http://testserver:80/",
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<script>",
            "vbscript:x",
            "ftp://testserver/x",
            "mailto:a@testserver",
            "\u{8}//evil.com",
            "\n//evil.com",
            "\t/x",
            " /items/",
            "/items/ ",
            "/it ems/",
            "\u{7f}/x",
            "\u{a0}//evil.com",
            "\u{2028}/x",
            "//",
            "https://",
            "http://",
        ];
        for url in unsafe_ {
            assert!(
                !is_safe_redirect(url, &hosts, false),
                "{url:?} should be refused"
            );
        }
        assert!(!is_safe_redirect(
            &format!("/{}", "a".repeat(2048)),
            &hosts,
            false
        ));
        assert!(is_safe_redirect(
            &format!("/{}", "a".repeat(2046)),
            &hosts,
            false
        ));
        assert!(!is_safe_redirect("http://testserver/x", &hosts, true));
        assert!(is_safe_redirect("https://testserver/x", &hosts, true));
        assert!(is_safe_redirect("/relative", &hosts, true));
        assert!(!is_safe_redirect("https://testserver/x", &[], false));
    }

    #[test]
    fn merges_queries_and_fragments() {
        assert_eq!(login_redirect("/l", "next", "/"), "/l?next=/");
        assert_eq!(login_redirect("/l?", "next", "/a"), "/l?next=/a");
        assert_eq!(
            login_redirect("/l?next=/old&a=b&next=/older", "next", "/a"),
            "/l?next=/a&a=b"
        );
        assert_eq!(login_redirect("/l#top", "to", "/a b"), "/l?to=/a%20b#top");
        assert_eq!(
            login_redirect("https://sso.example/login", "next", "http://h/ä?x=1&y=2"),
            "https://sso.example/login?next=http%3A//h/%C3%A4%3Fx%3D1%26y%3D2"
        );
    }
}
