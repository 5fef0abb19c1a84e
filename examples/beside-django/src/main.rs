//! A Rust API beside a Django site: the Django tutorial's polls, served by
//! actix-web with the site's own users, groups, permissions,
//! django-guardian grants, sessions and CSRF tokens. Configured only by
//! the environment Django's settings name (see the README); `beside-django
//! install-triggers` puts the exact cache's triggers on the site's tables.

use std::process::ExitCode;
use std::sync::Arc;

use actix_permit::backend::{DjangoBackend, DjangoCsrf, DjangoOptions, DjangoUser, Introspection};
use actix_permit::config::{Config, Denial};
use actix_permit::django::signing::SecretKeys;
use actix_permit::throttle::{MemoryThrottle, Throttle};
use actix_permit::{
    CurrentUser, Permit, authenticate, login, login_not_required, login_required, logout,
    permission_required,
};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, delete, get, patch, post, web};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{AnyPool, Row};

#[derive(Parser)]
#[command(name = "beside-django", about = "A Rust API beside a Django site")]
struct Cli {
    /// The Django site's database, as its DATABASES names it:
    /// sqlite://FILE or postgres://USER@HOST:PORT/NAME.
    #[arg(long, env = "DJANGO_DATABASE_URL")]
    database_url: String,
    /// The site's SECRET_KEY.
    #[arg(long, env = "DJANGO_SECRET_KEY", hide_env_values = true)]
    secret_key: String,
    /// The site's SECRET_KEY_FALLBACKS, comma-separated.
    #[arg(
        long,
        env = "DJANGO_SECRET_KEY_FALLBACKS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    secret_key_fallbacks: Vec<String>,
    /// The site's SESSION_ENGINE (its last part).
    #[arg(long, env = "DJANGO_SESSION_ENGINE", value_enum, default_value = "db")]
    session_engine: Engine,
    /// The site's SESSION_COOKIE_NAME.
    #[arg(long, env = "DJANGO_SESSION_COOKIE_NAME", default_value = "sessionid")]
    session_cookie_name: String,
    /// The site's SESSION_COOKIE_AGE, in seconds.
    #[arg(long, env = "DJANGO_SESSION_COOKIE_AGE", default_value_t = 1_209_600)]
    session_cookie_age: u32,
    /// The site's CSRF_TRUSTED_ORIGINS, comma-separated: pages there may
    /// call this API (the Django site's own origin, when the two are not
    /// served from one).
    #[arg(long, env = "DJANGO_CSRF_TRUSTED_ORIGINS", value_delimiter = ',')]
    csrf_trusted_origins: Vec<String>,
    /// The site's CSRF_USE_SESSIONS.
    #[arg(long, env = "DJANGO_CSRF_USE_SESSIONS")]
    csrf_use_sessions: bool,
    /// The Redis of the site's cache, for `cached_db` sessions.
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// The cache's KEY_PREFIX, for `cached_db` sessions.
    #[arg(long, env = "DJANGO_CACHE_KEY_PREFIX", default_value = "")]
    cache_key_prefix: String,
    /// The header a reverse proxy in front puts the client's address in
    /// (`X-Forwarded-For`), for the login throttle; unset: the peer
    /// address (behind a proxy without it, every client shares the
    /// proxy's).
    #[arg(long, env = "PERMIT_CLIENT_HEADER")]
    client_header: Option<actix_web::http::header::HeaderName>,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8001")]
    bind: String,
    #[command(subcommand)]
    command: Option<Command>,
}

