use actix_permit::permission_required;

#[permission_required("inventory.")]
async fn edit() -> &'static str {
    ""
}

fn main() {}
