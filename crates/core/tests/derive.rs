//! The decision, table by table and by property: every case the state model names.
#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use grafana_ondemand_core::*;
use proptest::prelude::*;

const PRIMARY: &str = "ecs-svc/2";
const OLD: &str = "ecs-svc/1";

fn profile() -> ServiceProfile {
    ServiceProfile::grafana()
}

fn service(desired: u32, running: u32, pending: u32) -> ServiceSnapshot {
    ServiceSnapshot {
        desired_count: desired,
        running_count: running,
        pending_count: pending,
        deployments: vec![
            Deployment {
                id: PRIMARY.into(),
                primary: true,
                task_definition: Some("td:2".into()),
            },
            Deployment {
                id: OLD.into(),
                primary: false,
                task_definition: Some("td:1".into()),
            },
        ],
    }
}

fn task(id: &str, last: TaskPhase, deployment: &str, created_secs: i64) -> TaskSnapshot {
    let mut t = TaskSnapshot::new(format!("arn:aws:ecs:eu-west-3:1:task/c/{id}"));
    t.last_status = last;
    t.started_by = Some(deployment.into());
    t.created_at = Utc.timestamp_opt(1_700_000_000 + created_secs, 0).single();
    t.network.eni_id = Some(format!("eni-{id}"));
    t.network.private_ip = Some("10.0.1.5".parse().unwrap());
    t
}

fn running(id: &str, ip: &str, deployment: &str, created: i64) -> TaskSnapshot {
    let mut t = task(id, TaskPhase::Running, deployment, created);
    t.network.public_ip = Some(ip.parse().unwrap());
    t
}

fn stopped_failed(id: &str, code: &str, reason: &str, deployment: &str) -> TaskSnapshot {
    let mut t = task(id, TaskPhase::Stopped, deployment, 0);
    t.desired_status = TaskPhase::Stopped;
    t.stop_code = Some(code.into());
    t.stopped_reason = Some(reason.into());
    t
}

fn obs(service: ServiceSnapshot, tasks: Vec<TaskSnapshot>) -> Observation {
    Observation { service, tasks }
}

/// Derives with the readiness a correct probe would report for the probe target.
fn decide(o: &Observation, ready: bool) -> Status {
    let readiness = match probe_target(o, &profile()) {
        Some(_) if ready => Readiness::Ready,
        Some(_) => Readiness::NotReady("/api/health answered HTTP 503".into()),
        None => Readiness::Unchecked,
    };
    derive(o, &profile(), &readiness)
}

#[test]
fn nothing_asked_nothing_alive_is_stopped() {
    let s = decide(&obs(service(0, 0, 0), vec![]), true);
    assert_eq!(s.state, State::Stopped);
    assert!(s.endpoint.is_none());
}

#[test]
fn asked_with_nothing_placed_is_starting() {
    let s = decide(&obs(service(1, 0, 0), vec![]), true);
    assert_eq!(
        (s.state, s.reason.as_deref()),
        (State::Starting, Some("waiting for ECS to place a task"))
    );
}

#[test]
fn each_phase_before_running_is_starting_with_the_phase() {
    for phase in [
        TaskPhase::Provisioning,
        TaskPhase::Pending,
        TaskPhase::Activating,
    ] {
        let s = decide(
            &obs(service(1, 0, 1), vec![task("a", phase.clone(), PRIMARY, 0)]),
            true,
        );
        assert_eq!(s.state, State::Starting);
        assert_eq!(s.task.unwrap().phase, phase);
        assert!(s.endpoint.is_none());
    }
}

#[test]
fn running_without_public_ip_is_starting_and_never_says_none() {
    let s = decide(
        &obs(
            service(1, 1, 0),
            vec![task("a", TaskPhase::Running, PRIMARY, 0)],
        ),
        true,
    );
    assert_eq!(s.state, State::Starting);
    assert!(s.reason.unwrap().contains("public IP"));
    assert!(
        !serde_json::to_string(&decide(&obs(service(1, 1, 0), vec![]), true))
            .unwrap()
            .contains("None")
    );
}

