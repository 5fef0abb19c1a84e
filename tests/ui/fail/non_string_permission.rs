use actix_permit::permission_required;

#[permission_required(42)]
async fn edit() -> &'static str {
    ""
}

fn main() {}
