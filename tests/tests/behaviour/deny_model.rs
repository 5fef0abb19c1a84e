//! Deny by default, as an invariant over generated apps (issue 12).
//!
//! Each case builds a random app: nested `web::scope`s (with and without a
//! prefix, a `Host` guard, a `default_service`), `actix_permit::scope`s,
//! resources routed by hand, and handlers from a pool with repeated fn
//! names, explicit `name = ".."`s, a custom guard, one or two methods, each
//! public, unannotated or `#[login_required]`. Then random anonymous
//! requests (any method; paths built from the segments the app uses, with
//! trailing and doubled slashes and percent-encoding; random hosts).
//!
//! Checked on every request: no handler but a `#[login_not_required]` one
//! ran. Checked on every app: each public route the middleware says is
//! reachable (`audit::reachable`) answers anonymous requests with its own
//! handler. Failing cases are kept in `deny_model.proptest-regressions`.

use std::sync::Arc;

use actix_permit::audit;
use actix_permit::{LoginRequired, Permit, login_not_required, login_required, scope};
use actix_web::guard::{self, GuardContext};
use actix_web::http::StatusCode;
use actix_web::test;
use actix_web::{App, HttpRequest, HttpResponse, route, web};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};

use crate::support::{Ran, backend, send, session};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Public,
    Unannotated,
    Login,
}

/// A handler of the pool, as the model knows it.
struct Spec {
    id: &'static str,
    kind: Kind,
    register: fn(&mut web::ServiceConfig),
}

fn needs_pass(ctx: &GuardContext<'_>) -> bool {
    ctx.head().headers().contains_key("x-pass")
}

/// One handler per line: kind, fn name, path, methods, extra arguments of
/// the routing attribute.
macro_rules! pool {
    ($module:ident; $($kind:ident $name:ident $path:tt [$($method:tt),+] ($($extra:tt)*);)*) => {
        $(pool!(@one $module $kind $name $path [$($method),+] $($extra)*);)*

        pub(super) const POOL: &[super::Spec] = &[$(super::Spec {
            id: concat!(module_path!(), "::", stringify!($name)),
            kind: super::Kind::$kind,
            register: |cfg| {
                cfg.service($name);
            },
        }),*];
    };
    (@one $module:ident Public $($rest:tt)*) => {
        pool!(@fn $module [login_not_required] $($rest)*);
    };
    (@one $module:ident Login $($rest:tt)*) => {
        pool!(@fn $module [login_required] $($rest)*);
    };
    (@one $module:ident Unannotated $($rest:tt)*) => {
        pool!(@fn $module [] $($rest)*);
    };
    (@fn $module:ident [$($attr:ident)?] $name:ident $path:tt [$($method:tt),+] $($extra:tt)*) => {
        $(#[$attr])?
        #[route($path, $(method = $method,)+ $($extra)*)]
        async fn $name(ran: web::Data<crate::support::Ran>) -> HttpResponse {
            // The module's name makes the two modules' handlers differ in
            // their tokens, so that their reserved route names differ.
            let _ = stringify!($module);
            ran.hit(concat!(module_path!(), "::", stringify!($name)))
        }
    };
}

/// Two modules with the same fn names. (Handlers a `macro_rules!` writes
/// exactly alike share their reserved route names, and stay protected:
/// `a_macro_writing_two_public_handlers_alike_keeps_both_protected`.)
macro_rules! module {
    ($module:ident) => {
        mod $module {
            use super::*;

            pool! {
                $module;
                Public root "/" ["GET"] ();
                Public a "/a" ["GET"] ();
                Public a_post "/a" ["POST"] ();
                Public b "/b" ["GET", "PUT"] ();
                Public id "/{id}" ["GET"] ();
                Public ab "/a/b" ["GET"] ();
                Public named "/b" ["GET"] (name = "dup");
                Public passing "/a" ["GET"] (guard = "super::needs_pass");
                Unannotated u_root "/" ["GET"] ();
                Unannotated u_a "/a" ["POST"] ();
                Unannotated u_a_get "/a" ["GET"] ();
                Unannotated u_b "/b" ["GET", "PUT"] ();
                Unannotated u_id "/{id}" ["GET"] ();
                Unannotated u_ab "/a/b" ["POST"] ();
                Unannotated u_named "/a" ["GET"] (name = "dup");
                Login l_a "/a" ["GET"] ();
                Login l_b "/b" ["POST"] ();
                Login l_root "/" ["GET", "POST"] ();
            }
        }
    };
}

module!(m1);
module!(m2);

fn pool() -> impl Iterator<Item = &'static Spec> {
    m1::POOL.iter().chain(m2::POOL)
}

