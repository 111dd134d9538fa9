//! Integration tests: one binary, so the AWS SDK is linked once.
#![allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly

mod aws_wire;
mod scenarios;
mod simulated;
