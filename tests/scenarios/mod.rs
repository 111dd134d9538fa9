//! Scenarios written once and run against every backend.
//!
//! A [`World`] gives a controller over some backend and the simulated ECS behind it (in
//! process, or served over the AWS wire protocols) to inject faults and count calls.
//! Time is tokio's: tests run with a paused clock, so minutes of ECS take milliseconds.

use grafana_ondemand::mock::{SimulatedEcs, Timing};
use grafana_ondemand::{
    AddressKind, Error, ReadinessSource, ReadyBy, ServiceController, ServiceProfile, State, Status,
    TaskPhase, wait_for,
};
use std::time::Duration;
use tokio::time::{Instant, sleep};

mod door;
mod names;
mod services;
mod sessions;
mod wake;
pub use door::*;
pub use names::*;
pub use services::*;
pub use sessions::*;
pub use wake::*;

/// A backend under test.
#[allow(async_fn_in_trait)] // test-only, used through generics
pub trait World: Send + Sync {
    /// The controller under test.
    fn controller(&self) -> &dyn ServiceController;
    /// The simulated ECS the backend talks to.
    fn ecs(&self) -> &SimulatedEcs;
    /// A second controller on the same service, with its own memory and lock, as a second
    /// process (another Lambda instance) has.
    async fn another_controller(&self, profile: ServiceProfile) -> Box<dyn ServiceController>;
    /// A controller that keeps `profile`'s public name in `zone`, and sends notices of the
    /// events it handles to `notifier`.
    async fn named_controller(
        &self,
        profile: ServiceProfile,
        zone: grafana_ondemand::HostedZone,
        notifier: std::sync::Arc<dyn grafana_ondemand::Notifier>,
    ) -> Box<dyn Watcher>;
    /// A controller that writes `door`'s entry, and sends notices of the events it handles
    /// to `notifier`.
    async fn door_controller(
        &self,
        profile: ServiceProfile,
        door: grafana_ondemand::FrontDoor,
        notifier: std::sync::Arc<dyn grafana_ondemand::Notifier>,
    ) -> Box<dyn Watcher>;
    /// Calls of one operation the platform has seen.
    fn calls(&self, op: &str) -> u64 {
        self.ecs().call_count(op)
    }
}

pub const PATIENCE: Duration = Duration::from_secs(180);

fn timing(world: &impl World) -> Timing {
    world.ecs().timing()
}

