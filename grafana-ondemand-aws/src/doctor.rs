//! `doctor`: read-only checks of a deployed service, each saying what was checked, whether it
//! holds, and for what does not, what to change. Only Describe calls: nothing it does changes
//! or bills anything. Only the CLI links it (feature `doctor`).

use crate::errors::{Names, map};
use crate::platform::EcsPlatform;
use aws_sdk_ec2::types::Filter;
use aws_sdk_ecs::types as ecs;
use grafana_ondemand_core::{DOOR_KEY, DoorEntry, DoorState, FrontDoor, Platform};
use serde::Serialize;
use std::sync::atomic::{AtomicU32, Ordering};

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

/// A check that could not run: the call it needs failed (refused, throttled, unreachable).
fn unreadable(name: &str, e: &grafana_ondemand_core::Error, call: &str) -> Check {
    check(
        name,
        Verdict::Fail,
        e.to_string(),
        Some(&format!(
            "this check needs {call}: give the CLI's identity that permission, or try again if AWS was busy"
        )),
    )
}

fn check(name: &str, verdict: Verdict, detail: String, fix: Option<&str>) -> Check {
    Check {
        check: name.into(),
        verdict,
        detail,
        fix: fix.map(str::to_owned),
    }
}

/// The checks of one service, through the same SDK configuration as its controller.
#[derive(Debug)]
pub struct Doctor {
    platform: EcsPlatform,
    ecs: aws_sdk_ecs::Client,
    ec2: aws_sdk_ec2::Client,
    efs: aws_sdk_efs::Client,
    iam: aws_sdk_iam::Client,
    door: Option<FrontDoor>,
    calls: AtomicU32,
}

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
    /// Its containers' secrets (`valueFrom`).
    secrets: Vec<String>,
}

/// One simulation: these actions, on this resource, with these context keys and values.
type Ask = (Vec<&'static str>, String, Vec<(&'static str, String)>);

