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
    /// backends → request state → decision → registry → audit and OpenAPI →
    /// middleware → public API).
    const LAYERS: &[&[&str]] = &[
        &[
            "config",
            "error",
            "password",
            "permission",
            "redirect",
            "user",
            "throttle",
        ],
        &["backend"],
        &["request"],
        &["access", "session"],
        &["registry", "__permit_register"],
        &["audit", "openapi"],
        &["middleware"],
        &["lib", "__private"],
    ];

    fn layer(module: &str) -> usize {
        LAYERS
            .iter()
            .position(|layer| layer.contains(&module))
            .unwrap_or_else(|| panic!("module {module} has no layer"))
    }

    /// The crate modules a source file imports (`use crate::x`, `use crate::{x, y}`).
    fn imports(source: &str) -> Vec<String> {
        let mut found = Vec::new();
        for line in source.lines().map(str::trim_start) {
            let Some(rest) = line
                .strip_prefix("use crate::")
                .or_else(|| line.strip_prefix("pub use crate::"))
            else {
                continue;
            };
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(list) => list.split(',').map(str::trim).collect(),
                None => vec![rest],
            };
            for name in names {
                let module: String = name
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !module.is_empty() && module != "self" {
                    found.push(module);
                }
            }
        }
        found
    }

    #[test]
    fn no_runtime_module_imports_from_a_layer_above_it() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../runtime/src");
        let mut files = Vec::new();
        for entry in std::fs::read_dir(root).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                for inner in std::fs::read_dir(&path).unwrap() {
                    files.push(inner.unwrap().path());
                }
            } else {
                files.push(path);
            }
        }
        let mut checked = 0;
        for file in files {
            // A file in a folder belongs to the module the folder is named for.
            let module = match file.parent().and_then(|dir| dir.file_name()) {
                Some(dir) if dir != "src" => dir.to_string_lossy().into_owned(),
                _ => file.file_stem().unwrap().to_string_lossy().into_owned(),
            };
            let source = std::fs::read_to_string(&file).unwrap();
            for imported in imports(&source) {
                assert!(
                    layer(&imported) <= layer(&module),
                    "{} imports crate::{imported}, a layer above {module}",
                    file.display()
                );
                checked += 1;
            }
        }
        assert!(checked > 20, "the check read the imports ({checked})");
    }
}
