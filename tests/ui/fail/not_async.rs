use actix_permit::permission_required;

#[permission_required("app.change_item")]
fn edit() -> &'static str {
    ""
}

fn main() {}
