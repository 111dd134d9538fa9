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
