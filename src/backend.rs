//! Choosing and connecting a backend from flags and the environment, for every frontend.

#[cfg(feature = "aws")]
use crate::aws::{Builder, request_log_from_env};
#[cfg(feature = "mock")]
use crate::mock::{SimulatedEcs, StandIn, TestCertificate, Timing};
#[cfg(feature = "mock")]
use crate::{
    AddressKind, AliasTarget, Controller, DEFAULT_PROPAGATION_GRACE, HttpProbe, NameRecord,
    Notifier, OriginProtocol, RecordType, Webhook, probe_for,
};
use crate::{
    Error, EventHandler, FrontDoor, HostedZone, Prices, ReadinessSource, Result, ServiceController,
    ServiceProfile, SessionPolicy, SharedStatus,
};
#[cfg(feature = "mock")]
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Which platform a frontend drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// ECS on AWS, through the AWS SDK and its usual configuration chain.
    Aws,
    /// The simulated ECS, in this process, with a Grafana stand-in on loopback.
    Simulated,
}

impl std::str::FromStr for BackendKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "aws" => Ok(BackendKind::Aws),
            "simulated" | "mock" => Ok(BackendKind::Simulated),
            other => Err(Error::invalid_config(
                "BACKEND",
                format!("`{other}` is not a backend: use aws or simulated"),
            )),
        }
    }
}

/// Settings a frontend may take from its own flags; each falls back to the environment.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `BACKEND`; default: `aws` when `CLUSTER_NAME` or `SERVICE_NAME` is set; otherwise
    /// `simulated` where [`Settings::simulated_by_default`] allows it, else an error.
    pub kind: Option<BackendKind>,
    /// Whether a frontend with nothing AWS configured drives the simulated ECS (the server
    /// and the CLI, saying so) or refuses to start (the Lambda: it must never hand out
    /// simulated URLs).
    pub simulated_by_default: bool,
    /// The readiness source when `READINESS` is unset (the Lambda: `ecs`, since it has no
    /// network path to the task).
    pub readiness: Option<ReadinessSource>,
    /// `CLUSTER_NAME`.
    pub cluster: Option<String>,
    /// `SERVICE_NAME`.
    pub service: Option<String>,
    /// `AWS_REGION`, through the AWS chain.
    pub region: Option<String>,
    /// `NOTIFY_WEBHOOK`: the URL notices are posted to (the Lambda reads it from SSM).
    pub webhook: Option<String>,
    /// Whether each notice's figures are written to standard output as CloudWatch metrics
    /// (Embedded Metric Format): the Lambda, whose output is its log group.
    pub emf_metrics: bool,
}

/// A connected backend.
pub struct Backend {
    /// The controller to call: its status shared among callers for `STATUS_SHARE_MS`
    /// (default 1000; `0` asks every time), so that however many pages and clients watch, the
    /// platform is read at most that often.
    pub controller: Arc<dyn ServiceController>,
    /// The same controller, to hand the platform's events to.
    pub events: Arc<dyn EventHandler>,
    /// Which backend this is.
    pub kind: BackendKind,
    /// One line for logs and pages: what is driven.
    pub description: String,
    /// The public name (`PUBLIC_NAME`), where the wake page is served while Grafana sleeps.
    pub public_name: Option<String>,
    /// When sessions end by themselves, as the controller applies it (scaled when simulated).
    pub policy: SessionPolicy,
    /// The simulated world, when simulated.
    #[cfg(feature = "mock")]
    pub simulated: Option<SimulatedWorld>,
    /// How fast the simulated world runs (`SIMULATED_TIME_SCALE`; 1 on AWS).
    pub time_scale: f64,
}

#[cfg(feature = "mock")]
/// The simulated ECS and what surrounds it on this machine.
pub struct SimulatedWorld {
    /// The simulated ECS (and its hosted zone).
    pub ecs: SimulatedEcs,
    /// With a public name: its certificate, from a CA made for this run (the stand-in serves
    /// it, and so does the wake page's listener, as ACM's would).
    pub certificate: Option<TestCertificate>,
    /// Where that CA's certificate was written (`SIMULATED_CA_FILE`, or a temporary file), for
    /// a browser to trust.
    pub ca_file: Option<PathBuf>,
    /// With a public name reached at a public address: the front door's simulated
    /// distribution and store.
    pub door: Option<SimulatedDoor>,
    /// The port the Grafana stand-in listens on, on every simulated task address.
    pub service_port: u16,
    _stand_in: StandIn,
}

#[cfg(feature = "mock")]
/// The front door in the simulated world: the name is an alias of the distribution for
/// ever; the controller writes the store's entry.
#[derive(Debug, Clone)]
pub struct SimulatedDoor {
    /// The KeyValueStore's ARN.
    pub store_arn: String,
    /// The distribution's domain, as the name's alias target (where its edge serves is set
    /// once it listens).
    pub distribution: AliasTarget,
}

