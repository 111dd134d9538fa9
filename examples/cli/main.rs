//! The command line: `status`, `start [--wait] [--for 2h]`, `extend 1h`, `stop [--wait]`,
//! `url`, `reap`, and on AWS `restore` (Grafana's data from AWS Backup) and `doctor`.
//!
//! ```sh
//! cargo run --example cli -- status
//! cargo run --example cli -- start --wait --timeout 120s --for 2h
//! cargo run --example cli -- --backend aws --cluster ondemand --service grafana url
//! API_TOKEN=... cargo run --example cli -- --api https://abc.execute-api.eu-west-3.amazonaws.com/prod start --wait
//! ```
//! With `--api`, it drives a deployed API (or the server example) instead of ECS: no AWS
//! credentials needed, the token from `API_TOKEN`. `reap` stops Grafana if its session
//! policy says so, for a cron on any machine.
//!
//! Exit codes: 0 done; 1 error (the message says what to do); 2 timed out, still on its way.

#[cfg(feature = "admin")]
mod doctor;
#[cfg(feature = "admin")]
mod restore;

use clap::{Parser, Subcommand};
use grafana_ondemand::backend::{BackendKind, Settings, connect};
use grafana_ondemand::remote::RemoteController;
use grafana_ondemand::{Error, ServiceController, State, Status, wait_for};
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;
use std::sync::Arc;
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
    /// Drive a deployed API (the module's `api_url`, or the server example's address)
    /// instead of ECS: no AWS credentials needed.
    #[arg(long, global = true, env = "GRAFANA_ONDEMAND_API")]
    api: Option<String>,
    /// The API's access token, with --api.
    #[arg(long, global = true, env = "API_TOKEN", hide_env_values = true)]
    token: Option<String>,
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
        /// Keep it at least this long, used or not: `2h`, `45m`.
        #[arg(long = "for", value_parser = parse_duration)]
        lease: Option<Duration>,
    },
    /// Keep a running Grafana longer: `extend 1h`.
    Extend {
        /// How much longer: `1h`, `30m`.
        #[arg(default_value = "1h", value_parser = parse_duration)]
        by: Duration,
    },
    /// Stop Grafana if its session policy says so (no use, session limit): for a cron.
    Reap,
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
    /// List Grafana's backups (AWS Backup recovery points), or put one back with --from:
    /// Grafana must be stopped, and starts are refused until the restore ends. AWS only.
    #[cfg(feature = "admin")]
    Restore(restore::RestoreArgs),
    /// List Grafana's backups, or put one back: this build has no AWS admin commands (build it
    /// with `--features admin`).
    #[cfg(not(feature = "admin"))]
    Restore {
        /// Its flags.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Check the deployment (read-only): the service, its task definition and images, the
    /// subnets' routes, the VPC's DNS names, the front door's way in, capacity, the door's
    /// entry. Exit 0 when no check failed. AWS only.
    Doctor,
}

fn parse_backend(s: &str) -> Result<BackendKind, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// Seconds (`90`) or whole units (`90s`, `2m`, `1h30m`).
fn parse_duration(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => grafana_ondemand::parse_duration(s),
    }
}

/// Exit codes, documented in --help and docs/frontends.md.
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
            if let Some(hint) = hint(&e) {
                eprintln!("{hint}");
            }
            ExitCode::from(FAILED)
        }
    }
}