pub async fn start_and_wait_running(world: &impl World) -> Status {
    world.controller().start(None).await.expect("start");
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
    let started = c.start(None).await.unwrap();
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

/// The module's deployment configuration (minimum healthy 0, maximum 100): a new deployment
/// stops the old task before it places the new one, so status says starting in between and
/// never two tasks in service at once. (ECS counts only RUNNING and PENDING tasks: the new one
/// may be placed while the old container still shuts down, up to its stop timeout. That
/// overlap is ECS's own, said in the README.)
pub async fn a_deployment_stops_the_old_task_before_the_new_one(world: &impl World) {
    let c = world.controller();
    let first = start_and_wait_running(world).await;
    let first_id = first.task.unwrap().id;
    world.ecs().start_deployment();
    let mut between = false;
    for _ in 0..PATIENCE.as_secs() / 2 {
        sleep(Duration::from_secs(2)).await;
        let in_service = world
            .ecs()
            .tasks()
            .iter()
            .filter(|t| {
                t.desired_status == TaskPhase::Running
                    && matches!(
                        t.last_status,
                        TaskPhase::Provisioning
                            | TaskPhase::Pending
                            | TaskPhase::Activating
                            | TaskPhase::Running
                    )
            })
            .count();
        assert!(in_service <= 1, "{:?}", world.ecs().task_phases());
        let s = c.status().await.unwrap();
        between |= s.state == State::Starting;
        if s.state == State::Running && s.task.as_ref().unwrap().id != first_id {
            assert!(between, "the service said starting while it had no Grafana");
            return;
        }
    }
    panic!("the new deployment's task never served");
}

/// Ten concurrent starts scale up once and place one task.
pub async fn concurrent_starts_scale_up_once(world: &impl World) {
    let c = world.controller();
    let all = join_all((0..10).map(|_| c.start(None))).await;
    for s in all {
        let s = s.unwrap();
        assert!(matches!(s.state, State::Starting), "{s:?}");
    }
    assert_eq!(world.calls("UpdateService"), 1);
    wait_for(c, State::Running, PATIENCE).await.unwrap();
    assert_eq!(world.ecs().alive_tasks(), 1);
    assert_eq!(
        c.start(None).await.unwrap().state,
        State::Running,
        "start while running is a no-op"
    );
    assert_eq!(world.calls("UpdateService"), 1);
}

/// A stop while the task is still coming up is Stopping, then Stopped.
pub async fn stop_while_starting(world: &impl World) {
    let c = world.controller();
    c.start(None).await.unwrap();
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
    c.start(None).await.unwrap();
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
    let retry = c.start(None).await.unwrap();
    assert_eq!(
        retry.state,
        State::Starting,
        "the next start clears the failure: {retry:?}"
    );
    let up = wait_for(c, State::Running, PATIENCE).await.unwrap();
    assert_eq!(up.state, State::Running, "{up:?}");
}

/// A task that cannot pull its image for lack of a route (no internet gateway, no NAT) is
/// Failed with ECS's words, not an endless "starting".
pub async fn image_pull_without_a_route_is_failed(world: &impl World) {
    let c = world.controller();
    let reason = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request failed caused by: Post \"https://api.ecr.eu-west-3.amazonaws.com/\": dial tcp 13.36.0.1:443: i/o timeout";
    world.ecs().fail_next_launches(5, reason);
    c.start(None).await.unwrap();
    let s = wait_for(c, State::Running, PATIENCE).await.unwrap();
    assert_eq!(s.state, State::Failed, "{s:?}");
    assert_eq!(s.reason.as_deref(), Some(reason));
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
    c.start(None).await.unwrap();
    sleep(t.provisioning + t.pending + t.activating + t.public_ip_delay / 2).await;
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Starting, "{s:?}");
    assert_eq!(s.task.as_ref().unwrap().phase.as_str(), "RUNNING");
    assert!(s.reason.as_deref().unwrap().contains("public IP"), "{s:?}");
    assert!(s.url().is_none());
    assert!(!serde_json::to_string(&s).unwrap().contains("None"));
}

