//! The seam to a backend: the few ECS, EC2, CloudWatch Logs, Route 53 and CloudFront
//! KeyValueStore operations the controller needs, translated.
//!
//! A backend implements [`Platform`] by translating each call to its API and back; it decides
//! nothing. The simulated ECS and the AWS backend both implement it, and the same
//! [`Controller`](crate::Controller) runs on top of either.
//!
//! **It is ECS's operations, on purpose.** The trait names what the controller needs of ECS
//! Fargate (a service's desired count, its tasks and their network interfaces, the task's
//! request log), because that is the one real platform it runs on; a second real backend
//! would say what the honest common ground is, and generalising before it would only guess.
//! A backend for something else implements the required operations in its own terms (a
//! "service" whose desired count is 0 or 1, "tasks" with an address and a phase). The
//! optional capabilities have defaults that say "this backend has none"
//! ([`Error::Unsupported`](crate::Error::Unsupported)): a private name's Route 53 records
//! ([`Platform::address_records`], [`Platform::change_address_records`],
//! [`Platform::change_in_sync`]) and the front door's KeyValueStore ([`Platform::door_entry`],
//! [`Platform::put_door_entry`]). A controller configured with either on such a backend says
//! so at its first read instead of pretending.

use crate::dns::{NameRecord, RecordChange};
use crate::error::{Error, Result};
use crate::observation::{ServiceSnapshot, TaskSnapshot};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::net::IpAddr;

/// Which tasks ListTasks returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DesiredStatus {
    /// Tasks asked to run (ECS's default filter).
    Running,
    /// Tasks asked to stop: those stopping, and those stopped in the last hour or so.
    Stopped,
}

impl DesiredStatus {
    /// ECS's spelling: `RUNNING` or `STOPPED`.
    pub fn as_str(self) -> &'static str {
        match self {
            DesiredStatus::Running => "RUNNING",
            DesiredStatus::Stopped => "STOPPED",
        }
    }
}

/// A network interface as EC2 DescribeNetworkInterfaces reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInterface {
    /// The ENI id.
    pub id: String,
    /// Its public IP, when one is associated.
    pub public_ip: Option<IpAddr>,
    /// Its primary private IP.
    pub private_ip: Option<IpAddr>,
    /// Its first IPv6 address, if it has one.
    pub ipv6: Option<IpAddr>,
    /// The public DNS name of its public IP (`Association.PublicDnsName`), when the VPC gives
    /// one (DNS hostnames and DNS support enabled).
    pub public_dns_name: Option<String>,
}

/// One key of a CloudFront KeyValueStore as read for a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreEntry {
    /// The store's ETag when the key was read: a write's `If-Match`.
    pub etag: String,
    /// The key's value; `None` when the key does not exist.
    pub value: Option<String>,
}

/// One page of ListTasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskPage {
    /// The task ARNs on this page.
    pub arns: Vec<String>,
    /// The token for the next page; `None` on the last one.
    pub next_token: Option<String>,
}

/// One page of FilterLogEvents: when the matching events happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPage {
    /// The events' times, oldest first.
    pub times: Vec<DateTime<Utc>>,
    /// The token for the next page; `None` on the last one.
    pub next_token: Option<String>,
}

/// The platform operations of one ECS service (its cluster and name are the backend's).
#[async_trait]
pub trait Platform: Send + Sync + std::fmt::Debug {
    /// ECS DescribeServices for this service.
    async fn describe_service(&self) -> Result<ServiceSnapshot>;
    /// One page of ECS ListTasks for this service, filtered by desired status; `page` is the
    /// previous page's `next_token`.
    async fn list_tasks(&self, desired: DesiredStatus, page: Option<String>) -> Result<TaskPage>;
    /// ECS DescribeTasks (at most 100 ARNs); the public IPs are left unknown. Tasks ECS
    /// reports as `failures` (not visible yet, or gone) are left out.
    async fn describe_tasks(&self, arns: &[String]) -> Result<Vec<TaskSnapshot>>;
    /// EC2 DescribeNetworkInterfaces; interfaces that no longer exist are left out, never an
    /// error for the others.
    async fn describe_network_interfaces(
        &self,
        eni_ids: &[String],
    ) -> Result<Vec<NetworkInterface>>;
    /// ECS UpdateService: sets the desired count, optionally forcing a new deployment.
    async fn update_service(
        &self,
        desired_count: u32,
        force_new_deployment: bool,
    ) -> Result<ServiceSnapshot>;
    /// ECS TagResource on the service: sets these tags, leaving the others.
    async fn tag_service(&self, tags: &[(&str, String)]) -> Result<()>;
    /// One page of CloudWatch Logs FilterLogEvents on the task's request log: the times of
    /// the events at or after `since` that match `filter` (a CloudWatch Logs filter
    /// pattern); `page` is the previous page's `next_token`.
    async fn request_log(
        &self,
        task_id: &str,
        since: DateTime<Utc>,
        filter: &str,
        page: Option<String>,
    ) -> Result<LogPage>;
    /// Route 53 ListResourceRecordSets: the A and AAAA record sets of `name` in the zone
    /// (simple routing: one value each, or an alias). Optional: a private name's record.
    async fn address_records(&self, zone_id: &str, name: &str) -> Result<Vec<NameRecord>> {
        let _ = (zone_id, name);
        Err(unsupported(PRIVATE_NAME))
    }
    /// Route 53 ChangeResourceRecordSets: these changes to `name`, in one batch, applied
    /// whole or not at all; the change's id, for [`Platform::change_in_sync`]. Optional.
    async fn change_address_records(
        &self,
        zone_id: &str,
        name: &str,
        changes: &[RecordChange],
    ) -> Result<String> {
        let _ = (zone_id, name, changes);
        Err(unsupported(PRIVATE_NAME))
    }
    /// Route 53 GetChange: whether the change is INSYNC (every Route 53 name server answers
    /// with it) rather than PENDING. Optional.
    async fn change_in_sync(&self, change_id: &str) -> Result<bool> {
        let _ = change_id;
        Err(unsupported(PRIVATE_NAME))
    }
    /// CloudFront KeyValueStore DescribeKeyValueStore (the store's ETag), then GetKey: `key`'s
    /// value as of that ETag or later. Optional: the front door's entry.
    async fn door_entry(&self, store_arn: &str, key: &str) -> Result<StoreEntry> {
        let _ = (store_arn, key);
        Err(unsupported(DOOR_STORE))
    }
    /// CloudFront KeyValueStore PutKey with `If-Match: if_match`: the store's new ETag. A
    /// store changed since that ETag is [`Error::Conflict`](crate::Error::Conflict). Optional.
    async fn put_door_entry(
        &self,
        store_arn: &str,
        key: &str,
        value: &str,
        if_match: &str,
    ) -> Result<String> {
        let _ = (store_arn, key, value, if_match);
        Err(unsupported(DOOR_STORE))
    }
    /// The platform's clock: the time its timestamps are read against.
    fn now(&self) -> DateTime<Utc>;
}

const PRIVATE_NAME: &str =
    "a private name's DNS records (this backend has none: configure the service without them)";
const DOOR_STORE: &str =
    "a front door's store (this backend has none: configure the service without a door)";

fn unsupported(capability: &str) -> Error {
    Error::Unsupported {
        capability: capability.to_owned(),
    }
}