/// What the CLI's own user can do about an error, in the CLI's terms (the library's messages
/// name no setting its callers did not use).
fn hint(e: &Error) -> Option<&'static str> {
    match e {
        Error::ServiceNotFound { .. } | Error::ClusterNotFound { .. } => Some(
            "the CLI takes them from --cluster and --service, or CLUSTER_NAME and SERVICE_NAME (`terraform output -raw cluster_name` and `service_name`), and the region from --region or AWS_REGION",
        ),
        Error::NotRunning { .. } => Some("start it for as long as you need: `start --for 1h`"),
        Error::Restoring { .. } => Some(
            "`restore` says when it is done; `restore --release` lets it start if it was abandoned",
        ),
        _ => None,
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
        webhook: None,
        emf_metrics: false,
    };
    match cli.command {
        #[cfg(feature = "admin")]
        Command::Restore(args) => {
            let (cluster, service, region) = on_aws(settings, cli.api.is_some(), "restore")?;
            return restore::run(args, cluster, service, region, cli.json).await;
        }
        #[cfg(feature = "admin")]
        Command::Doctor => {
            let (cluster, service, region) = on_aws(settings, cli.api.is_some(), "doctor")?;
            return doctor::run(cluster, service, region, cli.json).await;
        }
        #[cfg(not(feature = "admin"))]
        Command::Restore { .. } | Command::Doctor => {
            return Err(Error::invalid_config(
                "the CLI",
                "this build has no AWS admin commands (doctor, restore): run it as `cargo run --features admin --example cli -- doctor`",
            ));
        }
        _ => {}
    }
    // A simulated world lives as long as its backend: held until the end of the command.
    let mut _backend = None;
    let controller: Arc<dyn ServiceController> = match &cli.api {
        Some(url) => Arc::new(RemoteController::new(url, cli.token.clone())?),
        None => {
            let backend = connect(settings).await?;
            if backend.kind == BackendKind::Simulated && cli.backend.is_none() {
                eprintln!(
                    "note: no CLUSTER_NAME or SERVICE_NAME set: driving the simulated ECS (set them, or --cluster and --service, or --api, for your Grafana)"
                );
            }
            let controller = backend.controller.clone();
            _backend = Some(backend);
            controller
        }
    };
    let c = controller.as_ref();
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
        Command::Start {
            wait,
            timeout,
            lease,
        } => (
            c.start(lease).await?,
            wait.then_some(State::Running),
            timeout,
        ),
        Command::Extend { by } => (c.extend(by).await?, None, Duration::ZERO),
        Command::Reap => (c.reap().await?, None, Duration::ZERO),
        Command::Stop { wait, timeout } => {
            (c.stop().await?, wait.then_some(State::Stopped), timeout)
        }
        // Handled before any backend is connected.
        Command::Restore { .. } | Command::Doctor => return Ok(FAILED),
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

/// The service an operator command (`restore`, `doctor`) acts on: it drives AWS directly,
/// never through an API, never simulated.
#[cfg(feature = "admin")]
fn on_aws(
    settings: Settings,
    through_api: bool,
    command: &str,
) -> Result<(String, String, Option<String>), Error> {
    let refuse = |problem: String| Err(Error::invalid_config(command, problem));
    if through_api {
        return refuse(
            "works on AWS only, with AWS credentials: drop --api, set --cluster and --service (`terraform output -raw restore_flags` gives every flag)".into(),
        );
    }
    if settings.kind == Some(BackendKind::Simulated) {
        return refuse(format!(
            "the simulated ECS keeps no backups and has no deployment to check: {command} works on AWS (`terraform output -raw restore_flags`)"
        ));
    }
    let cluster = settings
        .cluster
        .or_else(|| grafana_ondemand::setting("CLUSTER_NAME"));
    let service = settings
        .service
        .or_else(|| grafana_ondemand::setting("SERVICE_NAME"));
    let (Some(cluster), Some(service)) = (cluster, service) else {
        return refuse(
            "needs the service: set --cluster and --service (or CLUSTER_NAME and SERVICE_NAME); `terraform output -raw restore_flags` gives every flag".into(),
        );
    };
    Ok((cluster, service, settings.region))
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
    if let Some(at) = s.stops_at {
        println!(
            "  stops at {} unless used",
            at.with_timezone(&chrono::Local).format("%H:%M")
        );
    }
    if let Some(timed) = s.timings.as_ref().and_then(|t| t.summary.as_deref()) {
        println!("  {timed}");
    }
    if let Some(cost) = &s.cost {
        println!("  this session: {}", cost.summary(chrono::Utc::now()));
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
    async fn start(&self, lease: Option<Duration>) -> grafana_ondemand::Result<Status> {
        self.inner.start(lease).await
    }
    async fn extend(&self, by: Duration) -> grafana_ondemand::Result<Status> {
        self.inner.extend(by).await
    }
    async fn stop(&self) -> grafana_ondemand::Result<Status> {
        self.inner.stop().await
    }
    async fn reap(&self) -> grafana_ondemand::Result<Status> {
        self.inner.reap().await
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
