//! Credentials a source refuses, and requests two sources claim: a bearer
//! source beside the session (`identity::OneOf`). A bad token is a 401
//! with `WWW-Authenticate: Bearer error="invalid_token"`, never anonymous;
//! a cookie and a token together are refused as ambiguous; refusals are
//! counted against the client by the throttle.

use std::sync::Arc;

use actix_permit::identity::{Claim, IdentifyError, IdentitySource, OneOf, Rejection, Sessions};
use actix_permit::throttle::{MemoryThrottle, Throttle};
use actix_permit::{AuthUser, LoginError, Permit, permission_required};
use actix_web::cookie::Cookie;
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpRequest, HttpResponse, get, test, web};
use proptest::prelude::*;

use crate::support::{Hits, backend, login_as, session, session_routes};

/// `Authorization: Bearer <token>`: the tokens below, each a user and its
/// scopes; any other bearer token is refused; another scheme is not ours.
struct Bearer;

const TOKENS: [(&str, &str, &[&str]); 2] = [
    ("tok-direct-change", "2", &["inventory.change_item"]),
    ("tok-direct-view", "2", &["inventory.view_item"]),
];

impl IdentitySource for Bearer {
    async fn identify(&self, req: &HttpRequest) -> Result<Option<Claim>, IdentifyError> {
        let Some(value) = req.headers().get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) else {
            return Ok(None);
        };
        match TOKENS.iter().find(|(known, _, _)| *known == token) {
            Some((_, user, scopes)) => Ok(Some(
                Claim::new(*user, None).limited_to(scopes.iter().copied()),
            )),
            None => Err(Rejection::invalid_token().into()),
        }
    }

    async fn login(&self, _: &HttpRequest, _: &dyn AuthUser) -> Result<(), LoginError> {
        Err(LoginError::Unsupported)
    }

    async fn logout(&self, _: &HttpRequest) -> Result<(), LoginError> {
        Ok(())
    }
}

#[permission_required("inventory.change_item")]
#[get("/change")]
async fn change(hits: web::Data<Hits>) -> HttpResponse {
    hits.hit();
    HttpResponse::Ok().body("changed")
}

macro_rules! both_app {
    ($permit:expr, $hits:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::from($hits))
                .configure(session_routes)
                .service(change)
                .wrap($permit.identity(OneOf::new(Sessions, Bearer)))
                .wrap(session()),
        )
        .await
    };
}

/// What the client sends.
#[derive(Debug, Clone)]
enum Token {
    None,
    Known(usize),
    Unknown(String),
    OtherScheme,
}

fn token() -> impl Strategy<Value = Token> {
    prop_oneof![
        Just(Token::None),
        (0..TOKENS.len()).prop_map(Token::Known),
        "[ -~]{0,40}".prop_map(Token::Unknown),
        Just(Token::OtherScheme),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Over generated cookies and `Authorization` headers: the answer is
    /// the model's (one claim decides; a refused token is a 401 with its
    /// challenge; two claims are a 401 `invalid_request`), and the handler
    /// runs exactly on a 200.
    #[core::prelude::v1::test]
    fn one_credential_decides_and_a_bad_one_is_refused(
        cookie in prop_oneof![Just(None), Just(Some("plain")), Just(Some("direct")), Just(Some("garbage"))],
        token in token(),
    ) {
        actix_rt::System::new().block_on(async move {
            let hits = Arc::new(Hits::default());
            let app = both_app!(Permit::new(backend()), hits.clone());
            let jar = match cookie {
                Some("garbage") => Some(Cookie::new("id", "not a session")),
                Some(name) => login_as(&app, name).await,
                None => None,
            };
            let mut req = test::TestRequest::get().uri("/change");
            if let Some(jar) = &jar {
                req = req.cookie(jar.clone());
            }
            let sent = match &token {
                Token::None => None,
                Token::Known(i) => Some(format!("Bearer {}", TOKENS[*i].0)),
                Token::Unknown(t) => Some(format!("Bearer {t}")),
                Token::OtherScheme => Some("Basic cGxhaW46cHc=".to_owned()),
            };
            if let Some(sent) = &sent {
                req = req.insert_header((header::AUTHORIZATION, sent.as_str()));
            }
            let res = test::call_service(&app, req.to_request()).await;
            let challenge = res
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap().to_owned());
            // The model.
            let session = matches!(cookie, Some("plain" | "direct")).then(|| cookie.unwrap());
            let bearer: Result<Option<&str>, ()> = match &token {
                Token::None | Token::OtherScheme => Ok(None),
                Token::Known(i) => Ok(Some(TOKENS[*i].0)),
                Token::Unknown(t) if TOKENS.iter().any(|(known, _, _)| known == t) => Ok(Some(t.as_str())),
                Token::Unknown(_) => Err(()),
            };
            let (status, expected_challenge) = match (session, bearer) {
                (_, Err(())) => (StatusCode::UNAUTHORIZED, Some("Bearer error=\"invalid_token\"")),
                (Some(_), Ok(Some(_))) => (StatusCode::UNAUTHORIZED, Some("Bearer error=\"invalid_request\"")),
                (Some(user), Ok(None)) => (if user == "direct" { StatusCode::OK } else { StatusCode::FORBIDDEN }, None),
                (None, Ok(Some(token))) => (if token == "tok-direct-change" { StatusCode::OK } else { StatusCode::FORBIDDEN }, None),
                (None, Ok(None)) => (StatusCode::FORBIDDEN, None),
            };
            prop_assert_eq!(res.status(), status, "{:?} {:?}", cookie, token);
            prop_assert_eq!(challenge.as_deref(), expected_challenge);
            prop_assert_eq!(hits.get(), usize::from(status == StatusCode::OK));
            Ok(())
        })?;
    }
}

/// Refused tokens count against the client: past the limit a 429 with
/// `Retry-After` for that client's refused tokens, while its good token
/// and other clients are unaffected.
#[actix_rt::test]
async fn refused_tokens_are_throttled_per_client() {
    let hits = Arc::new(Hits::default());
    let throttle = Throttle::new(MemoryThrottle::new()).per_client(3);
    let app = both_app!(Permit::new(backend()).throttle(throttle), hits.clone());
    let from = |addr: &str, token: &str| {
        test::TestRequest::get()
            .uri("/change")
            .peer_addr(format!("{addr}:4000").parse().unwrap())
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request()
    };
    for _ in 0..3 {
        let res = test::call_service(&app, from("203.0.113.7", "guess")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = test::call_service(&app, from("203.0.113.7", "guess")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key(header::RETRY_AFTER));
    let res = test::call_service(&app, from("203.0.113.7", "tok-direct-change")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = test::call_service(&app, from("198.51.100.2", "guess")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(hits.get(), 1);
}
