//! Parsing and validation of the macros' arguments.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Error, Expr, ExprLit, Ident, Lit, LitStr, Path, Result, Token, parenthesized};

mod kw {
    syn::custom_keyword!(any);
}

/// The keys every macro but `login_not_required` accepts.
const KEYS: &[&str] = &["login_url", "redirect_field", "crate"];

/// The keys of `recent_login_required`.
const RECENT_KEYS: &[&str] = &["max_age", "login_url", "redirect_field", "crate"];

/// The keys of the macros that can check an object (`object = "id"`).
const OBJECT_KEYS: &[&str] = &["login_url", "redirect_field", "object", "crate"];

/// One comma-separated argument, before the macro decides what it allows.
pub(crate) enum Item {
    /// `"app.perm"`
    Perm(LitStr),
    /// `any("a.x", "b.y")`
    Any(kw::any, Vec<LitStr>),
    /// `path::to::predicate`
    Path(Path),
    /// `key = value`
    Key(Ident, Expr),
}

impl Parse for Item {
    fn parse(input: ParseStream<'_>) -> Result<Self> {
        if input.peek(Lit) {
            return parse_perm(input).map(Item::Perm);
        }
        if input.peek(Token![crate]) && input.peek2(Token![=]) {
            let token: Token![crate] = input.parse()?;
            input.parse::<Token![=]>()?;
            return Ok(Item::Key(Ident::new("crate", token.span), input.parse()?));
        }
        if input.peek(kw::any) && input.peek2(syn::token::Paren) {
            let any: kw::any = input.parse()?;
            let content;
            parenthesized!(content in input);
            let perms =
                Punctuated::<LitStr, Token![,]>::parse_terminated_with(&content, parse_perm)?;
            return Ok(Item::Any(any, perms.into_iter().collect()));
        }
        if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            return Ok(Item::Key(key, input.parse()?));
        }
        if input.peek(Ident)
            || input.peek(Token![::])
            || input.peek(Token![crate])
            || input.peek(Token![self])
            || input.peek(Token![super])
        {
            return Ok(Item::Path(input.parse()?));
        }
        Err(input.error(
            "expected a permission string like \"app_label.codename\", `any(...)`, a path, or `key = \"value\"`",
        ))
    }
}

/// A string literal; any other literal is an error at that literal.
fn parse_perm(input: ParseStream<'_>) -> Result<LitStr> {
    match input.parse::<Lit>()? {
        Lit::Str(lit) => Ok(lit),
        other => Err(Error::new(
            other.span(),
            format!(
                "expected a string literal \"app_label.codename\", found {}",
                describe_lit(&other)
            ),
        )),
    }
}

fn describe_lit(lit: &Lit) -> &'static str {
    match lit {
        Lit::Int(_) => "an integer",
        Lit::Float(_) => "a float",
        Lit::Bool(_) => "a bool",
        Lit::Char(_) => "a char",
        Lit::Byte(_) | Lit::ByteStr(_) | Lit::CStr(_) => "a byte literal",
        _ => "a literal of another kind",
    }
}

/// All arguments of one attribute.
pub(crate) struct RawArgs(pub(crate) Vec<Item>);

impl Parse for RawArgs {
    fn parse(input: ParseStream<'_>) -> Result<Self> {
        let items = Punctuated::<Item, Token![,]>::parse_terminated(input)?;
        Ok(RawArgs(items.into_iter().collect()))
    }
}

/// What the handler requires.
pub(crate) enum Require {
    Login,
    /// Each inner list needs one of its permissions.
    Perms(Vec<Vec<LitStr>>),
    Test(Path),
    /// The password proved at most this many seconds ago.
    RecentLogin(u64),
    Public,
}

/// The validated arguments of one macro.
pub(crate) struct Args {
    pub(crate) require: Require,
    pub(crate) login_url: Option<LitStr>,
    pub(crate) redirect_field: Option<LitStr>,
    pub(crate) krate: Option<Path>,
    /// `object = "id"`: the route segment that names the object.
    pub(crate) object: Option<LitStr>,
}

