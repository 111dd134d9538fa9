//! Configuration: a builder, or the environment with one call.

use crate::platform::{Clock, EcsPlatform, RequestLog};
use aws_config::{BehaviorVersion, Region, SdkConfig, timeout::TimeoutConfig};
use grafana_ondemand_core::{
    Controller, EmfMetrics, Error, FrontDoor, HostedZone, Notifier, Prices, Result, ServiceProfile,
    SessionPolicy, Webhook, probe_for,
};
use std::sync::Arc;
use std::time::Duration;

/// Per-attempt limit: ECS answers in well under a second when healthy.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-operation limit, retries included: fits well inside API Gateway's 29 s.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(12);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Builds an [`EcsPlatform`], or a whole [`Controller`] over it.
///
/// ```no_run
/// # async fn run() -> grafana_ondemand_core::Result<()> {
/// use grafana_ondemand_core::ServiceController;
/// let grafana = grafana_ondemand_aws::Builder::from_env()?.build_controller().await?;
/// println!("{}", grafana.status().await?.state);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    cluster: Option<String>,
    service: Option<String>,
    region: Option<String>,
    profile: ServiceProfile,
    sdk_config: Option<SdkConfig>,
    request_log: Option<RequestLog>,
    policy: SessionPolicy,
    prices: Prices,
    clock: Option<Clock>,
    zone: Option<HostedZone>,
    door: Option<FrontDoor>,
    topic_arn: Option<String>,
    webhook: Option<String>,
    emf_metrics: bool,
}

/// The request log of `profile`'s service from `ACTIVITY_LOG_GROUP` and
/// `ACTIVITY_LOG_STREAM_PREFIX`: the task definition's `awslogs-stream-prefix` and container
/// name, such as `grafana/grafana`. Unset, the module's convention for the service: both its
/// display name in lower case (`jupyter/jupyter` for Jupyter).
pub fn request_log_from_env(profile: &ServiceProfile) -> Option<RequestLog> {
    let group = grafana_ondemand_core::setting("ACTIVITY_LOG_GROUP")?;
    let stream_prefix = grafana_ondemand_core::setting("ACTIVITY_LOG_STREAM_PREFIX")
        .unwrap_or_else(|| {
            let name = profile.display_name.to_lowercase().replace(' ', "-");
            format!("{name}/{name}")
        });
    Some(RequestLog {
        group,
        stream_prefix: stream_prefix.trim_end_matches('/').to_owned(),
    })
}

/// The value of the SSM Parameter Store parameter `name` (a SecureString, decrypted), through
/// the AWS chain: how a Lambda reads its secrets once at cold start. `None` when it is empty.
pub async fn secure_parameter(name: &str) -> Result<Option<String>> {
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let names = crate::errors::Names {
        cluster: String::new(),
        service: String::new(),
    };
    let out = aws_sdk_ssm::Client::new(&config)
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| crate::errors::map(e, "ssm:GetParameter", &names))?;
    Ok(out
        .parameter()
        .and_then(|p| p.value())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned))
}

fn required(var: &str, what: &str) -> Result<String> {
    grafana_ondemand_core::setting(var).ok_or_else(|| {
        Error::invalid_config(var, format!("is not set or empty: set it to the {what}"))
    })
}

impl Builder {
    /// An empty builder: cluster and service must be set.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Reads `CLUSTER_NAME` and `SERVICE_NAME` (required), `AWS_REGION` through the AWS
    /// chain, the service profile (`SERVICE_PORT`, `HEALTH_PATH`, ...; see
    /// [`ServiceProfile::from_env`]), the request log ([`request_log_from_env`]), the
    /// session policy ([`SessionPolicy::from_env`]) and the prices ([`Prices::from_env`]).
    pub fn from_env() -> Result<Self> {
        let profile = ServiceProfile::from_env()?;
        let door = FrontDoor::from_env(
            profile.public_name.as_deref(),
            &profile.scheme,
            profile.port,
        )?;
        let request_log = request_log_from_env(&profile);
        Ok(Builder {
            cluster: Some(required("CLUSTER_NAME", "ECS cluster's name")?),
            service: Some(required("SERVICE_NAME", "ECS service's name")?),
            region: None,
            profile,
            sdk_config: None,
            request_log,
            policy: SessionPolicy::from_env()?,
            prices: Prices::from_env()?,
            clock: None,
            zone: HostedZone::from_env()?,
            door,
            topic_arn: grafana_ondemand_core::setting("NOTIFY_TOPIC_ARN"),
            webhook: grafana_ondemand_core::setting("NOTIFY_WEBHOOK"),
            emf_metrics: false,
        })
    }

    /// The Route 53 zone the profile's public name is kept in (`DNS_ZONE_ID`, `DNS_TTL`).
    pub fn hosted_zone(mut self, zone: Option<HostedZone>) -> Self {
        self.zone = zone;
        self
    }

    /// The front door whose KeyValueStore entry the controller writes (`DOOR_KVS_ARN`; see
    /// [`FrontDoor::from_env`]).
    pub fn front_door(mut self, door: Option<FrontDoor>) -> Self {
        self.door = door;
        self
    }

    /// The SNS topic notices are published to (`NOTIFY_TOPIC_ARN`).
    pub fn topic(mut self, topic_arn: Option<String>) -> Self {
        self.topic_arn = topic_arn;
        self
    }

