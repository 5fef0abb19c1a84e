// tests/Cargo.toml declares this package's permissions under
// [package.metadata.actix-permit]; a literal outside that list is an error.
use actix_permit::permission_required;

#[permission_required("inventory.chnage_item")]
async fn edit() -> &'static str {
    ""
}

#[permission_required(any("inventory.view_item", "inventory.archive_item"))]
async fn archive() -> &'static str {
    ""
}

fn main() {}
