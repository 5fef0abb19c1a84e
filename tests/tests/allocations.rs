//! The macros allocate no more per request than the same check written by
//! hand. A counting global allocator counts the allocations this thread makes
//! while one request is served (deterministic, unlike timings).

#![allow(unsafe_code)] // A `GlobalAlloc` impl is `unsafe` by definition.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use actix_permit::{
    CurrentUser, PermissionDenied, Permit, PermitError, authenticate, backend::MemoryBackend,
    login, permission_required,
};
use actix_session::SessionMiddleware;
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::Key;
use actix_web::{App, HttpRequest, HttpResponse, test, web};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
    /// Bytes this thread allocated less those it freed, while counting.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn live(delta: isize) {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = LIVE.try_with(|l| l.set(l.get() + delta));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// thread-local counters neither allocate nor touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
        live(layout.size().cast_signed());
        // SAFETY: same layout, as the caller promised.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        live(-layout.size().cast_signed());
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
        live(new_size.cast_signed() - layout.size().cast_signed());
        // SAFETY: forwarded as given.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

async fn by_hand(user: CurrentUser) -> Result<&'static str, PermitError> {
    if !user.has_perm("app.perm").await? {
        return Err(PermissionDenied.into());
    }
    Ok("ok")
}

#[permission_required("app.perm")]
async fn by_macro() -> &'static str {
    "ok"
}

async fn open() -> &'static str {
    "ok"
}

async fn test_login(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    let user = authenticate(&req, &name, "pw").await.unwrap().unwrap();
    login(&req, &*user).await.unwrap();
    HttpResponse::Ok().finish()
}

#[actix_rt::test]
async fn the_macro_allocates_no_more_than_hand_written_code() {
    let backend = MemoryBackend::new();
    for name in ["allowed", "denied"] {
        backend.add_user(name, "pw").unwrap();
    }
    backend.grant("allowed", "app.perm").unwrap();
    backend.grant("denied", "app.other").unwrap();
    let app = test::init_service(
        App::new()
            .route("/login/{name}", web::post().to(test_login))
            .route("/hand", web::get().to(by_hand))
            .route("/macro", web::get().to(by_macro))
            .route("/open", web::get().to(open))
            .wrap(Permit::new(backend))
            .wrap(
                SessionMiddleware::builder(CookieSessionStore::default(), Key::from(&[1; 64]))
                    .cookie_secure(false)
                    .build(),
            ),
    )
    .await;
    let mut cookies = Vec::new();
    for name in ["allowed", "denied"] {
        let req = test::TestRequest::post()
            .uri(&format!("/login/{name}"))
            .to_request();
        let res = test::call_service(&app, req).await;
        cookies.push(res.response().cookies().next().unwrap().into_owned());
    }

    let count = async |path: &str, cookie: usize, status: u16| {
        let req = || {
            test::TestRequest::get()
                .uri(path)
                .cookie(cookies[cookie].clone())
                .to_request()
        };
        // Warm: the first requests fill caches.
        for _ in 0..3 {
            test::call_service(&app, req()).await;
        }
        let req = req();
        COUNT.with(|c| c.set(0));
        COUNTING.with(|c| c.set(true));
        let res = test::call_service(&app, req).await;
        COUNTING.with(|c| c.set(false));
        assert_eq!(res.status().as_u16(), status, "{path}");
        COUNT.with(Cell::get)
    };
    let open = count("/open", 0, 200).await;
    let hand_allowed = count("/hand", 0, 200).await;
    let macro_allowed = count("/macro", 0, 200).await;
    let hand_denied = count("/hand", 1, 403).await;
    let macro_denied = count("/macro", 1, 403).await;
    println!(
        "allocations per request: unprotected {open}, by hand {hand_allowed} (denied {hand_denied}), \
         permission_required {macro_allowed} (denied {macro_denied})"
    );
    assert!(
        macro_allowed <= hand_allowed,
        "{macro_allowed} > {hand_allowed}"
    );
    assert!(
        macro_denied <= hand_denied,
        "{macro_denied} > {hand_denied}"
    );
}

/// Issue 25, part 3: the memory throttle store holds what it counts, and
/// no more: filled with keys as long as the throttle makes them, the bytes
/// it keeps allocated stay within its bound.
#[::core::prelude::v1::test]
fn the_memory_throttle_store_keeps_no_more_bytes_than_its_bound() {
    use actix_permit::throttle::{MemoryThrottle, ThrottleStore};
    use std::time::Duration;

    let runtime = actix_rt::System::new();
    for max in [64 << 10, 1 << 20] {
        let store = MemoryThrottle::with_max_bytes(max);
        LIVE.with(|l| l.set(0));
        COUNTING.with(|c| c.set(true));
        let mut kept = 0_usize;
        for n in 0.. {
            // 37 bytes, as the throttle's username keys are.
            let key = format!("user:{n:032x}");
            match runtime.block_on(store.hit(&key, Duration::from_secs(600), 5)) {
                Ok(_) => kept += 1,
                Err(_) => break,
            }
        }
        COUNTING.with(|c| c.set(false));
        let held = LIVE.with(Cell::get);
        assert!(kept * (MemoryThrottle::KEY_BYTES + 37) <= max);
        assert!(kept * (MemoryThrottle::KEY_BYTES + 37) > max - MemoryThrottle::KEY_BYTES - 37);
        assert!(
            held.cast_unsigned() <= max,
            "{kept} keys hold {held} bytes, over the bound of {max}"
        );
        eprintln!("memory throttle: bound {max} B, {kept} keys, {held} B allocated");
        drop(store);
    }
}
