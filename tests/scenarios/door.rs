//! The front door's entry, on every backend: the controller writes it compare-and-set
//! (ETag, generation), asleep with the stop, running only for a task it can reach by name,
//! put right when changed, and never says "running" while the entry is not written.

use super::names::{Inbox, NAME, Watcher, deliver};
use super::{PATIENCE, World};
use grafana_ondemand::{
    DOOR_KEY, DoorEntry, DoorState, ENTRY_RECHECK, FrontDoor, NoticeKind, OriginProtocol,
    ServiceProfile, State, wait_for,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::sleep;

pub const STORE: &str = "arn:aws:cloudfront::123456789012:key-value-store/0a1b2c3d-4e5f-door";
const GRACE: Duration = Duration::from_secs(5);

/// The door as the module makes it without a certificate on the task: HTTP to port 3000.
pub fn front_door() -> FrontDoor {
    FrontDoor {
        store_arn: STORE.into(),
        host: NAME.into(),
        protocol: OriginProtocol::Http,
        port: 3000,
        grace: GRACE,
    }
}

/// The entry as the store's API reads it now.
pub fn door_entry(world: &impl World) -> Option<DoorEntry> {
    door_entry_of(world.ecs())
}

/// The entry in `ecs`'s store, as its API reads it now.
pub fn door_entry_of(ecs: &grafana_ondemand::mock::SimulatedEcs) -> Option<DoorEntry> {
    ecs.store_value(STORE, DOOR_KEY)
        .and_then(|v| DoorEntry::parse(&v))
}

async fn door_setup(world: &impl World) -> (Box<dyn Watcher>, Arc<Inbox>) {
    world.ecs().add_key_value_store(STORE);
    let inbox = Arc::new(Inbox::default());
    let c = world
        .door_controller(ServiceProfile::grafana(), front_door(), inbox.clone())
        .await;
    (c, inbox)
}

/// Starts and sleeps until ECS reports the task healthy, without reading any status.
async fn started_and_healthy(world: &impl World, c: &dyn Watcher) {
    c.start(None).await.expect("start");
    let t = world.ecs().timing();
    sleep(t.provisioning + t.pending + t.activating + t.healthy_after() + Duration::from_secs(5))
        .await;
}

/// Two instances read the empty store at once and both write: one PutKey wins, the other's
/// ETag is stale; it reads again, finds the same route one generation up, and leaves it.
/// Someone else's write between a read and a put is retried on a fresh read. A write made
/// after this controller's read (a newer generation, another route) is never overwritten by
/// that read: it says so and the next status decides again.
pub async fn two_controllers_racing_the_door_write_it_once(world: &impl World) {
    let (a, _) = door_setup(world).await;
    let b = world
        .door_controller(
            ServiceProfile::grafana(),
            front_door(),
            Arc::new(Inbox::default()),
        )
        .await;
    started_and_healthy(world, a.as_ref()).await;
    let (sa, sb) = tokio::join!(a.status(), b.status());
    let (sa, sb) = (sa.unwrap(), sb.unwrap());
    assert_eq!(
        (sa.state, sb.state),
        (State::Running, State::Running),
        "{sa:?} {sb:?}"
    );
    assert_eq!(sa.url().as_deref(), Some("https://grafana.example.com"));
    let entry = door_entry(world).expect("written");
    assert_eq!(
        (entry.state, entry.generation),
        (DoorState::Running, 1),
        "{entry:?}"
    );
    let puts = world.calls("PutKey");
    assert!((1..=2).contains(&puts), "one write each at most: {puts}");
    // Steady: no more writes, the generation kept.
    a.status().await.unwrap();
    b.status().await.unwrap();
    assert_eq!(world.calls("PutKey"), puts);
    assert_eq!(door_entry(world).unwrap().generation, 1);

    // Someone else writes another key between the read and the write: retried, and wins
    // (once the controller reads the store again: it trusts what it wrote for ENTRY_RECHECK).
    world.ecs().write_store_by_hand(
        STORE,
        DOOR_KEY,
        Some(r#"{"state":"asleep","generation":1}"#),
    );
    world.ecs().race_next_store_writes(1);
    sleep(ENTRY_RECHECK).await;
    let s = a.status().await.unwrap();
    assert_eq!(s.state, State::Running, "{s:?}");
    assert_eq!(door_entry(world).unwrap().generation, 2);
    assert_eq!(door_entry(world).unwrap().state, DoorState::Running);

    // Another controller writes asleep, generation 7, right after this one's read: its write
    // is newer than this read of ECS, and stays.
    world.ecs().write_store_by_hand(
        STORE,
        DOOR_KEY,
        Some(r#"{"state":"asleep","generation":5}"#),
    );
    world.ecs().write_store_after_next_read(
        STORE,
        DOOR_KEY,
        r#"{"state":"asleep","generation":7}"#,
    );
    sleep(ENTRY_RECHECK).await;
    let s = a.status().await.unwrap();
    assert_eq!(
        s.state,
        State::Starting,
        "not running through a door it did not open: {s:?}"
    );
    assert!(
        s.reason.as_deref().unwrap().contains("another controller"),
        "{s:?}"
    );
    assert_eq!(door_entry(world).unwrap().generation, 7);
    // The next status reads ECS afresh: Grafana still runs, so the door opens, one up.
    let s = a.status().await.unwrap();
    assert_eq!(s.state, State::Running, "{s:?}");
    let entry = door_entry(world).unwrap();
    assert_eq!((entry.state, entry.generation), (DoorState::Running, 8));
}

/// The stop writes asleep at once, while the task still shuts down: nothing is sent to a
/// Grafana on its way out.
pub async fn a_stop_closes_the_door_before_the_task_is_gone(world: &impl World) {
    let (c, _) = door_setup(world).await;
    c.start(None).await.unwrap();
    let up = wait_for(c.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap();
    assert_eq!(up.state, State::Running);
    let open = door_entry(world).expect("written");
    assert_eq!(open.state, DoorState::Running);
    let (_, ip) = world.ecs().serving().expect("a task serves");
    assert_eq!(
        open.origin
            .as_deref()
            .and_then(|o| world.ecs().resolve_public_name(o)),
        Some(ip),
        "the origin is the serving task's public DNS name"
    );
    assert_eq!(open.host.as_deref(), Some(NAME));
    assert_eq!(
        (open.protocol, open.port),
        (Some(OriginProtocol::Http), Some(3000))
    );

    let s = c.stop().await.unwrap();
    assert_eq!(s.state, State::Stopping);
    let closed = door_entry(world).expect("written");
    assert_eq!(closed.state, DoorState::Asleep);
    assert!(closed.generation > open.generation);
    assert_eq!(
        world.ecs().alive_tasks(),
        1,
        "the task is still shutting down"
    );
    wait_for(c.as_ref(), State::Stopped, PATIENCE)
        .await
        .unwrap();
    assert_eq!(door_entry(world).unwrap(), closed, "nothing more to write");
}

/// A VPC without DNS hostnames gives the task no public DNS name: the door cannot reach it
/// (an origin cannot be an IP), and status says so and what to change, instead of running.
pub async fn a_task_without_a_public_dns_name_is_a_clear_failure(world: &impl World) {
    let (c, _) = door_setup(world).await;
    world.ecs().set_public_dns_names(false);
    started_and_healthy(world, c.as_ref()).await;
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Failed, "{s:?}");
    let reason = s.reason.clone().unwrap();
    assert!(
        reason.contains("no public DNS name") && reason.contains("enableDnsHostnames"),
        "{reason}"
    );
    assert_eq!(s.url(), None, "no URL that would not open");
    assert!(
        door_entry(world).is_none_or(|e| e.state == DoorState::Asleep),
        "the door stays asleep"
    );
}

/// The entry changed by someone else (deleted, or pointed elsewhere) is written back by the
/// first status once the controller's trust in what it wrote has run out ([`ENTRY_RECHECK`]:
/// the store's API calls are billed), one generation above what it found; before that, a
/// status reads nothing from the store.
pub async fn a_door_changed_by_hand_is_put_right_by_the_next_status(world: &impl World) {
    let (c, _) = door_setup(world).await;
    c.start(None).await.unwrap();
    wait_for(c.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap();
    let open = door_entry(world).unwrap();

    world.ecs().write_store_by_hand(
        STORE,
        DOOR_KEY,
        Some(r#"{"state":"running","generation":41,"origin":"ec2-192-0-2-1.eu-west-3.compute.amazonaws.com","host":"grafana.example.com","protocol":"http","port":3000}"#),
    );
    let reads = world.ecs().call_count("GetKey");
    assert_eq!(c.status().await.unwrap().state, State::Running);
    assert_eq!(
        world.ecs().call_count("GetKey"),
        reads,
        "trusted: no read of the store"
    );
    assert_eq!(
        door_entry(world).unwrap().generation,
        41,
        "not yet put right"
    );
    sleep(ENTRY_RECHECK).await;
    assert_eq!(c.status().await.unwrap().state, State::Running);
    assert_eq!(
        world.ecs().call_count("GetKey"),
        reads + 1,
        "read once the trust ran out"
    );
    let fixed = door_entry(world).unwrap();
    assert!(
        fixed.routes_like(&DoorEntry {
            generation: 0,
            ..open.clone()
        }),
        "{fixed:?}"
    );
    assert_eq!(fixed.generation, 42);

    world.ecs().write_store_by_hand(STORE, DOOR_KEY, None);
    sleep(ENTRY_RECHECK).await;
    assert_eq!(c.status().await.unwrap().state, State::Running);
    let fixed = door_entry(world).unwrap();
    assert_eq!((fixed.state, fixed.generation), (DoorState::Running, 1));

    world
        .ecs()
        .write_store_by_hand(STORE, DOOR_KEY, Some("not json"));
    sleep(ENTRY_RECHECK).await;
    assert_eq!(c.status().await.unwrap().state, State::Running);
    assert_eq!(door_entry(world).unwrap().state, DoorState::Running);
}

/// A write the store refuses (denied here; throttled alike) keeps status "starting" with
/// what failed, and no URL, for as long as it lasts; the first status after it is allowed
/// opens the door and says running.
pub async fn a_refused_door_write_keeps_status_off_running(world: &impl World) {
    let (c, _) = door_setup(world).await;
    world.ecs().deny("PutKey");
    started_and_healthy(world, c.as_ref()).await;
    let s = wait_for(c.as_ref(), State::Running, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(s.state, State::Starting, "{s:?}");
    let reason = s.reason.clone().unwrap();
    assert!(
        reason.contains("front door") && reason.contains("cloudfront-keyvaluestore:PutKey"),
        "{reason}"
    );
    assert!(s.message.contains("Trying again"), "{}", s.message);
    assert_eq!(s.url(), None);
    assert!(door_entry(world).is_none());

    world.ecs().allow("PutKey");
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Running, "{s:?}");
    assert_eq!(door_entry(world).unwrap().state, DoorState::Running);
}

/// "Running" is told once the entry is written and the propagation grace has passed: never
/// before the edges can have it.
pub async fn the_running_notice_waits_for_the_door_to_propagate(world: &impl World) {
    let (c, inbox) = door_setup(world).await;
    c.start(None).await.unwrap();
    let mut told_at = None;
    for second in 1..=PATIENCE.as_secs() {
        sleep(Duration::from_secs(1)).await;
        deliver(world, c.as_ref()).await;
        if second % 60 == 0 {
            c.reap().await.expect("the reaper's tick");
        }
        if inbox.count(NoticeKind::Running) > 0 {
            told_at = Some(world.ecs().now());
            break;
        }
    }
    let told_at = told_at.expect("running is told");
    let written = world
        .ecs()
        .store_written_at(STORE, DOOR_KEY)
        .expect("the entry was written");
    assert_eq!(door_entry(world).unwrap().state, DoorState::Running);
    let after = (told_at - written).to_std().unwrap();
    assert!(
        after >= GRACE && after < GRACE + Duration::from_secs(8),
        "told {after:?} after the write"
    );
    assert_eq!(inbox.count(NoticeKind::Running), 1);
    let notice = inbox.notices.lock().unwrap().last().cloned().unwrap();
    assert!(
        notice.url.as_deref() == Some("https://grafana.example.com"),
        "{notice:?}"
    );
}

/// A start's phases come from ECS's own timestamps (the pull: PENDING's work) and from what
/// the controller saw (healthy at the first look that found it so, within the time since the
/// look before; running once the door's grace is over), and every instance reports the same
/// figures afterwards: they are kept on the service.
pub async fn a_start_is_timed_from_ecs_timestamps(world: &impl World) {
    let (c, _inbox) = door_setup(world).await;
    c.start(None).await.unwrap();
    let mut up = None;
    // As the page does: a look every second.
    for _ in 0..PATIENCE.as_secs() {
        sleep(Duration::from_secs(1)).await;
        let s = c.status().await.unwrap();
        if s.state == State::Running && s.timings.as_ref().is_some_and(|t| t.ready.is_some()) {
            up = Some(s);
            break;
        }
    }
    let up = up.expect("running, timed");
    let t = up.timings.clone().unwrap();
    let timing = world.ecs().timing();
    let secs = |d: Duration| d.as_secs_f64();
    let near = |v: Option<f64>, want: f64, slack: f64| {
        v.is_some_and(|v| v >= want - 0.05 && v <= want + slack)
    };
    assert_eq!(t.pulling, Some(secs(timing.pending)), "ECS's pull: {t:?}");
    assert!(near(t.placing, secs(timing.provisioning), 0.5), "{t:?}");
    // Healthy at RUNNING's first health check that passes, seen at the next look: the true
    // moment lies within `booting_within` before the one reported.
    let healthy = secs(timing.activating + timing.healthy_after());
    let (booting, within) = (t.booting.unwrap(), t.booting_within.unwrap());
    assert!(
        booting >= healthy - 0.05 && booting - within <= healthy + 0.05,
        "{t:?}"
    );
    assert!(within <= 1.5, "looked every second: {t:?}");
    assert!(near(t.front_door, secs(GRACE), 1.1), "{t:?}");
    let sum = t.placing.unwrap() + t.pulling.unwrap() + t.booting.unwrap() + t.front_door.unwrap();
    assert!((t.ready.unwrap() - sum).abs() < 0.35, "{t:?}");
    let line = t.summary.clone().unwrap();
    assert!(
        line.starts_with("ready in ")
            && line.contains(" s pulling, ")
            && line.ends_with(" s front door"),
        "{line}"
    );
    // Another instance, and a later look, say the same.
    sleep(Duration::from_secs(3)).await;
    let other = world.another_controller(ServiceProfile::grafana()).await;
    let later = other
        .status()
        .await
        .unwrap()
        .timings
        .expect("timings from the service");
    assert_eq!(
        (later.ready, later.booting, later.summary.as_deref()),
        (t.ready, t.booting, Some(line.as_str()))
    );
    let again = c.status().await.unwrap().timings.unwrap();
    assert_eq!(again.ready, t.ready);
}
