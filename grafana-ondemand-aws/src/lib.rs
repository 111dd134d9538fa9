//! The ECS Fargate backend of grafana-ondemand, on the official AWS SDK for Rust (rustls only).
//!
//! [`EcsPlatform`] translates the core's [`Platform`](grafana_ondemand_core::Platform)
//! operations to ECS (`UpdateService`, `DescribeServices`, `ListTasks`, `DescribeTasks`) and
//! EC2 (`DescribeNetworkInterfaces`) calls; every decision stays in the core's `Controller`.
//!
//! ```no_run
//! # async fn run() -> grafana_ondemand_core::Result<()> {
//! use grafana_ondemand_core::ServiceController;
//! let grafana = grafana_ondemand_aws::Builder::new().cluster("ondemand").service("grafana")
//!     .region("eu-west-3").build_controller().await?;
//! let status = grafana.start(None).await?; // returns at once: "starting"
//! # Ok(()) }
//! ```
//!
//! Calls per status: see [`Controller`](grafana_ondemand_core::Controller); the IAM policy
//! it needs is `iam-policy.json` beside this crate.
//!
//! ## Features
//!
//! None by default: the backend alone is what a controller (a Lambda) links.
//! - `doctor`: `Doctor`, read-only checks of a deployment (adds IAM, EFS, ACM, SSM clients).
//! - `restore`: `BackupRestore`, putting an AWS Backup recovery point back (adds AWS Backup).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
#[cfg(feature = "doctor")]
mod doctor;
mod ec2;
mod errors;
mod notify;
mod platform;
#[cfg(feature = "restore")]
mod restore;

/// The AWS SDK's configuration loader, re-exported: a caller builds an [`SdkConfig`] for
/// [`Builder::sdk_config`] with no `aws-config` dependency of its own.
pub use aws_config;
/// The AWS SDK's shared configuration, as [`Builder::sdk_config`] takes it.
pub use aws_config::SdkConfig;
/// Static AWS credentials (tests, stubs), for an [`SdkConfig`].
pub use aws_sdk_ecs::config::Credentials;
pub use config::{Builder, request_log_from_env, secure_parameter};
#[cfg(feature = "doctor")]
pub use doctor::{
    CERTIFICATE_TAG, CHECKIP_URL, CONTROLLER_ROLE_TAG, Check, DOOR_TAG, Doctor, GRAFANA_URL_TAG,
    NAME_TAG, Verdict, ZONE_TAG,
};
pub use notify::SnsTopic;
pub use platform::{Clock, EcsPlatform, RequestLog};
#[cfg(feature = "restore")]
pub use restore::{BackupRestore, MOVER_CONTAINER, RESTORED_ITEM, RestoreSettings};
