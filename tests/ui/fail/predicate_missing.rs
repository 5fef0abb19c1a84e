use actix_permit::user_passes_test;

#[user_passes_test(login_url = "/login/")]
async fn admin() -> &'static str {
    ""
}

fn main() {}
