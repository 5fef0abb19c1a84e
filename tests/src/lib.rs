//! Handlers that live in a library crate, as in an app split into crates:
//! the audit registry must list them too (`tests/behaviour/audit.rs`).

use actix_permit::{login_not_required, permission_required};
use actix_web::{HttpResponse, get};

/// Public, from a library.
#[login_not_required]
#[get("/library/public")]
pub async fn library_public() -> HttpResponse {
    HttpResponse::Ok().body("library public")
}

/// Protected, from a library; no test routes it.
#[permission_required("app.view")]
#[get("/library/protected")]
pub async fn library_protected() -> HttpResponse {
    HttpResponse::Ok().body("library protected")
}

#[cfg(test)]
mod readme {
    const EXAMPLE: &str = include_str!("../../runtime/examples/quickstart.rs");
    /// The crates' own READMEs, shown on crates.io (the runtime's is also
    /// its documentation on docs.rs).
    const CRATE_READMES: [(&str, &str); 2] = [
        ("runtime/README.md", include_str!("../../runtime/README.md")),
        ("macros/README.md", include_str!("../../macros/README.md")),
    ];

    fn quick_start(readme: &str) -> &str {
        let start =
            readme.find("```rust,no_run\n").expect("a quick start") + "```rust,no_run\n".len();
        let block = &readme[start..];
        &block[..block.find("```").expect("its end")]
    }

    /// The quick start of the repository's README and of the crate's is
    /// `runtime/examples/quickstart.rs`, which `cargo test --workspace`
    /// builds.
    #[test]
    fn the_quick_start_is_the_compiled_example() {
        let code = EXAMPLE
            .split_once("\n\n")
            .map(|(_, code)| code)
            .expect("a header, then the code");
        assert_eq!(quick_start(include_str!("../../README.md")), code);
        assert_eq!(quick_start(CRATE_READMES[0].1), code);
    }

    /// The README's "How it is built" is the guide's page of that name, word
    /// for word (docs.rs shows the one, the repository the other).
    #[test]
    fn the_readme_tells_how_it_is_built_as_the_guide_does() {
        let readme = include_str!("../../README.md");
        let start = readme.find("## How it is built\n\n").expect("the section")
            + "## How it is built\n\n".len();
        let section = &readme[start..];
        let section = &section[..section.find("\n## ").expect("a next section")];
        assert_eq!(
            section.trim(),
            include_str!("../../runtime/docs/guide/how_it_is_built.md").trim()
        );
    }

    /// On crates.io a relative link leads nowhere: every link in a crate's
    /// README is absolute.
    #[test]
    fn crate_readmes_link_only_outside_the_repository() {
        for (name, readme) in CRATE_READMES {
            let mut rest = readme;
            let mut links = 0;
            while let Some(at) = rest.find("](") {
                let target = &rest[at + 2..];
                let target = &target[..target.find(')').expect("a closed link")];
                assert!(
                    target.starts_with("https://"),
                    "{name}: the link {target:?} does not lead out of the repository"
                );
                links += 1;
                rest = &rest[at + 2..];
            }
            assert!(links > 0, "{name} has no links");
        }
    }
}

#[cfg(test)]
mod layers {
    /// The runtime's modules in layers, lowest first: a module may use the
    /// ones in its own layer or below, never above (DESIGN.md: model →
    /// backends and identity sources → request state → decision →
    /// registry → deny by default → audit and OpenAPI → middleware →
    /// public API).
    const LAYERS: &[&[&str]] = &[
        &[
            "config",
            "django",
            "error",
            "password",
            "permission",
            "redirect",
            "rules",
            "user",
            "throttle",
        ],
        &["backend", "identity", "token", "records"],
        &["state"],
        &["access", "session"],
        &["registry", "__permit_register"],
        &["deny"],
        &["audit", "openapi"],
        &["middleware"],
        &["lib", "__private"],
    ];

    /// A module's layer; a name that is no module (`crate::Permit`, an
    /// item the root re-exports) is a use of the root, the top layer.
    fn layer(module: &str) -> usize {
        LAYERS
            .iter()
            .position(|layer| layer.contains(&module))
            .unwrap_or(LAYERS.len() - 1)
    }

