//! PostgreSQL: a listener on its own thread keeps the exact cache exact
//! (`LISTEN permit_auth`, fed by the migrations' triggers).

use std::sync::{Arc, Weak};
use std::time::Duration;

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::oneshot;

use super::ExactCache;

/// The channel the triggers notify on.
const CHANNEL: &str = "permit_auth";

/// Waits between reconnection attempts, doubling up to the last.
const BACKOFF: [u64; 6] = [10, 50, 100, 250, 500, 1000];

/// Stops the listener thread when dropped.
pub(crate) struct ListenerHandle {
    _stop: oneshot::Sender<()>,
}

/// Starts the thread that listens on `permit_auth` for the cache: it
/// marks the cache up once `LISTEN` is in place, applies each
/// notification, and marks it down (bypassed, emptied) the moment the
/// connection is lost, until it is back.
pub(crate) fn spawn_listener(
    url: String,
    cache: &Arc<ExactCache>,
) -> std::io::Result<ListenerHandle> {
    let (stop, stopped) = oneshot::channel();
    let cache = Arc::downgrade(cache);
    std::thread::Builder::new()
        .name("permit-listener".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(err) => {
                    tracing::error!(error = %err, "cannot start the cache listener: the user cache stays bypassed");
                    return;
                }
            };
            rt.block_on(async move {
                tokio::select! {
                    () = listen(&url, &cache) => {}
                    _ = stopped => {}
                }
            });
        })?;
    Ok(ListenerHandle { _stop: stop })
}

async fn listen(url: &str, cache: &Weak<ExactCache>) {
    let mut failures = 0usize;
    loop {
        match connect(url).await {
            Ok(mut listener) => {
                let Some(strong) = cache.upgrade() else {
                    return;
                };
                strong.up();
                if failures > 0 {
                    tracing::info!("cache listener reconnected: the user cache is in use again");
                }
                failures = 0;
                drop(strong);
                let err = loop {
                    match listener.try_recv().await {
                        Ok(Some(note)) => match cache.upgrade() {
                            Some(cache) => cache.apply(note.payload()),
                            None => return,
                        },
                        Ok(None) => break "connection lost".to_owned(),
                        Err(err) => break err.to_string(),
                    }
                };
                if let Some(cache) = cache.upgrade() {
                    cache.down();
                }
                tracing::warn!(error = %err, "cache listener disconnected: the user cache is bypassed until it is back");
            }
            Err(err) => {
                if failures == 0 {
                    tracing::warn!(error = %err, "cache listener cannot connect: the user cache is bypassed");
                }
                failures += 1;
            }
        }
        let wait = BACKOFF[failures.min(BACKOFF.len() - 1)];
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if cache.strong_count() == 0 {
            return;
        }
    }
}

/// A listener on a connection of its own, named
/// `actix-permit listener (pid N)` in `pg_stat_activity`. It does not
/// reconnect by itself: [`listen`] must see every loss.
async fn connect(url: &str) -> Result<PgListener, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.application_name(&format!(
        "actix-permit listener (pid {})",
        std::process::id()
    ));
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(options)
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.ignore_pool_close_event(true);
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
