use actix_permit::permission_required;

// Every bad literal is reported, each at its own span.
#[permission_required("change_item", "inventory.view_item", any("app.", "ok.perm"))]
async fn edit() -> &'static str {
    ""
}

fn main() {}
