//! `doctor`: read-only checks of a deployed service, each saying what was checked, whether it
//! holds, and for what does not, what to change. Only Describe, Get, List and Simulate calls
//! (and two plain GETs: the caller's address, and Grafana's alert rules while it runs): nothing
//! it does changes or bills anything. Only the CLI links it (feature `doctor`).

use crate::errors::{Names, map};
use crate::platform::EcsPlatform;
use aws_sdk_ecs::types as ecs;
use grafana_ondemand_core::FrontDoor;
use serde::Serialize;

use std::sync::atomic::{AtomicU32, Ordering};

mod door;
mod grafana;
mod network;
mod roles;
mod start;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// It holds.
    Pass,
    /// It may hold, or holds with a caveat worth knowing: not a failure.
    Warn,
    /// It does not hold: a start would fail, or the door would not lead to Grafana.
    Fail,
}

/// One check: what, how it came out, and what to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked, in a few words.
    pub check: String,
    /// How it came out.
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// For a failure or a warning: what to change (the Terraform variable, or the command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// A check that could not run: its error classified first, then the fix for that class
/// (never the SDK's debug text: the error's own words are the detail).
fn unreadable(name: &str, e: &grafana_ondemand_core::Error, call: &str) -> Check {
    use grafana_ondemand_core::Error;
    let (verdict, fix) = match e {
        Error::ServiceNotFound { .. } | Error::ClusterNotFound { .. } => (
            Verdict::Fail,
            "check --cluster, --service and --region (`terraform output -raw cluster_name`, `service_name`; the region the module was applied in)".to_owned(),
        ),
        Error::PermissionDenied { .. } => (
            Verdict::Fail,
            format!("this check needs {call}: give the CLI's identity that permission"),
        ),
        Error::Throttled { .. } | Error::Unavailable { .. } | Error::Timeout { .. } => (
            Verdict::Fail,
            "AWS was busy or out of reach for this call: run doctor again in a minute".to_owned(),
        ),
        Error::Unsupported { .. } => (
            Verdict::Warn,
            format!("the endpoint does not serve {call} (an emulator such as moto): only AWS itself can answer this check"),
        ),
        // Not a permission: the credentials themselves (KeyValueStore's SigV4A).
        Error::InvalidConfig { setting, .. } if setting == "AWS credentials" => (
            Verdict::Fail,
            "get credentials the call can be signed with, as the detail says, and run doctor again".to_owned(),
        ),
        Error::InvalidConfig { setting, .. } => (
            Verdict::Fail,
            format!("fix {setting} as the detail says, and run doctor again"),
        ),
        _ => (
            Verdict::Fail,
            format!("AWS refused {call} for the reason in the detail: fix that, and run doctor again"),
        ),
    };
    check(name, verdict, e.to_string(), Some(&fix))
}

fn check(name: &str, verdict: Verdict, detail: String, fix: Option<&str>) -> Check {
    Check {
        check: name.into(),
        verdict,
        detail,
        fix: fix.map(str::to_owned),
    }
}

/// The tag on the service naming the controller's role (the module sets it): doctor checks
/// that role's permissions.
pub const CONTROLLER_ROLE_TAG: &str = "grafana-ondemand:controller-role";
/// The tag on the service naming the front door's KeyValueStore (the module sets it): doctor
/// reads its entry without being told `DOOR_KVS_ARN`.
pub const DOOR_TAG: &str = "grafana-ondemand:door";
/// The tag on the service naming Grafana's public name (the module sets it): doctor reads its
/// CAA records.
pub const NAME_TAG: &str = "grafana-ondemand:name";
/// The tag on the service naming Grafana's address (the door's), where doctor counts its
/// alert rules while it runs (the module sets it).
pub const GRAFANA_URL_TAG: &str = "grafana-ondemand:url";
/// The tag on the service naming the front door's ACM certificate (the module sets it).
pub const CERTIFICATE_TAG: &str = "grafana-ondemand:certificate";
/// The tag on the service naming the name's Route 53 hosted zone (the module sets it).
pub const ZONE_TAG: &str = "grafana-ondemand:hosted-zone";

/// The value of the service's tag `key`.
fn tag(service: &ecs::Service, key: &str) -> Option<String> {
    service
        .tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
        .map(str::to_owned)
}

