use actix_permit::login_required;

struct Handlers;

impl Handlers {
    #[login_required]
    async fn profile(&self) -> &'static str {
        ""
    }
}

fn main() {}
