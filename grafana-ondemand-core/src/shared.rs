//! Sharing one status among many watchers.

use crate::error::Result;
use crate::service::ServiceController;
use crate::status::Status;
use async_trait::async_trait;
use std::time::Duration;
use tokio::time::Instant;

/// A [`ServiceController`] whose `status` is asked of the backend at most once per `ttl`:
/// one request in flight, its answer shared by every caller until it is `ttl` old.
/// Actions (`start`, `extend`, `stop`, `reap`) pass through and make the next `status` fresh.
#[derive(Debug)]
pub struct SharedStatus<C> {
    inner: C,
    ttl: Duration,
    latest: tokio::sync::Mutex<Option<(Instant, Status)>>,
}

impl<C: ServiceController> SharedStatus<C> {
    /// Shares `inner`'s status for `ttl`.
    pub fn new(inner: C, ttl: Duration) -> Self {
        SharedStatus {
            inner,
            ttl,
            latest: tokio::sync::Mutex::new(None),
        }
    }

    async fn forget(&self) {
        *self.latest.lock().await = None;
    }
}

#[async_trait]
impl<C: ServiceController> ServiceController for SharedStatus<C> {
    async fn start(&self, lease: Option<Duration>) -> Result<Status> {
        let s = self.inner.start(lease).await;
        self.forget().await;
        s
    }

    async fn extend(&self, by: Duration) -> Result<Status> {
        let s = self.inner.extend(by).await;
        self.forget().await;
        s
    }

    async fn stop(&self) -> Result<Status> {
        let s = self.inner.stop().await;
        self.forget().await;
        s
    }

    async fn reap(&self) -> Result<Status> {
        let s = self.inner.reap().await;
        self.forget().await;
        s
    }

    async fn status(&self) -> Result<Status> {
        // Holding the lock across the call is the point: callers queue behind the one
        // request in flight and then read its answer.
        let mut latest = self.latest.lock().await;
        if let Some((at, status)) = latest.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(status.clone());
        }
        let status = self.inner.status().await?;
        *latest = Some((Instant::now(), status.clone()));
        Ok(status)
    }
}
