//! A simulated ECS and EC2 for grafana-ondemand: a model of a service, its tasks moving
//! through their lifecycle and their ENIs, its Route 53 zone and the events EventBridge
//! delivers, on tokio time, with faults to inject and calls counted. The core's [`Controller`](grafana_ondemand_core::Controller) runs on it
//! unchanged, so every behaviour can be tried offline, in milliseconds under paused time.
//!
//! ```
//! use grafana_ondemand_core::{wait_for, Controller, ServiceController, ServiceProfile, State};
//! use grafana_ondemand_mock::{SimulatedEcs, SimulatedProbe, Timing};
//! use std::{sync::Arc, time::Duration};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let ecs = SimulatedEcs::new(Timing::fargate());
//! let grafana = Controller::new(ecs.clone(), ServiceProfile::grafana(), Arc::new(SimulatedProbe::new(ecs)));
//! grafana.start(None).await.unwrap();
//! let up = wait_for(&grafana, State::Running, Duration::from_secs(120)).await.unwrap();
//! assert!(up.url().unwrap().starts_with("http://127.0.0."));
//! # }
//! ```
//!
//! ## Features
//!
//! - `wire`: the same world served over the AWS wire protocols (ECS JSON, EC2 query, CloudWatch
//!   Logs, Route 53, KeyValueStore, ...) with wiremock, for the real SDK; and a Lambda Runtime
//!   API emulator to drive a Lambda binary.
//! - `edge`: the front door as the module deploys it: the CloudFront function in QuickJS at a
//!   simulated edge, and a simulated API Gateway HTTP API behind it.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backup;
mod ecs;
#[cfg(feature = "edge")]
pub mod edge;
mod events;
pub mod iam;
mod kvs;
mod log_filter;
mod model;
mod network;
mod probe;
#[cfg(feature = "wire")]
pub mod runtime_api;
mod stand_in;
mod timing;
mod tls;
#[cfg(feature = "wire")]
pub mod wire;
mod zone;

pub use backup::{OneOffRun, RestoreJobRecord};
pub use ecs::SimulatedEcs;
pub use events::stamped_fixture;
pub use log_filter::LogFilter;
pub use model::{ADDRESS_POOL, FIRST_ADDRESS};
pub use network::NameProxy;
pub use probe::SimulatedProbe;
pub use stand_in::StandIn;
pub use timing::Timing;
pub use tls::{TestCertificate, TlsListener};
