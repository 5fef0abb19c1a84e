use actix_permit::permission_required;

#[permission_required(any())]
async fn edit() -> &'static str {
    ""
}

fn main() {}