    /// The webhook notices are posted to (`NOTIFY_WEBHOOK`; a secret, so the Lambda reads it
    /// from SSM instead).
    pub fn webhook(mut self, url: Option<String>) -> Self {
        self.webhook = url;
        self
    }

    /// Whether each notice's figures (starts, failures, a start's phases, a session's minutes
    /// and cost) are written to standard output as CloudWatch metrics in the Embedded Metric
    /// Format: for a Lambda, whose output is its log group (no API call).
    pub fn emf_metrics(mut self, on: bool) -> Self {
        self.emf_metrics = on;
        self
    }

    /// Where the task's requests are logged, for its last use.
    pub fn request_log(mut self, log: Option<RequestLog>) -> Self {
        self.request_log = log;
        self
    }

    /// When sessions end by themselves.
    pub fn policy(mut self, policy: SessionPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The prices a session's cost is counted at.
    pub fn prices(mut self, prices: Prices) -> Self {
        self.prices = prices;
        self
    }

    /// The clock timestamps are read against (default: the system's).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The ECS cluster (name or ARN).
    pub fn cluster(mut self, cluster: impl Into<String>) -> Self {
        self.cluster = Some(cluster.into());
        self
    }

    /// The ECS service (name or ARN).
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// The AWS region, overriding the AWS chain's.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// What runs in the task and how it is reached (address kind, port, health check).
    pub fn profile(mut self, profile: ServiceProfile) -> Self {
        self.profile = profile;
        self
    }

    /// Uses this SDK configuration instead of loading the AWS chain (tests, custom setups).
    pub fn sdk_config(mut self, config: SdkConfig) -> Self {
        self.sdk_config = Some(config);
        self
    }

    /// Builds the platform, loading the AWS chain (profile, role, `AWS_ENDPOINT_URL`, ...).
    pub async fn build(self) -> Result<EcsPlatform> {
        Ok(self.build_with_sdk().await?.0)
    }

    async fn build_with_sdk(self) -> Result<(EcsPlatform, SdkConfig)> {
        let cluster = self
            .cluster
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| {
                Error::invalid_config("cluster", "is required: the ECS cluster's name")
            })?;
        let service = self
            .service
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                Error::invalid_config("service", "is required: the ECS service's name")
            })?;
        let sdk = match self.sdk_config {
            Some(sdk) => sdk,
            None => {
                let timeouts = TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build();
                let mut loader =
                    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts);
                if let Some(region) = self.region {
                    loader = loader.region(Region::new(region));
                }
                loader.load().await
            }
        };
        if sdk.region().is_none() {
            return Err(Error::invalid_config(
                "AWS_REGION",
                "no region found: set AWS_REGION (or a region in the AWS profile)",
            ));
        }
        let platform = EcsPlatform::new(
            &sdk,
            cluster,
            service,
            self.request_log,
            self.clock.unwrap_or_else(Clock::system),
        );
        Ok((platform, sdk))
    }

    /// Builds a controller and, beside it on the same SDK configuration, what restores its
    /// data from AWS Backup.
    #[cfg(feature = "restore")]
    pub async fn build_restore(
        self,
        settings: crate::RestoreSettings,
    ) -> Result<(Controller<EcsPlatform>, crate::BackupRestore)> {
        let controller = self.clone().build_controller().await?;
        let (platform, sdk) = self.build_with_sdk().await?;
        let restore = crate::BackupRestore::new(&sdk, platform, settings)?;
        Ok((controller, restore))
    }

    /// Builds the doctor of the service: read-only checks of its deployment.
    #[cfg(feature = "doctor")]
    pub async fn build_doctor(self) -> Result<crate::Doctor> {
        let door = self.door.clone();
        let (platform, sdk) = self.build_with_sdk().await?;
        let doctor = crate::Doctor::new(&sdk, platform, door);
        Ok(match grafana_ondemand_core::setting("CHECKIP_URL") {
            Some(url) => doctor.checkip(url),
            None => doctor,
        })
    }

    /// Builds a controller over the platform, with the probe its readiness calls for.
    /// With a hosted zone it keeps the public name's record, with a front door its entry; with a topic or a webhook it sends
    /// notices of the events it handles.
    pub async fn build_controller(self) -> Result<Controller<EcsPlatform>> {
        let profile = self.profile.clone();
        let (policy, prices) = (self.policy, self.prices.clone());
        let (zone, door, topic, webhook, emf) = (
            self.zone.clone(),
            self.door.clone(),
            self.topic_arn.clone(),
            self.webhook.clone(),
            self.emf_metrics
                .then(|| self.service.clone().unwrap_or_default()),
        );
        let probe = probe_for(&profile)?;
        let (platform, sdk) = self.build_with_sdk().await?;
        let mut notifiers: Vec<Arc<dyn Notifier>> = Vec::new();
        if let Some(url) = webhook {
            notifiers.push(Arc::new(Webhook::new(url)?));
        }
        if let Some(arn) = topic {
            notifiers.push(Arc::new(crate::SnsTopic::new(&sdk, arn)));
        }
        if let Some(service) = emf {
            notifiers.push(Arc::new(EmfMetrics::new(service)));
        }
        let mut controller = Controller::new(platform, profile, probe)
            .with_policy(policy)
            .with_prices(prices);
        if let Some(zone) = zone {
            controller = controller.with_hosted_zone(zone)?;
        }
        if let Some(door) = door {
            controller = controller.with_front_door(door)?;
        }
        if !notifiers.is_empty() {
            controller = controller.with_notifier(Arc::new(notifiers));
        }
        Ok(controller)
    }
}
