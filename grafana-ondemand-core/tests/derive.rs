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
                created_at: at(-100),
            },
            Deployment {
                id: OLD.into(),
                primary: false,
                task_definition: Some("td:1".into()),
                created_at: at(-1000),
            },
        ],
        events: vec![],
        assign_public_ip: Some(true),
        tags: Default::default(),
    }
}

fn at(secs: i64) -> Option<chrono::DateTime<Utc>> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).single()
}

fn task(id: &str, last: TaskPhase, deployment: &str, created_secs: i64) -> TaskSnapshot {
    let mut t = TaskSnapshot::new(format!("arn:aws:ecs:eu-west-3:1:task/c/{id}"));
    t.last_status = last;
    t.started_by = Some(deployment.into());
    t.created_at = at(created_secs);
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
    Observation {
        service,
        tasks,
        undescribed: vec![],
    }
}

fn arn(id: &str) -> String {
    format!("arn:aws:ecs:eu-west-3:1:task/c/{id}")
}

fn probes(answers: &[(&str, Readiness)]) -> Probes {
    answers.iter().map(|(id, r)| (arn(id), r.clone())).collect()
}

fn not_ready() -> Readiness {
    Readiness::NotReady("/api/health answered HTTP 503".into())
}

/// Derives with what a correct probe would report for every probe target.
fn decide(o: &Observation, ready: bool) -> Status {
    let probes = probe_targets(o, &profile())
        .into_iter()
        .map(|(arn, _)| (arn, if ready { Readiness::Ready } else { not_ready() }))
        .collect();
    derive(o, &profile(), &probes)
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
        derive(&o, &profile(), &Probes::new()).state,
        State::Starting
    );
    let elsewhere = probes(&[("b", Readiness::Ready)]);
    assert_eq!(derive(&o, &profile(), &elsewhere).state, State::Starting);
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
    let s = derive(&o, &p, &probes(&[("a", Readiness::Ready)]));
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
    assert_eq!(
        select_task(&o, &profile(), &Probes::new()).unwrap().id(),
        "new-newest"
    );
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

#[test]
fn during_a_deployment_the_serving_task_serves_until_its_successor_answers() {
    let o = obs(
        service(1, 2, 0),
        vec![
            running("old", "203.0.113.1", OLD, 0),
            running("new", "203.0.113.2", PRIMARY, 10),
        ],
    );
    let targets: Vec<String> = probe_targets(&o, &profile())
        .into_iter()
        .map(|(arn, _)| arn)
        .collect();
    assert_eq!(targets, [arn("new"), arn("old")], "the successor first");
    let s = derive(
        &o,
        &profile(),
        &probes(&[("new", not_ready()), ("old", Readiness::Ready)]),
    );
    assert_eq!(
        (s.state, s.task.unwrap().id.as_str()),
        (State::Running, "old")
    );
    let s = derive(&o, &profile(), &probes(&[("new", Readiness::Ready)]));
    assert_eq!(
        (s.state, s.task.unwrap().id.as_str()),
        (State::Running, "new")
    );
}

#[test]
fn ecs_health_confirms_without_any_probe_and_says_so() {
    let mut t = running("a", "203.0.113.7", PRIMARY, 0);
    t.health = Health::Healthy;
    let o = obs(service(1, 1, 0), vec![t]);
    for source in [ReadinessSource::Ecs, ReadinessSource::Any] {
        let p = ServiceProfile {
            readiness: source,
            ..profile()
        };
        assert!(probe_targets(&o, &p).is_empty(), "nothing left to probe");
        let s = derive(&o, &p, &Probes::new());
        assert_eq!(s.state, State::Running, "{source:?}");
        assert_eq!(s.ready_by, Some(ReadyBy::EcsHealth));
        assert_eq!(serde_json::to_value(&s).unwrap()["readyBy"], "ecs-health");
    }
    let http_only = ServiceProfile {
        readiness: ReadinessSource::Http,
        ..profile()
    };
    assert_eq!(
        derive(&o, &http_only, &Probes::new()).state,
        State::Starting
    );
    let s = derive(&o, &http_only, &probes(&[("a", Readiness::Ready)]));
    assert_eq!(s.ready_by, Some(ReadyBy::HttpProbe));
}

