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
//! controller every second, as EventBridge hands ECS's to the Lambda; with `NOTIFY_WEBHOOK` the
//! notices are posted. With `PUBLIC_NAME`, the simulated world also has what the module
//! deploys for it and a browser needs to open it: the front door, a CloudFront edge location
//! that runs the door's function over HTTPS (`SIMULATED_NAME_LISTEN`, default a free port on
//! 127.0.0.1) in front of the tasks and of an API Gateway HTTP API (`SIMULATED_API_LISTEN`)
//! that invokes this server's controller as the Lambda's code does, both configured as the
//! module deploys them (`infra/test/front-door.json`, the `API_AUTH` variant), each write of
//! the door's entry reaching the edge `SIMULATED_PROPAGATION_S` seconds later (default 2); and a
//! proxy that resolves the name as its DNS would (`SIMULATED_PROXY_LISTEN`): `chromium
//! --proxy-server=http://<it>` opens `https://<name>/` asleep or awake; the certificates come
//! from a CA of this run, written to `SIMULATED_CA_FILE`. With `SERVICE_ADDRESS=private` and
//! `DNS_ZONE_ID`, the name is a private one instead: its record follows the task.

use grafana_ondemand::api::{Access, Api};
use grafana_ondemand::backend::{BackendKind, Settings, SimulatedWorld, connect};
use grafana_ondemand::lambda::InProcess;
use grafana_ondemand::mock::edge::{DoorWorld, FrontDoorConfig, SimulatedFrontDoor};
use grafana_ondemand::mock::{NameProxy, SimulatedEcs, TlsListener};
use grafana_ondemand::{EventHandler, PlatformEvent, ServiceController, parse_limit, web};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> ExitCode {
    // Colour codes only on a terminal: a log written to a file or a pipe stays plain text.
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
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
    let controller = backend.controller.clone();
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
    if let Some(world) = &backend.simulated {
        tokio::spawn(deliver_events(world.ecs.clone(), backend.events.clone()));
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
    let door = backend.simulated.as_ref().and_then(|w| w.door.clone());
    let mut secret = grafana_ondemand::api::door_secret(None).map_err(|e| e.to_string())?;
    if door.is_some() && secret.is_none() {
        // The simulated distribution's secret origin header, made for this run.
        secret = Some(run_secret());
    }
    if let Some(secret) = &secret {
        api = api.through_door(secret, &backend.policy);
    }
    let app = web::router(api.clone());
    let listener = bind("LISTEN", "127.0.0.1:8080").await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = %backend.description, "serving the control page");
    println!(
        "Control page: http://{addr}/  (driving {})",
        backend.description
    );
    let _network = match (&backend.simulated, &backend.public_name) {
        (Some(world), Some(name)) => {
            simulated_network(world, name, &api, secret, backend.time_scale).await?
        }
        _ => None,
    };
    let shutdown = tokio::signal::ctrl_c();
    tokio::select! {
        () = serve(listener, app) => Ok(()),
        _ = shutdown => Ok(()),
    }
}

/// A listener on the address the variable `var` names (`default` when unset).
async fn bind(var: &str, default: &str) -> Result<tokio::net::TcpListener, String> {
    let listen = std::env::var(var).unwrap_or_else(|_| default.into());
    tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("cannot listen on {listen} ({e}): set {var} to a free address"))
}

/// A secret for the simulated door's origin header: 32 hex digits from the standard
/// library's randomly seeded hashers.
fn run_secret() -> String {
    use std::hash::{BuildHasher, Hasher};
    let part = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .elapsed()
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    };
    format!("{:016x}{:016x}", part(), part())
}

/// What the simulated network holds: dropped, it stops.
#[allow(dead_code)] // held for their lifetimes
struct Network {
    proxy: NameProxy,
    door: Option<SimulatedFrontDoor>,
}