/// With `assignPublicIp` DISABLED no public address can ever appear: Failed as soon as the
/// task has its interface, saying what to set; a controller on the private address works.
pub async fn no_public_ip_in_a_private_subnet(world: &impl World) {
    let c = world.controller();
    world.ecs().set_assign_public_ip(false);
    c.start(None).await.unwrap();
    let t = timing(world);
    sleep(t.provisioning + Duration::from_secs(1)).await;
    let s = c.status().await.unwrap();
    assert_eq!(
        s.state,
        State::Failed,
        "said at once, not after a wait: {s:?}"
    );
    assert!(
        s.message.contains("SERVICE_ADDRESS=private"),
        "{}",
        s.message
    );
    assert!(
        s.reason
            .as_deref()
            .unwrap()
            .contains("assignPublicIp is DISABLED")
    );
    assert!(s.endpoint.is_none());
    let private = world
        .another_controller(ServiceProfile {
            address: AddressKind::Private,
            ..ServiceProfile::grafana()
        })
        .await;
    let up = wait_for(private.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap();
    assert_eq!(up.state, State::Running, "{up:?}");
    assert!(up.url().unwrap().starts_with("http://127.0.1."), "{up:?}");
}

/// The Lambda's case: no network path to the task. ECS's container health alone brings the
/// status to Running, saying so; a controller that may only probe stays Starting, saying why.
pub async fn unreachable_task_runs_on_ecs_health(world: &impl World) {
    world.ecs().set_reachable(false);
    let lambda = world
        .another_controller(ServiceProfile {
            readiness: ReadinessSource::Ecs,
            ..ServiceProfile::grafana()
        })
        .await;
    let probe_only = world
        .another_controller(ServiceProfile {
            readiness: ReadinessSource::Http,
            ..ServiceProfile::grafana()
        })
        .await;
    lambda.start(None).await.unwrap();
    let t = timing(world);
    sleep(t.cold_start() - Duration::from_secs(1)).await;
    let early = lambda.status().await.unwrap();
    assert_eq!(
        early.state,
        State::Starting,
        "answers, but no check passed yet"
    );
    assert!(early.reason.unwrap().contains("container health check"));
    let up = wait_for(lambda.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap();
    assert_eq!(up.state, State::Running, "{up:?}");
    assert_eq!(up.ready_by, Some(ReadyBy::EcsHealth));
    let s = probe_only.status().await.unwrap();
    assert_eq!(s.state, State::Starting, "{s:?}");
    assert!(s.reason.unwrap().contains("could not be reached"));
    // The default controller trusts either source: ECS's health, with no probe that connects.
    let any = world.controller().status().await.unwrap();
    assert_eq!(
        (any.state, any.ready_by),
        (State::Running, Some(ReadyBy::EcsHealth))
    );
}

/// EC2 deletes a draining task's interface: a cold controller during the drain still finds
/// the new task's address.
pub async fn enis_vanish_while_tasks_drain(world: &impl World) {
    // A rolling deployment (old and new side by side), as a service configured so would have.
    world.ecs().set_deployment_configuration(100, 200);
    let first = start_and_wait_running(world).await;
    world.ecs().start_deployment();
    let t = timing(world);
    // The new task turns healthy, the old one drains into DEPROVISIONING.
    sleep(t.cold_start() + t.deactivating + t.stopping + Duration::from_secs(2)).await;
    assert!(
        world
            .ecs()
            .task_phases()
            .contains(&TaskPhase::Deprovisioning),
        "{:?}",
        world.ecs().task_phases()
    );
    let cold = world.another_controller(ServiceProfile::grafana()).await;
    let s = cold.status().await.unwrap();
    assert_eq!(s.state, State::Running, "{s:?}");
    assert!(s.url().unwrap().starts_with("http://127.0.0."));
    assert_ne!(s.task.unwrap().id, first.task.unwrap().id);
}

/// DescribeServices' counts lag the tasks: the status reads the tasks, both ways.
pub async fn counts_lag_the_tasks(world: &impl World) {
    world.ecs().set_count_lag(Duration::from_secs(600));
    let up = start_and_wait_running(world).await;
    assert_eq!((up.running_count, up.pending_count), (1, 0), "{up:?}");
    let counted = grafana_ondemand::Platform::describe_service(world.ecs())
        .await
        .unwrap();
    assert_eq!(counted.running_count, 0, "ECS's own count still lags");
    world.controller().stop().await.unwrap();
    sleep(timing(world).shutdown() + Duration::from_secs(2)).await;
    let cold = world.another_controller(ServiceProfile::grafana()).await;
    let s = cold.status().await.unwrap();
    assert_eq!(
        s.state,
        State::Stopped,
        "the task is gone, whatever the counts: {s:?}"
    );
}

/// ListTasks pages: a task on a later page is found.
pub async fn list_tasks_in_pages(world: &impl World) {
    world.ecs().set_list_page_size(1);
    world
        .ecs()
        .fail_next_launches(3, "CannotPullContainerError: ref not found");
    world.controller().start(None).await.unwrap();
    let t = timing(world);
    sleep((t.provisioning + t.pending + t.deprovisioning + t.relaunch_delay) * 3 + t.cold_start())
        .await;
    let cold = world.another_controller(ServiceProfile::grafana()).await;
    world.ecs().reset_calls();
    let s = cold.status().await.unwrap();
    assert_eq!(s.state, State::Running, "{s:?}");
    assert!(
        world.calls("ListTasks") >= 4,
        "one running and three stopped tasks, a page each: {:?}",
        world.ecs().calls()
    );
}

/// A task ListTasks names but DescribeTasks does not see yet (a `failures` entry) is said.
pub async fn a_task_not_described_yet(world: &impl World) {
    let c = world.controller();
    c.start(None).await.unwrap();
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Starting);
    assert_eq!(
        s.reason.as_deref(),
        Some("ECS placed a task; it is not described yet"),
        "{s:?}"
    );
    sleep(Duration::from_secs(2)).await;
    let s = c.status().await.unwrap();
    assert_eq!(
        s.reason.as_deref(),
        Some("the task is PROVISIONING"),
        "{s:?}"
    );
}

/// ECS cannot place the task (Fargate Spot capacity): its words, then Failed; a new start
/// retries with a fresh deployment.
pub async fn placement_failures_are_said_then_failed(world: &impl World) {
    let c = world.controller();
    world.ecs().fail_next_placements(
        2,
        "Capacity is unavailable at this time. Please try again later or in a different availability zone.",
    );
    c.start(None).await.unwrap();
    sleep(Duration::from_secs(1)).await;
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Starting, "{s:?}");
    assert!(s.reason.unwrap().contains("Capacity is unavailable"));
    let s = wait_for(c, State::Running, PATIENCE).await.unwrap();
    assert_eq!(s.state, State::Failed, "placement keeps failing: {s:?}");
    assert!(s.message.contains("cannot place"), "{}", s.message);
    assert_eq!(world.ecs().deployments_created(), 1);
    c.start(None).await.unwrap();
    assert_eq!(
        world.ecs().deployments_created(),
        2,
        "a start from failed redeploys"
    );
    let up = wait_for(c, State::Running, PATIENCE).await.unwrap();
    assert_eq!(up.state, State::Running, "{up:?}");
}

