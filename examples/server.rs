//! The web server: the control page and the JSON API.
//!
//! ```sh
//! cargo run --example server            # simulated backend, http://127.0.0.1:8080
//! CLUSTER_NAME=ondemand SERVICE_NAME=grafana AWS_REGION=eu-west-3 cargo run --example server
//! ```
//! `LISTEN` sets the address (default `127.0.0.1:8080`); `STATUS_SHARE_MS` how long one
//! status is shared among all watchers (default 1000); `REAP_INTERVAL` how often it checks
//! whether Grafana should stop by itself (default `1m`, or `off`; scaled by
//! `SIMULATED_TIME_SCALE` on the simulated backend, like `STARTUP_GRACE`, `IDLE_TIMEOUT` and
//! `MAX_SESSION`). On the simulated backend, the simulated ECS's events are handed to the
//! controller every second, as EventBridge hands ECS's to the Lambda: with `PUBLIC_NAME` and
//! `DNS_ZONE_ID` the simulated zone's record follows the task, and with `NOTIFY_WEBHOOK` the
//! notices are posted.

use grafana_ondemand::api::{Access, Api};
use grafana_ondemand::backend::{BackendKind, Settings, connect};
use grafana_ondemand::mock::SimulatedEcs;
use grafana_ondemand::{
    EventHandler, PlatformEvent, ServiceController, SharedStatus, parse_limit, web,
};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Stops Grafana when its session policy says so, every `every`: the server's schedule.
async fn reaper(controller: Arc<dyn ServiceController>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        if let Err(e) = controller.reap().await {
            tracing::warn!(error = %e, "the reap failed; trying again at the next tick");
        }
    }
}

/// What EventBridge does for the Lambda, for the simulated ECS: hands its events over.
async fn deliver_events(ecs: SimulatedEcs, events: Arc<dyn EventHandler>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticks.tick().await;
        for event in ecs.take_events() {
            let Some(Ok(event)) = PlatformEvent::from_eventbridge(&event) else {
                continue;
            };
            if let Err(e) = events.handle_event(&event).await {
                tracing::warn!(error = %e, "an event could not be handled");
            }
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let backend = connect(Settings {
        simulated_by_default: true,
        ..Settings::default()
    })
    .await?;
    let share = std::env::var("STATUS_SHARE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let controller = Arc::new(SharedStatus::new(
        backend.controller.clone(),
        Duration::from_millis(share),
    ));
    let every = match std::env::var("REAP_INTERVAL")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        None => Some(Duration::from_secs(60)),
        Some(v) => parse_limit(&v).map_err(|e| format!("REAP_INTERVAL: {e}"))?,
    }
    .filter(|d| !d.is_zero())
    .map(|d| backend.scaled(d));
    if let Some(every) = every {
        tokio::spawn(reaper(controller.clone(), every));
    }
    if let Some(ecs) = backend.simulated.clone() {
        tokio::spawn(deliver_events(ecs, backend.events.clone()));
    }
    let mut api = Api::new(controller, Access::from_env(None)?);
    if backend.kind == BackendKind::Simulated {
        tracing::warn!(
            "simulated backend: no AWS account is used; set CLUSTER_NAME and SERVICE_NAME for a real service"
        );
        api = api.with_notice(
            "Simulated backend: no AWS account is used and nothing is billed. \
             Set CLUSTER_NAME and SERVICE_NAME to drive a real ECS service.",
        );
    }
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("cannot listen on {listen} ({e}): set LISTEN to a free address"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = %backend.description, "serving the control page");
    println!(
        "Control page: http://{addr}/  (driving {})",
        backend.description
    );
    serve(listener, web::router(api)).await
}

/// How long a client has to send its request's headers: a client that opens connections
/// and sends nothing (or a byte at a time) cannot hold them all. The body has its own limit
/// (`web::BODY_READ_TIMEOUT`).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves HTTP/1.1 on `listener` until Ctrl-C, each connection with a header read timeout.
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
) -> Result<(), Box<dyn std::error::Error>> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let shutdown = tokio::signal::ctrl_c();
    tokio::pin!(shutdown);
    loop {
        let (socket, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, a reset before accept: the next one may work.
                Err(e) => {
                    tracing::warn!(error = %e, "a connection could not be accepted");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => return Ok(()),
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(socket), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
}
