//! Declared permissions: a crate that lists its permissions in its
//! `Cargo.toml` gets a compile error for any other permission literal.
//!
//! ```toml
//! [package.metadata.actix-permit]
//! permissions = ["inventory.view_item", "inventory.change_item"]
//! ```
//!
//! The manifest is the nearest `Cargo.toml` above the source file that uses
//! the attribute (the package the code belongs to), or `CARGO_MANIFEST_DIR`'s
//! when the source file is unknown.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use crate::args::perm_error;

/// The permissions a package declares.
pub(crate) struct Declared {
    /// The manifest they come from, absolute, so that the expansion can make
    /// the crate depend on it (`include_bytes!`).
    pub(crate) manifest: PathBuf,
    pub(crate) names: Vec<String>,
}

const WHERE: &str = "[package.metadata.actix-permit] permissions";

/// The declaration that applies to code in `source`, if the package has one.
///
/// Each manifest is read once per compilation (the macro stays loaded from
/// one attribute to the next), and again only when it changed, as it may
/// while an editor keeps the macro loaded.
pub(crate) fn find(source: Option<&Path>) -> Result<Option<Declared>, String> {
    type Cache = HashMap<PathBuf, (Option<SystemTime>, Result<Option<Vec<String>>, String>)>;
    static READ: Mutex<Option<Cache>> = Mutex::new(None);
    let Some(manifest) = manifest_for(source) else {
        return Ok(None);
    };
    let modified = std::fs::metadata(&manifest).and_then(|m| m.modified()).ok();
    let mut read = READ.lock().unwrap_or_else(PoisonError::into_inner);
    let cache = read.get_or_insert_with(HashMap::new);
    let names = match cache.get(&manifest) {
        Some((when, names)) if when.is_some() && *when == modified => names.clone(),
        _ => {
            let names = std::fs::read_to_string(&manifest)
                .map_err(|err| format!("cannot read {}: {err}", manifest.display()))
                .and_then(|text| parse(&text));
            cache.insert(manifest.clone(), (modified, names.clone()));
            names
        }
    };
    names.map(|names| names.map(|names| Declared { manifest, names }))
}

fn manifest_for(source: Option<&Path>) -> Option<PathBuf> {
    let from_source = source.and_then(|file| {
        let file = if file.is_absolute() {
            file.to_path_buf()
        } else {
            std::env::current_dir().ok()?.join(file)
        };
        file.ancestors()
            .skip(1)
            .map(|dir| dir.join("Cargo.toml"))
            .find(|manifest| manifest.is_file())
    });
    from_source.or_else(|| {
        let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
        Some(Path::new(&dir).join("Cargo.toml")).filter(|m| m.is_file())
    })
}

/// The declared names in a manifest's text: `None` without a declaration.
pub(crate) fn parse(manifest: &str) -> Result<Option<Vec<String>>, String> {
    let table: toml::Table = manifest
        .parse()
        .map_err(|err| format!("cannot parse Cargo.toml: {err}"))?;
    let declared = table
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("actix-permit"))
        .and_then(|a| a.get("permissions"));
    let Some(declared) = declared else {
        return Ok(None);
    };
    let Some(list) = declared.as_array() else {
        return Err(format!(
            "{WHERE} in Cargo.toml must be an array of \"app_label.codename\" strings"
        ));
    };
    let mut names = Vec::with_capacity(list.len());
    for value in list {
        let Some(name) = value.as_str() else {
            return Err(format!(
                "{WHERE} in Cargo.toml must be an array of \"app_label.codename\" strings, found a TOML {}",
                value.type_str()
            ));
        };
        if let Some(problem) = perm_error(name) {
            return Err(format!(
                "{WHERE} in Cargo.toml: expected \"app_label.codename\", found {name:?} ({problem})"
            ));
        }
        names.push(name.to_owned());
    }
    Ok(Some(names))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_the_declaration() {
        let manifest = r#"
            [package]
            name = "shop"

            [package.metadata.actix-permit]
            permissions = [
                "shop.view_item", # comments are fine
                "shop.change_item",
            ]
        "#;
        assert_eq!(
            parse(manifest).unwrap().unwrap(),
            ["shop.view_item", "shop.change_item"]
        );
        assert_eq!(parse("[package]\nname = \"x\"\n").unwrap(), None);
        assert_eq!(
            parse("[package.metadata.actix-permit]\npermissions = []\n").unwrap(),
            Some(vec![])
        );
    }

    #[test]
    fn a_bad_declaration_is_an_error() {
        for (manifest, says) in [
            (
                "[package.metadata.actix-permit]\npermissions = \"a.b\"",
                "must be an array",
            ),
            (
                "[package.metadata.actix-permit]\npermissions = [1]",
                "found a TOML integer",
            ),
            (
                "[package.metadata.actix-permit]\npermissions = [\"nodot\"]",
                "found \"nodot\" (no `.`)",
            ),
            ("[package", "cannot parse Cargo.toml"),
        ] {
            let err = parse(manifest).unwrap_err();
            assert!(err.contains(says), "{manifest}: {err}");
        }
    }
}