fn spec(index: usize) -> &'static Spec {
    let count = m1::POOL.len();
    if index < count {
        &m1::POOL[index]
    } else {
        &m2::POOL[index - count]
    }
}

async fn by_hand(ran: web::Data<Ran>) -> HttpResponse {
    ran.hit("by hand")
}

async fn fallback(ran: web::Data<Ran>) -> HttpResponse {
    ran.hit("default service")
}

/// What the middleware says anonymous requests reach in this app.
async fn probe(req: HttpRequest) -> HttpResponse {
    let found: Vec<_> = audit::reachable(&req)
        .into_iter()
        .filter_map(|r| {
            let id = format!("{}::{}", r.handler.module, r.handler.name);
            Some((id, r.path?, r.methods))
        })
        .collect();
    HttpResponse::Ok().json(found)
}

#[derive(Clone, Debug)]
enum Node {
    Handler(usize),
    ByHand {
        path: &'static str,
        method: Option<&'static str>,
    },
    Scope(Box<ScopeSpec>),
}

#[derive(Clone, Copy, Debug)]
enum ScopeKind {
    Web,
    Host(&'static str),
    Plain,
}

#[derive(Clone, Debug)]
struct ScopeSpec {
    prefix: &'static str,
    kind: ScopeKind,
    default: bool,
    children: Vec<Node>,
}

#[derive(Clone, Debug)]
struct Request {
    method: &'static str,
    host: &'static str,
    pass: bool,
    path: String,
}

#[derive(Clone, Debug)]
struct AppSpec {
    nodes: Vec<Node>,
    default: bool,
    requests: Vec<Request>,
}

fn add(cfg: &mut web::ServiceConfig, nodes: &[Node]) {
    for node in nodes {
        match node {
            Node::Handler(index) => (spec(*index).register)(cfg),
            Node::ByHand { path, method } => {
                let resource = web::resource(*path);
                let resource = match method {
                    Some(method) => resource.guard(guard::Method(method.parse().unwrap())),
                    None => resource,
                };
                cfg.service(resource.to(by_hand));
            }
            Node::Scope(spec) => {
                let children = &spec.children;
                match spec.kind {
                    ScopeKind::Plain => {
                        let mut s = scope(spec.prefix).configure(|c| add(c, children));
                        if spec.default {
                            s = s.default_service(web::to(fallback));
                        }
                        cfg.service(s);
                    }
                    kind => {
                        let mut s = web::scope(spec.prefix).configure(|c| add(c, children));
                        if let ScopeKind::Host(host) = kind {
                            s = s.guard(guard::Host(host));
                        }
                        if spec.default {
                            s = s.default_service(web::to(fallback));
                        }
                        cfg.service(s);
                    }
                }
            }
        }
    }
}

const SEGMENTS: &[&str] = &["a", "b", "s", "x", "7"];
const PREFIXES: &[&str] = &["", "/a", "/s", "/x"];
const HOSTS: &[&str] = &["a.example", "b.example", "localhost"];
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "HEAD"];
const BY_HAND: &[&str] = &["/a", "/b", "/{id}", "/s/a"];

fn node() -> impl Strategy<Value = Node> {
    let pool_len = m1::POOL.len() + m2::POOL.len();
    let leaf = prop_oneof![
        4 => (0..pool_len).prop_map(Node::Handler),
        1 => (
            prop::sample::select(BY_HAND),
            prop::option::of(prop::sample::select(&METHODS[..3]))
        )
            .prop_map(|(path, method)| Node::ByHand { path, method }),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        (
            prop::sample::select(PREFIXES),
            prop_oneof![
                Just(ScopeKind::Web),
                prop::sample::select(&HOSTS[..2]).prop_map(ScopeKind::Host),
                Just(ScopeKind::Plain),
            ],
            prop::bool::weighted(0.3),
            prop::collection::vec(inner, 0..5),
        )
            .prop_map(|(prefix, kind, default, children)| {
                Node::Scope(Box::new(ScopeSpec {
                    prefix,
                    kind,
                    default,
                    children,
                }))
            })
    })
}

