//! Bad input never gets through and never panics: redirect targets,
//! permission names, login redirects and session cookies, table-driven and
//! property-tested.

use std::sync::Arc;

use actix_permit::permission::validate;
use actix_permit::redirect::{is_safe_redirect, login_redirect};
use actix_permit::{Permit, login_required, permission_required};
use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use proptest::prelude::*;

use crate::support::{Hits, app, backend, get, login_as};

const HOSTS: [&str; 2] = ["shop.example", "shop.example:8443"];

/// (url, safe with require_https = false, safe with require_https = true)
const REDIRECTS: &[(&str, bool, bool)] = &[
    // Paths on this site.
    ("/", true, true),
    ("/items/", true, true),
    ("/items/3/edit/?x=1&y=2#top", true, true),
    ("items/3/", true, true),
    ("?page=2", true, true),
    ("#section", true, true),
    ("/path:with:colons", true, true),
    ("/%2F%2Fevil.example", true, true),
    ("/%5Cevil.example", true, true),
    ("/ünïcode/", true, true),
    ("/a/../b", true, true),
    ("./relative", true, true),
    // Absolute URLs to allowed hosts.
    ("http://shop.example/", true, false),
    ("https://shop.example/", true, true),
    ("HTTPS://SHOP.EXAMPLE/items/", true, true),
    ("https://shop.example:8443/x", true, true),
    ("//shop.example/items/", true, false),
    ("https://shop.example?x=1", true, true),
    ("https://shop.example#f", true, true),
    // Other hosts.
    ("https://evil.example/", false, false),
    ("http://evil.example/", false, false),
    ("https://shop.example.evil.example/", false, false),
    ("https://evil.example/https://shop.example/", false, false),
    ("https://shop.example:9999/", false, false),
    ("https://shop.example@evil.example/", false, false),
    ("https://evil.example@shop.example/", false, false),
    ("https://user:pass@shop.example/", false, false),
    // Scheme-relative and slash tricks.
    ("//evil.example", false, false),
    ("//evil.example/path", false, false),
    ("///evil.example", false, false),
    ("////evil.example", false, false),
    ("\\\\evil.example", false, false),
    ("\\/evil.example", false, false),
    ("/\\evil.example", false, false),
    ("/\\/evil.example", false, false),
    ("\\\\\\evil.example", false, false),
    ("//", false, false),
    ("/\\", false, false),
    // One-slash and hostless schemes.
    ("http:/evil.example", false, false),
    ("https:/evil.example", false, false),
    ("http:evil.example", false, false),
    ("https:evil.example", false, false),
    ("http:///evil.example", false, false),
    ("https:///shop.example", false, false),
    ("http://", false, false),
    ("https://", false, false),
    ("http:\\\\evil.example", false, false),
    ("https:\\\\evil.example", false, false),
    // Other schemes.
    ("javascript:alert(1)", false, false),
    ("JAVASCRIPT:alert(1)", false, false),
    ("javascript://shop.example/%0aalert(1)", false, false),
    ("data:text/html,<script>alert(1)</script>", false, false),
    ("vbscript:msgbox(1)", false, false),
    ("file:///etc/passwd", false, false),
    ("ftp://shop.example/", false, false),
    ("mailto:admin@shop.example", false, false),
    ("tel:123", false, false),
    // Control characters and whitespace.
    ("\u{8}//evil.example", false, false),
    ("\n//evil.example", false, false),
    ("\r//evil.example", false, false),
    ("\t//evil.example", false, false),
    ("\0/items/", false, false),
    (" //evil.example", false, false),
    (" /items/", false, false),
    ("/items/ ", false, false),
    ("/it ems/", false, false),
    ("/items/\n", false, false),
    ("\u{7f}/items/", false, false),
    ("\u{a0}//evil.example", false, false),
    ("\u{2028}/items/", false, false),
    ("\u{3000}//evil.example", false, false),
    ("\u{feff}//evil.example", false, false),
    ("\u{200b}//evil.example", false, false),
    ("/\u{202e}items/", false, false),
    // Empty and over-long.
    ("", false, false),
];

#[test]
fn redirect_table() {
    assert!(REDIRECTS.len() >= 60, "{} cases", REDIRECTS.len());
    for &(url, safe, safe_https) in REDIRECTS {
        assert_eq!(is_safe_redirect(url, &HOSTS, false), safe, "{url:?}");
        assert_eq!(
            is_safe_redirect(url, &HOSTS, true),
            safe_https,
            "{url:?} (https required)"
        );
    }
    let long = format!("/{}", "a".repeat(4096));
    assert!(!is_safe_redirect(&long, &HOSTS, false), "over-long");
    assert!(!is_safe_redirect("/items/", &HOSTS, false) || is_safe_redirect("/items/", &[], false));
}

