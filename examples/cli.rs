//! The command line: `status`, `start [--wait]`, `stop [--wait]`, `url`.
//!
//! ```sh
//! cargo run --example cli -- status
//! cargo run --example cli -- start --wait --timeout 120s
//! cargo run --example cli -- --backend aws --cluster ondemand --service grafana url
//! ```
//! Exit codes: 0 done; 1 error (the message says what to do); 2 timed out, still on its way.

use clap::{Parser, Subcommand};
use grafana_ondemand::backend::{BackendKind, Settings, connect};
use grafana_ondemand::{Error, ServiceController, State, Status, wait_for};
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    name = "grafana-ondemand",
    version,
    about = "Start, stop and locate Grafana on ECS Fargate, on demand"
)]
struct Cli {
    /// Which backend: `aws`, or `simulated` (no AWS account). Default: aws when a cluster is set.
    #[arg(long, global = true, env = "BACKEND", value_parser = parse_backend)]
    backend: Option<BackendKind>,
    /// The ECS cluster.
    #[arg(long, global = true, env = "CLUSTER_NAME")]
    cluster: Option<String>,
    /// The ECS service.
    #[arg(long, global = true, env = "SERVICE_NAME")]
    service: Option<String>,
    /// The AWS region (default: the AWS profile's or AWS_REGION).
    #[arg(long, global = true)]
    region: Option<String>,
    /// Print the status as JSON (one line), for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the current status.
    Status,
    /// Ask for Grafana; with --wait, wait until it answers.
    Start {
        /// Wait until Grafana answers (or fails), showing progress.
        #[arg(long)]
        wait: bool,
        /// How long to wait: `90`, `90s`, `2m`.
        #[arg(long, default_value = "120s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Stop Grafana; with --wait, wait until the task is gone.
    Stop {
        /// Wait until stopped.
        #[arg(long)]
        wait: bool,
        /// How long to wait.
        #[arg(long, default_value = "120s", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Print Grafana's URL, or exit 1 when it is not running.
    Url,
}

fn parse_backend(s: &str) -> Result<BackendKind, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: use 90, 90s or 2m"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("`{s}` is not a duration: use 90, 90s or 2m")),
    }
}

/// Exit codes, documented in --help and the README.
const DONE: u8 = 0;
const FAILED: u8 = 1;
const STILL_GOING: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { FAILED } else { DONE });
        }
    };
    match run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(FAILED)
        }
    }
}

async fn run(cli: Cli) -> Result<u8, Error> {
    let settings = Settings {
        kind: cli.backend,
        cluster: cli.cluster,
        service: cli.service,
        region: cli.region,
        simulated_by_default: true,
        readiness: None,
    };
    let backend = connect(settings).await?;
    if backend.kind == BackendKind::Simulated && cli.backend.is_none() {
        eprintln!(
            "note: no CLUSTER_NAME or SERVICE_NAME set: driving the simulated ECS (set them, or --cluster and --service, for your ECS service)"
        );
    }
    let c = backend.controller.as_ref();
    let (status, target, timeout) = match cli.command {
        Command::Status => (c.status().await?, None, Duration::ZERO),
        Command::Url => {
            let s = c.status().await?;
            return Ok(match s.url() {
                Some(url) => {
                    println!("{url}");
                    DONE
                }
                None => {
                    eprintln!("error: no URL: {}", s.message);
                    FAILED
                }
            });
        }
        Command::Start { wait, timeout } => {
            (c.start().await?, wait.then_some(State::Running), timeout)
        }
        Command::Stop { wait, timeout } => {
            (c.stop().await?, wait.then_some(State::Stopped), timeout)
        }
    };
    let status = match target {
        Some(target) if status.state != target => {
            let watched = Watched::new(c, cli.json);
            let s = wait_for(&watched, target, timeout).await;
            watched.bar.finish_and_clear();
            s?
        }
        _ => status,
    };
    print(&status, cli.json);
    Ok(match (target, status.state) {
        (_, State::Failed) => FAILED,
        (Some(t), s) if s != t => STILL_GOING,
        _ => DONE,
    })
}

fn print(s: &Status, json: bool) {
    if json {
        println!("{}", serde_json::to_string(s).unwrap_or_default());
        return;
    }
    println!("{}: {}", s.state, s.message);
    if let Some(reason) = s.reason.as_deref().filter(|_| s.state != State::Running) {
        println!("  {reason}");
    }
    if let Some(url) = s.url() {
        println!("{url}");
    }
}

/// The controller, with a live line updated at every look.
struct Watched<'a> {
    inner: &'a dyn ServiceController,
    bar: ProgressBar,
    begun: Instant,
}

impl<'a> Watched<'a> {
    fn new(inner: &'a dyn ServiceController, quiet: bool) -> Self {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new_spinner()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Watched {
            inner,
            bar,
            begun: Instant::now(),
        }
    }
}

#[async_trait::async_trait]
impl ServiceController for Watched<'_> {
    async fn start(&self) -> grafana_ondemand::Result<Status> {
        self.inner.start().await
    }
    async fn stop(&self) -> grafana_ondemand::Result<Status> {
        self.inner.stop().await
    }
    async fn status(&self) -> grafana_ondemand::Result<Status> {
        let s = self.inner.status().await?;
        let phase = s
            .task
            .as_ref()
            .map(|t| format!(" · {}", t.phase))
            .unwrap_or_default();
        self.bar.set_message(format!(
            "{}{phase} · {}s",
            s.state,
            self.begun.elapsed().as_secs()
        ));
        Ok(s)
    }
}
