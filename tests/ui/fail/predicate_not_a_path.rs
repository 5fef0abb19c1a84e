use actix_permit::user_passes_test;

#[user_passes_test("is_staff")]
async fn admin() -> &'static str {
    ""
}

fn main() {}