/// In an IPv6-only subnet the task is reached on its IPv6 address.
pub async fn ipv6_only_task_is_reached_over_ipv6(world: &impl World) {
    world.ecs().set_ipv6_only(true);
    let up = start_and_wait_running(world).await;
    let url = up.url().unwrap();
    assert!(url.starts_with("http://[::ffff:127.0.0."), "{url}");
    assert!(up.endpoint.unwrap().ip.is_ipv6());
}

/// Two controllers (two Lambda instances) starting at once make one deployment and one task.
pub async fn two_controllers_start_one_deployment(world: &impl World) {
    let a = world.another_controller(ServiceProfile::grafana()).await;
    let b = world.another_controller(ServiceProfile::grafana()).await;
    let both = join_all([a.start(None), b.start(None)].into_iter()).await;
    for s in both {
        assert_eq!(s.unwrap().state, State::Starting);
    }
    let updates = world.calls("UpdateService");
    assert!((1..=2).contains(&updates), "{updates}");
    let up = wait_for(a.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap();
    assert_eq!(up.state, State::Running);
    assert_eq!(b.start(None).await.unwrap().state, State::Running);
    assert_eq!(
        world.ecs().deployments_created(),
        1,
        "no start forced a deployment"
    );
    assert_eq!(world.ecs().alive_tasks(), 1);
}

/// A task whose IP is known but whose service does not answer yet is still Starting.
pub async fn health_not_answering_yet(world: &impl World) {
    let c = world.controller();
    let t = timing(world);
    c.start(None).await.unwrap();
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
    // Not the module's configuration (0 and 100: see the next scenario): a rolling one, as a
    // service configured with 100 and 200 has.
    world.ecs().set_deployment_configuration(100, 200);
    let c = world.controller();
    let first = start_and_wait_running(world).await;
    let first_id = first.task.unwrap().id;
    world.ecs().start_deployment();
    sleep(Duration::from_secs(10)).await;
    assert_eq!(world.ecs().alive_tasks(), 2, "old and new side by side");
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Running, "the old task still serves: {s:?}");
    assert_eq!(s.task.unwrap().id, first_id);
    // Never a flip to Starting: the old task serves until the new one is confirmed.
    let t = timing(world);
    let mut saw_the_new_one_running_unconfirmed = false;
    for _ in 0..(t.cold_start().as_secs() / 2) {
        sleep(Duration::from_secs(2)).await;
        let s = c.status().await.unwrap();
        assert_eq!(s.state, State::Running, "{s:?}");
        saw_the_new_one_running_unconfirmed |= s.task.as_ref().unwrap().id == first_id
            && world
                .ecs()
                .task_phases()
                .iter()
                .filter(|p| **p == TaskPhase::Running)
                .count()
                == 2;
    }
    assert!(
        saw_the_new_one_running_unconfirmed,
        "the case was exercised"
    );
    sleep(t.cold_start()).await;
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
    c.start(None).await.unwrap();
    world.ecs().throttle_next_calls(4);
    let up = wait_for(c, State::Running, PATIENCE).await.unwrap();
    assert_eq!(up.state, State::Running);
}