#[test]
fn with_ecs_health_alone_a_running_task_waits_for_its_health_check() {
    let o = obs(
        service(1, 1, 0),
        vec![running("a", "203.0.113.7", PRIMARY, 0)],
    );
    let p = ServiceProfile {
        readiness: ReadinessSource::Ecs,
        ..profile()
    };
    assert!(probe_targets(&o, &p).is_empty(), "never probes");
    let s = derive(&o, &p, &probes(&[("a", Readiness::Ready)]));
    assert_eq!(s.state, State::Starting, "a probe does not count for ecs");
    let reason = s.reason.unwrap();
    assert!(
        reason.contains("container health check") && reason.contains("READINESS=http"),
        "{reason}"
    );
}

#[test]
fn placement_failures_show_ecs_words_then_fail() {
    let capacity = "(service grafana) was unable to place a task. Reason: Capacity is unavailable at this time. Please try again later or in a different availability zone.";
    let event = |t: i64, m: &str| ServiceEvent {
        at: at(t),
        message: m.into(),
    };
    let mut svc = service(1, 0, 0);
    svc.events = vec![
        event(-50, capacity),
        event(-500, capacity),
        event(-600, capacity),
    ];
    let s = decide(&obs(svc.clone(), vec![]), true);
    assert_eq!(s.state, State::Starting, "one failure of this deployment");
    assert!(s.reason.unwrap().contains("Capacity is unavailable"));
    svc.events.insert(0, event(-10, capacity));
    svc.events
        .insert(0, event(-5, "(service grafana) has started 0 tasks."));
    let s = decide(&obs(svc, vec![]), true);
    assert_eq!(s.state, State::Failed, "{s:?}");
    assert_eq!(s.reason.as_deref(), Some(capacity));
    assert!(s.message.contains("start it again"), "{}", s.message);
}

#[test]
fn no_public_address_can_appear_is_said_at_once() {
    let mut svc = service(1, 0, 1);
    svc.assign_public_ip = Some(false);
    let pending = task("a", TaskPhase::Pending, PRIMARY, 0);
    let s = decide(&obs(svc.clone(), vec![pending.clone()]), true);
    assert_eq!(s.state, State::Failed, "{s:?}");
    assert!(
        s.message.contains("SERVICE_ADDRESS=private"),
        "{}",
        s.message
    );
    let mut p = profile();
    p.address = AddressKind::Private;
    assert_eq!(
        derive(&obs(svc.clone(), vec![pending.clone()]), &p, &Probes::new()).state,
        State::Starting
    );
    let mut dual = pending;
    dual.network.ipv6 = Some("2001:db8::5".parse().unwrap());
    assert_eq!(decide(&obs(svc, vec![dual]), true).state, State::Starting);
}

#[test]
fn an_ipv6_only_task_is_reached_on_its_ipv6_address() {
    let mut t = task("a", TaskPhase::Running, PRIMARY, 0);
    t.network.private_ip = None;
    t.network.ipv6 = Some("2001:db8::5".parse().unwrap());
    for address in [AddressKind::Public, AddressKind::Private] {
        let p = ServiceProfile {
            address,
            ..profile()
        };
        let o = obs(service(1, 1, 0), vec![t.clone()]);
        let s = derive(&o, &p, &probes(&[("a", Readiness::Ready)]));
        assert_eq!(s.url().as_deref(), Some("http://[2001:db8::5]:3000"));
    }
}

#[test]
fn counts_come_from_the_tasks_when_the_service_counts_lag() {
    let o = obs(
        service(1, 0, 1),
        vec![running("a", "203.0.113.7", PRIMARY, 0)],
    );
    let s = decide(&o, true);
    assert_eq!(
        (s.state, s.running_count, s.pending_count),
        (State::Running, 1, 0)
    );
}