/// `SESSION_ENGINE`'s last part, spelt as Django spells it.
#[derive(Clone, Copy, ValueEnum)]
enum Engine {
    Db,
    #[value(name = "cached_db")]
    CachedDb,
    #[value(name = "signed_cookies")]
    SignedCookies,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Put the exact cache's triggers on the site's tables (again after a
    /// migration that rebuilds one on SQLite).
    InstallTriggers,
    /// Take them off.
    RemoveTriggers,
    /// Print the SQL that installs them, for a Django migration's RunSQL.
    TriggerSql,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let run = async {
        let keys = SecretKeys::new(&cli.secret_key, cli.secret_key_fallbacks.clone());
        // The commands that manage the triggers need no cache (and no
        // warning that its triggers are missing).
        let serving = matches!(cli.command, None | Some(Command::Serve));
        let options = DjangoOptions::new().exact_cache(serving);
        let backend = DjangoBackend::connect_with(&cli.database_url, keys, options).await?;
        match cli.command {
            None | Some(Command::Serve) => serve(&cli, backend).await,
            Some(Command::InstallTriggers) => Ok(backend.install_triggers().await?),
            Some(Command::RemoveTriggers) => Ok(backend.remove_triggers().await?),
            Some(Command::TriggerSql) => {
                println!("{}", backend.trigger_sql());
                Ok(())
            }
        }
    };
    match actix_web::rt::System::new().block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("beside-django: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(cli: &Cli, backend: DjangoBackend) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&cli.database_url).await?;
    let sessions = backend
        .sessions()
        .cookie_name(&cli.session_cookie_name)
        .cookie_age(cli.session_cookie_age, false);
    let sessions = match cli.session_engine {
        Engine::Db => sessions,
        Engine::SignedCookies => sessions.signed_cookies(),
        Engine::CachedDb => {
            let redis = cli
                .redis_url
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("cached_db sessions need REDIS_URL"))?;
            sessions.cached_db(redis, &cli.cache_key_prefix, 1)?
        }
    };
    let mut csrf = DjangoCsrf::new()
        .session_cookie(&cli.session_cookie_name)
        .trusted_origins(cli.csrf_trusted_origins.clone())
        .render_with(|_, reason| {
            HttpResponse::Forbidden().json(json!({"error": "csrf", "detail": reason}))
        });
    if cli.csrf_use_sessions {
        csrf = csrf.use_sessions(sessions.clone());
    }
    let backend = Arc::new(backend);
    let mut throttle = Throttle::new(MemoryThrottle::new());
    if let Some(header) = &cli.client_header {
        throttle = throttle.client_header(header.clone());
    }
    let data = web::Data::new(Site {
        pool,
        backend: Arc::clone(&backend),
    });
    // Built once: every worker shares its password-hashing threads.
    let permit = Permit::new(Arc::clone(&backend))
        .identity(sessions)
        .throttle(throttle)
        .config(Config::default().render_with(json_denial));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(16_384)
                    .error_handler(|err, _| bad_request(err)),
            )
            .app_data(
                web::FormConfig::default()
                    .limit(16_384)
                    .error_handler(|err, _| bad_request(err)),
            )
            .app_data(web::PathConfig::default().error_handler(|_, _| {
                actix_web::error::InternalError::from_response(
                    "no such question",
                    HttpResponse::NotFound().json(json!({"error": "no such question"})),
                )
                .into()
            }))
            .service(me)
            .service(questions)
            .service(add_question)
            .service(change_question)
            .service(delete_question)
            .service(api_login)
            .service(api_logout)
            .wrap(permit.clone())
            .wrap(csrf.clone())
    })
    .bind(&cli.bind)?;
    for addr in server.addrs() {
        // The first line a supervisor (or a test) reads.
        println!("beside-django listening on http://{addr}/api/");
    }
    server.run().await?;
    Ok(())
}

/// Every denial as JSON, never a redirect: 403 for anonymous and refused
/// requests, 503 when the database does not answer, 429 when throttled.
fn json_denial(_: &HttpRequest, denial: &Denial<'_>) -> HttpResponse {
    HttpResponse::build(denial.reason().status()).json(json!({
        "error": denial.reason().as_str(),
        "missing": denial.missing_permissions(),
    }))
}

/// A body that does not read (malformed, too large, of another type):
/// 400 (or 413, 415) with a JSON body, as every answer here.
fn bad_request(err: impl actix_web::ResponseError + 'static) -> actix_web::Error {
    let status = err.status_code();
    let detail = err.to_string();
    actix_web::error::InternalError::from_response(
        err,
        HttpResponse::build(status).json(json!({"error": "bad_request", "detail": detail})),
    )
    .into()
}

struct Site {
    pool: AnyPool,
    backend: Arc<DjangoBackend>,
}

/// A failure past the checks: the database did not answer (503).
fn unavailable(err: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %err, "the database did not answer");
    HttpResponse::ServiceUnavailable().json(json!({"error": "unavailable"}))
}

#[login_required]
#[get("/api/me")]
async fn me(user: CurrentUser, site: web::Data<Site>) -> HttpResponse {
    let Some(django) = user.downcast::<DjangoUser>() else {
        return HttpResponse::InternalServerError().finish();
    };
    // As Django's user.get_all_permissions(): a superuser holds every
    // permission there is.
    let permissions: Vec<String> = if user.is_superuser() {
        match site.backend.defined_permissions().await {
            Ok(all) => all.unwrap_or_default(),
            Err(err) => return unavailable(err),
        }
    } else {
        match user.permissions().await {
            Ok(set) => {
                let mut perms: Vec<String> = set.iter().map(str::to_owned).collect();
                perms.sort_unstable();
                perms
            }
            Err(err) => return unavailable(err),
        }
    };
    HttpResponse::Ok().json(json!({
        "id": user.id().and_then(|id| id.parse::<i64>().ok()),
        "username": django.username(),
        "is_superuser": user.is_superuser(),
        "permissions": permissions,
    }))
}

