//! Scenarios written once and run against every backend.
//!
//! A [`World`] gives a controller over some backend and the simulated ECS behind it (in
//! process, or served over the AWS wire protocols) to inject faults and count calls.
//! Time is tokio's: tests run with a paused clock, so minutes of ECS take milliseconds.

use grafana_ondemand::mock::{SimulatedEcs, Timing};
use grafana_ondemand::{Error, ServiceController, State, Status, wait_for};
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// A backend under test.
pub trait World: Send + Sync {
    /// The controller under test.
    fn controller(&self) -> &dyn ServiceController;
    /// The simulated ECS the backend talks to.
    fn ecs(&self) -> &SimulatedEcs;
    /// Calls of one operation the platform has seen.
    fn calls(&self, op: &str) -> u64 {
        self.ecs().call_count(op)
    }
}

const PATIENCE: Duration = Duration::from_secs(180);

fn timing(world: &impl World) -> Timing {
    world.ecs().timing()
}

async fn start_and_wait_running(world: &impl World) -> Status {
    world.controller().start().await.expect("start");
    let up = wait_for(world.controller(), State::Running, PATIENCE)
        .await
        .expect("wait");
    assert_eq!(up.state, State::Running, "{up:?}");
    up
}

/// A cold start ends Running on an endpoint that answers, and only then offers a URL.
pub async fn cold_start_reaches_an_answering_endpoint(world: &impl World) {
    let c = world.controller();
    assert_eq!(c.status().await.unwrap().state, State::Stopped);
    let started = c.start().await.unwrap();
    assert_eq!(started.state, State::Starting);
    assert!(started.endpoint.is_none(), "starting offers no URL");
    assert_eq!(started.desired_count, 1);

    let begun = Instant::now();
    let up = wait_for(c, State::Running, PATIENCE).await.unwrap();
    let took = begun.elapsed();
    assert_eq!(up.state, State::Running);
    let endpoint = up.endpoint.clone().expect("running carries an endpoint");
    assert!(
        world.ecs().is_answering(endpoint.ip),
        "the endpoint answers its health check"
    );
    assert_eq!(up.url().unwrap(), format!("http://{}:3000", endpoint.ip));
    assert!(up.healthy);
    assert_eq!((up.running_count, up.desired_count), (1, 1));
    assert!(
        took >= timing(world).cold_start()
            && took < timing(world).cold_start() + Duration::from_secs(10),
        "{took:?}"
    );
    assert_eq!(up.task.unwrap().phase.as_str(), "RUNNING");
}

/// Ten concurrent starts scale up once and place one task.
pub async fn concurrent_starts_scale_up_once(world: &impl World) {
    let c = world.controller();
    let all = join_all((0..10).map(|_| c.start())).await;
    for s in all {
        let s = s.unwrap();
        assert!(matches!(s.state, State::Starting), "{s:?}");
    }
    assert_eq!(world.calls("UpdateService"), 1);
    wait_for(c, State::Running, PATIENCE).await.unwrap();
    assert_eq!(world.ecs().alive_tasks(), 1);
    assert_eq!(
        c.start().await.unwrap().state,
        State::Running,
        "start while running is a no-op"
    );
    assert_eq!(world.calls("UpdateService"), 1);
}

/// A stop while the task is still coming up is Stopping, then Stopped.
pub async fn stop_while_starting(world: &impl World) {
    let c = world.controller();
    c.start().await.unwrap();
    sleep(timing(world).provisioning + Duration::from_secs(1)).await;
    let s = c.stop().await.unwrap();
    assert_eq!(s.state, State::Stopping, "{s:?}");
    assert!(s.endpoint.is_none());
    let down = wait_for(c, State::Stopped, PATIENCE).await.unwrap();
    assert_eq!(down.state, State::Stopped);
    assert_eq!(world.ecs().alive_tasks(), 0);
}

