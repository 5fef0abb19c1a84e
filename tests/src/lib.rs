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
    /// The README's quick start is `runtime/examples/quickstart.rs`, which
    /// `cargo test --workspace` builds.
    #[test]
    fn the_quick_start_is_the_compiled_example() {
        let readme = include_str!("../../README.md");
        let start =
            readme.find("```rust,no_run\n").expect("a quick start") + "```rust,no_run\n".len();
        let block = &readme[start..];
        let block = &block[..block.find("```").expect("its end")];
        let example = include_str!("../../runtime/examples/quickstart.rs");
        let code = example
            .split_once("\n\n")
            .map(|(_, code)| code)
            .expect("a header, then the code");
        assert_eq!(block, code);
    }
}