/// What the module deploys for a public name, in the simulated world, and the network that
/// leads a browser there, as the name's DNS would: the front door (a CloudFront edge location
/// running the door's function, `SIMULATED_NAME_LISTEN`, in front of the controller's API and
/// the tasks; each write of the entry reaches it `SIMULATED_PROPAGATION_S` seconds later,
/// default 2, scaled); for a private name, only the network, its record leading to the task.
async fn simulated_network(
    world: &SimulatedWorld,
    name: &str,
    api: &Api,
    secret: Option<String>,
    time_scale: f64,
) -> Result<Option<Network>, Box<dyn std::error::Error>> {
    let Some(cert) = &world.certificate else {
        return Ok(None);
    };
    let front = bind("SIMULATED_NAME_LISTEN", "127.0.0.1:0").await?;
    let mut front_door = None;
    if let Some(door) = &world.door {
        let propagation = match std::env::var("SIMULATED_PROPAGATION_S") {
            Ok(v) => v
                .parse::<f64>()
                .ok()
                .filter(|s| (0.0..=600.0).contains(s))
                .ok_or_else(|| {
                    format!("SIMULATED_PROPAGATION_S: `{v}` is not seconds from 0 to 600")
                })?,
            Err(_) => 2.0,
        };
        let api_auth = std::env::var("API_AUTH").unwrap_or_else(|_| "token".into());
        let secret = secret.ok_or("the simulated door has no secret")?;
        // The distribution and the API as the module configures them.
        let module = FrontDoorConfig::from_module(
            &api_auth,
            grafana_ondemand::mock::edge::SIMULATED_EXECUTION_ARN,
            grafana_ondemand::mock::edge::SIMULATED_API_DOMAIN,
            &secret,
        )?;
        world.ecs.add_custom_domain(
            &door.distribution.dns_name,
            &door.distribution.hosted_zone_id,
            Some(front.local_addr()?),
        );
        let spawned = SimulatedFrontDoor::spawn(
            TlsListener::new(front, cert)?,
            bind("SIMULATED_API_LISTEN", "127.0.0.1:0").await?,
            module,
            Arc::new(InProcess(api.clone())),
            DoorWorld {
                ecs: world.ecs.clone(),
                store_arn: door.store_arn.clone(),
                propagation: Duration::from_secs_f64(propagation * time_scale),
                service_port: world.service_port,
                origin_ca_pem: Some(cert.ca_pem.clone()),
            },
        )?;
        println!(
            "Simulated API Gateway: http://{} (the module's routes, api_auth = {api_auth})",
            spawned.api_addr()
        );
        front_door = Some(spawned);
    } else {
        // A private name: its record leads to the task, and there is no wake page at it.
        drop(front);
    }
    let proxy = NameProxy::spawn(
        world.ecs.clone(),
        bind("SIMULATED_PROXY_LISTEN", "127.0.0.1:0").await?,
        world.service_port,
        time_scale,
    )?;
    println!(
        "Simulated network: https://{name}/ through the proxy http://{} (chromium --proxy-server=http://{}); its certificates come from the CA in {}",
        proxy.addr(),
        proxy.addr(),
        world
            .ca_file
            .as_ref()
            .map_or("(none)".into(), |p| p.display().to_string())
    );
    Ok(Some(Network {
        proxy,
        door: front_door,
    }))
}

/// How long a client has to send its request's headers: a client that opens connections
/// and sends nothing (or a byte at a time) cannot hold them all. The body has its own limit
/// (`web::BODY_READ_TIMEOUT`).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves HTTP/1.1 on `listener` (plain TCP, or TLS), each connection with a header read
/// timeout.
async fn serve<L>(mut listener: L, app: axum::Router)
where
    L: axum::serve::Listener,
{
    use hyper_util::rt::{TokioIo, TokioTimer};
    loop {
        // The listener retries failed accepts itself (out of descriptors, a failed handshake).
        let (socket, _) = listener.accept().await;
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
