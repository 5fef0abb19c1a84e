//! A session store with a deadline: while Redis is unreachable, its client
//! keeps reconnecting and a request could wait for minutes. Past the
//! deadline the session middleware answers 500 instead: the request fails
//! closed, promptly.

use std::collections::HashMap;
use std::time::Duration;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;

/// `store`, with every call bounded by `limit`.
#[derive(Clone)]
pub struct Deadline<S> {
    store: S,
    limit: Duration,
}

impl<S> Deadline<S> {
    pub fn new(store: S, limit: Duration) -> Self {
        Self { store, limit }
    }

    async fn bounded<T>(&self, call: impl Future<Output = T>) -> Result<T, anyhow::Error> {
        tokio::time::timeout(self.limit, call).await.map_err(|_| {
            anyhow::anyhow!("the session store did not answer within {:?}", self.limit)
        })
    }
}

impl<S: SessionStore> SessionStore for Deadline<S> {
    async fn load(&self, key: &SessionKey) -> Result<Option<HashMap<String, String>>, LoadError> {
        self.bounded(self.store.load(key))
            .await
            .map_err(LoadError::Other)?
    }

    async fn save(
        &self,
        state: HashMap<String, String>,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, SaveError> {
        self.bounded(self.store.save(state, ttl))
            .await
            .map_err(SaveError::Other)?
    }

    async fn update(
        &self,
        key: SessionKey,
        state: HashMap<String, String>,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        self.bounded(self.store.update(key, state, ttl))
            .await
            .map_err(UpdateError::Other)?
    }

    async fn update_ttl(
        &self,
        key: &SessionKey,
        ttl: &CookieDuration,
    ) -> Result<(), anyhow::Error> {
        self.bounded(self.store.update_ttl(key, ttl)).await?
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        self.bounded(self.store.delete(key)).await?
    }
}