/// The checks of one service, through the same SDK configuration as its controller.
#[derive(Debug)]
pub struct Doctor {
    platform: EcsPlatform,
    ecs: aws_sdk_ecs::Client,
    ec2: aws_sdk_ec2::Client,
    efs: aws_sdk_efs::Client,
    iam: aws_sdk_iam::Client,
    ecr: aws_sdk_ecr::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    route53: aws_sdk_route53::Client,
    /// The SDK's configuration, for clients of another region (ACM's us-east-1).
    sdk: aws_config::SdkConfig,
    ssm: aws_sdk_ssm::Client,
    door: Option<FrontDoor>,
    /// Where the caller's own public address is learnt (AWS's checkip service).
    checkip: String,
    calls: AtomicU32,
}

/// AWS's service that answers the caller's public address.
pub const CHECKIP_URL: &str = "https://checkip.amazonaws.com";

/// What the task definition says that later checks need.
#[derive(Debug, Default)]
struct TaskSeen {
    /// Its ARN (its partition, region and account name the resources of its permissions).
    arn: String,
    /// Grafana's container port.
    port: Option<i32>,
    /// The EFS file system it mounts, and through which access point.
    file_system: Option<String>,
    access_point: Option<String>,
    /// The roles ECS starts it with and it runs as.
    execution_role: Option<String>,
    task_role: Option<String>,
    /// Its containers' log groups and stream prefixes (awslogs).
    logs: Vec<(String, String)>,
    /// The log groups its containers may create themselves (`awslogs-create-group`).
    created_groups: Vec<String>,
    /// Its containers' names and images.
    images: Vec<(String, String)>,
    /// Its containers' secrets (`valueFrom`).
    secrets: Vec<String>,
    /// Grafana's admin user, and the parameter its password is read from.
    admin_user: String,
    admin_password: Option<String>,
}

impl Doctor {
    /// The doctor of `platform`'s service, with its front door when it has one.
    pub fn new(
        sdk: &aws_config::SdkConfig,
        platform: EcsPlatform,
        door: Option<FrontDoor>,
    ) -> Self {
        Doctor {
            platform,
            ecs: aws_sdk_ecs::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
            efs: aws_sdk_efs::Client::new(sdk),
            iam: aws_sdk_iam::Client::new(sdk),
            ecr: aws_sdk_ecr::Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            route53: aws_sdk_route53::Client::new(sdk),
            sdk: sdk.clone(),
            ssm: aws_sdk_ssm::Client::new(sdk),
            door,
            checkip: CHECKIP_URL.into(),
            calls: AtomicU32::new(0),
        }
    }

    /// Learns the caller's address from `url` instead of [`CHECKIP_URL`] (one line: the
    /// address), as from a proxy's own service.
    pub fn checkip(mut self, url: impl Into<String>) -> Self {
        self.checkip = url.into();
        self
    }

    /// The AWS calls the checks made.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    fn names(&self) -> Names {
        Names {
            cluster: self.platform.cluster().to_owned(),
            service: self.platform.service().to_owned(),
        }
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs every check; a check that cannot run (a call refused) is a failure saying why.
    pub async fn run(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        let Some(service) = self.service(&mut checks).await else {
            return checks;
        };
        let network = service
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .cloned();
        let task = self.task_definition(&service, &mut checks).await;
        self.images(&task, &mut checks).await;
        self.log_groups(&task, &mut checks).await;
        self.trust(&task, &mut checks).await;
        if let Some(vpc) = &network {
            let subnets = self.subnets(vpc).await;
            self.routes(vpc, &subnets, !task.secrets.is_empty(), &mut checks)
                .await;
            self.door_ingress(vpc, task.port, &mut checks).await;
            if let Some(fs) = &task.file_system {
                self.mount_targets(vpc, &subnets, fs, &mut checks).await;
            }
        }
        let store = self
            .door
            .as_ref()
            .map(|d| d.store_arn.clone())
            .or_else(|| tag(&service, DOOR_TAG));
        self.service_linked_role(&mut checks).await;
        self.permissions(&service, &task, store.as_deref(), &mut checks)
            .await;
        self.spot(&service, &mut checks);
        if let Some(store) = &store {
            self.entry(&service, store, &mut checks).await;
        }
        if let Some(name) = tag(&service, NAME_TAG) {
            if let Some(certificate) = tag(&service, CERTIFICATE_TAG) {
                self.certificate(&certificate, &name, &mut checks).await;
            }
            if let Some(zone) = tag(&service, ZONE_TAG) {
                self.caa(&name, &zone, &mut checks).await;
            }
        }
        self.alert_rules(&service, &task, &mut checks).await;
        checks
    }

