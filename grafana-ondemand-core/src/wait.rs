//! Waiting for a state, on tokio's clock, never past a deadline.

use crate::error::{Error, Result};
use crate::service::ServiceController;
use crate::state::State;
use crate::status::Status;
use std::time::Duration;
use tokio::time::Instant;

/// How long to wait before the next look, given how long the wait has lasted.
///
/// Fits Fargate: a task takes 30 to 60 s to answer, so the first 15 s poll every 5 s, the
/// window where it usually comes up every 2 s, and beyond 90 s the delay grows to 15 s.
pub fn poll_delay(elapsed: Duration) -> Duration {
    let secs = elapsed.as_secs();
    if secs < 15 {
        Duration::from_secs(5)
    } else if secs < 90 {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(((secs - 90) / 4).clamp(2, 15))
    }
}

/// Whether a wait for `target` is over once the service is in `state`.
fn settles(target: State, state: State) -> bool {
    state == target
        // Waiting for Running: a failure or a stop will not turn into Running by waiting.
        || (target == State::Running && matches!(state, State::Failed | State::Stopped))
}

/// Polls `controller` until it reaches `target` (or can no longer reach it), or `timeout`
/// passes; then returns the last status seen, so a caller can answer "still starting".
///
/// Retryable errors (throttling, time-outs) are waited through; others end the wait.
pub async fn wait_for<C>(controller: &C, target: State, timeout: Duration) -> Result<Status>
where
    C: ServiceController + ?Sized,
{
    let started = Instant::now();
    let deadline = started + timeout;
    let mut last: Option<Status> = None;
    let mut last_error: Option<Error> = None;
    loop {
        match controller.status().await {
            Ok(status) if settles(target, status.state) => return Ok(status),
            Ok(status) => last = Some(status),
            Err(e) if e.is_retryable() => {
                tracing::debug!(error = %e, "retrying after a transient error");
                last_error = Some(e);
            }
            Err(e) => return Err(e),
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep(poll_delay(now - started).min(deadline - now)).await;
    }
    match (last, last_error) {
        (Some(status), _) => Ok(status),
        (None, Some(e)) => Err(e),
        (None, None) => Err(Error::Timeout {
            action: "wait".into(),
            after: Some(timeout),
        }),
    }
}