#[test]
fn a_listed_task_not_described_yet_is_said() {
    let mut o = obs(service(1, 0, 1), vec![]);
    o.undescribed = vec![arn("a")];
    let s = decide(&o, true);
    assert_eq!(s.state, State::Starting);
    assert!(s.reason.unwrap().contains("not described yet"));
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
        (
            prop::option::of(any::<[u8; 4]>()),
            prop::option::of(any::<[u8; 4]>()),
            prop::option::of(any::<[u16; 8]>()),
            prop_oneof![
                Just(Health::Unknown),
                Just(Health::Healthy),
                Just(Health::Unhealthy)
            ],
        ),
        prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("c".to_string()),
            ".{0,10}"
        ],
    )
        .prop_map(
            |((last, desired), by, code, reason, created, (public, private, v6, health), id)| {
                let arn = arn(&id);
                let mut t = TaskSnapshot::new(arn);
                t.last_status = last;
                t.desired_status = desired;
                t.started_by = by;
                t.stop_code = code;
                t.stopped_reason = reason;
                t.created_at = created.and_then(|c| Utc.timestamp_opt(c, 0).single());
                t.network.public_ip = public.map(std::net::IpAddr::from);
                t.network.private_ip = private.map(std::net::IpAddr::from);
                t.network.ipv6 = v6.map(std::net::IpAddr::from);
                t.health = health;
                t
            },
        )
}

fn any_event() -> impl Strategy<Value = ServiceEvent> {
    (
        prop::option::of(-200i64..200),
        prop_oneof![
            Just("(service grafana) was unable to place a task. Reason: Capacity is unavailable at this time.".to_string()),
            Just("(service grafana) has reached a steady state.".to_string()),
            ".{0,20}",
        ],
    )
        .prop_map(|(t, message)| ServiceEvent {
            at: t.and_then(at),
            message,
        })
}

fn any_observation() -> impl Strategy<Value = Observation> {
    (
        (0u32..3, 0u32..3, 0u32..3, 0usize..3),
        prop::collection::vec(any_task(), 0..6),
        prop::collection::vec(any_event(), 0..4),
        prop::option::of(any::<bool>()),
        prop::collection::vec(".{0,5}", 0..2),
    )
        .prop_map(
            |((desired, running, pending, deployments), tasks, events, assign, undescribed)| {
                let mut service = service(desired, running, pending);
                service.deployments.truncate(deployments);
                service.events = events;
                service.assign_public_ip = assign;
                // Task ids (an ARN's last part, what the status names a task by) are unique in
                // ECS, and so are ARNs: two generated ARNs such as `c//x/` and `c/` share the
                // empty id, which ECS never gives.
                let mut seen = std::collections::BTreeSet::new();
                let tasks = tasks
                    .into_iter()
                    .filter(|t| seen.insert(t.id().to_owned()))
                    .collect();
                Observation {
                    service,
                    tasks,
                    undescribed,
                }
            },
        )
}

fn any_readiness() -> impl Strategy<Value = Readiness> {
    prop_oneof![
        Just(Readiness::Unchecked),
        Just(Readiness::Ready),
        ".{0,10}".prop_map(Readiness::NotReady)
    ]
}

/// An observation, and probe answers for some of its tasks and for tasks it does not have.
fn any_observation_and_probes() -> impl Strategy<Value = (Observation, Probes)> {
    any_observation().prop_flat_map(|o| {
        let mut arns: Vec<String> = o.tasks.iter().map(|t| t.arn.clone()).collect();
        arns.push(arn("elsewhere"));
        let answers = prop::collection::vec((prop::sample::select(arns), any_readiness()), 0..4);
        (
            Just(o),
            answers.prop_map(|a| a.into_iter().collect::<Probes>()),
        )
    })
}

