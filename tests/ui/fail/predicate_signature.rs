use actix_permit::user_passes_test;

fn is_even(n: u32) -> bool {
    n % 2 == 0
}

#[user_passes_test(is_even)]
async fn handler() -> &'static str {
    ""
}

fn main() {}
