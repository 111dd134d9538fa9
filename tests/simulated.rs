//! The scenario suite on the simulated ECS, in process.

use crate::scenarios::World;
use grafana_ondemand::mock::{SimulatedEcs, SimulatedProbe, Timing};
use grafana_ondemand::{Controller, ServiceController, ServiceProfile};
use std::sync::Arc;

struct Simulated {
    ecs: SimulatedEcs,
    controller: Controller<SimulatedEcs>,
}

impl Simulated {
    fn new() -> Self {
        let ecs = SimulatedEcs::new(Timing::fargate());
        let probe = Arc::new(SimulatedProbe::new(ecs.clone()));
        Simulated {
            controller: Controller::new(ecs.clone(), ServiceProfile::grafana(), probe),
            ecs,
        }
    }
}

impl World for Simulated {
    fn controller(&self) -> &dyn ServiceController {
        &self.controller
    }
    fn ecs(&self) -> &SimulatedEcs {
        &self.ecs
    }
    async fn another_controller(&self, profile: ServiceProfile) -> Box<dyn ServiceController> {
        let probe = Arc::new(SimulatedProbe::new(self.ecs.clone()));
        Box::new(Controller::new(self.ecs.clone(), profile, probe))
    }
    async fn named_controller(
        &self,
        profile: ServiceProfile,
        zone: grafana_ondemand::HostedZone,
        notifier: Arc<dyn grafana_ondemand::Notifier>,
    ) -> Box<dyn crate::scenarios::Watcher> {
        let probe = Arc::new(SimulatedProbe::new(self.ecs.clone()));
        Box::new(
            Controller::new(self.ecs.clone(), profile, probe)
                .with_hosted_zone(zone)
                .expect("the profile has a name")
                .with_notifier(notifier),
        )
    }
    async fn door_controller(
        &self,
        profile: ServiceProfile,
        door: grafana_ondemand::FrontDoor,
        notifier: Arc<dyn grafana_ondemand::Notifier>,
    ) -> Box<dyn crate::scenarios::Watcher> {
        let probe = Arc::new(SimulatedProbe::new(self.ecs.clone()));
        Box::new(
            Controller::new(self.ecs.clone(), profile, probe)
                .with_front_door(door)
                .expect("a door alone")
                .with_notifier(notifier),
        )
    }
}

crate::scenario_suite!(Simulated::new());

/// What only the simulated world can time exactly: a user's real extend, through its own
/// controller, racing a reaper's tick in another instance. Calls take 30 ms each on the paused
/// clock, so the extend's TagResource lands after the reaper's first read and before its
/// second: the reaper must see it and keep the session.
#[tokio::test(start_paused = true)]
async fn a_real_extend_racing_the_reaper_wins() {
    use grafana_ondemand::{State, wait_for};
    use std::time::Duration;
    let w = Simulated::new();
    w.controller.start(None).await.unwrap();
    let up = wait_for(&w.controller, State::Running, Duration::from_secs(180))
        .await
        .unwrap();
    assert_eq!(up.state, State::Running);
    w.controller.status().await.unwrap(); // the user's instance is warm
    tokio::time::sleep(Duration::from_secs(20 * 60)).await; // unused, past the grace
    let reaper = w.another_controller(ServiceProfile::grafana()).await;
    let (updates, reads) = (
        w.ecs.call_count("UpdateService"),
        w.ecs.call_count("DescribeServices"),
    );
    let (reaped, extended) = tokio::join!(
        reaper.reap(),
        w.controller.extend(Duration::from_secs(3600))
    );
    assert_eq!(extended.unwrap().state, State::Running);
    let reaped = reaped.unwrap();
    assert_eq!(reaped.state, State::Running, "{reaped:?}");
    assert_eq!(
        w.ecs.call_count("UpdateService"),
        updates,
        "nothing stopped"
    );
    assert_eq!(w.ecs.desired_count(), 1);
    // Two reads each: the extend's (before, and after its tag) and the reaper's (before it
    // decided to stop, and again before acting, where it found the lease).
    assert_eq!(w.ecs.call_count("DescribeServices"), reads + 4);

    // The same race without the extend stops it: the reaper was due.
    let reaper = w.another_controller(ServiceProfile::grafana()).await;
    tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
    assert_eq!(reaper.reap().await.unwrap().state, State::Stopping);
}

