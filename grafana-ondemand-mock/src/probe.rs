//! Readiness without a network: asks the simulated ECS whether the task at an IP answers.

use crate::ecs::SimulatedEcs;
use async_trait::async_trait;
use grafana_ondemand_core::{Endpoint, Readiness, ReadinessProbe};

/// A [`ReadinessProbe`] answered by the model: ready once the task has run for the
/// configured health delay, unreachable when the model says the controller has no network
/// path to the tasks. For tests under paused time, where no socket may wait.
#[derive(Debug, Clone)]
pub struct SimulatedProbe {
    ecs: SimulatedEcs,
}

impl SimulatedProbe {
    /// A probe over this simulated ECS.
    pub fn new(ecs: SimulatedEcs) -> Self {
        SimulatedProbe { ecs }
    }
}

#[async_trait]
impl ReadinessProbe for SimulatedProbe {
    async fn check(&self, endpoint: &Endpoint) -> Readiness {
        let path = self.ecs.health_path();
        if !self.ecs.is_reachable() {
            return Readiness::NotReady(format!("{path} could not be reached"));
        }
        if self.ecs.is_answering(endpoint.ip) {
            Readiness::Ready
        } else {
            Readiness::NotReady(format!("{path} answered HTTP 503"))
        }
    }
}