/// Which macro the arguments belong to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Macro {
    LoginRequired,
    PermissionRequired,
    UserPassesTest,
    LoginNotRequired,
    RecentLoginRequired,
}

impl Macro {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "login_required" => Some(Self::LoginRequired),
            "permission_required" => Some(Self::PermissionRequired),
            "user_passes_test" => Some(Self::UserPassesTest),
            "login_not_required" => Some(Self::LoginNotRequired),
            "recent_login_required" => Some(Self::RecentLoginRequired),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::LoginRequired => "login_required",
            Self::PermissionRequired => "permission_required",
            Self::UserPassesTest => "user_passes_test",
            Self::LoginNotRequired => "login_not_required",
            Self::RecentLoginRequired => "recent_login_required",
        }
    }
}

/// Collects errors so that every bad argument is reported at once.
#[derive(Default)]
pub(crate) struct Errors(Option<Error>);

impl Errors {
    pub(crate) fn push(&mut self, err: Error) {
        match &mut self.0 {
            Some(all) => all.combine(err),
            None => self.0 = Some(err),
        }
    }

    pub(crate) fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(Error::new(span, message));
    }

    pub(crate) fn finish<T>(self, value: T) -> Result<T> {
        match self.0 {
            Some(err) => Err(err),
            None => Ok(value),
        }
    }
}

impl Args {
    /// Parses and validates the arguments of `which`.
    pub(crate) fn parse(which: Macro, tokens: proc_macro2::TokenStream) -> Result<Args> {
        if which == Macro::LoginNotRequired {
            let RawArgs(items) = syn::parse2(tokens)?;
            let mut errors = Errors::default();
            let mut args = Args::bare(Require::Public);
            for item in items {
                let span = match item {
                    Item::Key(key, value) if key == "crate" => {
                        args.set_key(which, &key, value, &mut errors);
                        continue;
                    }
                    Item::Key(key, _) => key.span(),
                    Item::Perm(lit) => lit.span(),
                    Item::Any(any, _) => any.span,
                    Item::Path(path) => crate::span::whole(&path),
                };
                errors.at(
                    span,
                    "`login_not_required` has nothing to configure: it takes only `crate = \"...\"`",
                );
            }
            return errors.finish(args);
        }
        let RawArgs(items) = syn::parse2(tokens)?;
        Self::validate(which, items)
    }

    fn bare(require: Require) -> Args {
        Args {
            require,
            login_url: None,
            redirect_field: None,
            krate: None,
            object: None,
        }
    }

