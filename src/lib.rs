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
//!
//! ## Features
//!
//! Default: all of them (the frontends' examples use them). A library picks what it needs
//! ([docs/library.md](https://github.com/grafana-ondemand/grafana-ondemand/blob/main/docs/library.md)):
//! - `mock`: the simulated ECS (`grafana-ondemand-mock`), re-exported as [`mock`].
//! - `aws`: the ECS backend (`grafana-ondemand-aws`), re-exported as [`aws`].
//! - `web`: [`web::router`], the HTTP contract and its page on axum.
//! - `lambda`: [`lambda`], the contract inside a Lambda function (lambda_http).
//! - `edge`: the simulated front door (edge and API Gateway) in front of an in-process
//!   controller (`mock`'s `edge`, and `lambda`).
//! - `admin`: the CLI's operator commands: `doctor` and `restore` (`aws`'s features).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use grafana_ondemand_core::*;

pub mod api;
#[cfg(any(feature = "aws", feature = "mock"))]
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

/// docs/library.md's Rust blocks, compiled and run as doctests: the guide cannot drift from
/// the API it shows.
#[cfg(doctest)]
#[doc = include_str!("../docs/library.md")]
pub struct LibraryGuide;