/// A stop while running is Stopping (never Running nor Stopped) until the task is gone.
pub async fn stop_while_running(world: &impl World) {
    let c = world.controller();
    start_and_wait_running(world).await;
    let s = c.stop().await.unwrap();
    assert_eq!(s.state, State::Stopping);
    assert!(s.endpoint.is_none(), "a stopping service offers no URL");
    sleep(Duration::from_secs(1)).await;
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Stopping, "{s:?}");
    assert!(s.url().is_none());
    let stopped = c.stop().await.unwrap();
    assert_eq!(stopped.state, State::Stopping, "stop is idempotent");
    assert_eq!(
        world.calls("UpdateService"),
        2,
        "one scale-up, one scale-down"
    );
    let down = wait_for(c, State::Stopped, PATIENCE).await.unwrap();
    assert_eq!(down.state, State::Stopped);
    assert_eq!((down.running_count, down.desired_count), (0, 0));
}

/// A launch that fails is Failed with ECS's reason; the next start clears it and succeeds.
pub async fn failed_launch_then_retry(world: &impl World) {
    let c = world.controller();
    world.ecs().fail_next_launches(
        1,
        "CannotPullContainerError: pull access denied for grafana/grafana-oss",
    );
    c.start().await.unwrap();
    let s = wait_for(c, State::Running, PATIENCE).await.unwrap();
    assert_eq!(s.state, State::Failed, "{s:?}");
    assert!(
        s.reason
            .as_deref()
            .unwrap()
            .contains("CannotPullContainerError"),
        "{s:?}"
    );
    assert!(s.message.contains("Start it again"), "{}", s.message);
    assert!(s.endpoint.is_none());
    let retry = c.start().await.unwrap();
    assert_eq!(
        retry.state,
        State::Starting,
        "the next start clears the failure: {retry:?}"
    );
    let up = wait_for(c, State::Running, PATIENCE).await.unwrap();
    assert_eq!(up.state, State::Running, "{up:?}");
}

/// A running task that crashes is Failed with its reason, until a replacement answers.
pub async fn crash_is_failed_until_replaced(world: &impl World) {
    let c = world.controller();
    start_and_wait_running(world).await;
    assert!(
        world
            .ecs()
            .crash_running_task("Essential container in task exited")
    );
    sleep(Duration::from_secs(1)).await;
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Failed, "{s:?}");
    assert_eq!(
        s.reason.as_deref(),
        Some("Essential container in task exited")
    );
    let t = timing(world);
    sleep(t.relaunch_delay + t.cold_start() + Duration::from_secs(5)).await;
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Running, "ECS replaced the task: {s:?}");
}

/// A task that runs before its public IP is known is Starting, with no URL, never `None`.
pub async fn running_task_without_public_ip_yet(world: &impl World) {
    let c = world.controller();
    let t = timing(world);
    c.start().await.unwrap();
    sleep(t.provisioning + t.pending + t.activating + t.public_ip_delay / 2).await;
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Starting, "{s:?}");
    assert_eq!(s.task.as_ref().unwrap().phase.as_str(), "RUNNING");
    assert!(s.reason.as_deref().unwrap().contains("public IP"), "{s:?}");
    assert!(s.url().is_none());
    assert!(!serde_json::to_string(&s).unwrap().contains("None"));
}

/// In a private subnet the task never gets a public IP: Starting, saying why, never a URL.
pub async fn no_public_ip_in_a_private_subnet(world: &impl World) {
    let c = world.controller();
    world.ecs().set_assign_public_ip(false);
    c.start().await.unwrap();
    sleep(timing(world).cold_start() * 2).await;
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Starting);
    assert!(s.reason.as_deref().unwrap().contains("public IP"));
    assert!(s.endpoint.is_none());
}

/// A task whose IP is known but whose service does not answer yet is still Starting.
pub async fn health_not_answering_yet(world: &impl World) {
    let c = world.controller();
    let t = timing(world);
    c.start().await.unwrap();
    sleep(t.provisioning + t.pending + t.activating + t.public_ip_delay + Duration::from_secs(1))
        .await;
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Starting, "{s:?}");
    assert!(!s.healthy);
    assert!(
        s.reason.as_deref().unwrap().contains("does not answer yet"),
        "{s:?}"
    );
    assert!(s.endpoint.is_none());
}

