use actix_permit::{CurrentUser, user_passes_test};

fn is_staff(user: &CurrentUser) -> bool {
    user.is_superuser()
}

#[user_passes_test(is_staff, is_staff)]
async fn admin() -> &'static str {
    ""
}

fn main() {}