/// One thing that happens to the service: a person's action, the platform's machinery, or a
/// fault of the world.
#[derive(Debug, Clone)]
enum Happening {
    Start,
    Stop,
    Extend,
    Reap,
    Status,
    /// An event ECS emitted, handed to the controller (EventBridge).
    Events,
    /// Another instance (its own memory, the same service) starts it.
    StartElsewhere,
    Throttle(u32),
    TagLag(u64),
    Wait(u64),
}

fn happening() -> impl proptest::strategy::Strategy<Value = Happening> {
    use proptest::prelude::*;
    prop_oneof![
        3 => Just(Happening::Start),
        3 => Just(Happening::Stop),
        1 => Just(Happening::Extend),
        2 => Just(Happening::Reap),
        2 => Just(Happening::Status),
        2 => Just(Happening::Events),
        2 => Just(Happening::StartElsewhere),
        1 => (1u32..4).prop_map(Happening::Throttle),
        1 => (0u64..4).prop_map(Happening::TagLag),
        4 => (1u64..45).prop_map(Happening::Wait),
    ]
}

/// Tasks whose container is up (from ACTIVATING until the end of STOPPING: a container still
/// shutting down still has Grafana's database open).
fn containers_up(ecs: &SimulatedEcs) -> usize {
    use grafana_ondemand::TaskPhase::*;
    ecs.task_phases()
        .iter()
        .filter(|p| matches!(p, Activating | Running | Deactivating | Stopping))
        .count()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Whatever people, the reaper, ECS's events and the world's faults do, in any order, the
    /// controller never has two Grafanas up at once on one database: a start waits for the
    /// previous task's container to be gone (ECS's 30 s stop timeout here), wherever it is
    /// asked and whichever instance carries it out.
    #[test]
    fn never_two_grafanas_at_once(happenings in proptest::collection::vec(happening(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            use grafana_ondemand::{EventHandler, PlatformEvent};
            let ecs = SimulatedEcs::new(Timing::fargate());
            ecs.set_stop_timeout(std::time::Duration::from_secs(30));
            let controller = |ecs: &SimulatedEcs| {
                let probe = Arc::new(SimulatedProbe::new(ecs.clone()));
                Controller::new(ecs.clone(), ServiceProfile::grafana(), probe)
            };
            let (c, other) = (controller(&ecs), controller(&ecs));
            let mut most = 0;
            for h in &happenings {
                match h {
                    Happening::Start => { let _ = c.start(None).await; }
                    Happening::Stop => { let _ = c.stop().await; }
                    Happening::Extend => { let _ = c.extend(std::time::Duration::from_secs(600)).await; }
                    Happening::Reap => { let _ = c.reap().await; }
                    Happening::Status => { let _ = c.status().await; }
                    Happening::StartElsewhere => { let _ = other.start(None).await; }
                    Happening::Events => {
                        for e in ecs.take_events() {
                            if let Some(Ok(event)) = PlatformEvent::from_eventbridge(&e) {
                                let _ = c.handle_event(&event).await;
                            }
                        }
                    }
                    Happening::Throttle(n) => ecs.throttle_next_calls(*n),
                    Happening::TagLag(s) => ecs.set_tag_lag(std::time::Duration::from_secs(*s)),
                    Happening::Wait(s) => {
                        for _ in 0..*s {
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                            let _ = ecs.desired_count(); // the world moves on
                            most = most.max(containers_up(&ecs));
                        }
                    }
                }
                most = most.max(containers_up(&ecs));
                if most > 1 {
                    break;
                }
            }
            proptest::prop_assert!(most <= 1, "{most} Grafanas up at once after {happenings:?}: {:?}", ecs.task_phases());
            Ok(())
        })?;
    }
}
