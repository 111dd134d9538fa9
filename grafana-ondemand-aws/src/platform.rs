//! [`EcsPlatform`]: each [`Platform`] operation translated to one AWS call and back.

use crate::errors::{Names, map};
use async_trait::async_trait;
use aws_sdk_ecs::types as ecs;
use chrono::{DateTime, Utc};
use grafana_ondemand_core::{
    Deployment, DesiredStatus, Error, Health, NetworkInterface, Platform, Result, ServiceEvent,
    ServiceSnapshot, TaskNetwork, TaskPage, TaskPhase, TaskSnapshot,
};
use std::net::IpAddr;

/// One ECS service on Fargate, reached with the official AWS SDK.
#[derive(Debug, Clone)]
pub struct EcsPlatform {
    ecs: aws_sdk_ecs::Client,
    ec2: aws_sdk_ec2::Client,
    names: Names,
}

impl EcsPlatform {
    /// A platform over existing SDK clients.
    pub fn new(
        ecs: aws_sdk_ecs::Client,
        ec2: aws_sdk_ec2::Client,
        cluster: String,
        service: String,
    ) -> Self {
        EcsPlatform {
            ecs,
            ec2,
            names: Names { cluster, service },
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
        stopped_at: time(t.stopped_at()),
        network,
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
            .send()
            .await
            .map_err(|e| map(e, "ecs:DescribeServices", &self.names))?;
        // A missing service is a `failures` entry with reason MISSING, not an error.
        match out.services().first() {
            Some(s) if s.status() != Some("INACTIVE") => Ok(snapshot(s)),
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
        // By filter, not by id: EC2 fails a whole by-id call when one interface is gone (as a
        // draining task's is), and a filter simply leaves it out.
        let filter = aws_sdk_ec2::types::Filter::builder()
            .name("network-interface-id")
            .set_values(Some(eni_ids.to_vec()))
            .build();
        let out = self
            .ec2
            .describe_network_interfaces()
            .filters(filter)
            .send()
            .await
            .map_err(|e| map(e, "ec2:DescribeNetworkInterfaces", &self.names))?;
        Ok(out
            .network_interfaces()
            .iter()
            .map(|n| NetworkInterface {
                id: n.network_interface_id().unwrap_or_default().to_owned(),
                public_ip: n
                    .association()
                    .and_then(|a| a.public_ip())
                    .and_then(|ip| ip.parse().ok()),
                private_ip: n.private_ip_address().and_then(|ip| ip.parse().ok()),
                ipv6: n
                    .ipv6_addresses()
                    .iter()
                    .find_map(|a| a.ipv6_address()?.parse().ok()),
            })
            .collect())
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
        out.service().map(snapshot).ok_or_else(|| {
            Error::backend(
                "ecs:UpdateService",
                "the answer carried no service description",
            )
        })
    }
}