/// A missing service is an error naming the service and the cluster, for every action.
pub async fn missing_service_is_named(world: &impl World) {
    world.ecs().delete_service();
    for result in [
        world.controller().status().await,
        world.controller().start(None).await,
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
    c.start(None).await.unwrap();
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

/// A steady running status costs three calls in one round trip (the service, its task and
/// its request log), a stopped one one call.
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
    assert_eq!(world.ecs().total_calls(), 3, "steady running: {calls:?}");
    assert_eq!(
        (
            calls["DescribeServices"],
            calls["DescribeTasks"],
            calls["FilterLogEvents"]
        ),
        (1, 1, 1)
    );
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
            two_tasks_during_a_deployment, a_deployment_stops_the_old_task_before_the_new_one,
            throttling_is_waited_through,
            missing_service_is_named, wait_hits_its_deadline, status_is_cheap_in_calls,
            unreachable_task_runs_on_ecs_health, enis_vanish_while_tasks_drain,
            counts_lag_the_tasks, list_tasks_in_pages, a_task_not_described_yet,
            placement_failures_are_said_then_failed, ipv6_only_task_is_reached_over_ipv6,
            two_controllers_start_one_deployment, image_pull_without_a_route_is_failed,
            unused_session_stops_after_the_grace, used_then_left_stops_after_the_idle_timeout,
            used_without_pause_stops_at_the_session_limit, a_lease_holds_it_past_idleness,
            an_extend_while_the_reaper_decides_wins, unreadable_activity_is_never_idleness,
            a_start_right_after_an_idle_stop_waits_for_the_previous_task, a_stop_calls_off_a_waiting_start, a_start_while_running_counts_as_a_use,
            a_start_begins_a_new_session,
            a_stop_made_elsewhere_has_no_old_reason,
            a_request_log_still_searching_is_no_use_and_no_idleness,
            the_name_follows_the_task_across_stop_and_start,
            the_name_stays_on_the_serving_task_during_a_deployment,
            a_stale_record_is_put_right_by_the_status_path, each_change_is_told_once,
            failures_are_told_with_ecs_reason, a_refused_change_is_read_again_and_retried,
            a_refused_record_write_keeps_status_off_running,
            two_instances_given_the_same_event_tell_it_once,
            the_session_limit_holds_whatever_the_state,
            a_replacement_task_does_not_restart_the_session_clock,
            a_request_log_in_another_form_is_not_never_used,
            a_refused_stop_changes_neither_the_name_nor_the_record,
            a_task_replaced_for_failing_health_checks_is_told_as_failed,
            two_instances_given_different_events_tell_both,
            running_is_told_when_grafana_answers_at_its_name, a_slow_boot_is_told_running_by_the_reaper,
            the_name_sleeps_wakes_at_a_click_and_sleeps_again,
            an_xhr_while_asleep_is_503_and_reads_nothing,
            two_controllers_racing_the_door_write_it_once, a_stop_closes_the_door_before_the_task_is_gone,
            a_task_without_a_public_dns_name_is_a_clear_failure, a_door_changed_by_hand_is_put_right_by_the_next_status,
            a_refused_door_write_keeps_status_off_running, the_running_notice_waits_for_the_door_to_propagate,
            a_start_is_timed_from_ecs_timestamps, another_http_service_runs_end_to_end);
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
