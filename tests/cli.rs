//! The CLI, run as a binary: outputs and exit codes, on the simulated backend and on the AWS
//! backend over the wire stub.

use crate::support::text;
use crate::support::{Killed, command, free_port};
use grafana_ondemand::mock::wire::WireStub;
use grafana_ondemand::mock::{SimulatedEcs, Timing};
use serde_json::Value;
use std::process::Output;

fn simulated(args: &[&str], scale: &str) -> Output {
    command("cli")
        .args(["--backend", "simulated"])
        .args(args)
        .env("SIMULATED_TIME_SCALE", scale)
        .env("SERVICE_PORT", free_port().to_string())
        .output()
        .expect("cli runs")
}

#[test]
fn status_prints_the_state_in_words_and_exits_0() {
    let out = simulated(&["status"], "1");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("stopped: Grafana is stopped."),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn start_wait_json_ends_running_with_a_url_that_answered() {
    let out = simulated(&["start", "--wait", "--timeout", "60s", "--json"], "0.02");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(s["status"], "running");
    assert_eq!(
        s["healthy"], true,
        "the real HTTP probe reached the stand-in"
    );
    assert!(
        s["url"].as_str().unwrap().starts_with("http://127.0.0."),
        "{s}"
    );
}

#[test]
fn a_wait_that_times_out_exits_2_still_starting() {
    let out = simulated(&["start", "--wait", "--timeout", "1s", "--json"], "1");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["status"], "starting");
}

