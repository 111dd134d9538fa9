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
}

crate::scenario_suite!(Simulated::new());