#[cfg(feature = "mock")]
/// The simulated front door's distribution, store and zone.
const SIMULATED_DISTRIBUTION: &str = "d111111abcdef8.cloudfront.net";
#[cfg(feature = "mock")]
/// CloudFront's hosted zone id, the one every distribution's alias targets.
const CLOUDFRONT_ZONE: &str = "Z2FDTNDATAQYW2";
#[cfg(feature = "mock")]
const SIMULATED_STORE: &str =
    "arn:aws:cloudfront::123456789012:key-value-store/5a1e6b2c-0d4f-4e8a-9b7c-simulated";
#[cfg(feature = "mock")]
const SIMULATED_ZONE: &str = "Z0SIMULATED";

#[cfg(feature = "mock")]
/// `example.com` for `grafana.example.com`.
fn parent_domain(name: &str) -> &str {
    name.split_once('.').map_or(name, |(_, d)| d)
}

impl Backend {
    /// A duration of this backend's world: scaled by `SIMULATED_TIME_SCALE` when simulated.
    pub fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.time_scale)
    }
}

#[cfg(feature = "mock")]
impl std::fmt::Debug for SimulatedWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedWorld")
            .field("ca_file", &self.ca_file)
            .field("door", &self.door)
            .field("service_port", &self.service_port)
            .finish()
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("kind", &self.kind)
            .field("description", &self.description)
            .finish()
    }
}

use crate::setting as env;

/// Connects the backend the settings and environment ask for.
pub async fn connect(settings: Settings) -> Result<Backend> {
    let cluster = settings.cluster.or_else(|| env("CLUSTER_NAME"));
    let service = settings.service.or_else(|| env("SERVICE_NAME"));
    let kind = match settings.kind {
        Some(kind) => kind,
        None => match env("BACKEND") {
            Some(b) => b.parse()?,
            None if cluster.is_some() || service.is_some() => BackendKind::Aws,
            None if settings.simulated_by_default => BackendKind::Simulated,
            None => {
                return Err(Error::invalid_config(
                    "CLUSTER_NAME",
                    "is not set: set CLUSTER_NAME and SERVICE_NAME to the ECS service to drive (BACKEND=simulated only for a demo)",
                ));
            }
        },
    };
    let mut profile = ServiceProfile::from_env()?;
    let policy = SessionPolicy::from_env()?;
    let share = match env("STATUS_SHARE_MS") {
        None => Duration::from_millis(1000),
        Some(v) => v.parse().map(Duration::from_millis).map_err(|_| {
            Error::invalid_config("STATUS_SHARE_MS", format!("`{v}` is not milliseconds"))
        })?,
    };
    let public_name = profile.public_name.clone();
    let prices = Prices::from_env()?;
    let zone = HostedZone::from_env()?;
    let door = FrontDoor::from_env(
        profile.public_name.as_deref(),
        &profile.scheme,
        profile.port,
    )?;
    let webhook = settings.webhook.or_else(|| env("NOTIFY_WEBHOOK"));
    if env("READINESS").is_none()
        && let Some(readiness) = settings.readiness
    {
        profile.readiness = readiness;
    }
    let prepared = Prepared {
        cluster,
        service,
        profile,
        policy,
        share,
        public_name,
        prices,
        zone,
        door,
        webhook,
        region: settings.region,
        emf_metrics: settings.emf_metrics,
    };
    match kind {
        BackendKind::Aws => connect_aws(prepared).await,
        BackendKind::Simulated => connect_simulated(prepared).await,
    }
}

/// What `connect` read, for the backend it connects.
struct Prepared {
    cluster: Option<String>,
    service: Option<String>,
    profile: ServiceProfile,
    policy: SessionPolicy,
    share: Duration,
    public_name: Option<String>,
    prices: Prices,
    zone: Option<HostedZone>,
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    door: Option<FrontDoor>,
    webhook: Option<String>,
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    region: Option<String>,
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    emf_metrics: bool,
}

