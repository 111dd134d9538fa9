//! The whole front door of the simulated world, wired as the module deploys it: viewers →
//! an edge location running the door's function → (asleep) the HTTP API with the module's
//! routes and permission → the controller's function; (awake) the task.

use super::{EdgeLocation, FrontDoorConfig, HttpApi, LambdaFunction, Origins};
use crate::ecs::SimulatedEcs;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The simulated API's execution ARN: what the module's permission is written against.
pub const SIMULATED_EXECUTION_ARN: &str = "arn:aws:execute-api:eu-west-3:123456789012:simapi0001";
/// The simulated API's own domain: the distribution's controller origin.
pub const SIMULATED_API_DOMAIN: &str = "simapi0001.execute-api.eu-west-3.amazonaws.com";

/// What the door leads to, beside the module's configuration.
#[derive(Debug, Clone)]
pub struct DoorWorld {
    /// The simulated AWS: the KeyValueStore, and EC2's public DNS names.
    pub ecs: SimulatedEcs,
    /// The door's KeyValueStore.
    pub store_arn: String,
    /// How long a write of its entry takes to reach the edge.
    pub propagation: Duration,
    /// Where a task's port 443 is served on this machine.
    pub service_port: u16,
    /// The CA a task's certificate is checked against, PEM (HTTPS origins).
    pub origin_ca_pem: Option<String>,
}

/// A running front door: its edge and the HTTP API behind it; dropped, both stop.
#[derive(Debug)]
pub struct SimulatedFrontDoor {
    edge: EdgeLocation,
    api: Arc<HttpApi>,
    api_addr: SocketAddr,
    api_task: tokio::task::JoinHandle<()>,
}

impl SimulatedFrontDoor {
    /// Serves viewers on `viewers` (plain TCP, or a [`TlsListener`](crate::TlsListener)) and
    /// the HTTP API on `api` (plain HTTP on loopback), configured by `module`, invoking
    /// `function`.
    pub fn spawn<L>(
        viewers: L,
        api: tokio::net::TcpListener,
        module: FrontDoorConfig,
        function: Arc<dyn LambdaFunction>,
        world: DoorWorld,
    ) -> std::io::Result<SimulatedFrontDoor>
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
    {
        let api_addr = api.local_addr()?;
        let http_api = HttpApi::new(
            module.api,
            SIMULATED_EXECUTION_ARN,
            SIMULATED_API_DOMAIN,
            function,
        )
        .map_err(std::io::Error::other)?;
        let api_task = http_api.spawn(api);
        let edge = EdgeLocation::spawn(
            viewers,
            Origins {
                ecs: world.ecs,
                store_arn: world.store_arn,
                propagation: world.propagation,
                distribution: module.distribution,
                controller: api_addr,
                service_port: world.service_port,
                origin_ca_pem: world.origin_ca_pem,
            },
        )?;
        Ok(SimulatedFrontDoor {
            edge,
            api: http_api,
            api_addr,
            api_task,
        })
    }

    /// Where viewers reach the edge.
    pub fn edge_addr(&self) -> SocketAddr {
        self.edge.addr()
    }

    /// Where the HTTP API listens (its own domain, reached directly).
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The HTTP API (its invocation count).
    pub fn api(&self) -> &Arc<HttpApi> {
        &self.api
    }
}

impl Drop for SimulatedFrontDoor {
    fn drop(&mut self) {
        self.api_task.abort();
    }
}