#[test]
fn running_with_ip_but_not_answering_is_starting() {
    let s = decide(
        &obs(
            service(1, 1, 0),
            vec![running("a", "203.0.113.7", PRIMARY, 0)],
        ),
        false,
    );
    assert_eq!(s.state, State::Starting);
    assert!(!s.healthy);
    assert!(
        s.reason
            .unwrap()
            .contains("does not answer yet (/api/health answered HTTP 503)")
    );
}

#[test]
fn running_answering_is_running_with_its_url() {
    let s = decide(
        &obs(
            service(1, 1, 0),
            vec![running("a", "203.0.113.7", PRIMARY, 0)],
        ),
        true,
    );
    assert_eq!(s.state, State::Running);
    assert_eq!(s.url().as_deref(), Some("http://203.0.113.7:3000"));
    assert!(s.healthy);
    assert_eq!(s.task.unwrap().id, "a");
}

#[test]
fn a_readiness_for_another_endpoint_does_not_count() {
    let o = obs(
        service(1, 1, 0),
        vec![running("a", "203.0.113.7", PRIMARY, 0)],
    );
    assert_eq!(
        derive(&o, &profile(), &Readiness::Unchecked).state,
        State::Starting
    );
}

#[test]
fn private_addresses_by_choice() {
    let mut p = profile();
    p.address = AddressKind::Private;
    p.port = 8080;
    p.scheme = "https".into();
    let o = obs(
        service(1, 1, 0),
        vec![task("a", TaskPhase::Running, PRIMARY, 0)],
    );
    let s = derive(&o, &p, &Readiness::Ready);
    assert_eq!(s.state, State::Running);
    assert_eq!(s.url().as_deref(), Some("https://10.0.1.5:8080"));
}

#[test]
fn the_task_chosen_is_running_then_primary_then_newest_and_never_on_its_way_out() {
    let mut leaving = running("leaving", "203.0.113.9", PRIMARY, 50);
    leaving.desired_status = TaskPhase::Stopped;
    let tasks = vec![
        running("old", "203.0.113.1", OLD, 0),
        running("new-older", "203.0.113.2", PRIMARY, 10),
        running("new-newest", "203.0.113.3", PRIMARY, 20),
        task("pending", TaskPhase::Pending, PRIMARY, 30),
        leaving,
        stopped_failed("dead", "EssentialContainerExited", "exit 1", OLD),
    ];
    let o = obs(service(1, 4, 1), tasks);
    assert_eq!(select_task(&o).unwrap().id(), "new-newest");
    assert_eq!(
        decide(&o, true).url().as_deref(),
        Some("http://203.0.113.3:3000")
    );
}

#[test]
fn during_a_deployment_the_old_running_task_serves_until_the_new_one_runs() {
    let o = obs(
        service(1, 1, 1),
        vec![
            running("old", "203.0.113.1", OLD, 0),
            task("new", TaskPhase::Pending, PRIMARY, 10),
        ],
    );
    let s = decide(&o, true);
    assert_eq!(
        (s.state, s.task.unwrap().id.as_str()),
        (State::Running, "old")
    );
}

#[test]
fn stop_requested_while_tasks_live_is_stopping_whatever_the_phase() {
    for phase in [
        TaskPhase::Pending,
        TaskPhase::Running,
        TaskPhase::Deactivating,
        TaskPhase::Deprovisioning,
    ] {
        let mut t = running("a", "203.0.113.7", PRIMARY, 0);
        t.last_status = phase;
        let s = decide(&obs(service(0, 1, 0), vec![t]), true);
        assert_eq!(s.state, State::Stopping);
        assert!(s.endpoint.is_none());
    }
    assert_eq!(
        decide(&obs(service(0, 1, 0), vec![]), true).state,
        State::Stopping,
        "counts alone"
    );
}

