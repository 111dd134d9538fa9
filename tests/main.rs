//! Integration tests: one binary, so the AWS SDK is linked once.
#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod scenarios;
mod support;

mod api_contract;
mod api_gateway;
mod aws_wire;
mod cli;
mod dashboards;
mod docs;
mod doctor;
mod door;
mod ec2_moto;
mod iam;
mod lambda_runtime;
mod restore;
mod server;
mod simulated;
mod tls;