#[permission_required("polls.view_question")]
#[get("/api/questions/")]
async fn questions(site: web::Data<Site>) -> HttpResponse {
    let rows = sqlx::query("SELECT id, question_text FROM polls_question ORDER BY id")
        .fetch_all(&site.pool)
        .await;
    match rows {
        Ok(rows) => {
            let list: Result<Vec<Value>, sqlx::Error> = rows.iter().map(question).collect();
            match list {
                Ok(list) => HttpResponse::Ok().json(list),
                Err(err) => unavailable(err),
            }
        }
        Err(err) => unavailable(err),
    }
}

fn question(row: &sqlx::any::AnyRow) -> Result<Value, sqlx::Error> {
    let id: i64 = row.try_get("id")?;
    let text: String = row.try_get("question_text")?;
    Ok(json!({"id": id, "question_text": text}))
}

#[derive(Deserialize)]
struct QuestionText {
    question_text: String,
}

/// The model's rule: `CharField(max_length=200)`, and not blank; the 400
/// that says so otherwise.
fn invalid(text: &str) -> Option<HttpResponse> {
    let length = text.chars().count();
    (text.trim().is_empty() || length > 200).then(|| {
        HttpResponse::BadRequest().json(json!({
            "error": "question_text must hold 1 to 200 characters",
        }))
    })
}

#[permission_required("polls.add_question")]
#[post("/api/questions/")]
async fn add_question(
    site: web::Data<Site>,
    body: web::Either<web::Json<QuestionText>, web::Form<QuestionText>>,
) -> HttpResponse {
    let text = match body {
        web::Either::Left(json) => json.into_inner().question_text,
        web::Either::Right(form) => form.into_inner().question_text,
    };
    if let Some(response) = invalid(&text) {
        return response;
    }
    let row = sqlx::query(
        "INSERT INTO polls_question (question_text, pub_date) VALUES ($1, CURRENT_TIMESTAMP) \
         RETURNING id, question_text",
    )
    .bind(text)
    .fetch_one(&site.pool)
    .await;
    match row.as_ref().map(question) {
        Ok(Ok(created)) => HttpResponse::Created().json(created),
        Ok(Err(err)) => unavailable(err),
        Err(err) => unavailable(err),
    }
}

#[permission_required("polls.change_question", object = "id")]
#[patch("/api/questions/{id}")]
async fn change_question(
    site: web::Data<Site>,
    id: web::Path<i64>,
    body: web::Json<QuestionText>,
) -> HttpResponse {
    if let Some(response) = invalid(&body.question_text) {
        return response;
    }
    let row = sqlx::query(
        "UPDATE polls_question SET question_text = $1 WHERE id = $2 RETURNING id, question_text",
    )
    .bind(body.into_inner().question_text)
    .bind(id.into_inner())
    .fetch_optional(&site.pool)
    .await;
    match row {
        Ok(Some(row)) => match question(&row) {
            Ok(changed) => HttpResponse::Ok().json(changed),
            Err(err) => unavailable(err),
        },
        Ok(None) => HttpResponse::NotFound().json(json!({"error": "no such question"})),
        Err(err) => unavailable(err),
    }
}

#[permission_required("polls.delete_question", object = "id")]
#[delete("/api/questions/{id}")]
async fn delete_question(site: web::Data<Site>, id: web::Path<i64>) -> HttpResponse {
    let done = sqlx::query("DELETE FROM polls_question WHERE id = $1")
        .bind(id.into_inner())
        .execute(&site.pool)
        .await;
    match done {
        Ok(done) if done.rows_affected() == 0 => {
            HttpResponse::NotFound().json(json!({"error": "no such question"}))
        }
        Ok(_) => HttpResponse::NoContent().finish(),
        Err(err) => unavailable(err),
    }
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

#[login_not_required]
#[post("/api/login")]
async fn api_login(
    req: HttpRequest,
    body: web::Either<web::Json<Credentials>, web::Form<Credentials>>,
) -> HttpResponse {
    let credentials = match body {
        web::Either::Left(json) => json.into_inner(),
        web::Either::Right(form) => form.into_inner(),
    };
    match authenticate(&req, &credentials.username, &credentials.password).await {
        Ok(Some(user)) => match login(&req, &*user).await {
            Ok(()) => HttpResponse::Ok().json(json!({
                "id": user.id().parse::<i64>().ok(),
                "username": credentials.username,
            })),
            Err(err) => unavailable(err),
        },
        Ok(None) => HttpResponse::Unauthorized().json(json!({"error": "invalid credentials"})),
        Err(err) => {
            let status = actix_web::ResponseError::status_code(&err);
            HttpResponse::build(status).json(json!({"error": err.reason().as_str()}))
        }
    }
}

#[login_not_required]
#[post("/api/logout")]
async fn api_logout(req: HttpRequest) -> HttpResponse {
    match logout(&req).await {
        Ok(()) => HttpResponse::Ok().json(json!({})),
        Err(err) => unavailable(err),
    }
}