#[test]
fn launch_failures_are_failed_with_ecs_reason() {
    let cases = [
        (
            "TaskFailedToStart",
            "CannotPullContainerError: pull access denied",
        ),
        (
            "EssentialContainerExited",
            "Essential container in task exited",
        ),
        (
            "ServiceSchedulerInitiated",
            "Task failed container health checks",
        ),
    ];
    for (code, reason) in cases {
        let s = decide(
            &obs(
                service(1, 0, 0),
                vec![stopped_failed("x", code, reason, PRIMARY)],
            ),
            true,
        );
        assert_eq!(s.state, State::Failed, "{code}");
        assert_eq!(s.reason.as_deref(), Some(reason));
        assert!(s.endpoint.is_none());
    }
}

#[test]
fn a_failure_stays_failed_while_ecs_retries_until_a_task_answers() {
    let failed = stopped_failed(
        "x",
        "TaskFailedToStart",
        "CannotPullContainerError",
        PRIMARY,
    );
    let retry = task("y", TaskPhase::Pending, PRIMARY, 100);
    let s = decide(&obs(service(1, 0, 1), vec![failed.clone(), retry]), true);
    assert_eq!(s.state, State::Failed);
    assert!(s.message.contains("ECS is retrying"));
    let answering = running("y", "203.0.113.7", PRIMARY, 100);
    assert_eq!(
        decide(&obs(service(1, 1, 0), vec![failed, answering]), true).state,
        State::Running
    );
}

#[test]
fn failures_of_an_older_deployment_and_user_stops_are_not_failures() {
    let old = stopped_failed("x", "TaskFailedToStart", "CannotPullContainerError", OLD);
    assert_eq!(
        decide(&obs(service(1, 0, 0), vec![old]), true).state,
        State::Starting
    );
    let user = stopped_failed("y", "UserInitiated", "Task stopped by user", PRIMARY);
    let scaled = stopped_failed(
        "z",
        "ServiceSchedulerInitiated",
        "Scaling activity initiated",
        PRIMARY,
    );
    assert_eq!(
        decide(&obs(service(1, 0, 0), vec![user, scaled]), true).state,
        State::Starting
    );
}

#[test]
fn a_task_stopping_after_a_crash_is_already_a_failure() {
    let mut t = running("a", "203.0.113.7", PRIMARY, 0);
    t.last_status = TaskPhase::Stopping;
    t.desired_status = TaskPhase::Stopped;
    t.stop_code = Some("EssentialContainerExited".into());
    t.stopped_reason = Some("Essential container in task exited".into());
    assert_eq!(
        decide(&obs(service(1, 0, 0), vec![t]), true).state,
        State::Failed
    );
}

#[test]
fn unknown_phases_and_missing_fields_do_not_confuse_it() {
    let mut t = TaskSnapshot::new("not-an-arn");
    t.last_status = TaskPhase::parse("SOMETHING_NEW");
    t.created_at = None;
    let s = decide(
        &obs(
            ServiceSnapshot {
                desired_count: 1,
                ..Default::default()
            },
            vec![t],
        ),
        true,
    );
    assert_eq!(s.state, State::Starting);
    assert_eq!(s.task.unwrap().id, "not-an-arn");
}

// ---- properties --------------------------------------------------------------------------

fn phase() -> impl Strategy<Value = TaskPhase> {
    prop_oneof![
        Just(TaskPhase::Provisioning),
        Just(TaskPhase::Pending),
        Just(TaskPhase::Activating),
        Just(TaskPhase::Running),
        Just(TaskPhase::Deactivating),
        Just(TaskPhase::Stopping),
        Just(TaskPhase::Deprovisioning),
        Just(TaskPhase::Stopped),
        "[A-Z]{0,8}".prop_map(|s| TaskPhase::parse(&s)),
    ]
}

