//! Helpers for the frontend tests: the built examples, free ports, clean environments.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// The path of an example binary, built now by cargo so that a test never runs what an
/// earlier build left behind (`cargo test` does not build examples that have unit tests).
pub fn example(name: &str) -> PathBuf {
    static BUILT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let target_dir = profile_dir.parent().expect("target dir");
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if !built.contains(name) {
        let mut cargo = Command::new(env!("CARGO"));
        // With every feature, as the test build unified them: the same build, not another.
        cargo
            .args(["build", "--quiet", "--example", name, "--all-features"])
            .args(["--package", "grafana-ondemand", "--manifest-path"])
            .arg(root().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir)
            // Cargo runs on the real clock: .ci/test runs the tests a year ahead under
            // libfaketime, which the binaries they start keep, and the compiler must not.
            .env_remove("LD_PRELOAD")
            .env_remove("FAKETIME");
        if profile_dir.ends_with("release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("cargo runs");
        assert!(status.success(), "cargo build --example {name} failed");
        built.insert(name.to_owned());
    }
    profile_dir.join("examples").join(name)
}

/// The repository's root (this package is its `tests/` folder).
pub fn root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// A process's output as text (lossy: a test shows what it got, whatever it is).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
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
        "DOOR_SECRET",
        "DOOR_SECRET_PARAMETER",
        "DOOR_KVS_ARN",
        "DOOR_PROPAGATION_GRACE_S",
        "PUBLIC_NAME",
        "DNS_ZONE_ID",
        "DNS_ASLEEP_TARGET",
        "DNS_ASLEEP_TARGET_ZONE_ID",
        "ACCESS_TOKEN_PARAMETER",
        "ALLOWED_ORIGINS",
        "PROTECT_STATUS",
        "SIMULATED_TIME_SCALE",
        "SERVICE_PORT",
        "LISTEN",
        "RUST_LOG",
        "STARTUP_GRACE",
        "IDLE_TIMEOUT",
        "MAX_SESSION",
        "REAP_INTERVAL",
        "ACTIVITY_LOG_GROUP",
        "ACTIVITY_FILTER",
        "PRICES",
        "GRAFANA_ONDEMAND_API",
        "API_TOKEN",
        "RESTORE_FILE_SYSTEM_ARN",
        "RESTORE_BACKUP_ROLE_ARN",
        "RESTORE_TASK_DEFINITION",
    ] {
        c.env_remove(var);
    }
    c.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    c
}

/// A child process killed when dropped, also when the test fails before ending it.
#[derive(Debug)]
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// Where tests leave files for people to look at (screenshots).
pub fn artifacts() -> PathBuf {
    let dir = root().join("artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}