fn permission_rule(name: &str) -> bool {
    match name.split_once('.') {
        Some((app, code)) => {
            !app.is_empty()
                && !code.is_empty()
                && !name.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn permission_names_follow_the_rule(name in "\\PC{0,8}(\\.\\PC{0,8})?|[ \\t.a-z\u{0}-\u{1f}]{0,10}") {
        prop_assert_eq!(validate(&name).is_ok(), permission_rule(&name), "{:?}", name);
    }

    #[test]
    fn accepted_redirects_stay_on_allowed_hosts(url in "\\PC{0,30}|[/\\\\a-z:.@ \\t%#?]{0,20}|(https?:)?//[a-z.:@]{0,20}/?[a-z/]{0,5}") {
        if is_safe_redirect(&url, &HOSTS, false) {
            let normalized = url.replace('\\', "/");
            prop_assert!(!normalized.starts_with("//") || HOSTS.iter().any(|h| normalized[2..].to_ascii_lowercase().starts_with(h)), "{:?}", url);
            prop_assert!(!url.chars().any(|c| c.is_whitespace() || c.is_control()), "{:?}", url);
            // A scheme (a letter, then letters, digits, `+`, `-`, `.`) must be http(s).
            if let Some((scheme, _)) = url.split_once(':') {
                let is_scheme = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
                prop_assert!(!is_scheme || ["http", "https"].contains(&scheme.to_ascii_lowercase().as_str()), "{:?}", url);
            }
        }
    }

    #[test]
    fn login_redirects_carry_next_exactly(next in "\\PC{0,40}", field in "[b-z_][a-z_]{0,7}") {
        let url = login_redirect("/accounts/login/?a=b", &field, &next);
        let query = url.strip_prefix("/accounts/login/?").unwrap();
        let mut pairs = query.split('&');
        prop_assert_eq!(pairs.next(), Some("a=b"));
        let value = pairs.next().unwrap().strip_prefix(&format!("{field}=")).unwrap();
        prop_assert!(pairs.next().is_none());
        prop_assert!(value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%/".contains(&b)));
        let decoded = percent_encoding::percent_decode_str(value).decode_utf8().unwrap();
        prop_assert_eq!(decoded, next);
    }
}

#[get("/private")]
#[login_required]
async fn private(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

#[get("/perm")]
#[permission_required("inventory.change_item")]
async fn perm(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().finish()
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(private).service(perm);
}

#[test]
fn arbitrary_session_cookies_are_anonymous() {
    let system = actix_rt::System::new();
    let hits = Arc::new(Hits::default());
    let app = system.block_on(app(Permit::new(backend()), hits.clone(), routes));
    let real = system.block_on(login_as(&app, "super")).unwrap();
    let name = real.name().to_owned();
    let value = real.value().to_owned();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 400,
        ..ProptestConfig::default()
    });
    let strategy = prop_oneof![
        "[A-Za-z0-9+/=%_-]{0,300}",
        "\\PC{0,80}",
        (0..value.len(), any::<u8>()).prop_map({
            let value = value.clone();
            move |(at, byte)| {
                let mut bytes = value.clone().into_bytes();
                bytes[at] = b'A' + byte % 26;
                String::from_utf8(bytes).unwrap_or_default()
            }
        }),
        (0..value.len()).prop_map({
            let value = value.clone();
            move |len| value[..len].to_owned()
        }),
    ];
    runner
        .run(&strategy, |candidate| {
            if candidate == value {
                return Ok(());
            }
            let cookie = Cookie::new(name.clone(), candidate.clone());
            for path in ["/private", "/perm"] {
                let seen = system.block_on(get(&app, path, Some(&cookie)));
                prop_assert_eq!(
                    seen.status,
                    StatusCode::FORBIDDEN,
                    "{} with {:?}",
                    path,
                    candidate
                );
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(hits.get(), 0);
    assert_eq!(
        system.block_on(get(&app, "/private", Some(&real))).status,
        StatusCode::OK
    );
}

#[actix_rt::test]
async fn denials_do_not_say_what_was_missing() {
    let hits = Arc::new(Hits::default());
    let app = app(Permit::new(backend()), hits, routes).await;
    let plain = login_as(&app, "plain").await;
    let req = actix_web::test::TestRequest::get()
        .uri("/perm")
        .cookie(plain.unwrap())
        .to_request();
    let res = actix_web::test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let headers = format!("{:?}", res.headers());
    let body = actix_web::test::read_body(res).await;
    assert_eq!(body, "Forbidden");
    assert!(!headers.contains("change_item"), "{headers}");
}
