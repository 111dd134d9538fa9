//! Helpers for the frontend tests: the built examples, free ports, clean environments.

use std::path::PathBuf;
use std::process::Command;

/// The path of a built example (`cargo test` builds examples beside the test binaries).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo test --workspace`",
        path.display()
    );
    path
}

/// A port free on loopback now (and so, almost surely, on 127.0.0.10 to .25 too).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A command for an example, with no AWS or backend settings inherited from the caller.
pub fn command(name: &str) -> Command {
    let mut c = Command::new(example(name));
    for var in [
        "BACKEND",
        "CLUSTER_NAME",
        "SERVICE_NAME",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
        "ACCESS_TOKEN",
        "ACCESS_TOKEN_SECRET_ARN",
        "ALLOWED_ORIGINS",
        "PROTECT_STATUS",
        "SIMULATED_TIME_SCALE",
        "SERVICE_PORT",
        "LISTEN",
        "RUST_LOG",
    ] {
        c.env_remove(var);
    }
    c.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    c
}

/// Where tests leave files for people to look at (screenshots).
pub fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}
