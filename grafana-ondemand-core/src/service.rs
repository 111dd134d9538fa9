//! The one trait every frontend talks to.

use crate::error::Result;
use crate::status::Status;
use async_trait::async_trait;
use std::time::Duration;

/// Starts, stops and reports one service on demand.
///
/// `start`, `extend` and `stop` ask for the change and return at once with the status they
/// produced; all are idempotent. Use [`wait_for`](crate::wait_for) to wait for a state.
#[cfg_attr(feature = "automock", mockall::automock)]
#[async_trait]
pub trait ServiceController: Send + Sync {
    /// Asks for one task (a no-op when one is already starting or running), kept at least
    /// for `lease` when given. A start while it runs counts as a use.
    async fn start(&self, lease: Option<Duration>) -> Result<Status>;
    /// Keeps a starting or running service `by` longer than it would have been kept
    /// (from its current lease's end, or from now).
    async fn extend(&self, by: Duration) -> Result<Status>;
    /// Asks for no task (a no-op when already stopping or stopped).
    async fn stop(&self) -> Result<Status>;
    /// Reports the current status, checking the endpoint's health when a task runs.
    async fn status(&self) -> Result<Status>;
    /// Stops the service if its session policy says so (no use, session limit), recording
    /// why; otherwise only reports.
    async fn reap(&self) -> Result<Status>;
}

#[async_trait]
impl<T: ServiceController + ?Sized> ServiceController for std::sync::Arc<T> {
    async fn start(&self, lease: Option<Duration>) -> Result<Status> {
        (**self).start(lease).await
    }
    async fn extend(&self, by: Duration) -> Result<Status> {
        (**self).extend(by).await
    }
    async fn stop(&self) -> Result<Status> {
        (**self).stop().await
    }
    async fn status(&self) -> Result<Status> {
        (**self).status().await
    }
    async fn reap(&self) -> Result<Status> {
        (**self).reap().await
    }
}
