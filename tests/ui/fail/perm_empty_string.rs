use actix_permit::permission_required;

#[permission_required("")]
async fn edit() -> &'static str {
    ""
}

fn main() {}