    fn validate(which: Macro, items: Vec<Item>) -> Result<Args> {
        let mut errors = Errors::default();
        let mut perms: Vec<Vec<LitStr>> = Vec::new();
        let mut predicate: Option<Path> = None;
        let mut max_age: Option<u64> = None;
        let mut max_age_given = false;
        let mut args = Args::bare(Require::Login);
        for item in items {
            match item {
                Item::Key(key, value) if key == "max_age" && which == Macro::RecentLoginRequired => {
                    if max_age_given {
                        errors.at(key.span(), "`max_age` is given twice");
                        continue;
                    }
                    max_age_given = true;
                    if let Some(lit) = string_value("max_age", value, &mut errors) {
                        match parse_max_age(&lit.value()) {
                            Ok(secs) => max_age = Some(secs),
                            Err(msg) => errors.at(lit.span(), msg),
                        }
                    }
                }
                Item::Perm(lit) if which == Macro::PermissionRequired => {
                    check_perm(&lit, &mut errors);
                    perms.push(vec![lit]);
                }
                Item::Any(any, group) if which == Macro::PermissionRequired => {
                    if group.is_empty() {
                        errors.at(
                            any.span,
                            "`any()` needs at least one permission: `any(\"app.a\", \"app.b\")`",
                        );
                    }
                    for lit in &group {
                        check_perm(lit, &mut errors);
                    }
                    perms.push(group);
                }
                Item::Path(path) if which == Macro::UserPassesTest && predicate.is_none() => {
                    predicate = Some(path);
                }
                Item::Key(key, value) if key == "object" => {
                    args.set_object(which, &key, value, &mut errors);
                }
                Item::Key(key, value) => args.set_key(which, &key, value, &mut errors),
                Item::Perm(lit) if which == Macro::UserPassesTest => errors.at(
                    lit.span(),
                    format!(
                        "expected a path to a predicate fn, found the string {:?}; write #[user_passes_test(path::to::predicate)] without quotes",
                        lit.value()
                    ),
                ),
                Item::Perm(lit) => errors.at(lit.span(), unexpected(which, "a permission string")),
                Item::Any(any, _) => errors.at(any.span, unexpected(which, "`any(...)`")),
                Item::Path(path) => {
                    let what = if which == Macro::UserPassesTest {
                        "a second predicate"
                    } else {
                        "a path"
                    };
                    errors.at(crate::span::whole(&path), unexpected(which, what));
                }
            }
        }
        match which {
            Macro::PermissionRequired if perms.is_empty() && errors.0.is_none() => errors.at(
                Span::call_site(),
                "`permission_required` needs at least one permission: #[permission_required(\"app_label.codename\")]",
            ),
            Macro::PermissionRequired => args.require = Require::Perms(perms),
            Macro::UserPassesTest => match predicate {
                Some(path) => args.require = Require::Test(path),
                None if errors.0.is_none() => errors.at(
                    Span::call_site(),
                    "`user_passes_test` needs a predicate: #[user_passes_test(path::to::predicate)]",
                ),
                None => {}
            },
            Macro::RecentLoginRequired => match max_age {
                Some(secs) => args.require = Require::RecentLogin(secs),
                None if !max_age_given && errors.0.is_none() => errors.at(
                    Span::call_site(),
                    "`recent_login_required` needs `max_age`: #[recent_login_required(max_age = \"10m\")]",
                ),
                None => {}
            },
            Macro::LoginRequired | Macro::LoginNotRequired => {}
        }
        errors.finish(args)
    }

    /// `object = "id"`, for the macros that take it.
    fn set_object(&mut self, which: Macro, key: &Ident, value: Expr, errors: &mut Errors) {
        if !matches!(which, Macro::PermissionRequired | Macro::UserPassesTest) {
            errors.at(
                key.span(),
                format!(
                    "`{}` has no object to check: `object = \"..\"` belongs to #[permission_required(\"app.perm\", object = \"id\")] and #[user_passes_test(predicate, object = \"id\")]",
                    which.name()
                ),
            );
            return;
        }
        if self.object.is_some() {
            errors.at(key.span(), "`object` is given twice");
            return;
        }
        let Some(lit) = string_value("object", value, errors) else {
            return;
        };
        let segment = lit.value();
        if segment.is_empty()
            || !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            errors.at(
                lit.span(),
                format!("expected the name of a route segment, like object = \"id\" for \"/items/{{id}}\" (letters, digits and `_`), found {segment:?}"),
            );
        }
        self.object = Some(lit);
    }

    fn set_key(&mut self, which: Macro, key: &Ident, value: Expr, errors: &mut Errors) {
        let name = key.to_string();
        let duplicate = match name.as_str() {
            "login_url" => self.login_url.is_some(),
            "redirect_field" => self.redirect_field.is_some(),
            "crate" => self.krate.is_some(),
            _ => {
                let (keys, expected) = match which {
                    Macro::PermissionRequired | Macro::UserPassesTest => (
                        OBJECT_KEYS,
                        "`login_url`, `redirect_field`, `object` or `crate`",
                    ),
                    Macro::RecentLoginRequired => (
                        RECENT_KEYS,
                        "`max_age`, `login_url`, `redirect_field` or `crate`",
                    ),
                    _ => (KEYS, "`login_url`, `redirect_field` or `crate`"),
                };
                let hint = suggest(&name, keys)
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_default();
                errors.at(
                    key.span(),
                    format!("unknown argument `{name}`: expected {expected}{hint}"),
                );
                return;
            }
        };
        if duplicate {
            errors.at(key.span(), format!("`{name}` is given twice"));
            return;
        }
        let Some(lit) = string_value(&name, value, errors) else {
            return;
        };
        match name.as_str() {
            "login_url" => {
                if let Err(msg) = check_login_url(&lit.value()) {
                    errors.at(lit.span(), msg);
                }
                self.login_url = Some(lit);
            }
            "redirect_field" => {
                let field = lit.value();
                if field.is_empty()
                    || !field
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
                {
                    errors.at(
                        lit.span(),
                        format!("expected a query parameter name of letters, digits, `_`, `-` or `.`, found {field:?}"),
                    );
                }
                self.redirect_field = Some(lit);
            }
            _ => match lit.parse::<Path>() {
                Ok(path) => self.krate = Some(path),
                Err(_) => errors.at(
                    lit.span(),
                    format!("expected a path to the actix-permit crate, like crate = \"::actix_permit\", found {:?}", lit.value()),
                ),
            },
        }
    }
}