    async fn service(&self, checks: &mut Vec<Check>) -> Option<ecs::Service> {
        self.count();
        let found = self
            .ecs
            .describe_services()
            .cluster(self.platform.cluster())
            .services(self.platform.service())
            .include(ecs::ServiceField::Tags)
            .send()
            .await
            .map_err(|e| map(e, "ecs:DescribeServices", &self.names()));
        let name = "the ECS service exists";
        match found {
            Ok(out) => match out.services().first() {
                Some(s) if s.status() == Some("ACTIVE") => {
                    checks.push(check(
                        name,
                        Verdict::Pass,
                        format!(
                            "{} in {}: desired {}, running {}",
                            self.platform.service(),
                            self.platform.cluster(),
                            s.desired_count(),
                            s.running_count()
                        ),
                        None,
                    ));
                    Some(s.clone())
                }
                _ => {
                    checks.push(check(
                        name,
                        Verdict::Fail,
                        format!("no active service {} in cluster {}", self.platform.service(), self.platform.cluster()),
                        Some("check --cluster, --service and the region (`terraform output cluster_name service_name`), or `terraform apply`"),
                    ));
                    None
                }
            },
            Err(e) => {
                checks.push(unreadable(name, &e, "ecs:DescribeServices on the service"));
                None
            }
        }
    }