#[test]
fn url_when_not_running_exits_1_saying_why() {
    let out = simulated(&["url"], "1");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("no URL: Grafana is stopped"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn errors_are_one_line_that_says_what_to_do() {
    let out = command("cli")
        .args(["--backend", "aws", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("CLUSTER_NAME") && err.contains("--cluster"),
        "{err}"
    );
    let out = command("cli")
        .args(["start", "--timeout", "soon"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "bad flags are errors (exit 1), not timeouts (exit 2)"
    );
    assert!(text(&out.stderr).contains("use 30m, 45s, 12h or 1h30m"));
    let out = command("cli")
        .args(["--backend", "kubernetes", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("use aws or simulated"));
    // One line each, for a setting of the run-time DNS switch (gone: refused with what to do
    // instead), a store that is no KeyValueStore's ARN, and a door without its host.
    let aws_status = |env: &[(&str, &str)]| {
        let mut c = command("cli");
        c.args([
            "--backend",
            "aws",
            "--cluster",
            "c",
            "--service",
            "s",
            "status",
        ]);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        text(&out.stderr)
    };
    let err = aws_status(&[
        ("DNS_ZONE_ID", "Z0123456789ABC"),
        (
            "DNS_ASLEEP_TARGET",
            "d-abc.execute-api.eu-west-3.amazonaws.com",
        ),
    ]);
    assert!(
        err.contains("DNS_ASLEEP_TARGET") && err.contains("DOOR_KVS_ARN"),
        "{err}"
    );
    let err = aws_status(&[("DOOR_KVS_ARN", "my-store")]);
    assert!(err.contains("is not a KeyValueStore ARN"), "{err}");
    let err = aws_status(&[(
        "DOOR_KVS_ARN",
        "arn:aws:cloudfront::123456789012:key-value-store/abc",
    )]);
    assert!(err.contains("PUBLIC_NAME"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_aws_it_reads_and_starts_the_named_service_over_the_wire() {
    let ecs = SimulatedEcs::named("ondemand", "grafana", Timing::fargate());
    let stub = WireStub::start(ecs.clone()).await;
    let aws = |args: &[&str]| {
        let mut c = command("cli");
        c.args([
            "--backend",
            "aws",
            "--cluster",
            "ondemand",
            "--region",
            "eu-west-3",
        ])
        .args(args)
        .env("AWS_ENDPOINT_URL", stub.uri())
        .env(
            "AWS_ACCESS_KEY_ID",
            grafana_ondemand_mock::wire::sigv4::ACCESS_KEY_ID,
        )
        .env(
            "AWS_SECRET_ACCESS_KEY",
            grafana_ondemand_mock::wire::sigv4::SECRET_ACCESS_KEY,
        );
        c
    };
    let out = tokio::task::spawn_blocking({
        let mut c = aws(&["--service", "grafana", "status", "--json"]);
        move || c.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (s["status"].as_str(), s["desiredCount"].as_u64()),
        (Some("stopped"), Some(0))
    );

    let out = tokio::task::spawn_blocking({
        let mut c = aws(&["--service", "grafana", "start"]);
        move || c.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("starting:"));
    assert_eq!(ecs.desired_count(), 1, "UpdateService reached the service");

    let out = tokio::task::spawn_blocking({
        let mut c = aws(&["--service", "grafna", "status"]);
        move || c.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("`grafna` was not found in cluster `ondemand`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn with_nothing_aws_set_it_says_it_drives_the_simulated_ecs_and_half_a_service_is_an_error() {
    let out = command("cli")
        .arg("status")
        .env("SERVICE_PORT", free_port().to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("driving the simulated ECS"),
        "{}",
        text(&out.stderr)
    );
    // A service name without its cluster is a mistake, never a quiet demo.
    let out = command("cli")
        .arg("status")
        .env("SERVICE_NAME", "grafana")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("CLUSTER_NAME"),
        "{}",
        text(&out.stderr)
    );
}

/// `--api`: the CLI without AWS credentials, driving the server example (whose simulated
/// world outlives each call) through the same JSON contract a deployed API speaks.
#[test]
fn the_cli_drives_a_running_api_with_the_same_output_and_exit_codes() {
    const TOKEN: &str = "a-long-enough-api-token-0123456789";
    let listen = format!("127.0.0.1:{}", free_port());
    let server = Killed(
        command("server")
            .env("LISTEN", &listen)
            .env("SIMULATED_TIME_SCALE", "0.02")
            .env("SERVICE_PORT", free_port().to_string())
            .env("ACCESS_TOKEN", TOKEN)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("server starts"),
    );
    let api = format!("http://{listen}/");
    let begun = std::time::Instant::now();
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(begun.elapsed().as_secs() < 30, "the server never listened");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let cli = |args: &[&str], token: &str| {
        command("cli")
            .args(["--api", &api])
            .args(args)
            .env("API_TOKEN", token)
            .output()
            .expect("cli runs")
    };

    let out = cli(
        &["start", "--wait", "--timeout", "60s", "--for", "2h"],
        TOKEN,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.starts_with("running: Grafana is running"), "{said}");
    assert!(
        said.contains("stops at ") && said.contains("unless used"),
        "{said}"
    );
    assert!(said.contains("this session: "), "{said}");
    // The start's phases, from ECS's timestamps and what the controller saw.
    assert!(
        said.lines()
            .any(|l| l.trim_start().starts_with("ready in ") && l.contains(" s placing, ")),
        "{said}"
    );
    assert!(said.contains("http://127.0.0."), "{said}");
    assert!(
        !text(&out.stderr).contains("simulated ECS"),
        "no backend of its own"
    );

    // A second call finds the same world: still running.
    let out = cli(&["status", "--json"], "");
    let s: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(s["status"], "running", "{s}");
    let before = s["stopsAt"].as_str().unwrap().to_owned();
    let out = cli(&["extend", "1h", "--json"], TOKEN);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(s["stopsAt"].as_str().unwrap() > before.as_str(), "{s}");

    // A wrong token: exit 1, and what to set.
    let out = cli(&["stop"], "not-the-token-at-all-0000");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("API_TOKEN"),
        "{}",
        text(&out.stderr)
    );

    let out = cli(&["reap"], TOKEN);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("running:"), "leased: kept");
    let out = cli(&["stop", "--wait", "--timeout", "60s"], TOKEN);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("stopped:"),
        "{}",
        text(&out.stdout)
    );
    let out = cli(&["extend", "1h"], TOKEN);
    assert_eq!(out.status.code(), Some(1), "nothing to extend");
    assert!(
        text(&out.stderr).contains("start it"),
        "{}",
        text(&out.stderr)
    );

    // Nothing answers there: exit 1, saying so.
    drop(server);
    let out = cli(&["status"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot reach"),
        "{}",
        text(&out.stderr)
    );
}

/// The README's demo commands in the order printed: the server example on its defaults, then
/// the CLI on its own simulated world, also on its defaults, while the server runs. The CLI's
/// Grafana stand-in finds the default port taken by the server's and takes a free one (it
/// exited 1 before, its stand-in unable to listen). The server's log, written to a file, has
/// no colour codes.
#[test]
fn the_server_and_the_cli_run_side_by_side_on_their_defaults() {
    let listen = format!("127.0.0.1:{}", free_port());
    let log = std::env::temp_dir().join(format!("server-{}.log", free_port()));
    let server = Killed(
        command("server")
            .env("LISTEN", &listen)
            .env("SIMULATED_TIME_SCALE", "0.02")
            .stdout(std::fs::File::create(&log).expect("a log file"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("server starts"),
    );
    let begun = std::time::Instant::now();
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(begun.elapsed().as_secs() < 30, "the server never listened");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let cli = |args: &[&str]| {
        command("cli")
            .args(args)
            .env("SIMULATED_TIME_SCALE", "0.02")
            .output()
            .expect("cli runs")
    };
    let out = cli(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("stopped:"),
        "{}",
        text(&out.stdout)
    );
    let out = cli(&["start", "--wait", "--timeout", "60s", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(s["status"], "running", "{s}");
    // The server still serves its own world, untouched by the CLI's.
    let status = {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(&listen).expect("the server");
        write!(
            conn,
            "GET /api/status HTTP/1.1\r\nHost: {listen}\r\nConnection: close\r\n\r\n"
        )
        .expect("a request");
        let mut answer = String::new();
        conn.read_to_string(&mut answer).expect("an answer");
        answer
    };
    assert!(status.contains(r#""status":"stopped""#), "{status}");
    drop(server);
    let written = std::fs::read_to_string(&log).expect("the server's log");
    std::fs::remove_file(&log).ok();
    assert!(written.contains("serving the control page"), "{written}");
    assert!(
        !written.contains('\u{1b}'),
        "colour codes in a log file: {written:?}"
    );
}
