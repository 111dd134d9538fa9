//! The public name and the notices, on every backend: the record follows the task that
//! serves (driven by ECS's events, put right by the status path), and each event is told
//! once.

use super::{PATIENCE, World};
use async_trait::async_trait;
use grafana_ondemand::{
    Controller, EventHandler, Handled, HostedZone, NameRecord, Notice, NoticeKind, Notifier,
    PARKED, Platform, PlatformEvent, Result, STOP_TAG, ServiceController, ServiceProfile, State,
    Status, wait_for,
};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::sleep;

pub const ZONE: &str = "Z0SIMULATED42";
pub const NAME: &str = "grafana.example.com";

/// A controller that also handles the platform's events (what the Lambda is given).
pub trait Watcher: ServiceController + EventHandler {}

impl<P: Platform + 'static> Watcher for Controller<P> {}

/// Notices as a webhook would receive them; failing the first `fail` sends.
#[derive(Debug, Default)]
pub struct Inbox {
    pub notices: Mutex<Vec<Notice>>,
    pub fail: Mutex<usize>,
}

#[async_trait]
impl Notifier for Inbox {
    async fn send(&self, notice: &Notice) -> Result<()> {
        let mut fail = self.fail.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            return Err(grafana_ondemand::Error::NotDelivered {
                channel: "the inbox".into(),
                problem: "down".into(),
            });
        }
        self.notices.lock().unwrap().push(notice.clone());
        Ok(())
    }
}

impl Inbox {
    /// How many notices of `kind` were received.
    pub(super) fn count(&self, kind: NoticeKind) -> usize {
        self.kinds().iter().filter(|k| **k == kind).count()
    }

    fn kinds(&self) -> Vec<NoticeKind> {
        self.notices
            .lock()
            .unwrap()
            .iter()
            .map(|n| n.kind)
            .collect()
    }
}

/// Grafana's profile with the public name, over https.
pub fn named() -> ServiceProfile {
    ServiceProfile {
        public_name: Some(NAME.into()),
        scheme: "https".into(),
        port: 443,
        ..ServiceProfile::grafana()
    }
}

pub fn zone() -> HostedZone {
    HostedZone {
        zone_id: ZONE.into(),
        ttl: 30,
    }
}

/// A watcher with the name in the simulated zone, its notices in a fresh inbox.
async fn setup(world: &impl World) -> (Box<dyn Watcher>, Arc<Inbox>) {
    world.ecs().add_hosted_zone(ZONE, "example.com");
    let inbox = Arc::new(Inbox::default());
    (
        world.named_controller(named(), zone(), inbox.clone()).await,
        inbox,
    )
}

/// Delivers the events ECS emitted since the last delivery, as EventBridge does.
pub(super) async fn deliver(world: &impl World, c: &dyn Watcher) -> Vec<Handled> {
    let mut handled = Vec::new();
    for e in world.ecs().take_events() {
        let event = PlatformEvent::from_eventbridge(&e)
            .expect("an ECS event")
            .expect("in the documented shape");
        handled.push(c.handle_event(&event).await.expect("handled"));
    }
    handled
}

/// The platform around `c` for up to `limit`, as the module wires it: every second the events
/// ECS emitted are handed to it (EventBridge), every minute the reaper ticks (Scheduler).
/// Returns as soon as `done` holds, with every event's handling, in order.
async fn live(
    world: &impl World,
    c: &dyn Watcher,
    limit: Duration,
    mut done: impl FnMut(&[Handled]) -> bool,
) -> Vec<Handled> {
    let mut handled = Vec::new();
    for second in 1..=limit.as_secs() {
        sleep(Duration::from_secs(1)).await;
        handled.extend(deliver(world, c).await);
        if second % 60 == 0 {
            c.reap().await.expect("the reaper's tick");
        }
        if done(&handled) {
            break;
        }
    }
    handled
}

/// The name's A record set, as Route 53 lists it.
fn a_record(world: &impl World) -> Option<NameRecord> {
    world
        .ecs()
        .records(ZONE, NAME)
        .into_iter()
        .find(|r| r.kind() == grafana_ondemand::RecordType::A)
}

