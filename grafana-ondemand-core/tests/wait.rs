//! `wait_for` on tokio's paused clock: on time, never past the deadline, through retries.
#![allow(clippy::unwrap_used)]

use async_trait::async_trait;
use grafana_ondemand_core::*;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Reports `Starting` until `ready_at`, then `Running`; the first `errors` calls fail.
struct Scripted {
    begun: Instant,
    ready_at: Duration,
    errors: Mutex<Vec<Error>>,
    polls: Mutex<Vec<Duration>>,
}

impl Scripted {
    fn new(ready_at: Duration, errors: Vec<Error>) -> Self {
        Scripted {
            begun: Instant::now(),
            ready_at,
            errors: Mutex::new(errors),
            polls: Mutex::new(vec![]),
        }
    }
}

fn status(state: State) -> Status {
    Status {
        state,
        endpoint: None,
        message: String::new(),
        reason: None,
        desired_count: 1,
        running_count: 0,
        pending_count: 0,
        task: None,
        healthy: false,
        ready_by: None,
        stops_at: None,
        last_activity_at: None,
        cost: None,
        timings: None,
    }
}

#[async_trait]
impl ServiceController for Scripted {
    async fn start(&self, _: Option<Duration>) -> Result<Status> {
        unreachable!("wait_for only reads")
    }
    async fn extend(&self, _: Duration) -> Result<Status> {
        unreachable!("wait_for only reads")
    }
    async fn stop(&self) -> Result<Status> {
        unreachable!("wait_for only reads")
    }
    async fn reap(&self) -> Result<Status> {
        unreachable!("wait_for only reads")
    }
    async fn status(&self) -> Result<Status> {
        self.polls.lock().unwrap().push(self.begun.elapsed());
        if let Some(e) = self.errors.lock().unwrap().pop() {
            return Err(e);
        }
        Ok(status(if self.begun.elapsed() >= self.ready_at {
            State::Running
        } else {
            State::Starting
        }))
    }
}

#[tokio::test(start_paused = true)]
async fn returns_soon_after_the_service_is_ready() {
    let c = Scripted::new(Duration::from_secs(41), vec![]);
    let s = wait_for(&c, State::Running, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(s.state, State::Running);
    let took = c.begun.elapsed();
    assert!(
        took >= Duration::from_secs(41) && took <= Duration::from_secs(43),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_schedule_is_sparse_early_dense_around_ready_time_and_backs_off() {
    let c = Scripted::new(Duration::from_secs(10_000), vec![]);
    let s = wait_for(&c, State::Running, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(
        s.state,
        State::Starting,
        "the deadline returns the last status"
    );
    let polls = c.polls.lock().unwrap().clone();
    let gaps: Vec<u64> = polls.windows(2).map(|w| (w[1] - w[0]).as_secs()).collect();
    assert_eq!(&gaps[..3], &[5, 5, 5]);
    assert!(gaps.iter().filter(|g| **g == 2).count() >= 30, "{gaps:?}");
    assert!(gaps.iter().all(|g| *g <= 15));
    assert_eq!(
        *polls.last().unwrap(),
        Duration::from_secs(300),
        "the last look is at the deadline, not past it"
    );
    assert!(polls.len() < 70, "{} polls in 5 minutes", polls.len());
}

#[tokio::test(start_paused = true)]
async fn retryable_errors_are_waited_through_and_others_end_the_wait() {
    let c = Scripted::new(
        Duration::from_secs(20),
        vec![Error::Throttled {
            action: "ecs:DescribeServices".into(),
        }],
    );
    assert_eq!(
        wait_for(&c, State::Running, Duration::from_secs(60))
            .await
            .unwrap()
            .state,
        State::Running
    );
    let c = Scripted::new(
        Duration::from_secs(20),
        vec![Error::PermissionDenied {
            action: "ecs:DescribeServices".into(),
        }],
    );
    assert!(matches!(
        wait_for(&c, State::Running, Duration::from_secs(60)).await,
        Err(Error::PermissionDenied { .. })
    ));
    let c = Scripted::new(
        Duration::from_secs(20),
        (0..100)
            .map(|_| Error::Throttled { action: "x".into() })
            .collect(),
    );
    assert!(
        matches!(
            wait_for(&c, State::Running, Duration::from_secs(30)).await,
            Err(Error::Throttled { .. })
        ),
        "only errors: the last one"
    );
}

#[tokio::test(start_paused = true)]
async fn a_zero_deadline_looks_once() {
    let c = Scripted::new(Duration::from_secs(20), vec![]);
    let s = wait_for(&c, State::Running, Duration::ZERO).await.unwrap();
    assert_eq!(s.state, State::Starting);
    assert_eq!(c.polls.lock().unwrap().len(), 1);
}
