use actix_permit::permission_required;

struct Handlers;

#[permission_required("inventory.view_item")]
impl Handlers {}

fn main() {}