/// The string literal a key needs, or an error at what was given instead.
fn string_value(name: &str, value: Expr, errors: &mut Errors) -> Option<LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) => Some(lit),
        other => {
            errors.at(
                crate::span::whole(&other),
                format!(
                    "expected a string literal for `{name}`, like {name} = \"{}\"",
                    example(name)
                ),
            );
            None
        }
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "login_url" => "/accounts/login/",
        "redirect_field" => "next",
        "object" => "id",
        "max_age" => "10m",
        _ => "::actix_permit",
    }
}

fn unexpected(which: Macro, what: &str) -> String {
    match which {
        Macro::RecentLoginRequired => format!(
            "`recent_login_required` takes `max_age = \"10m\"` and optional `login_url`, `redirect_field`, `crate`; found {what}"
        ),
        Macro::LoginRequired => format!(
            "`login_required` takes only `login_url`, `redirect_field` and `crate`, found {what}; to require permissions use #[permission_required(\"app_label.codename\")]"
        ),
        Macro::UserPassesTest => format!(
            "`user_passes_test` takes one predicate path and optional `login_url`, `redirect_field`, `object`, `crate`; found {what}"
        ),
        _ => format!(
            "`{}` takes permission strings, `any(...)` and optional `login_url`, `redirect_field`, `object`, `crate`; found {what}",
            which.name()
        ),
    }
}

/// The most a `max_age` may be: one year (a longer one is a mistake, not a
/// policy; the login itself lasts weeks).
const MAX_AGE_LIMIT: u64 = 366 * 86_400;

/// `max_age`: one or more `<digits><unit>`, the units `d`, `h`, `m`, `s`
/// in that order, each at most once (`10m`, `1h30m`, `90s`), in seconds;
/// never zero, at most a year.
pub(crate) fn parse_max_age(text: &str) -> std::result::Result<u64, String> {
    let malformed = || {
        format!(
            "expected a duration like \"10m\", \"90s\" or \"1h30m\" (digits, then `d`, `h`, `m` or `s`, largest first), found {text:?}"
        )
    };
    let units = [('d', 86_400_u64), ('h', 3_600), ('m', 60), ('s', 1)];
    let mut next_unit = 0;
    let mut total: u64 = 0;
    let mut rest = text;
    if rest.is_empty() {
        return Err(malformed());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(malformed());
        }
        let Some(unit) = rest[digits..].chars().next() else {
            return Err(malformed());
        };
        let Some(offset) = units[next_unit..].iter().position(|(u, _)| *u == unit) else {
            return Err(malformed());
        };
        let secs = units[next_unit + offset].1;
        next_unit += offset + 1;
        let count: u64 = rest[..digits].parse().map_err(|_| malformed())?;
        total = count
            .checked_mul(secs)
            .and_then(|add| total.checked_add(add))
            .filter(|total| *total <= MAX_AGE_LIMIT)
            .ok_or_else(|| format!("`max_age` {text:?} is longer than a year"))?;
        rest = &rest[digits + unit.len_utf8()..];
    }
    if total == 0 {
        return Err(format!(
            "`max_age` {text:?} is zero: no login would ever be recent enough; give a duration like \"10m\""
        ));
    }
    Ok(total)
}