    /// The source without comments and without the contents of string
    /// literals (so that doc links, prose and messages do not count as
    /// uses).
    fn code(source: &str) -> String {
        let mut out = String::with_capacity(source.len());
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '/' if chars.peek() == Some(&'/') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            out.push('\n');
                            break;
                        }
                    }
                }
                '"' => {
                    out.push('"');
                    let mut escaped = false;
                    for c in chars.by_ref() {
                        if c == '"' && !escaped {
                            break;
                        }
                        escaped = c == '\\' && !escaped;
                        if c == '\n' {
                            out.push('\n');
                        }
                    }
                    out.push('"');
                }
                // A char literal of a quote.
                '\'' if chars.peek() == Some(&'"') => {
                    chars.next();
                    out.push_str("'_");
                }
                c => out.push(c),
            }
        }
        out
    }

    /// The inline modules (`mod tests { .. }`) of `code`: each one's name
    /// and the span of its body.
    fn inline_modules(code: &str) -> Vec<(String, std::ops::Range<usize>)> {
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(at) = code[from..].find("mod ") {
            let start = from + at + 4;
            from = start;
            let name: String = code[start..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let after = code[start + name.len()..].trim_start();
            if name.is_empty() || !after.starts_with('{') {
                continue;
            }
            let open = code.len() - after.len();
            let mut depth = 0;
            for (i, c) in code[open..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            found.push((name.clone(), open..open + i));
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
        found
    }

    /// The identifiers that follow each `prefix` in `code`, with what
    /// comes after them when it is `::` and another identifier; a brace
    /// list (`prefix{a, b::c}`) gives each of its entries.
    fn paths_after(code: &str, prefix: &str) -> Vec<(usize, Vec<String>)> {
        fn ident(rest: &str) -> (&str, &str) {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        }
        fn path(mut rest: &str) -> Vec<String> {
            let mut parts = Vec::new();
            loop {
                let (name, after) = ident(rest.trim_start());
                if name.is_empty() {
                    return parts;
                }
                parts.push(name.to_owned());
                match after.strip_prefix("::") {
                    Some(more) => rest = more,
                    None => return parts,
                }
            }
        }
        let mut found = Vec::new();
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().next_back();
            let position = code.len() - rest.len() + at;
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            match rest.strip_prefix('{') {
                Some(list) => {
                    let list = &list[..list.find('}').unwrap_or(list.len())];
                    found.extend(list.split(',').map(|p| (position, path(p))));
                }
                None => found.push((position, path(rest))),
            }
        }
        found.retain(|(_, p)| !p.is_empty() && p[0] != "self");
        found
    }

    /// Every runtime source file with its module path (`backend/exact.rs`
    /// is `["backend", "exact"]`; `backend.rs` is `["backend"]`).
    fn files() -> Vec<(Vec<String>, String)> {
        fn walk(dir: &std::path::Path, module: &[String], out: &mut Vec<(Vec<String>, String)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                let mut inner = module.to_vec();
                if stem != "mod" {
                    inner.push(stem);
                }
                if path.is_dir() {
                    walk(&path, &inner, out);
                } else {
                    out.push((inner, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../runtime/src");
        walk(std::path::Path::new(root), &[], &mut out);
        out
    }

    /// The modules each file uses: every `crate::` path, and `super::`
    /// paths resolved from where they stand (in the file, or in an inline
    /// module of it), as module paths.
    fn uses(module: &[String], source: &str) -> Vec<Vec<String>> {
        let code = code(source);
        let inline = inline_modules(&code);
        let mut found: Vec<Vec<String>> = paths_after(&code, "crate::")
            .into_iter()
            .map(|(_, path)| path)
            .collect();
        for (at, mut path) in paths_after(&code, "super::") {
            let mut base = module.to_vec();
            base.extend(
                inline
                    .iter()
                    .filter(|(_, span)| span.contains(&at))
                    .map(|(name, _)| name.clone()),
            );
            // `super` is the module around the one it stands in.
            base.pop();
            while path.first().is_some_and(|p| p == "super") {
                path.remove(0);
                base.pop();
            }
            base.extend(path);
            found.push(base);
        }
        found
    }

    #[test]
    fn no_runtime_module_imports_from_a_layer_above_it() {
        let mut checked = 0;
        let mut wrong = Vec::new();
        for (module, source) in files() {
            for used in uses(&module, &source) {
                let (Some(top), Some(from)) = (used.first(), module.first()) else {
                    continue;
                };
                if top == "__private" && from == "lib" {
                    continue;
                }
                if layer(top) > layer(from) {
                    wrong.push(format!(
                        "{} uses crate::{}, a layer above {from}",
                        module.join("/"),
                        used.join("::")
                    ));
                }
                checked += 1;
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        assert!(checked > 100, "the check read the uses ({checked})");
    }

    /// No two files use each other, directly or around a circle (a module
    /// and the files inside it excepted: a parent declares its children).
    #[test]
    fn no_runtime_files_use_each_other_in_a_circle() {
        let files = files();
        let modules: Vec<Vec<String>> = files.iter().map(|(m, _)| m.clone()).collect();
        // The file a used path lands in: the longest module that prefixes it.
        let file_of = |path: &[String]| {
            modules
                .iter()
                .filter(|m| path.starts_with(m))
                .max_by_key(|m| m.len())
                .cloned()
        };
        let mut edges: std::collections::BTreeMap<
            Vec<String>,
            std::collections::BTreeSet<Vec<String>>,
        > = Default::default();
        for (module, source) in &files {
            for used in uses(module, source) {
                let Some(target) = file_of(&used) else {
                    continue;
                };
                if target == *module || target.starts_with(module) || module.starts_with(&target) {
                    continue;
                }
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
        // Depth-first search for a back edge.
        fn visit(
            at: &Vec<String>,
            edges: &std::collections::BTreeMap<
                Vec<String>,
                std::collections::BTreeSet<Vec<String>>,
            >,
            path: &mut Vec<Vec<String>>,
            done: &mut std::collections::BTreeSet<Vec<String>>,
        ) {
            if done.contains(at) {
                return;
            }
            if let Some(start) = path.iter().position(|m| m == at) {
                let circle: Vec<String> = path[start..].iter().map(|m| m.join("/")).collect();
                panic!(
                    "files use each other in a circle: {} -> {}",
                    circle.join(" -> "),
                    at.join("/")
                );
            }
            path.push(at.clone());
            for next in edges.get(at).into_iter().flatten() {
                visit(next, edges, path, done);
            }
            path.pop();
            done.insert(at.clone());
        }
        let mut done = Default::default();
        for module in edges.keys() {
            visit(module, &edges, &mut Vec::new(), &mut done);
        }
        assert!(
            edges.len() > 10,
            "the check read the files ({})",
            edges.len()
        );
    }
}