fn any_task() -> impl Strategy<Value = TaskSnapshot> {
    (
        (
            phase(),
            prop_oneof![Just(TaskPhase::Running), Just(TaskPhase::Stopped), phase()],
        ),
        prop::option::of(prop_oneof![
            Just(PRIMARY.to_string()),
            Just(OLD.to_string()),
            ".{0,12}"
        ]),
        prop::option::of(prop_oneof![
            Just("TaskFailedToStart".to_string()),
            Just("EssentialContainerExited".to_string()),
            Just("UserInitiated".to_string()),
            Just("ServiceSchedulerInitiated".to_string()),
        ]),
        prop::option::of(".{0,30}"),
        prop::option::of(0i64..1_000),
        prop::option::of(any::<[u8; 4]>()),
        prop::option::of(any::<[u8; 4]>()),
        ".{0,40}",
    )
        .prop_map(
            |((last, desired), by, code, reason, created, public, private, arn)| {
                let mut t = TaskSnapshot::new(arn);
                t.last_status = last;
                t.desired_status = desired;
                t.started_by = by;
                t.stop_code = code;
                t.stopped_reason = reason;
                t.created_at = created.and_then(|c| Utc.timestamp_opt(c, 0).single());
                t.network.public_ip = public.map(std::net::IpAddr::from);
                t.network.private_ip = private.map(std::net::IpAddr::from);
                t
            },
        )
}

fn any_observation() -> impl Strategy<Value = Observation> {
    (
        0u32..3,
        0u32..3,
        0u32..3,
        0usize..3,
        prop::collection::vec(any_task(), 0..6),
    )
        .prop_map(|(desired, running, pending, deployments, tasks)| {
            let mut service = service(desired, running, pending);
            service.deployments.truncate(deployments);
            Observation { service, tasks }
        })
}

fn any_readiness() -> impl Strategy<Value = Readiness> {
    prop_oneof![
        Just(Readiness::Unchecked),
        Just(Readiness::Ready),
        ".{0,10}".prop_map(Readiness::NotReady)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn an_endpoint_exactly_when_running(o in any_observation(), r in any_readiness()) {
        let s = derive(&o, &profile(), &r);
        prop_assert_eq!(s.endpoint.is_some(), s.state == State::Running);
        prop_assert_eq!(s.healthy, s.state == State::Running);
        if let Some(url) = s.url() {
            prop_assert!(url.starts_with("http://") && !url.contains("None"));
        }
    }

    #[test]
    fn stopping_whenever_desired_is_zero_and_a_task_lives(o in any_observation(), r in any_readiness()) {
        let s = derive(&o, &profile(), &r);
        let alive = o.tasks.iter().any(TaskSnapshot::is_alive);
        if o.service.desired_count == 0 {
            let expected = if alive || o.service.running_count + o.service.pending_count > 0 { State::Stopping } else { State::Stopped };
            prop_assert_eq!(s.state, expected);
        } else {
            prop_assert!(!matches!(s.state, State::Stopped | State::Stopping));
        }
    }

    #[test]
    fn running_only_after_a_ready_probe_of_a_running_task(o in any_observation(), r in any_readiness()) {
        let s = derive(&o, &profile(), &r);
        if s.state == State::Running {
            prop_assert_eq!(&r, &Readiness::Ready);
            let t = select_task(&o).unwrap();
            prop_assert_eq!(&t.last_status, &TaskPhase::Running);
            prop_assert_eq!(s.endpoint, probe_target(&o, &profile()));
        }
    }

    #[test]
    fn failed_always_says_why(o in any_observation(), r in any_readiness()) {
        let s = derive(&o, &profile(), &r);
        if s.state == State::Failed {
            prop_assert!(s.reason.as_deref().is_some_and(|r| !r.trim().is_empty()));
            prop_assert!(s.message.contains("failed to start"));
        }
        // Whatever came in, what goes out is valid JSON of the contract.
        let v = serde_json::to_value(&s).unwrap();
        prop_assert_eq!(v["status"].as_str().unwrap(), s.state.as_str());
    }
}
