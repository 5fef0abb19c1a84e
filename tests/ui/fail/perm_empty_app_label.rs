use actix_permit::permission_required;

#[permission_required(".change_item")]
async fn edit() -> &'static str {
    ""
}

fn main() {}