/// During a rolling deployment the old task serves until the new one answers, then drains.
pub async fn two_tasks_during_a_deployment(world: &impl World) {
    let c = world.controller();
    let first = start_and_wait_running(world).await;
    let first_id = first.task.unwrap().id;
    world.ecs().start_deployment();
    sleep(Duration::from_secs(10)).await;
    assert_eq!(world.ecs().alive_tasks(), 2, "old and new side by side");
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Running, "the old task still serves: {s:?}");
    assert_eq!(s.task.unwrap().id, first_id);
    sleep(timing(world).cold_start()).await;
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Running, "{s:?}");
    assert_ne!(
        s.task.unwrap().id,
        first_id,
        "the new deployment's task serves"
    );
    sleep(timing(world).shutdown() + Duration::from_secs(1)).await;
    assert_eq!(world.ecs().alive_tasks(), 1, "the old task drained");
}

/// Throttling while waiting is waited through.
pub async fn throttling_is_waited_through(world: &impl World) {
    let c = world.controller();
    c.start().await.unwrap();
    world.ecs().throttle_next_calls(4);
    let up = wait_for(c, State::Running, PATIENCE).await.unwrap();
    assert_eq!(up.state, State::Running);
}

/// A missing service is an error naming the service and the cluster, for every action.
pub async fn missing_service_is_named(world: &impl World) {
    world.ecs().delete_service();
    for result in [
        world.controller().status().await,
        world.controller().start().await,
    ] {
        match result {
            Err(Error::ServiceNotFound { cluster, service }) => {
                assert_eq!(
                    (cluster.as_str(), service.as_str()),
                    ("ondemand", "grafana")
                );
            }
            other => panic!("expected ServiceNotFound, got {other:?}"),
        }
    }
}

/// A wait that reaches its deadline returns the last status (still starting), on time.
pub async fn wait_hits_its_deadline(world: &impl World) {
    let c = world.controller();
    c.start().await.unwrap();
    let begun = Instant::now();
    let s = wait_for(c, State::Running, Duration::from_secs(12))
        .await
        .unwrap();
    let took = begun.elapsed();
    assert_eq!(s.state, State::Starting);
    assert!(
        took >= Duration::from_secs(12) && took < Duration::from_secs(13),
        "{took:?}"
    );
}

/// A steady running status costs two calls, a stopped one one call.
pub async fn status_is_cheap_in_calls(world: &impl World) {
    let c = world.controller();
    c.status().await.unwrap();
    world.ecs().reset_calls();
    c.status().await.unwrap();
    assert_eq!(
        world.ecs().total_calls(),
        1,
        "stopped: {:?}",
        world.ecs().calls()
    );
    start_and_wait_running(world).await;
    c.status().await.unwrap();
    world.ecs().reset_calls();
    assert_eq!(c.status().await.unwrap().state, State::Running);
    let calls = world.ecs().calls();
    assert_eq!(world.ecs().total_calls(), 2, "steady running: {calls:?}");
    assert_eq!((calls["DescribeServices"], calls["DescribeTasks"]), (1, 1));
}

/// Polls all the futures at once (a JoinSet would need 'static futures).
async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, r) in pinned.iter_mut().zip(results.iter_mut()) {
            if r.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *r = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

/// Runs every scenario against a world made by `$make` (an async expression).
#[macro_export]
macro_rules! scenario_suite {
    ($make:expr) => {
        $crate::scenario_suite!(@each $make;
            cold_start_reaches_an_answering_endpoint, concurrent_starts_scale_up_once,
            stop_while_starting, stop_while_running, failed_launch_then_retry,
            crash_is_failed_until_replaced, running_task_without_public_ip_yet,
            no_public_ip_in_a_private_subnet, health_not_answering_yet,
            two_tasks_during_a_deployment, throttling_is_waited_through,
            missing_service_is_named, wait_hits_its_deadline, status_is_cheap_in_calls);
    };
    (@each $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(start_paused = true)]
            async fn $name() {
                let world = $make;
                $crate::scenarios::$name(&world).await;
            }
        )*
    };
}
