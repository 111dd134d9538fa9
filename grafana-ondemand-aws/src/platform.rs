//! [`EcsPlatform`]: each [`Platform`] operation translated to one AWS call and back.

use crate::errors::{Names, map, map_kvs};
use async_trait::async_trait;
use aws_sdk_ecs::types as ecs;
use chrono::{DateTime, Utc};
use grafana_ondemand_core::{
    AliasTarget, Deployment, DesiredStatus, Error, Health, LogPage, NameRecord, NetworkInterface,
    Platform, RecordChange, RecordType, Result, ServiceEvent, ServiceSnapshot, StoreEntry,
    TaskNetwork, TaskPage, TaskPhase, TaskSize, TaskSnapshot, fqdn,
};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

/// Where the task's requests are logged: the awslogs driver writes each task's output to
/// the stream `<stream prefix>/<container name>/<task id>` of a log group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLog {
    /// The log group (`awslogs-group`).
    pub group: String,
    /// `<awslogs-stream-prefix>/<container name>`, such as `grafana/grafana`.
    pub stream_prefix: String,
}

/// The time the platform's timestamps are read against: the system's, or a test's.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(Utc::now))
    }

    /// A clock read from `now` (a simulated world's, in tests).
    pub fn from_fn(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Clock(Arc::new(now))
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// The KeyValueStore client. AWS's endpoint rules put the account id in front of the host
/// (`<account>.cloudfront-kvs.global.api.aws`), and in front of an overridden endpoint's
/// host too, which a stub or an emulator on `127.0.0.1` cannot answer: an override is used
/// as given, still signed with SigV4A as AWS wants.
fn kvs_client(sdk: &aws_config::SdkConfig) -> aws_sdk_cloudfrontkeyvaluestore::Client {
    let mut config = aws_sdk_cloudfrontkeyvaluestore::config::Builder::from(sdk);
    if let Some(url) = sdk.endpoint_url() {
        config = config.endpoint_resolver(AsGiven(url.to_owned()));
    }
    aws_sdk_cloudfrontkeyvaluestore::Client::from_conf(config.build())
}

/// An endpoint override, taken as it is.
#[derive(Debug)]
struct AsGiven(String);

impl aws_sdk_cloudfrontkeyvaluestore::config::endpoint::ResolveEndpoint for AsGiven {
    fn resolve_endpoint<'a>(
        &'a self,
        _params: &'a aws_sdk_cloudfrontkeyvaluestore::config::endpoint::Params,
    ) -> aws_sdk_cloudfrontkeyvaluestore::config::endpoint::EndpointFuture<'a> {
        use aws_smithy_types::endpoint::{Endpoint, EndpointAuthScheme};
        let sigv4a = EndpointAuthScheme::with_capacity("sigv4a", 2)
            .put("signingName", "cloudfront-keyvaluestore")
            .put(
                "signingRegionSet",
                vec![aws_smithy_types::Document::from("*")],
            );
        aws_sdk_cloudfrontkeyvaluestore::config::endpoint::EndpointFuture::ready(Ok(
            Endpoint::builder()
                .url(self.0.clone())
                .auth_scheme(sigv4a)
                .build(),
        ))
    }
}

/// One ECS service on Fargate, reached with the official AWS SDK.
#[derive(Debug, Clone)]
pub struct EcsPlatform {
    ecs: aws_sdk_ecs::Client,
    ec2: crate::ec2::Ec2Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    route53: aws_sdk_route53::Client,
    kvs: aws_sdk_cloudfrontkeyvaluestore::Client,
    names: Names,
    request_log: Option<RequestLog>,
    clock: Clock,
    /// The service's ARN, from the first DescribeServices (TagResource needs it).
    service_arn: Arc<OnceLock<String>>,
}