#[cfg(feature = "aws")]
async fn connect_aws(p: Prepared) -> Result<Backend> {
    let Prepared {
        cluster,
        service,
        profile,
        policy,
        share,
        public_name,
        prices,
        zone,
        door,
        webhook,
        region,
        emf_metrics,
    } = p;
    let missing = |var: &str, what: &str| {
        Error::invalid_config(
            var,
            format!(
                "is not set: set it (or --{}) to the {what}",
                var.split('_').next().unwrap_or(var).to_ascii_lowercase()
            ),
        )
    };
    let cluster = cluster.ok_or_else(|| missing("CLUSTER_NAME", "ECS cluster's name"))?;
    let service = service.ok_or_else(|| missing("SERVICE_NAME", "ECS service's name"))?;
    let description = format!("ECS service `{service}` in cluster `{cluster}`");
    let request_log = request_log_from_env(&profile);
    let mut builder = Builder::new()
        .cluster(cluster)
        .service(service)
        .profile(profile)
        .request_log(request_log)
        .policy(policy)
        .prices(prices)
        .hosted_zone(zone)
        .front_door(door)
        .topic(env("NOTIFY_TOPIC_ARN"))
        .webhook(webhook)
        .emf_metrics(emf_metrics);
    if let Some(region) = region {
        builder = builder.region(region);
    }
    let controller = Arc::new(builder.build_controller().await?);
    Ok(Backend {
        controller: Arc::new(SharedStatus::new(controller.clone(), share)),
        events: controller,
        kind: BackendKind::Aws,
        description,
        public_name,
        policy,
        #[cfg(feature = "mock")]
        simulated: None,
        time_scale: 1.0,
    })
}

#[cfg(not(feature = "aws"))]
async fn connect_aws(_: Prepared) -> Result<Backend> {
    Err(Error::invalid_config(
        "BACKEND",
        "aws, and this build has no AWS backend: build it with the `aws` feature (`cargo run --features aws --example server`; the CLI: `--features admin`)",
    ))
}

#[cfg(feature = "mock")]
async fn connect_simulated(p: Prepared) -> Result<Backend> {
    let Prepared {
        cluster,
        service,
        mut profile,
        policy,
        share,
        public_name,
        prices,
        zone,
        webhook,
        ..
    } = p;
    let scale = match env("SIMULATED_TIME_SCALE") {
        None => 1.0,
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|f| *f > 0.0 && *f <= 10.0)
            .ok_or_else(|| {
                Error::invalid_config(
                    "SIMULATED_TIME_SCALE",
                    format!("`{v}` is not a factor from 0 to 10 (0.1: ten times faster)"),
                )
            })?,
    };
    let ecs = SimulatedEcs::named(
        cluster.as_deref().unwrap_or("ondemand"),
        service.as_deref().unwrap_or("grafana"),
        Timing::fargate().scaled(scale),
    );
    // Over https the stand-in serves a certificate for the public name from a CA of
    // this run, which the probe (and only it) trusts.
    let cert = match profile.scheme.as_str() {
        "https" => Some(
            TestCertificate::for_name(profile.public_name.as_deref().unwrap_or("localhost"))
                .map_err(|e| {
                    Error::invalid_config("SERVICE_SCHEME", format!("no test certificate ({e})"))
                })?,
        ),
        _ => None,
    };
    let (stand_in, port) = serve_stand_in(
        &ecs,
        profile.port,
        cert.as_ref(),
        env("SERVICE_PORT").is_none(),
    )
    .await?;
    profile.port = port;
    let probe: Arc<dyn crate::ReadinessProbe> = match &cert {
        Some(cert) if profile.readiness.probes() => {
            Arc::new(HttpProbe::new(&profile)?.trusting(cert.ca_pem.as_bytes())?)
        }
        _ => probe_for(&profile)?,
    };
    let policy = policy.scaled(scale);
    let mut controller = Controller::new(ecs.clone(), profile.clone(), probe)
        .with_policy(policy)
        .with_prices(prices);
    let mut door = None;
    if let Some(name) = profile
        .public_name
        .clone()
        .filter(|_| profile.address == AddressKind::Public)
    {
        // What the module deploys for a name: a CloudFront distribution the name is an
        // alias of for ever, whose function reads the entry the controller writes.
        let zone_id = zone.as_ref().map_or(SIMULATED_ZONE, |z| z.zone_id.as_str());
        ecs.add_hosted_zone(zone_id, parent_domain(&name));
        let distribution = ecs.add_custom_domain(SIMULATED_DISTRIBUTION, CLOUDFRONT_ZONE, None);
        ecs.set_record(
            zone_id,
            &name,
            NameRecord::Alias {
                kind: RecordType::A,
                target: distribution.clone(),
            },
        );
        let store_arn = ecs.add_key_value_store(SIMULATED_STORE);
        let grace = FrontDoor::from_env(Some(&name), &profile.scheme, profile.port)?
            .map_or(DEFAULT_PROPAGATION_GRACE, |d| d.grace);
        controller = controller.with_front_door(FrontDoor {
            store_arn: store_arn.clone(),
            host: name.clone(),
            protocol: if profile.scheme == "https" {
                OriginProtocol::Https
            } else {
                OriginProtocol::Http
            },
            port: profile.port,
            grace: grace.mul_f64(scale),
        })?;
        door = Some(SimulatedDoor {
            store_arn,
            distribution,
        });
    } else if let (Some(zone), Some(name)) = (zone, &profile.public_name) {
        // A private name: the simulated zone holds its parent domain, and the record
        // follows the task's private address.
        ecs.add_hosted_zone(&zone.zone_id, parent_domain(name));
        controller = controller.with_hosted_zone(zone)?;
    }
    let ca_file = match &cert {
        Some(cert) => Some(write_ca(cert)?),
        None => None,
    };
    if let Some(url) = webhook {
        let notifier: Arc<dyn Notifier> = Arc::new(Webhook::new(url)?);
        controller = controller.with_notifier(notifier);
    }
    let controller = Arc::new(controller);
    let leases = ScaledLeases {
        inner: controller.clone(),
        scale,
    };
    Ok(Backend {
        controller: Arc::new(SharedStatus::new(leases, share)),
        events: controller,
        kind: BackendKind::Simulated,
        description: "the simulated ECS (no AWS account needed; nothing is billed)".into(),
        public_name,
        policy,
        simulated: Some(SimulatedWorld {
            ecs,
            certificate: cert,
            ca_file,
            door,
            service_port: profile.port,
            _stand_in: stand_in,
        }),
        time_scale: scale,
    })
}