/// The address the name's A record holds (none for an alias).
fn a_value(world: &impl World) -> Option<IpAddr> {
    a_record(world).and_then(|r| r.ip())
}

/// The oracle: the simulated task that answers, not what the controller reported.
fn serving_ip(world: &impl World) -> Option<IpAddr> {
    world.ecs().serving().map(|(_, ip)| ip)
}

/// Events drive the record: the RUNNING event's handling points the name at the task once
/// Grafana answers (never before: it would lead people to a Grafana still booting), without
/// any status read from outside (A, TTL 30); the status URL is the name from the first
/// `running`; a stop parks the name at once; the next start moves it to the new task.
pub async fn the_name_follows_the_task_across_stop_and_start(world: &impl World) {
    let (c, _) = setup(world).await;
    let stopped = c.status().await.unwrap();
    assert_eq!(stopped.state, State::Stopped);
    assert_eq!(
        a_value(world),
        Some(IpAddr::V4(PARKED)),
        "parked, not absent"
    );

    c.start(None).await.unwrap();
    let mut pointed = None;
    for _ in 0..PATIENCE.as_secs() {
        sleep(Duration::from_secs(1)).await;
        deliver(world, c.as_ref()).await;
        let ip = a_value(world).unwrap();
        if ip != IpAddr::V4(PARKED) {
            pointed = Some((ip, a_record(world).unwrap(), serving_ip(world)));
            break;
        }
    }
    let (ip, record, answering) = pointed.expect("an event pointed the name");
    assert_eq!(answering, Some(ip), "pointed at a Grafana that answers");
    // The oracle: the world's RUNNING task and its address, not what the controller read.
    let running = world.ecs().running_public_ips();
    assert_eq!(
        running.iter().map(|(_, ip)| *ip).collect::<Vec<_>>(),
        vec![ip],
        "the name holds the address of the one task ECS reports RUNNING"
    );
    assert_eq!(record, NameRecord::address(ip, 30));

    let up = wait_for(c.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap();
    assert_eq!(up.url().as_deref(), Some("https://grafana.example.com"));
    assert_eq!(up.endpoint.as_ref().map(|e| e.ip), Some(ip));
    assert_eq!(serving_ip(world), Some(ip));

    let s = c.stop().await.unwrap();
    assert_eq!(s.state, State::Stopping);
    assert_eq!(
        a_value(world).unwrap(),
        IpAddr::V4(PARKED),
        "parked with the stop"
    );
    wait_for(c.as_ref(), State::Stopped, PATIENCE)
        .await
        .unwrap();
    deliver(world, c.as_ref()).await;
    assert_eq!(a_value(world).unwrap(), IpAddr::V4(PARKED));

    c.start(None).await.unwrap();
    let again = wait_for(c.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap();
    let new_ip = again.endpoint.unwrap().ip;
    assert_ne!(new_ip, ip, "a new task, a new address");
    assert_eq!(a_value(world).unwrap(), new_ip);
    assert_eq!(
        world.ecs().records(ZONE, NAME).len(),
        1,
        "no AAAA without IPv6"
    );
}

/// During a deployment the name stays on the task that serves until the new one is
/// confirmed, though the new one's RUNNING event comes first; then it moves.
pub async fn the_name_stays_on_the_serving_task_during_a_deployment(world: &impl World) {
    // A rolling deployment (old and new side by side), as a service configured so would have.
    world.ecs().set_deployment_configuration(100, 200);
    let (c, _) = setup(world).await;
    c.start(None).await.unwrap();
    let old = wait_for(c.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap()
        .endpoint
        .unwrap()
        .ip;
    deliver(world, c.as_ref()).await;
    assert_eq!(a_value(world).unwrap(), old);
    world.ecs().start_deployment();
    let mut saw_new_running_unconfirmed = false;
    let mut moved = false;
    for _ in 0..PATIENCE.as_secs() {
        sleep(Duration::from_secs(1)).await;
        deliver(world, c.as_ref()).await;
        // Two tasks RUNNING, the old one still the one that answers.
        let running = world
            .ecs()
            .tasks()
            .iter()
            .filter(|t| t.last_status.as_str() == "RUNNING")
            .count();
        let new_running = running == 2 && serving_ip(world) == Some(old);
        let record = a_value(world).unwrap();
        if new_running {
            saw_new_running_unconfirmed = true;
            assert_eq!(record, old, "not on a task that does not answer yet");
        }
        let s = c.status().await.unwrap();
        if let Some(e) = &s.endpoint {
            assert_eq!(
                a_value(world).unwrap(),
                e.ip,
                "the name is where the status says"
            );
            if e.ip != old {
                moved = true;
                break;
            }
        }
    }
    assert!(
        saw_new_running_unconfirmed,
        "the scenario reached the window it is about"
    );
    assert!(moved, "the name moved to the new task");
    assert_eq!(Some(a_value(world).unwrap()), serving_ip(world));
}

/// A record someone else changed is put right: at once by a controller that has not seen
/// it (a cold Lambda), and within five minutes by one that has; other names are untouched.
pub async fn a_stale_record_is_put_right_by_the_status_path(world: &impl World) {
    let (c, _) = setup(world).await;
    c.start(None).await.unwrap();
    let ip = wait_for(c.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap()
        .endpoint
        .unwrap()
        .ip;
    let stale = NameRecord::address("127.0.0.99".parse().unwrap(), 300);
    world.ecs().set_record(ZONE, NAME, stale.clone());
    world
        .ecs()
        .set_record(ZONE, "other.example.com", stale.clone());

    let cold = world
        .named_controller(named(), zone(), Arc::new(Inbox::default()))
        .await;
    assert_eq!(cold.status().await.unwrap().state, State::Running);
    assert_eq!(a_record(world).unwrap(), NameRecord::address(ip, 30));
    assert_eq!(
        world.ecs().records(ZONE, "other.example.com"),
        vec![stale.clone()]
    );

    world.ecs().set_record(ZONE, NAME, stale.clone());
    let lists = world.calls("ListResourceRecordSets");
    c.status().await.unwrap();
    assert_eq!(
        world.calls("ListResourceRecordSets"),
        lists,
        "a warm status trusts what it wrote"
    );
    sleep(Duration::from_secs(5 * 60 + 1)).await;
    c.status().await.unwrap();
    assert_eq!(
        a_value(world).unwrap(),
        ip,
        "read again after five minutes, and put right"
    );
}

/// Started, running (with the URL) and stopped (with the reaper's reason) are each told
/// once, though EventBridge delivers duplicates; a notice that could not be delivered is
/// sent when the event comes again.
pub async fn each_change_is_told_once(world: &impl World) {
    let (c, inbox) = setup(world).await;
    *inbox.fail.lock().unwrap() = 1;
    c.start(None).await.unwrap();
    let mut failed_once = false;
    let mut handled = Vec::new();
    for second in 1..=PATIENCE.as_secs() {
        sleep(Duration::from_secs(1)).await;
        // The schedule's tick tells "running" once Route 53 serves the name everywhere.
        if second % 60 == 0 {
            c.reap().await.unwrap();
        }
        for e in world.ecs().take_events() {
            let event = PlatformEvent::from_eventbridge(&e).unwrap().unwrap();
            match c.handle_event(&event).await {
                Ok(h) => handled.push((e, h)),
                Err(err) => {
                    assert!(err.to_string().contains("could not be sent"), "{err}");
                    failed_once = true;
                    // Lambda's asynchronous invocation retries the event.
                    handled.push((e.clone(), c.handle_event(&event).await.unwrap()));
                }
            }
        }
        if inbox.kinds().contains(&NoticeKind::Running) {
            break;
        }
    }
    assert!(failed_once);
    assert_eq!(
        inbox.kinds(),
        vec![NoticeKind::Started, NoticeKind::Running]
    );
    let running = inbox.notices.lock().unwrap()[1].clone();
    assert_eq!(running.url.as_deref(), Some("https://grafana.example.com"));
    // Every event delivered again, in reverse: nothing more is told.
    for (e, _) in handled.iter().rev() {
        let h = c
            .handle_event(&PlatformEvent::from_eventbridge(e).unwrap().unwrap())
            .await
            .unwrap();
        assert!(!h.sent, "{:?}", h.notice);
    }
    assert_eq!(inbox.kinds().len(), 2);

    // Nobody uses it: the reaper stops it, and the STOPPED event says why.
    wait_for(c.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap();
    sleep(Duration::from_secs(16 * 60)).await;
    let reaped: Status = c.reap().await.unwrap();
    assert_eq!(reaped.state, State::Stopping);
    assert!(world.ecs().tags().contains_key(STOP_TAG));
    wait_for(c.as_ref(), State::Stopped, PATIENCE)
        .await
        .unwrap();
    let events = deliver(world, c.as_ref()).await;
    assert!(events.iter().any(|h| h.sent));
    assert_eq!(
        inbox.kinds(),
        vec![
            NoticeKind::Started,
            NoticeKind::Running,
            NoticeKind::Stopped
        ]
    );
    let stopped = inbox.notices.lock().unwrap()[2].clone();
    assert_eq!(
        stopped.text,
        "Grafana stopped: nobody used it within 15 min of its start."
    );
}

/// A task that cannot start, and a task ECS cannot place, are told as failures with ECS's
/// reason, once each.
pub async fn failures_are_told_with_ecs_reason(world: &impl World) {
    let (c, inbox) = setup(world).await;
    world.ecs().fail_next_placements(2, "RESOURCE:FARGATE");
    world.ecs().fail_next_launches(
        1,
        "CannotPullContainerError: pull access denied for grafana/grafana-oss",
    );
    c.start(None).await.unwrap();
    live(world, c.as_ref(), 2 * PATIENCE, |_| {
        inbox.kinds().contains(&NoticeKind::Running)
    })
    .await;
    let notices = inbox.notices.lock().unwrap().clone();
    let failed: Vec<&Notice> = notices
        .iter()
        .filter(|n| n.kind == NoticeKind::Failed)
        .collect();
    assert_eq!(failed.len(), 2, "{notices:#?}");
    assert!(
        failed[0].text.contains("RESOURCE:FARGATE"),
        "{}",
        failed[0].text
    );
    assert!(
        failed[1].text.contains("CannotPullContainerError"),
        "{}",
        failed[1].text
    );
    assert_eq!(
        notices.last().map(|n| n.kind),
        Some(NoticeKind::Running),
        "then it recovered"
    );
    // A later session that cannot be placed either is told again: its own failure.
    c.stop().await.unwrap();
    wait_for(c.as_ref(), State::Stopped, PATIENCE)
        .await
        .unwrap();
    deliver(world, c.as_ref()).await;
    world.ecs().fail_next_placements(1, "RESOURCE:FARGATE");
    c.start(None).await.unwrap();
    for _ in 0..60 {
        sleep(Duration::from_secs(1)).await;
        deliver(world, c.as_ref()).await;
    }
    let failed = inbox.count(NoticeKind::Failed);
    assert_eq!(failed, 3, "{:#?}", inbox.notices.lock().unwrap());
}

/// Route 53 deletes only a record set that matches exactly: a controller whose memory of the
/// record is stale (someone deleted the AAAA by hand) is refused the whole batch, reads the
/// record again and parks it all the same. An IPv6-only task: the name is AAAA alone.
pub async fn a_refused_change_is_read_again_and_retried(world: &impl World) {
    let (c, _) = setup(world).await;
    world.ecs().set_ipv6_only(true);
    c.start(None).await.unwrap();
    let up = wait_for(c.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap();
    let v6 = up.endpoint.unwrap().ip;
    assert!(v6.is_ipv6());
    assert_eq!(
        world.ecs().records(ZONE, NAME),
        vec![NameRecord::address(v6, 30)],
        "AAAA only"
    );
    world.ecs().remove_records(ZONE, NAME);
    let changes = world.calls("ChangeResourceRecordSets");
    assert_eq!(c.stop().await.unwrap().state, State::Stopping);
    assert_eq!(
        world.calls("ChangeResourceRecordSets"),
        changes + 2,
        "refused once (the AAAA to delete was gone), then done"
    );
    assert_eq!(
        world.ecs().records(ZONE, NAME),
        vec![NameRecord::address(IpAddr::V4(PARKED), 30)]
    );
}

/// The name keeps the door's promise: a record Route 53 refuses (another zone's id, a policy
/// without ChangeResourceRecordSets) keeps the status `starting`, without a URL, saying why,
/// however long it lasts; the first read after the write is allowed points the name and says
/// running at it.
pub async fn a_refused_record_write_keeps_status_off_running(world: &impl World) {
    let (c, _) = setup(world).await;
    world.ecs().deny("ChangeResourceRecordSets");
    c.start(None).await.unwrap();
    sleep(PATIENCE).await;
    let s = c.status().await.unwrap();
    assert!(serving_ip(world).is_some(), "the task answers");
    assert_eq!(s.state, State::Starting, "{s:?}");
    assert_eq!(s.url(), None, "no URL people cannot reach");
    let reason = s.reason.clone().unwrap_or_default();
    assert!(
        reason.contains(NAME) && reason.contains("could not be pointed"),
        "{reason}"
    );
    assert!(s.message.contains("Trying again"), "{}", s.message);
    assert_eq!(a_value(world), None, "nothing was written");

    world.ecs().allow("ChangeResourceRecordSets");
    let s = wait_for(c.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap();
    assert_eq!(s.url().as_deref(), Some(format!("https://{NAME}").as_str()));
    assert_eq!(a_value(world), serving_ip(world));
}

/// Two instances given the same event at the same moment (EventBridge delivers at least once,
/// and Lambda runs deliveries in parallel): the notice is told once. Each claims it in the
/// service's tag and reads it back after the claims settle: the last claim wins. The same
/// when a RUNNING event's handling in one instance meets the reaper's tick in another, both
/// ready to tell "running".
pub async fn two_instances_given_the_same_event_tell_it_once(world: &impl World) {
    let (c, inbox) = setup(world).await;
    let other = world.named_controller(named(), zone(), inbox.clone()).await;
    c.start(None).await.unwrap();
    let (mut raced, mut running) = (None, None);
    for _ in 0..PATIENCE.as_secs() {
        sleep(Duration::from_secs(1)).await;
        for e in world.ecs().take_events() {
            let event = PlatformEvent::from_eventbridge(&e).unwrap().unwrap();
            let PlatformEvent::Task(t) = &event else {
                continue;
            };
            match t.last_status.as_str() {
                "PROVISIONING" if raced.is_none() => {
                    let (a, b) = tokio::join!(c.handle_event(&event), other.handle_event(&event));
                    raced = Some((a.unwrap().sent, b.unwrap().sent));
                }
                "RUNNING" => running = Some(event),
                _ => {}
            }
        }
        if running.is_some() {
            break;
        }
    }
    let (a, b) = raced.expect("a PROVISIONING event");
    assert!(a ^ b, "exactly one instance sent it: {a} {b}");
    assert_eq!(inbox.count(NoticeKind::Started), 1, "{:?}", inbox.kinds());

    // Grafana answers, the name is pointed and Route 53 serves it: both may tell "running".
    wait_for(c.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap();
    sleep(world.ecs().timing().dns_sync + Duration::from_secs(1)).await;
    assert!(!inbox.kinds().contains(&NoticeKind::Running));
    let running = running.expect("a RUNNING event");
    let (event, reaped) = tokio::join!(c.handle_event(&running), other.reap());
    reaped.unwrap();
    let kinds = inbox.kinds();
    assert_eq!(
        kinds.iter().filter(|k| **k == NoticeKind::Running).count(),
        1,
        "{kinds:?} (the event's instance sent: {})",
        event.unwrap().sent
    );
}

/// A stop ECS refuses (UpdateService denied) leaves the name on the Grafana that still runs
/// and writes no stop record: nothing announces a stop that did not happen.
pub async fn a_refused_stop_changes_neither_the_name_nor_the_record(world: &impl World) {
    let (c, _) = setup(world).await;
    let up = start_and_wait_running(c.as_ref()).await;
    let ip = up.endpoint.unwrap().ip;
    assert_eq!(a_value(world), Some(ip));
    let record = world.ecs().tags().get(STOP_TAG).cloned();
    assert!(record.as_deref().is_some_and(|r| r.starts_with("started ")));
    world.ecs().deny("UpdateService");
    assert!(c.stop().await.is_err(), "the stop was refused");
    assert_eq!(
        a_value(world),
        Some(ip),
        "still pointed at the task that runs"
    );
    assert_eq!(
        world.ecs().tags().get(STOP_TAG).cloned(),
        record,
        "no stop recorded"
    );
    assert_eq!(serving_ip(world), Some(ip));
    assert_eq!(c.status().await.unwrap().state, State::Running);
}

/// ECS replaces a task that fails its container health checks (stop code
/// ServiceSchedulerInitiated, as for a scale-in): people are told it failed, with ECS's
/// reason, and then that the replacement runs.
pub async fn a_task_replaced_for_failing_health_checks_is_told_as_failed(world: &impl World) {
    let (c, inbox) = setup(world).await;
    c.start(None).await.unwrap();
    wait_for(c.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap();
    deliver(world, c.as_ref()).await;
    assert!(world.ecs().fail_health_checks_of_running_task());
    let mut told = None;
    for _ in 0..PATIENCE.as_secs() {
        sleep(Duration::from_secs(1)).await;
        for handled in deliver(world, c.as_ref()).await {
            if let Some(n) = handled.notice.filter(|n| n.kind == NoticeKind::Failed) {
                told = Some(n);
            }
        }
        if told.is_some() {
            break;
        }
    }
    let failed = told.expect("the replacement was told as a failure");
    assert_eq!(
        failed.text,
        "Grafana failed: Task failed container health checks"
    );
    assert_eq!(inbox.count(NoticeKind::Failed), 1);
    assert!(
        !inbox.kinds().contains(&NoticeKind::Stopped),
        "{:?}",
        inbox.kinds()
    );
}

/// Starts through `c` and waits for `running`.
async fn start_and_wait_running(c: &dyn Watcher) -> Status {
    c.start(None).await.unwrap();
    let up = wait_for(c, State::Running, PATIENCE).await.unwrap();
    assert_eq!(up.state, State::Running, "{up:?}");
    up
}

/// Two instances given different events at the same moment (a crashed task's STOPPED and its
/// replacement's PROVISIONING), while ECS's tags lag their writes: each rewrites the service's
/// announced tag, erasing the other's claim, and both notices are told all the same, once.
/// Delivered again, unordered, to both instances: nothing more.
pub async fn two_instances_given_different_events_tell_both(world: &impl World) {
    let (c, inbox) = setup(world).await;
    let other = world.named_controller(named(), zone(), inbox.clone()).await;
    c.start(None).await.unwrap();
    wait_for(c.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap();
    deliver(world, c.as_ref()).await;
    let told_before = inbox.notices.lock().unwrap().len();
    assert!(world.ecs().crash_running_task("exit 137"));
    let (mut stopped, mut provisioning) = (None, None);
    let mut all = Vec::new();
    for _ in 0..PATIENCE.as_secs() {
        sleep(Duration::from_secs(1)).await;
        for e in world.ecs().take_events() {
            let event = PlatformEvent::from_eventbridge(&e).unwrap().unwrap();
            if let PlatformEvent::Task(t) = &event {
                match t.last_status.as_str() {
                    "STOPPED" => stopped = Some(event.clone()),
                    "PROVISIONING" => provisioning = Some(event.clone()),
                    _ => {}
                }
            }
            all.push(event);
        }
        if stopped.is_some() && provisioning.is_some() {
            break;
        }
    }
    let (stopped, provisioning) = (
        stopped.expect("STOPPED"),
        provisioning.expect("PROVISIONING"),
    );
    let (a, b) = tokio::join!(c.handle_event(&stopped), other.handle_event(&provisioning));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.sent && b.sent, "both told: {a:?} {b:?}");
    let mut told: Vec<NoticeKind> = inbox.notices.lock().unwrap()[told_before..]
        .iter()
        .map(|n| n.kind)
        .collect();
    told.sort();
    assert_eq!(told, [NoticeKind::Started, NoticeKind::Failed]);
    // Every event of the crash again, reversed, to both instances at once.
    for event in all.iter().rev() {
        let (x, y) = tokio::join!(c.handle_event(event), other.handle_event(event));
        assert!(!x.unwrap().sent && !y.unwrap().sent, "{event:?}");
    }
    assert_eq!(inbox.notices.lock().unwrap().len(), told_before + 2);
}

/// A notice as it was sent, with the world at that moment: the task that answers, and what
/// Route 53's name servers answer for the name.
type Seen = (Notice, Option<IpAddr>, Vec<NameRecord>);

/// Notices as they were sent, with the world at each moment.
#[derive(Debug)]
struct Witness {
    ecs: grafana_ondemand::mock::SimulatedEcs,
    seen: Mutex<Vec<Seen>>,
}

#[async_trait]
impl Notifier for Witness {
    async fn send(&self, notice: &Notice) -> Result<()> {
        let serving = self.ecs.serving().map(|(_, ip)| ip);
        let served = self.ecs.served_records(NAME);
        self.seen
            .lock()
            .unwrap()
            .push((notice.clone(), serving, served));
        Ok(())
    }
}

/// "Running" is told when Grafana answers at its name, not at ECS's RUNNING (the task's
/// containers started, Grafana still booting) nor when the record is merely written (Route 53
/// serves a change everywhere a while later): when the notice goes, the task it names answers
/// and every Route 53 name server answers the name with its address. Once, whatever else reads
/// the status.
pub async fn running_is_told_when_grafana_answers_at_its_name(world: &impl World) {
    world.ecs().add_hosted_zone(ZONE, "example.com");
    let witness = Arc::new(Witness {
        ecs: world.ecs().clone(),
        seen: Mutex::default(),
    });
    let c = world
        .named_controller(named(), zone(), witness.clone())
        .await;
    c.start(None).await.unwrap();
    let running = |seen: &[Seen]| {
        seen.iter()
            .filter(|(n, _, _)| n.kind == NoticeKind::Running)
            .cloned()
            .collect::<Vec<_>>()
    };
    let mut pending_seen = false;
    live(world, c.as_ref(), 2 * PATIENCE, |_| {
        // The window this is about: the record written, not yet served everywhere.
        pending_seen |= a_value(world).is_some_and(|ip| ip != IpAddr::V4(PARKED))
            && world.ecs().served_records(NAME) != world.ecs().records(ZONE, NAME);
        !running(&witness.seen.lock().unwrap()).is_empty()
    })
    .await;
    assert!(pending_seen, "the scenario saw the change PENDING");
    let told = running(&witness.seen.lock().unwrap());
    let [(notice, serving, served)] = told.as_slice() else {
        panic!("running told once: {told:?}");
    };
    let serving = serving.expect("Grafana answered when running was told");
    assert_eq!(
        served,
        &vec![NameRecord::address(serving, 30)],
        "Route 53 answered the name with its address"
    );
    assert_eq!(
        notice.text,
        "Grafana is running: https://grafana.example.com"
    );
    // The reaper's ticks see it run: nothing more is told.
    c.reap().await.unwrap();
    c.reap().await.unwrap();
    assert_eq!(running(&witness.seen.lock().unwrap()).len(), 1);
}

/// A Grafana slower to answer than the event's handling may wait: the RUNNING event tells
/// nothing, and the first reaper tick that sees it running at its name tells it.
pub async fn a_slow_boot_is_told_running_by_the_reaper(world: &impl World) {
    let (c, inbox) = setup(world).await;
    world.ecs().set_health_delay(Duration::from_secs(90));
    c.start(None).await.unwrap();
    let handled = live(world, c.as_ref(), 3 * PATIENCE, |_| {
        inbox.kinds().contains(&NoticeKind::Running)
    })
    .await;
    assert!(
        handled
            .iter()
            .any(|h| matches!(&h.notice, Some(n) if n.kind == NoticeKind::Started)),
        "events were handled"
    );
    for h in &handled {
        assert!(
            h.notice
                .as_ref()
                .is_none_or(|n| n.kind != NoticeKind::Running),
            "no event told it: {h:?}"
        );
    }
    assert_eq!(inbox.count(NoticeKind::Running), 1, "{:?}", inbox.kinds());
}