/// The rules of `actix_permit::permission::validate`, applied at compile time.
pub(crate) fn perm_error(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("an empty string");
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("whitespace");
    }
    match name.split_once('.') {
        None => Some("no `.`"),
        Some(("", _)) => Some("an empty app label"),
        Some((_, "")) => Some("an empty codename"),
        Some(_) => None,
    }
}

fn check_perm(lit: &LitStr, errors: &mut Errors) {
    let name = lit.value();
    if let Some(problem) = perm_error(&name) {
        errors.at(
            lit.span(),
            format!("expected \"app_label.codename\", found {name:?} ({problem})"),
        );
    }
}

fn check_login_url(url: &str) -> std::result::Result<(), String> {
    let ok = (url.starts_with('/') && !url.starts_with("//") && !url.starts_with("/\\"))
        || url.starts_with("https://")
        || url.starts_with("http://");
    if ok && !url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Ok(())
    } else {
        Err(format!(
            "expected a login URL that starts with `/`, `http://` or `https://`, found {url:?}"
        ))
    }
}

/// The closest of `candidates` to `word`, if it is a likely typo.
pub(crate) fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(which: Macro, tokens: proc_macro2::TokenStream) -> Result<Args> {
        Args::parse(which, tokens)
    }

    fn message(which: Macro, tokens: proc_macro2::TokenStream) -> String {
        match parse(which, tokens) {
            Ok(_) => panic!("expected an error"),
            Err(err) => err
                .into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }

    #[test]
    fn permissions_all_and_any() {
        let args = parse(
            Macro::PermissionRequired,
            quote!(
                "a.x",
                any("b.y", "c.z"),
                login_url = "/login/",
                redirect_field = "to"
            ),
        )
        .unwrap();
        let Require::Perms(groups) = args.require else {
            panic!("perms")
        };
        let names: Vec<Vec<String>> = groups
            .iter()
            .map(|g| g.iter().map(LitStr::value).collect())
            .collect();
        assert_eq!(names, vec![vec!["a.x"], vec!["b.y", "c.z"]]);
        assert_eq!(args.login_url.unwrap().value(), "/login/");
        assert_eq!(args.redirect_field.unwrap().value(), "to");
    }

    #[test]
    fn malformed_permissions_are_all_reported() {
        let msg = message(
            Macro::PermissionRequired,
            quote!("change_item", "app.", ".perm", "a b.c", ""),
        );
        assert_eq!(
            msg,
            "expected \"app_label.codename\", found \"change_item\" (no `.`) | \
             expected \"app_label.codename\", found \"app.\" (an empty codename) | \
             expected \"app_label.codename\", found \".perm\" (an empty app label) | \
             expected \"app_label.codename\", found \"a b.c\" (whitespace) | \
             expected \"app_label.codename\", found \"\" (an empty string)"
        );
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(
            message(Macro::LoginRequired, quote!(login_uri = "/l")),
            "unknown argument `login_uri`: expected `login_url`, `redirect_field` or `crate`; did you mean `login_url`?"
        );
        assert_eq!(
            message(
                Macro::LoginRequired,
                quote!(login_url = "/a", login_url = "/b")
            ),
            "`login_url` is given twice"
        );
        assert!(
            message(Macro::LoginRequired, quote!(login_url = 3))
                .starts_with("expected a string literal for `login_url`")
        );
        assert!(
            message(Macro::LoginRequired, quote!(login_url = "login"))
                .starts_with("expected a login URL")
        );
        assert!(
            message(Macro::LoginRequired, quote!(login_url = "//evil.com"))
                .starts_with("expected a login URL")
        );
        assert!(
            message(Macro::LoginRequired, quote!(redirect_field = "a b"))
                .starts_with("expected a query parameter name")
        );
        let args = parse(Macro::LoginRequired, quote!(crate = "::my::permit")).unwrap();
        assert_eq!(
            quote::ToTokens::to_token_stream(&args.krate.unwrap()).to_string(),
            ":: my :: permit"
        );
    }

    #[test]
    fn each_macro_takes_its_own_arguments() {
        assert!(
            message(Macro::PermissionRequired, quote!()).contains("needs at least one permission")
        );
        assert!(
            message(Macro::PermissionRequired, quote!(any()))
                .contains("`any()` needs at least one")
        );
        assert!(message(Macro::PermissionRequired, quote!(42)).contains("found an integer"));
        assert!(message(Macro::LoginRequired, quote!("a.b")).contains(
            "takes only `login_url`, `redirect_field` and `crate`, found a permission string"
        ));
        assert!(message(Macro::UserPassesTest, quote!()).contains("needs a predicate"));
        assert!(message(Macro::UserPassesTest, quote!(a, b)).contains("a second predicate"));
        for args in [quote!(x), quote!(login_url = "/l"), quote!("a.b")] {
            assert!(
                message(Macro::LoginNotRequired, args).contains("takes only `crate"),
                "login_not_required has nothing else to configure"
            );
        }
        assert!(parse(Macro::LoginNotRequired, quote!(crate = "::p")).is_ok());
        assert!(matches!(
            parse(Macro::UserPassesTest, quote!(crate::checks::is_staff))
                .unwrap()
                .require,
            Require::Test(_)
        ));
        assert!(matches!(
            parse(Macro::LoginNotRequired, quote!()).unwrap().require,
            Require::Public
        ));
    }

    #[test]
    fn max_age_reads_durations() {
        for (text, secs) in [
            ("10m", 600),
            ("90s", 90),
            ("1h30m", 5_400),
            ("1d", 86_400),
            ("2h5s", 7_205),
            ("366d", 366 * 86_400),
        ] {
            assert_eq!(parse_max_age(text), Ok(secs), "{text}");
        }
        for bad in [
            "", "10", "m", "10x", "1m1h", "1m1m", "-1m", "1.5h", "10 m", "1m ", "１m", "10M",
        ] {
            assert!(
                parse_max_age(bad)
                    .unwrap_err()
                    .starts_with("expected a duration"),
                "{bad:?}"
            );
        }
        assert!(parse_max_age("0s").unwrap_err().contains("is zero"));
        assert!(parse_max_age("0h0m").unwrap_err().contains("is zero"));
        assert!(
            parse_max_age("367d")
                .unwrap_err()
                .contains("longer than a year")
        );
        assert!(parse_max_age("99999999999999999999s").is_err());
        assert!(message(Macro::RecentLoginRequired, quote!()).contains("needs `max_age`"));
        assert!(message(Macro::RecentLoginRequired, quote!("a.b")).contains("takes `max_age"));
        assert!(
            message(Macro::RecentLoginRequired, quote!(max_age = 10))
                .starts_with("expected a string literal for `max_age`")
        );
        assert_eq!(
            message(
                Macro::RecentLoginRequired,
                quote!(max_age = "1m", max_age = "2m")
            ),
            "`max_age` is given twice"
        );
        assert!(
            message(Macro::LoginRequired, quote!(max_age = "1m"))
                .starts_with("unknown argument `max_age`")
        );
        assert!(
            message(Macro::RecentLoginRequired, quote!(max_ag = "1m"))
                .contains("did you mean `max_age`?")
        );
        assert!(matches!(
            parse(Macro::RecentLoginRequired, quote!(max_age = "10m"))
                .unwrap()
                .require,
            Require::RecentLogin(600)
        ));
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("login_uri", KEYS), Some("login_url"));
        assert_eq!(suggest("redirect", KEYS), None);
        assert_eq!(suggest("redirect_feild", KEYS), Some("redirect_field"));
        assert_eq!(suggest("zzz", KEYS), None);
    }
}