/// CloudFront's origin-facing servers, as a managed prefix list.
const CLOUDFRONT_PREFIX_LIST: &str = "com.amazonaws.global.cloudfront.origin-facing";

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
            door,
            calls: AtomicU32::new(0),
        }
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
        if let Some(vpc) = &network {
            self.routes(vpc, &mut checks).await;
            self.door_ingress(vpc, task.port, &mut checks).await;
            if let Some(fs) = &task.file_system {
                self.mount_targets(vpc, fs, &mut checks).await;
            }
        }
        self.permissions(&task, &mut checks).await;
        self.spot(&service, &mut checks);
        if self.door.is_some() {
            self.entry(&service, &mut checks).await;
        }
        checks
    }

    async fn service(&self, checks: &mut Vec<Check>) -> Option<ecs::Service> {
        self.count();
        let found = self
            .ecs
            .describe_services()
            .cluster(self.platform.cluster())
            .services(self.platform.service())
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
        let docker_hub: Vec<&str> = images
            .iter()
            .copied()
            .filter(|i| is_docker_hub(i))
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
                format!("{} from Docker Hub, which limits anonymous pulls per IP address (Fargate's addresses are shared: a start may fail with toomanyrequests)", docker_hub.join(", ")),
                Some("use the same image from public.ecr.aws (grafana_image = \"public.ecr.aws/…\") or an ECR pull-through cache"),
            ));
        }
        let containers = def.container_definitions();
        let efs = def
            .volumes()
            .iter()
            .find_map(|v| v.efs_volume_configuration());
        TaskSeen {
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
            secrets: containers
                .iter()
                .flat_map(|c| c.secrets())
                .map(|s| s.value_from().to_owned())
                .collect(),
            port: containers
                .iter()
                .find(|c| c.name() == Some("grafana"))
                .or_else(|| containers.iter().find(|c| !c.port_mappings().is_empty()))
                .and_then(|c| c.port_mappings().first())
                .and_then(|p| p.container_port()),
            file_system: efs.map(|e| e.file_system_id().to_owned()),
        }
    }

    /// Each subnet's route to the internet, against `assignPublicIp`: a public IP needs an
    /// internet gateway (the image pull and the logs go through it), no public IP a NAT.
    async fn routes(&self, vpc: &ecs::AwsVpcConfiguration, checks: &mut Vec<Check>) {
        let name = "the subnets reach ECR and CloudWatch Logs";
        let public = vpc.assign_public_ip() == Some(&ecs::AssignPublicIp::Enabled);
        let subnets = vpc.subnets();
        self.count();
        let described = self
            .ec2
            .describe_subnets()
            .set_subnet_ids(Some(subnets.to_vec()))
            .send()
            .await
            .map_err(|e| map(e, "ec2:DescribeSubnets", &self.names()));
        let vpc_id = match described {
            Ok(out) => out
                .subnets()
                .first()
                .and_then(|s| s.vpc_id())
                .map(str::to_owned),
            Err(e) => {
                checks.push(unreadable(name, &e, "ec2:DescribeSubnets"));
                return;
            }
        };
        let Some(vpc_id) = vpc_id else {
            checks.push(check(
                name,
                Verdict::Fail,
                format!("subnets {} not found", subnets.join(", ")),
                Some("set subnet_ids to subnets of the VPC, and `terraform apply`"),
            ));
            return;
        };
        self.count();
        let tables = match self
            .ec2
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
            .send()
            .await
        {
            Ok(out) => out.route_tables().to_vec(),
            Err(e) => {
                let e = map(e, "ec2:DescribeRouteTables", &self.names());
                checks.push(unreadable(name, &e, "ec2:DescribeRouteTables"));
                return;
            }
        };
        let mut missing = Vec::new();
        for subnet in subnets {
            // Its own table, or else the VPC's main one (the implicit association).
            let table = tables
                .iter()
                .find(|t| {
                    t.associations()
                        .iter()
                        .any(|a| a.subnet_id() == Some(subnet.as_str()))
                })
                .or_else(|| {
                    tables
                        .iter()
                        .find(|t| t.associations().iter().any(|a| a.main() == Some(true)))
                });
            let default_route = table.and_then(|t| {
                t.routes()
                    .iter()
                    .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            });
            let ok = default_route.is_some_and(|r| {
                if public {
                    r.gateway_id().is_some_and(|g| g.starts_with("igw-"))
                } else {
                    r.nat_gateway_id().is_some() || r.transit_gateway_id().is_some()
                }
            });
            if !ok {
                missing.push(subnet.clone());
            }
        }
        match (missing.is_empty(), public) {
            (true, true) => checks.push(check(name, Verdict::Pass, format!("public IP, and 0.0.0.0/0 to an internet gateway from {}", subnets.join(", ")), None)),
            (true, false) => checks.push(check(name, Verdict::Pass, format!("no public IP, and 0.0.0.0/0 to a NAT from {}", subnets.join(", ")), None)),
            (false, true) => checks.push(check(
                name,
                Verdict::Fail,
                format!("the task gets a public IP, but {} route 0.0.0.0/0 to no internet gateway: the image cannot be pulled, and the task never starts", missing.join(", ")),
                Some("put the service in public subnets (subnet_ids), or set assign_public_ip = false in subnets with a NAT gateway"),
            )),
            (false, false) => checks.push(check(
                name,
                Verdict::Warn,
                format!("the task gets no public IP, and {} route 0.0.0.0/0 to no NAT: the image pull and the logs need VPC endpoints (ecr.api, ecr.dkr, s3, logs)", missing.join(", ")),
                Some("add a NAT gateway or those VPC endpoints, or set assign_public_ip = true in public subnets"),
            )),
        }
        self.dns_names(&vpc_id, checks).await;
    }

    /// The front door reaches a task by its public DNS name: the VPC must give them.
    async fn dns_names(&self, vpc_id: &str, checks: &mut Vec<Check>) {
        use aws_sdk_ec2::types::VpcAttributeName;
        let name = "the VPC gives tasks DNS names";
        let mut off = Vec::new();
        for (attribute, label) in [
            (VpcAttributeName::EnableDnsHostnames, "enableDnsHostnames"),
            (VpcAttributeName::EnableDnsSupport, "enableDnsSupport"),
        ] {
            self.count();
            let out = self
                .ec2
                .describe_vpc_attribute()
                .vpc_id(vpc_id)
                .attribute(attribute)
                .send()
                .await;
            let on = match out {
                Ok(o) => o
                    .enable_dns_hostnames()
                    .or(o.enable_dns_support())
                    .and_then(|v| v.value())
                    .unwrap_or(false),
                Err(_) => false,
            };
            if !on {
                off.push(label);
            }
        }
        if off.is_empty() {
            checks.push(check(
                name,
                Verdict::Pass,
                format!("{vpc_id}: DNS hostnames and support on"),
                None,
            ));
        } else {
            checks.push(check(
                name,
                Verdict::Fail,
                format!("{vpc_id}: {} off: the front door reaches the task by its public DNS name, which it then has none of", off.join(", ")),
                Some("enable_dns_hostnames = true and enable_dns_support = true on the VPC (aws_vpc), then `terraform apply`"),
            ));
        }
    }

    /// The task's security group admits CloudFront's origin-facing servers on its port.
    async fn door_ingress(
        &self,
        vpc: &ecs::AwsVpcConfiguration,
        port: Option<i32>,
        checks: &mut Vec<Check>,
    ) {
        let name = "the front door can reach Grafana";
        self.count();
        let list = self
            .ec2
            .describe_managed_prefix_lists()
            .filters(
                Filter::builder()
                    .name("prefix-list-name")
                    .values(CLOUDFRONT_PREFIX_LIST)
                    .build(),
            )
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.prefix_lists()
                    .first()
                    .and_then(|p| p.prefix_list_id())
                    .map(str::to_owned)
            });
        self.count();
        let groups = self
            .ec2
            .describe_security_groups()
            .set_group_ids(Some(vpc.security_groups().to_vec()))
            .send()
            .await
            .map_err(|e| map(e, "ec2:DescribeSecurityGroups", &self.names()));
        let groups = match groups {
            Ok(out) => out.security_groups().to_vec(),
            Err(e) => {
                checks.push(unreadable(name, &e, "ec2:DescribeSecurityGroups"));
                return;
            }
        };
        let admitted: Vec<i32> = groups
            .iter()
            .flat_map(|g| g.ip_permissions())
            .filter(|p| {
                p.prefix_list_ids()
                    .iter()
                    .any(|l| l.prefix_list_id().is_some() && l.prefix_list_id() == list.as_deref())
            })
            .filter_map(|p| p.from_port())
            .collect();
        let ok = match port {
            Some(port) => admitted.contains(&port),
            None => !admitted.is_empty(),
        };
        if ok {
            checks.push(check(
                name,
                Verdict::Pass,
                format!("{CLOUDFRONT_PREFIX_LIST} admitted on {admitted:?}"),
                None,
            ));
        } else {
            checks.push(check(
                name,
                Verdict::Fail,
                format!("no rule of {} admits {CLOUDFRONT_PREFIX_LIST}{}: the door's requests to Grafana time out", vpc.security_groups().join(", "), port.map(|p| format!(" on port {p}")).unwrap_or_default()),
                Some("the module adds that rule (grafana_from_the_door): `terraform apply` puts it back"),
            ));
        }
    }

    /// A mount target of the file system in every zone the task may run in, each admitting
    /// the task's security group on NFS (2049): else the task fails to mount and never runs.
    async fn mount_targets(
        &self,
        vpc: &ecs::AwsVpcConfiguration,
        fs: &str,
        checks: &mut Vec<Check>,
    ) {
        let name = "Grafana's file system is mountable from every subnet";
        self.count();
        let zones: Vec<(String, String)> = match self
            .ec2
            .describe_subnets()
            .set_subnet_ids(Some(vpc.subnets().to_vec()))
            .send()
            .await
        {
            Ok(out) => out
                .subnets()
                .iter()
                .filter_map(|s| {
                    Some((s.subnet_id()?.to_owned(), s.availability_zone()?.to_owned()))
                })
                .collect(),
            Err(e) => {
                let e = map(e, "ec2:DescribeSubnets", &self.names());
                checks.push(unreadable(name, &e, "ec2:DescribeSubnets"));
                return;
            }
        };
        self.count();
        let targets = match self
            .efs
            .describe_mount_targets()
            .file_system_id(fs)
            .send()
            .await
        {
            Ok(out) => out.mount_targets().to_vec(),
            Err(e) => {
                let e = map(e, "elasticfilesystem:DescribeMountTargets", &self.names());
                checks.push(unreadable(
                    name,
                    &e,
                    "elasticfilesystem:DescribeMountTargets",
                ));
                return;
            }
        };
        let mut problems = Vec::new();
        let mut target_groups = Vec::new();
        for (subnet, zone) in &zones {
            match targets
                .iter()
                .find(|t| t.availability_zone_name() == Some(zone.as_str()))
            {
                None => problems.push(format!("no mount target in {zone} (subnet {subnet})")),
                Some(t) => {
                    let id = t.mount_target_id().to_owned();
                    if target_groups.iter().any(|(m, _)| m == &id) {
                        continue;
                    }
                    self.count();
                    let groups = self
                        .efs
                        .describe_mount_target_security_groups()
                        .mount_target_id(&id)
                        .send()
                        .await
                        .map(|o| o.security_groups().to_vec())
                        .unwrap_or_default();
                    target_groups.push((id, groups));
                }
            }
        }
        let mut all: Vec<String> = target_groups.iter().flat_map(|(_, g)| g.clone()).collect();
        all.sort();
        all.dedup();
        if !all.is_empty() {
            self.count();
            let rules = match self
                .ec2
                .describe_security_groups()
                .set_group_ids(Some(all))
                .send()
                .await
            {
                Ok(o) => o.security_groups().to_vec(),
                Err(e) => {
                    let e = map(e, "ec2:DescribeSecurityGroups", &self.names());
                    checks.push(unreadable(name, &e, "ec2:DescribeSecurityGroups"));
                    return;
                }
            };
            for (target, groups) in &target_groups {
                let admits = rules
                    .iter()
                    .filter(|g| {
                        g.group_id()
                            .is_some_and(|id| groups.iter().any(|x| x == id))
                    })
                    .flat_map(|g| g.ip_permissions())
                    .any(|p| {
                        let nfs = p.ip_protocol() == Some("-1")
                            || (p.from_port().unwrap_or(0) <= 2049
                                && p.to_port().unwrap_or(0) >= 2049);
                        nfs && p.user_id_group_pairs().iter().any(|pair| {
                            pair.group_id()
                                .is_some_and(|g| vpc.security_groups().iter().any(|t| t == g))
                        })
                    });
                if !admits {
                    problems.push(format!("mount target {target} does not admit the task's security group on NFS (2049)"));
                }
            }
        }
        if problems.is_empty() {
            checks.push(check(
                name,
                Verdict::Pass,
                format!("{fs}: a mount target in each zone, admitting the task"),
                None,
            ));
        } else {
            checks.push(check(
                name,
                Verdict::Fail,
                format!("{fs}: {}: the task cannot mount Grafana's data, and never runs", problems.join("; ")),
                Some("the module makes one mount target per subnet (subnet_ids) with an NFS rule from the task: `terraform apply` puts them back"),
            ));
        }
    }

    /// What the roles may do, as IAM decides it (`iam:SimulatePrincipalPolicy`, policies,
    /// boundaries and conditions included): the execution role creates the task's log streams
    /// and reads its secrets; the task role mounts Grafana's data through its access point.
    async fn permissions(&self, task: &TaskSeen, checks: &mut Vec<Check>) {
        // arn:<partition>:ecs:<region>:<account>:task-definition/…
        let mut parts = task.arn.split(':').skip(1);
        let (Some(partition), _, Some(region), Some(account)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        if let Some(role) = &task.execution_role {
            let mut asks: Vec<Ask> = task
                .logs
                .iter()
                .map(|(group, prefix)| {
                    (
                        vec!["logs:CreateLogStream", "logs:PutLogEvents"],
                        format!("arn:{partition}:logs:{region}:{account}:log-group:{group}:log-stream:{prefix}/grafana/0"),
                        Vec::new(),
                    )
                })
                .collect();
            for secret in &task.secrets {
                let arn = if secret.starts_with("arn:") {
                    secret.clone()
                } else {
                    format!(
                        "arn:{partition}:ssm:{region}:{account}:parameter/{}",
                        secret.trim_start_matches('/')
                    )
                };
                let action = if arn.contains(":secretsmanager:") {
                    "secretsmanager:GetSecretValue"
                } else {
                    "ssm:GetParameters"
                };
                asks.push((vec![action], arn, Vec::new()));
            }
            self.simulate(
                "the execution role can start the task",
                role,
                &asks,
                "aws_iam_role_policy.execution",
                checks,
            )
            .await;
        }
        if let (Some(role), Some(fs)) = (&task.task_role, &task.file_system) {
            let fs_arn =
                format!("arn:{partition}:elasticfilesystem:{region}:{account}:file-system/{fs}");
            let context = task
                .access_point
                .iter()
                .map(|ap| {
                    (
                        "elasticfilesystem:AccessPointArn",
                        format!(
                            "arn:{partition}:elasticfilesystem:{region}:{account}:access-point/{ap}"
                        ),
                    )
                })
                .collect();
            let asks = vec![(
                vec![
                    "elasticfilesystem:ClientMount",
                    "elasticfilesystem:ClientWrite",
                ],
                fs_arn,
                context,
            )];
            self.simulate(
                "the task role can mount Grafana's data",
                role,
                &asks,
                "aws_iam_role_policy.task",
                checks,
            )
            .await;
        }
    }

    /// One check of `role`: each ask (actions, a resource, context keys) simulated.
    async fn simulate(
        &self,
        name: &str,
        role: &str,
        asks: &[Ask],
        module_policy: &str,
        checks: &mut Vec<Check>,
    ) {
        use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum, PolicyEvaluationDecisionType};
        let mut denied = Vec::new();
        for (actions, resource, context) in asks {
            self.count();
            let entries: Vec<ContextEntry> = context
                .iter()
                .map(|(k, v)| {
                    ContextEntry::builder()
                        .context_key_name(*k)
                        .context_key_values(v)
                        .context_key_type(ContextKeyTypeEnum::String)
                        .build()
                })
                .collect();
            let out = self
                .iam
                .simulate_principal_policy()
                .policy_source_arn(role)
                .set_action_names(Some(actions.iter().map(|a| (*a).to_owned()).collect()))
                .resource_arns(resource)
                .set_context_entries((!entries.is_empty()).then_some(entries))
                .send()
                .await;
            match out {
                Ok(out) => {
                    for r in out.evaluation_results() {
                        if r.eval_decision() != &PolicyEvaluationDecisionType::Allowed {
                            denied.push(format!(
                                "{} on {resource} ({})",
                                r.eval_action_name(),
                                r.eval_decision().as_str()
                            ));
                        }
                    }
                }
                Err(e) => {
                    let e = map(e, "iam:SimulatePrincipalPolicy", &self.names());
                    checks.push(check(
                        name,
                        Verdict::Warn,
                        format!("{role}: could not be checked: {e}"),
                        Some("give the CLI's identity iam:SimulatePrincipalPolicy on the role (moto has none)"),
                    ));
                    return;
                }
            }
        }
        if denied.is_empty() {
            checks.push(check(
                name,
                Verdict::Pass,
                format!("{role}: every action it needs is allowed"),
                None,
            ));
        } else {
            checks.push(check(
                name,
                Verdict::Fail,
                format!("{role} may not: {}", denied.join("; ")),
                Some(format!("allow them in the role's policy (the module's {module_policy}: `terraform apply` puts it back); a permissions boundary or an SCP may deny them too").as_str()),
            ));
        }
    }

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

    /// The door's entry routes where the service is: asleep when stopped.
    async fn entry(&self, service: &ecs::Service, checks: &mut Vec<Check>) {
        let Some(door) = &self.door else { return };
        let name = "the front door's entry agrees with the service";
        self.count();
        self.count();
        let read = self.platform.door_entry(&door.store_arn, DOOR_KEY).await;
        let entry = match read {
            Ok(e) => e.value.as_deref().and_then(DoorEntry::parse),
            Err(e) => {
                checks.push(unreadable(
                    name,
                    &e,
                    "cloudfront-keyvaluestore:DescribeKeyValueStore and GetKey on the store",
                ));
                return;
            }
        };
        let wanted = service.desired_count() > 0;
        match entry {
            Some(e) if !wanted && e.state == DoorState::Asleep => checks.push(check(name, Verdict::Pass, format!("asleep (generation {})", e.generation), None)),
            Some(e) if wanted => checks.push(check(name, Verdict::Pass, format!("{:?} (generation {}) while Grafana is asked for", e.state, e.generation), None)),
            other => checks.push(check(
                name,
                Verdict::Fail,
                format!("the entry is {} while the service's desired count is {}", other.map(|e| format!("{:?}", e.state)).unwrap_or_else(|| "missing or unreadable".into()), service.desired_count()),
                Some("any status puts it right (`status`); if it stays wrong, the controller's role may not write the store (cloudfront-keyvaluestore:PutKey)"),
            )),
        }
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
