//! grafana-ondemand: run Grafana (or any HTTP service) on ECS Fargate only while someone uses
//! it. This facade re-exports the core and, behind features, the backends — `aws`
//! ([`aws`]) and `mock` ([`mock`]) — and what the frontends share: the HTTP contract
//! ([`api`]), the web router ([`web`]), backend selection ([`backend`]) and a controller
//! over a deployed API ([`remote`]), and the contract inside a Lambda function (`lambda`).
//!
//! ```
//! use grafana_ondemand::{ServiceProfile, State};
//! assert_eq!(ServiceProfile::grafana().port, 3000);
//! assert_eq!(State::Running.to_string(), "running");
//! ```
#![deny(missing_docs)]

pub use grafana_ondemand_core::*;

pub mod api;
#[cfg(all(feature = "aws", feature = "mock"))]
pub mod backend;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod remote;
#[cfg(feature = "web")]
pub mod web;

#[cfg(feature = "aws")]
pub use grafana_ondemand_aws as aws;
#[cfg(feature = "mock")]
pub use grafana_ondemand_mock as mock;