    /// Checks the task definition and its images; returns what later checks need of it.
    async fn task_definition(&self, service: &ecs::Service, checks: &mut Vec<Check>) -> TaskSeen {
        let name = "its task definition exists";
        let Some(arn) = service.task_definition() else {
            checks.push(check(
                name,
                Verdict::Fail,
                "the service names none".into(),
                Some("`terraform apply`"),
            ));
            return TaskSeen::default();
        };
        self.count();
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .send()
            .await;
        let read = out
            .map_err(|e| map(e, "ecs:DescribeTaskDefinition", &self.names()))
            .map(|o| o.task_definition().cloned());
        let Ok(Some(def)) = read else {
            let why = read.err().map(|e| format!(": {e}")).unwrap_or_default();
            checks.push(check(
                name,
                Verdict::Fail,
                format!("{arn} could not be read{why}"),
                Some("`terraform apply` registers it again; check ecs:DescribeTaskDefinition"),
            ));
            return TaskSeen::default();
        };
        checks.push(check(
            name,
            Verdict::Pass,
            arn.rsplit('/').next().unwrap_or(arn).into(),
            None,
        ));
        let images: Vec<&str> = def
            .container_definitions()
            .iter()
            .filter_map(|c| c.image())
            .collect();
        let docker_hub: Vec<(&str, &str)> = def
            .container_definitions()
            .iter()
            .filter_map(|c| Some((c.name()?, c.image()?)))
            .filter(|(_, i)| is_docker_hub(i))
            .collect();
        if docker_hub.is_empty() {
            checks.push(check(
                "its images' registry",
                Verdict::Pass,
                images.join(", "),
                None,
            ));
        } else {
            checks.push(check(
                "its images' registry",
                Verdict::Warn,
                format!("{} from Docker Hub, which limits anonymous pulls per IP address (Fargate's addresses are shared: a start may fail with toomanyrequests)", docker_hub.iter().map(|(_, i)| *i).collect::<Vec<_>>().join(", ")),
                Some(&format!(
                    "use the same image from public.ecr.aws or an ECR pull-through cache ({})",
                    docker_hub
                        .iter()
                        .map(|(c, _)| format!("{} = \"public.ecr.aws/…\"", image_variable(c)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            ));
        }
        let containers = def.container_definitions();
        let efs = def
            .volumes()
            .iter()
            .find_map(|v| v.efs_volume_configuration());
        let grafana = containers.iter().find(|c| c.name() == Some("grafana"));
        TaskSeen {
            admin_user: grafana
                .and_then(|c| {
                    c.environment()
                        .iter()
                        .find(|e| e.name() == Some("GF_SECURITY_ADMIN_USER"))
                })
                .and_then(|e| e.value())
                .unwrap_or("admin")
                .to_owned(),
            admin_password: grafana
                .and_then(|c| {
                    c.secrets()
                        .iter()
                        .find(|s| s.name() == "GF_SECURITY_ADMIN_PASSWORD")
                })
                .map(|s| s.value_from().to_owned()),
            arn: arn.to_owned(),
            access_point: efs
                .and_then(|e| e.authorization_config())
                .and_then(|a| a.access_point_id())
                .map(str::to_owned),
            execution_role: def.execution_role_arn().map(str::to_owned),
            task_role: def.task_role_arn().map(str::to_owned),
            logs: containers
                .iter()
                .filter_map(|c| {
                    let options = c.log_configuration()?.options()?;
                    Some((
                        options.get("awslogs-group")?.clone(),
                        options
                            .get("awslogs-stream-prefix")
                            .cloned()
                            .unwrap_or_default(),
                    ))
                })
                .collect(),
            created_groups: containers
                .iter()
                .filter_map(|c| {
                    let options = c.log_configuration()?.options()?;
                    (options.get("awslogs-create-group").map(String::as_str) == Some("true"))
                        .then(|| options.get("awslogs-group").cloned())
                        .flatten()
                })
                .collect(),
            images: containers
                .iter()
                .filter_map(|c| Some((c.name()?.to_owned(), c.image()?.to_owned())))
                .collect(),
            secrets: containers
                .iter()
                .flat_map(|c| c.secrets())
                .map(|s| s.value_from().to_owned())
                .collect(),
            port: grafana
                .or_else(|| containers.iter().find(|c| !c.port_mappings().is_empty()))
                .and_then(|c| c.port_mappings().first())
                .and_then(|p| p.container_port()),
            file_system: efs.map(|e| e.file_system_id().to_owned()),
        }
    }

    /// Each subnet's route to the internet, against `assignPublicIp`: a public IP needs an
    fn spot(&self, service: &ecs::Service, checks: &mut Vec<Check>) {
        let providers: Vec<&str> = service
            .capacity_provider_strategy()
            .iter()
            .map(|c| c.capacity_provider())
            .collect();
        if providers == ["FARGATE_SPOT"] {
            checks.push(check(
                "capacity",
                Verdict::Warn,
                "Fargate Spot only: when Spot has no capacity, Grafana does not start, and nothing falls back to on-demand".into(),
                Some("use_fargate_spot = false, for starts that do not depend on Spot's capacity"),
            ));
        } else {
            checks.push(check(
                "capacity",
                Verdict::Pass,
                if providers.is_empty() {
                    "Fargate (launch type)".into()
                } else {
                    providers.join(", ")
                },
                None,
            ));
        }
    }
}

/// The module's variable that sets the image of container `name`.
fn image_variable(name: &str) -> String {
    match name {
        "grafana" => "grafana_image".into(),
        "acme" => "acme_image".into(),
        other => format!("the image of container {other}"),
    }
}

/// Whether `image` comes from Docker Hub (no registry host, or docker.io).
fn is_docker_hub(image: &str) -> bool {
    match image.split_once('/') {
        None => true,
        Some((first, _)) => {
            first == "docker.io"
                || first == "registry-1.docker.io"
                || !(first.contains('.') || first.contains(':') || first == "localhost")
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn docker_hub_images_are_told_from_others() {
        for hub in [
            "grafana/grafana-oss:11.3.0",
            "docker.io/grafana/grafana",
            "busybox",
        ] {
            assert!(super::is_docker_hub(hub), "{hub}");
        }
        for other in [
            "public.ecr.aws/grafana/grafana-oss",
            "123456789012.dkr.ecr.eu-west-3.amazonaws.com/g:1",
            "localhost:5000/g",
        ] {
            assert!(!super::is_docker_hub(other), "{other}");
        }
    }
}
