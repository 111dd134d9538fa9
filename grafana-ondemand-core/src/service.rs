//! The one trait every frontend talks to.

use crate::error::Result;
use crate::status::Status;
use async_trait::async_trait;

/// Starts, stops and reports one service on demand.
///
/// `start` and `stop` ask for the change and return at once with the status they produced;
/// both are idempotent. Use [`wait_for`](crate::wait_for) to wait for a state.
#[cfg_attr(feature = "automock", mockall::automock)]
#[async_trait]
pub trait ServiceController: Send + Sync {
    /// Asks for one task (a no-op when one is already starting or running).
    async fn start(&self) -> Result<Status>;
    /// Asks for no task (a no-op when already stopping or stopped).
    async fn stop(&self) -> Result<Status>;
    /// Reports the current status, checking the endpoint's health when a task runs.
    async fn status(&self) -> Result<Status>;
}

#[async_trait]
impl<T: ServiceController + ?Sized> ServiceController for std::sync::Arc<T> {
    async fn start(&self) -> Result<Status> {
        (**self).start().await
    }
    async fn stop(&self) -> Result<Status> {
        (**self).stop().await
    }
    async fn status(&self) -> Result<Status> {
        (**self).status().await
    }
}