fn path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(SEGMENTS), 0..4),
        any::<bool>(),
        0..6_usize,
        prop::option::of(0..3_usize),
    )
        .prop_map(|(segments, trailing, doubled, encoded)| {
            let mut segments: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
            if let Some(i) = encoded.filter(|i| *i < segments.len()) {
                let first = segments[i].as_bytes()[0];
                segments[i] = format!("%{first:02X}{}", &segments[i][1..]);
            }
            let mut path = format!("/{}", segments.join("/"));
            if trailing && path.len() > 1 {
                path.push('/');
            }
            if doubled < segments.len() {
                let at = path.match_indices('/').nth(doubled).map_or(0, |(i, _)| i);
                path.insert(at, '/');
            }
            path
        })
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop::sample::select(METHODS),
        prop::sample::select(HOSTS),
        any::<bool>(),
        path(),
    )
        .prop_map(|(method, host, pass, path)| Request {
            method,
            host,
            pass,
            path,
        })
}

fn app_spec() -> impl Strategy<Value = AppSpec> {
    (
        prop::collection::vec(node(), 1..8),
        prop::bool::weighted(0.3),
        prop::collection::vec(request(), 1..12),
    )
        .prop_map(|(nodes, default, requests)| AppSpec {
            nodes,
            default,
            requests,
        })
}

/// Runs one generated app; answers what went wrong, if anything.
async fn check(spec: AppSpec) -> Result<(), String> {
    let ran = Arc::new(Ran::default());
    let nodes = spec.nodes.clone();
    let mut app = App::new()
        .app_data(web::Data::from(Arc::clone(&ran)))
        .service(web::resource("/__probe").to(probe))
        .configure(move |cfg| add(cfg, &nodes));
    if spec.default {
        app = app.default_service(web::to(fallback));
    }
    let app = test::init_service(
        app.wrap(LoginRequired::new().public("/__probe"))
            .wrap(Permit::new(backend()))
            .wrap(session()),
    )
    .await;
    let public: Vec<&str> = pool()
        .filter(|s| s.kind == Kind::Public)
        .map(|s| s.id)
        .collect();
    for req in &spec.requests {
        let mut sent = test::TestRequest::default()
            .method(req.method.parse().unwrap())
            .insert_header(("host", req.host))
            .uri(&req.path);
        if req.pass {
            sent = sent.insert_header(("x-pass", "1"));
        }
        let seen = send(&app, sent, None).await;
        let ran = ran.take();
        if let Some(bad) = ran.iter().find(|id| !public.contains(id)) {
            return Err(format!(
                "{} {} (host {}) ran {bad} for an anonymous request: {} {:?}",
                req.method, req.path, req.host, seen.status, seen.body
            ));
        }
        if seen.status == StatusCode::OK && ran.is_empty() {
            return Err(format!(
                "{} {} answered 200 without a public handler: {:?}",
                req.method, req.path, seen.body
            ));
        }
    }
    let declared = send(&app, test::TestRequest::get().uri("/__probe"), None).await;
    let declared: Vec<(String, String, Vec<String>)> =
        serde_json::from_str(&declared.body).map_err(|e| e.to_string())?;
    for (id, path, methods) in declared {
        for method in methods {
            let sent = test::TestRequest::default()
                .method(method.parse().unwrap())
                .insert_header(("x-pass", "1"))
                .uri(&path);
            let seen = send(&app, sent, None).await;
            let ran = ran.take();
            if seen.status != StatusCode::OK
                || ran.first().map(|id| id.to_string()) != Some(id.clone())
            {
                return Err(format!(
                    "{method} {path}: declared reachable for {id}, answered {} after running {ran:?}",
                    seen.status
                ));
            }
        }
    }
    Ok(())
}

#[::core::prelude::v1::test]
fn anonymous_requests_run_only_public_handlers_in_any_app() {
    let cases = std::env::var("DENY_MODEL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        source_file: Some(file!()),
        ..Config::default()
    });
    let system = actix_rt::System::new();
    let outcome = runner.run(&app_spec(), |spec| {
        system
            .block_on(check(spec))
            .map_err(proptest::test_runner::TestCaseError::fail)
    });
    if let Err(err) = outcome {
        panic!("{err}");
    }
}