#[cfg(not(feature = "mock"))]
async fn connect_simulated(_: Prepared) -> Result<Backend> {
    Err(Error::invalid_config(
        "BACKEND",
        "simulated, and this build has no simulated ECS: build it with the `mock` feature",
    ))
}

#[cfg(feature = "mock")]
/// The Grafana stand-in on `port` of every simulated task address; when that port was not
/// asked for and is taken (another simulated world, such as the server example's, holds it),
/// on a free port instead, which the URLs then carry.
async fn serve_stand_in(
    ecs: &SimulatedEcs,
    port: u16,
    cert: Option<&TestCertificate>,
    any_port: bool,
) -> Result<(StandIn, u16)> {
    let spawn = |port| async move {
        match cert {
            Some(cert) => StandIn::spawn_https(ecs.clone(), port, cert).await,
            None => StandIn::spawn(ecs.clone(), port).await,
        }
    };
    let mut tried = spawn(port).await.map(|s| (s, port));
    // A port free on the first address is most likely free on the others; a few tries for
    // the rare one taken in between.
    for _ in 0..5 {
        match tried {
            Err(e) if any_port && e.kind() == std::io::ErrorKind::AddrInUse => {
                let free = std::net::TcpListener::bind("127.0.0.10:0")
                    .and_then(|l| l.local_addr())
                    .map(|a| a.port())
                    .unwrap_or(port);
                tried = spawn(free).await.map(|s| (s, free));
            }
            _ => break,
        }
    }
    tried.map_err(|e| {
        Error::invalid_config(
            "SERVICE_PORT",
            format!("the Grafana stand-in cannot listen on port {port} of 127.0.0.10 to .25 ({e}): set SERVICE_PORT to a free port"),
        )
    })
}

#[cfg(feature = "mock")]
/// Writes the run's CA certificate where `SIMULATED_CA_FILE` says (default: a file in the
/// temporary directory), for a browser to trust it.
fn write_ca(cert: &TestCertificate) -> Result<PathBuf> {
    let path = env("SIMULATED_CA_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("grafana-ondemand-ca-{}.pem", std::process::id()))
        });
    std::fs::write(&path, &cert.ca_pem).map_err(|e| {
        Error::invalid_config(
            "SIMULATED_CA_FILE",
            format!("cannot write the run's CA to {} ({e})", path.display()),
        )
    })?;
    Ok(path)
}

#[cfg(feature = "mock")]
/// The simulated world's leases run at its speed, as its task lifecycle and session limits
/// do: "keep it 1 more hour" at `SIMULATED_TIME_SCALE=0.01` keeps it 36 s.
struct ScaledLeases<C> {
    inner: C,
    scale: f64,
}

#[cfg(feature = "mock")]
#[async_trait::async_trait]
impl<C: ServiceController> ServiceController for ScaledLeases<C> {
    async fn start(&self, lease: Option<Duration>) -> Result<crate::Status> {
        self.inner.start(lease.map(|d| d.mul_f64(self.scale))).await
    }
    async fn extend(&self, by: Duration) -> Result<crate::Status> {
        self.inner.extend(by.mul_f64(self.scale)).await
    }
    async fn stop(&self) -> Result<crate::Status> {
        self.inner.stop().await
    }
    async fn status(&self) -> Result<crate::Status> {
        self.inner.status().await
    }
    async fn reap(&self) -> Result<crate::Status> {
        self.inner.reap().await
    }
}