/// Any profile: either address, any readiness source, and with or without a public name,
/// over http or https, on the scheme's default port or another.
fn any_profile() -> impl Strategy<Value = ServiceProfile> {
    (
        prop_oneof![Just(AddressKind::Public), Just(AddressKind::Private)],
        prop_oneof![
            Just(ReadinessSource::Ecs),
            Just(ReadinessSource::Http),
            Just(ReadinessSource::Any)
        ],
        prop::option::of(Just("grafana.example.com".to_owned())),
        prop_oneof![Just("http"), Just("https")],
        prop_oneof![Just(80u16), Just(443), Just(3000), Just(8443)],
    )
        .prop_map(
            |(address, readiness, public_name, scheme, port)| ServiceProfile {
                address,
                readiness,
                public_name,
                scheme: scheme.into(),
                port,
                ..ServiceProfile::grafana()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn an_endpoint_exactly_when_running((o, r) in any_observation_and_probes(), p in any_profile()) {
        let s = derive(&o, &p, &r);
        prop_assert_eq!(s.endpoint.is_some(), s.state == State::Running);
        prop_assert_eq!(s.healthy, s.state == State::Running);
        if let Some(url) = s.url() {
            // The oracle, from the profile and the address alone: a public name is the URL
            // (the address never shows in it), with the port only when not the scheme's own.
            let ip = s.endpoint.as_ref().unwrap().ip;
            let expected = match (&p.public_name, p.scheme.as_str(), p.port) {
                (Some(name), "https", 443) | (Some(name), "http", 80) => format!("{}://{name}", p.scheme),
                (Some(name), scheme, port) => format!("{scheme}://{name}:{port}"),
                (None, scheme, port) if ip.is_ipv6() => format!("{scheme}://[{ip}]:{port}"),
                (None, scheme, port) => format!("{scheme}://{ip}:{port}"),
            };
            prop_assert_eq!(&url, &expected);
            prop_assert!(!url.contains("None"));
            if p.public_name.is_some() {
                prop_assert!(!url.contains(&ip.to_string()), "{}", url);
            }
        }
    }

    #[test]
    fn stopping_whenever_desired_is_zero_and_a_task_lives((o, r) in any_observation_and_probes(), p in any_profile()) {
        let s = derive(&o, &p, &r);
        let alive = o.tasks.iter().any(TaskSnapshot::is_alive);
        if o.service.desired_count == 0 {
            // Counts lag the tasks: they speak only when no task was read.
            let counted = o.tasks.is_empty() && o.service.running_count + o.service.pending_count > 0;
            let expected = if alive || counted { State::Stopping } else { State::Stopped };
            prop_assert_eq!(s.state, expected);
        } else {
            prop_assert!(!matches!(s.state, State::Stopped | State::Stopping));
        }
    }

    #[test]
    fn running_only_when_a_source_it_trusts_confirmed_a_running_task((o, r) in any_observation_and_probes(), p in any_profile()) {
        let s = derive(&o, &p, &r);
        if s.state == State::Running {
            let id = s.task.as_ref().unwrap().id.clone();
            let t = o.tasks.iter().find(|t| t.id() == id && t.is_alive() && !t.is_on_its_way_out()).unwrap();
            prop_assert_eq!(&t.last_status, &TaskPhase::Running);
            match s.ready_by.unwrap() {
                ReadyBy::EcsHealth => prop_assert!(p.readiness.trusts_ecs() && t.health == Health::Healthy),
                ReadyBy::HttpProbe => prop_assert!(p.readiness.probes() && r.get(&t.arn) == Some(&Readiness::Ready)),
            }
            // The oracle: the address read straight off the task, not through the deriving code.
            let ip = match p.address {
                AddressKind::Public => t.network.public_ip,
                AddressKind::Private => t.network.private_ip,
            }.or(t.network.ipv6).unwrap();
            prop_assert_eq!(s.endpoint.unwrap().ip, ip);
        } else {
            prop_assert!(s.ready_by.is_none());
        }
    }

    #[test]
    fn a_confirmed_running_task_is_never_dropped_for_an_unconfirmed_one((o, r) in any_observation_and_probes(), p in any_profile()) {
        let s = derive(&o, &p, &r);
        let confirmed_exists = o.service.desired_count > 0
            && o.tasks.iter().any(|t| t.is_alive() && !t.is_on_its_way_out() && confirmed(t, &p, &r).is_some());
        if confirmed_exists {
            prop_assert_eq!(s.state, State::Running);
        }
    }

    #[test]
    fn failed_always_says_why((o, r) in any_observation_and_probes(), p in any_profile()) {
        let s = derive(&o, &p, &r);
        if s.state == State::Failed {
            prop_assert!(s.reason.as_deref().is_some_and(|r| !r.trim().is_empty()));
            prop_assert!(s.message.contains("start it again") || s.message.contains("Start it again") || s.message.contains("stop and start it"), "{}", s.message);
        }
        // Whatever came in, what goes out is valid JSON of the contract.
        let v = serde_json::to_value(&s).unwrap();
        prop_assert_eq!(v["status"].as_str().unwrap(), s.state.as_str());
    }
}