impl EcsPlatform {
    /// A platform over existing SDK clients; `request_log` is where the task's requests are
    /// logged (without it, use cannot be read and only the session limit stops it).
    pub fn new(
        sdk: &aws_config::SdkConfig,
        cluster: String,
        service: String,
        request_log: Option<RequestLog>,
        clock: Clock,
    ) -> Self {
        EcsPlatform {
            ecs: aws_sdk_ecs::Client::new(sdk),
            ec2: crate::ec2::Ec2Client::new(sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            route53: aws_sdk_route53::Client::new(sdk),
            kvs: kvs_client(sdk),
            names: Names { cluster, service },
            request_log,
            clock,
            service_arn: Arc::default(),
        }
    }

    /// The cluster this platform drives.
    pub fn cluster(&self) -> &str {
        &self.names.cluster
    }

    /// The service this platform drives.
    pub fn service(&self) -> &str {
        &self.names.service
    }

    fn not_found(&self) -> Error {
        Error::ServiceNotFound {
            cluster: self.names.cluster.clone(),
            service: self.names.service.clone(),
        }
    }
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn time(t: Option<&aws_sdk_ecs::primitives::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

fn assign_public_ip(n: Option<&ecs::NetworkConfiguration>) -> Option<bool> {
    n.and_then(|n| n.awsvpc_configuration())
        .and_then(|a| a.assign_public_ip())
        .map(|a| *a == ecs::AssignPublicIp::Enabled)
}

fn snapshot(s: &ecs::Service) -> ServiceSnapshot {
    let primary = s
        .deployments()
        .iter()
        .find(|d| d.status() == Some("PRIMARY"));
    ServiceSnapshot {
        desired_count: count(s.desired_count()),
        running_count: count(s.running_count()),
        pending_count: count(s.pending_count()),
        deployments: s
            .deployments()
            .iter()
            .map(|d| Deployment {
                id: d.id().unwrap_or_default().to_owned(),
                primary: d.status() == Some("PRIMARY"),
                task_definition: d.task_definition().map(str::to_owned),
                created_at: time(d.created_at()),
            })
            .collect(),
        events: s
            .events()
            .iter()
            .map(|e| ServiceEvent {
                at: time(e.created_at()),
                message: e.message().unwrap_or_default().to_owned(),
            })
            .collect(),
        // The primary deployment's network configuration is the one its tasks get.
        assign_public_ip: assign_public_ip(primary.and_then(|d| d.network_configuration()))
            .or_else(|| assign_public_ip(s.network_configuration())),
        tags: s
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn size(t: &ecs::Task) -> TaskSize {
    TaskSize {
        cpu_units: t.cpu().and_then(|c| c.parse().ok()),
        memory_mib: t.memory().and_then(|m| m.parse().ok()),
        arm64: t
            .attributes()
            .iter()
            .any(|a| a.name() == "ecs.cpu-architecture" && a.value() == Some("arm64")),
        spot: t.capacity_provider_name() == Some("FARGATE_SPOT"),
    }
}

fn task(t: &ecs::Task) -> TaskSnapshot {
    let mut network = TaskNetwork::default();
    for attachment in t
        .attachments()
        .iter()
        .filter(|a| a.r#type() == Some("ElasticNetworkInterface"))
    {
        for detail in attachment.details() {
            match (detail.name(), detail.value()) {
                (Some("networkInterfaceId"), Some(v)) => network.eni_id = Some(v.to_owned()),
                (Some("privateIPv4Address"), Some(v)) => {
                    network.private_ip = v.parse::<IpAddr>().ok()
                }
                (Some("ipv6Address"), Some(v)) => network.ipv6 = v.parse::<IpAddr>().ok(),
                _ => {}
            }
        }
    }
    TaskSnapshot {
        arn: t.task_arn().unwrap_or_default().to_owned(),
        last_status: TaskPhase::parse(t.last_status().unwrap_or("UNKNOWN")),
        desired_status: TaskPhase::parse(t.desired_status().unwrap_or("UNKNOWN")),
        started_by: t.started_by().map(str::to_owned),
        task_definition: t.task_definition_arn().map(str::to_owned),
        health: match t.health_status() {
            Some(ecs::HealthStatus::Healthy) => Health::Healthy,
            Some(ecs::HealthStatus::Unhealthy) => Health::Unhealthy,
            _ => Health::Unknown,
        },
        stop_code: t.stop_code().map(|c| c.as_str().to_owned()),
        stopped_reason: t.stopped_reason().map(str::to_owned),
        created_at: time(t.created_at()),
        started_at: time(t.started_at()),
        pull_started_at: time(t.pull_started_at()),
        pull_stopped_at: time(t.pull_stopped_at()),
        stopped_at: time(t.stopped_at()),
        network,
        size: size(t),
    }
}

#[async_trait]
impl Platform for EcsPlatform {
    async fn describe_service(&self) -> Result<ServiceSnapshot> {
        let out = self
            .ecs
            .describe_services()
            .cluster(&self.names.cluster)
            .services(&self.names.service)
            .include(ecs::ServiceField::Tags)
            .send()
            .await
            .map_err(|e| map(e, "ecs:DescribeServices", &self.names))?;
        // A missing service is a `failures` entry with reason MISSING, not an error.
        match out.services().first() {
            Some(s) if s.status() != Some("INACTIVE") => {
                if let Some(arn) = s.service_arn() {
                    let _ = self.service_arn.set(arn.to_owned());
                }
                Ok(snapshot(s))
            }
            _ => Err(self.not_found()),
        }
    }

    async fn list_tasks(&self, desired: DesiredStatus, page: Option<String>) -> Result<TaskPage> {
        let out = self
            .ecs
            .list_tasks()
            .cluster(&self.names.cluster)
            .service_name(&self.names.service)
            .desired_status(ecs::DesiredStatus::from(desired.as_str()))
            .max_results(100)
            .set_next_token(page)
            .send()
            .await
            .map_err(|e| map(e, "ecs:ListTasks", &self.names))?;
        Ok(TaskPage {
            arns: out.task_arns().to_vec(),
            next_token: out.next_token().map(str::to_owned),
        })
    }

    async fn describe_tasks(&self, arns: &[String]) -> Result<Vec<TaskSnapshot>> {
        let out = self
            .ecs
            .describe_tasks()
            .cluster(&self.names.cluster)
            .set_tasks(Some(arns.to_vec()))
            .send()
            .await
            .map_err(|e| map(e, "ecs:DescribeTasks", &self.names))?;
        // MISSING: not visible yet, or gone; the controller notes which. Anything else is
        // worth a line in the logs.
        for f in out
            .failures()
            .iter()
            .filter(|f| f.reason() != Some("MISSING"))
        {
            tracing::warn!(
                arn = f.arn(),
                reason = f.reason(),
                detail = f.detail(),
                "ECS could not describe a task"
            );
        }
        Ok(out.tasks().iter().map(task).collect())
    }

    async fn describe_network_interfaces(
        &self,
        eni_ids: &[String],
    ) -> Result<Vec<NetworkInterface>> {
        self.ec2
            .describe_network_interfaces(eni_ids, &self.names)
            .await
    }

    async fn update_service(
        &self,
        desired_count: u32,
        force_new_deployment: bool,
    ) -> Result<ServiceSnapshot> {
        let out = self
            .ecs
            .update_service()
            .cluster(&self.names.cluster)
            .service(&self.names.service)
            .desired_count(i32::try_from(desired_count).unwrap_or(i32::MAX))
            .force_new_deployment(force_new_deployment)
            .send()
            .await
            .map_err(|e| map(e, "ecs:UpdateService", &self.names))?;
        // UpdateService answers without tags: the caller keeps those it read.
        out.service().map(snapshot).ok_or_else(|| {
            Error::backend(
                "ecs:UpdateService",
                "the answer carried no service description",
            )
        })
    }

    async fn tag_service(&self, tags: &[(&str, String)]) -> Result<()> {
        let arn = match self.service_arn.get() {
            Some(arn) => arn.clone(),
            None => {
                self.describe_service().await?;
                self.service_arn.get().cloned().ok_or_else(|| {
                    Error::backend("ecs:TagResource", "DescribeServices gave no service ARN")
                })?
            }
        };
        let tags: Vec<ecs::Tag> = tags
            .iter()
            .map(|(k, v)| ecs::Tag::builder().key(*k).value(v).build())
            .collect();
        self.ecs
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| map(e, "ecs:TagResource", &self.names))?;
        Ok(())
    }

    async fn request_log(
        &self,
        task_id: &str,
        since: DateTime<Utc>,
        filter: &str,
        page: Option<String>,
    ) -> Result<LogPage> {
        let Some(log) = &self.request_log else {
            return Err(Error::invalid_config(
                "ACTIVITY_LOG_GROUP",
                "is not set: without the task's log group, its use cannot be read",
            ));
        };
        let out = self
            .logs
            .filter_log_events()
            .log_group_name(&log.group)
            .log_stream_names(format!("{}/{task_id}", log.stream_prefix))
            .start_time(since.timestamp_millis())
            .end_time(self.now().timestamp_millis())
            .filter_pattern(filter)
            .set_next_token(page)
            .send()
            .await
            .map_err(|e| map(e, "logs:FilterLogEvents", &self.names))?;
        Ok(LogPage {
            times: out
                .events()
                .iter()
                .filter_map(|e| DateTime::from_timestamp_millis(e.timestamp()?))
                .collect(),
            next_token: out.next_token().map(str::to_owned),
        })
    }

    async fn address_records(&self, zone_id: &str, name: &str) -> Result<Vec<NameRecord>> {
        use aws_sdk_route53::types::RrType;
        let wanted = fqdn(name);
        // Record sets come in Route 53's order from the name on: A then AAAA of the name,
        // then other types and names, which are not ours to read.
        let out = self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(&wanted)
            .start_record_type(RrType::A)
            .max_items(2)
            .send()
            .await
            .map_err(|e| map(e, "route53:ListResourceRecordSets", &self.names))?;
        Ok(out
            .resource_record_sets()
            .iter()
            .filter(|set| fqdn(set.name()) == wanted)
            .filter_map(|set| {
                let kind = match set.r#type() {
                    RrType::A => RecordType::A,
                    RrType::Aaaa => RecordType::Aaaa,
                    _ => return None,
                };
                if let Some(alias) = set.alias_target() {
                    return Some(NameRecord::Alias {
                        kind,
                        target: AliasTarget::new(alias.dns_name(), alias.hosted_zone_id()),
                    });
                }
                Some(NameRecord::address(
                    set.resource_records().first()?.value().parse().ok()?,
                    u32::try_from(set.ttl()?).ok()?,
                ))
            })
            .collect())
    }

    async fn change_address_records(
        &self,
        zone_id: &str,
        name: &str,
        changes: &[RecordChange],
    ) -> Result<String> {
        use aws_sdk_route53::types::{
            AliasTarget as Alias, Change, ChangeAction, ChangeBatch, ResourceRecord,
            ResourceRecordSet, RrType,
        };
        let invalid = |e: aws_sdk_route53::error::BuildError| {
            Error::backend("route53:ChangeResourceRecordSets", e)
        };
        let mut batch = ChangeBatch::builder().comment("grafana-ondemand");
        for change in changes {
            let action = match change {
                RecordChange::Upsert(_) => ChangeAction::Upsert,
                RecordChange::Create(_) => ChangeAction::Create,
                RecordChange::Delete(_) => ChangeAction::Delete,
            };
            let record = change.record();
            let set = ResourceRecordSet::builder()
                .name(fqdn(name))
                .r#type(match record.kind() {
                    RecordType::A => RrType::A,
                    RecordType::Aaaa => RrType::Aaaa,
                });
            let set = match record {
                NameRecord::Address { value, ttl } => set.ttl(i64::from(*ttl)).resource_records(
                    ResourceRecord::builder()
                        .value(value.to_string())
                        .build()
                        .map_err(invalid)?,
                ),
                NameRecord::Alias { target, .. } => set.alias_target(
                    Alias::builder()
                        .hosted_zone_id(&target.hosted_zone_id)
                        .dns_name(&target.dns_name)
                        .evaluate_target_health(false)
                        .build()
                        .map_err(invalid)?,
                ),
            };
            batch = batch.changes(
                Change::builder()
                    .action(action)
                    .resource_record_set(set.build().map_err(invalid)?)
                    .build()
                    .map_err(invalid)?,
            );
        }
        let out = self
            .route53
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch.build().map_err(invalid)?)
            .send()
            .await
            .map_err(|e| map(e, "route53:ChangeResourceRecordSets", &self.names))?;
        Ok(out
            .change_info()
            .map(|c| c.id().trim_start_matches("/change/").to_owned())
            .unwrap_or_default())
    }

    async fn change_in_sync(&self, change_id: &str) -> Result<bool> {
        let out = self
            .route53
            .get_change()
            .id(change_id.trim_start_matches("/change/"))
            .send()
            .await
            .map_err(|e| map(e, "route53:GetChange", &self.names))?;
        Ok(out
            .change_info()
            .is_some_and(|c| *c.status() == aws_sdk_route53::types::ChangeStatus::Insync))
    }

    async fn door_entry(&self, store_arn: &str, key: &str) -> Result<StoreEntry> {
        let described = self
            .kvs
            .describe_key_value_store()
            .kvs_arn(store_arn)
            .send()
            .await
            .map_err(|e| {
                map_kvs(
                    e,
                    "cloudfront-keyvaluestore:DescribeKeyValueStore",
                    &self.names,
                )
            })?;
        let value = match self.kvs.get_key().kvs_arn(store_arn).key(key).send().await {
            Ok(out) => Some(out.value().to_owned()),
            // A missing key: the door reads it as asleep.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                None
            }
            Err(e) => return Err(map_kvs(e, "cloudfront-keyvaluestore:GetKey", &self.names)),
        };
        Ok(StoreEntry {
            etag: described.e_tag().to_owned(),
            value,
        })
    }

    async fn put_door_entry(
        &self,
        store_arn: &str,
        key: &str,
        value: &str,
        if_match: &str,
    ) -> Result<String> {
        let action = "cloudfront-keyvaluestore:PutKey";
        match self
            .kvs
            .put_key()
            .kvs_arn(store_arn)
            .key(key)
            .value(value)
            .if_match(if_match)
            .send()
            .await
        {
            Ok(out) => Ok(out.e_tag().to_owned()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conflict_exception()) =>
            {
                Err(Error::Conflict {
                    action: action.into(),
                })
            }
            Err(e) => Err(map_kvs(e, action, &self.names)),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock.0)()
    }
}
