use actix_permit::login_required;
use actix_web::HttpRequest as R;

#[login_required]
async fn crowded(
    _a: R, _b: R, _c: R, _d: R, _e: R, _f: R, _g: R, _h: R,
    _i: R, _j: R, _k: R, _l: R, _m: R, _n: R, _o: R, _p: R, _q: R,
) -> &'static str {
    ""
}

fn main() {}
