use actix_permit::{CurrentUser, user_passes_test};

fn role(user: &CurrentUser) -> String {
    format!("{:?}", user.id())
}

#[user_passes_test(role)]
async fn admin() -> &'static str {
    ""
}

fn main() {}
