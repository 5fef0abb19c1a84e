use actix_permit::permission_required;

#[permission_required("inventory.change item")]
async fn edit() -> &'static str {
    ""
}

fn main() {}
