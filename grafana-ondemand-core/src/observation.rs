//! What the platform reports, in backend-neutral terms: the input of every decision.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// An ECS task lifecycle phase (`lastStatus` or `desiredStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum TaskPhase {
    /// The platform reserves capacity.
    Provisioning,
    /// The image is pulled and the container created.
    Pending,
    /// Networking and load balancers are set up.
    Activating,
    /// The containers run.
    Running,
    /// The task leaves its load balancers.
    Deactivating,
    /// The containers are asked to stop.
    Stopping,
    /// Networking is torn down.
    Deprovisioning,
    /// The task is gone.
    Stopped,
    /// A phase this version does not know, kept as ECS spelled it.
    Other(String),
}

impl TaskPhase {
    /// Parses ECS's upper-case spelling; unknown phases are kept, never rejected.
    pub fn parse(s: &str) -> TaskPhase {
        match s {
            "PROVISIONING" => TaskPhase::Provisioning,
            "PENDING" => TaskPhase::Pending,
            "ACTIVATING" => TaskPhase::Activating,
            "RUNNING" => TaskPhase::Running,
            "DEACTIVATING" => TaskPhase::Deactivating,
            "STOPPING" => TaskPhase::Stopping,
            "DEPROVISIONING" => TaskPhase::Deprovisioning,
            "STOPPED" => TaskPhase::Stopped,
            other => TaskPhase::Other(other.to_owned()),
        }
    }

    /// ECS's upper-case spelling.
    pub fn as_str(&self) -> &str {
        match self {
            TaskPhase::Provisioning => "PROVISIONING",
            TaskPhase::Pending => "PENDING",
            TaskPhase::Activating => "ACTIVATING",
            TaskPhase::Running => "RUNNING",
            TaskPhase::Deactivating => "DEACTIVATING",
            TaskPhase::Stopping => "STOPPING",
            TaskPhase::Deprovisioning => "DEPROVISIONING",
            TaskPhase::Stopped => "STOPPED",
            TaskPhase::Other(s) => s,
        }
    }
}

impl From<TaskPhase> for String {
    fn from(p: TaskPhase) -> String {
        p.as_str().to_owned()
    }
}

impl From<String> for TaskPhase {
    fn from(s: String) -> TaskPhase {
        TaskPhase::parse(&s)
    }
}

impl std::fmt::Display for TaskPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The container health ECS reports for a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Health {
    /// No health check, or not evaluated yet.
    #[default]
    Unknown,
    /// The container health check passes.
    Healthy,
    /// The container health check fails.
    Unhealthy,
}

/// One deployment of the service (a task definition rolled out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// Deployment id (`ecs-svc/...`), which its tasks carry as `startedBy`.
    pub id: String,
    /// Whether this is the PRIMARY (newest, wanted) deployment.
    pub primary: bool,
    /// The task definition it deploys.
    pub task_definition: Option<String>,
    /// When it began: service events before it belong to an earlier deployment.
    pub created_at: Option<DateTime<Utc>>,
}

/// One line of the service's event log (DescribeServices `events`), such as a placement failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEvent {
    /// When ECS wrote it.
    pub at: Option<DateTime<Utc>>,
    /// ECS's own words.
    pub message: String,
}

impl ServiceEvent {
    /// Whether ECS says it could not place or launch a task (no capacity, bad subnet, role).
    pub fn is_placement_failure(&self) -> bool {
        let m = self.message.to_ascii_lowercase();
        [
            "unable to place",
            "failed to launch a task",
            "unable to consistently start",
        ]
        .iter()
        .any(|p| m.contains(p))
    }
}

/// The service as DescribeServices reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServiceSnapshot {
    /// Tasks asked for.
    pub desired_count: u32,
    /// Tasks in RUNNING.
    pub running_count: u32,
    /// Tasks on their way up.
    pub pending_count: u32,
    /// Deployments, primary first when the platform says so.
    pub deployments: Vec<Deployment>,
    /// The latest service events, newest first (ECS keeps the last 100).
    pub events: Vec<ServiceEvent>,
    /// Whether the service gives its tasks a public IPv4 (`assignPublicIp`), when known.
    pub assign_public_ip: Option<bool>,
    /// The service's tags (DescribeServices with `include: TAGS`): where a lease and the
    /// last stop's reason live.
    pub tags: std::collections::BTreeMap<String, String>,
}

impl ServiceSnapshot {
    /// The PRIMARY deployment, if any.
    pub fn primary_deployment(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.primary)
    }

    /// Nothing asked for and nothing counted: no task can be alive worth listing.
    pub fn is_idle(&self) -> bool {
        self.desired_count == 0 && self.running_count == 0 && self.pending_count == 0
    }
}

/// Addresses of a task's network interface (awsvpc ENI).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskNetwork {
    /// The ENI id, from the task's attachment.
    pub eni_id: Option<String>,
    /// The private IPv4 address, from the task's attachment.
    pub private_ip: Option<IpAddr>,
    /// The public IP, from EC2 DescribeNetworkInterfaces; `None` until known.
    pub public_ip: Option<IpAddr>,
    /// The IPv6 address (dual-stack or IPv6-only subnets), from the attachment or EC2.
    pub ipv6: Option<IpAddr>,
    /// The public IP's DNS name, from EC2 DescribeNetworkInterfaces: the front door's origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_dns_name: Option<String>,
}

/// What a task is billed for, as DescribeTasks reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskSize {
    /// CPU units (1024 = one vCPU).
    pub cpu_units: Option<u32>,
    /// Memory in MiB.
    pub memory_mib: Option<u32>,
    /// Runs on arm64 (Graviton) rather than x86_64.
    pub arm64: bool,
    /// Runs on Fargate Spot.
    pub spot: bool,
}

/// One task as DescribeTasks reports it, with its addresses resolved where known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSnapshot {
    /// The task ARN.
    pub arn: String,
    /// The phase it is in (`lastStatus`).
    pub last_status: TaskPhase,
    /// The phase it is headed to (`desiredStatus`): RUNNING or STOPPED.
    pub desired_status: TaskPhase,
    /// Who started it: for a service task, the deployment id.
    pub started_by: Option<String>,
    /// Its task definition ARN.
    pub task_definition: Option<String>,
    /// Container health as ECS sees it.
    pub health: Health,
    /// Why it stopped, as a code (`TaskFailedToStart`, `EssentialContainerExited`, ...).
    pub stop_code: Option<String>,
    /// Why it stopped, in words (`CannotPullContainerError: ...`).
    pub stopped_reason: Option<String>,
    /// When the task was created.
    pub created_at: Option<DateTime<Utc>>,
    /// When its containers started running.
    pub started_at: Option<DateTime<Utc>>,
    /// When the image pull began (`pullStartedAt`).
    pub pull_started_at: Option<DateTime<Utc>>,
    /// When the image pull ended (`pullStoppedAt`).
    pub pull_stopped_at: Option<DateTime<Utc>>,
    /// When it stopped.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Its network interface and addresses.
    pub network: TaskNetwork,
    /// Its size and capacity, for its cost.
    pub size: TaskSize,
}

impl TaskSnapshot {
    /// A new task in PROVISIONING, asked to run, with nothing else known.
    pub fn new(arn: impl Into<String>) -> Self {
        TaskSnapshot {
            arn: arn.into(),
            last_status: TaskPhase::Provisioning,
            desired_status: TaskPhase::Running,
            started_by: None,
            task_definition: None,
            health: Health::Unknown,
            stop_code: None,
            stopped_reason: None,
            created_at: None,
            started_at: None,
            pull_started_at: None,
            pull_stopped_at: None,
            stopped_at: None,
            network: TaskNetwork::default(),
            size: TaskSize::default(),
        }
    }

    /// The short task id: the last segment of the ARN.
    pub fn id(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }

    /// Not STOPPED yet.
    pub fn is_alive(&self) -> bool {
        self.last_status != TaskPhase::Stopped
    }

    /// Alive, but asked to stop: it will not serve for long.
    pub fn is_on_its_way_out(&self) -> bool {
        self.is_alive() && self.desired_status == TaskPhase::Stopped
    }

    /// Still has its network interface: EC2 deletes it during DEPROVISIONING.
    pub fn has_interface(&self) -> bool {
        self.network.eni_id.is_some()
            && !matches!(
                self.last_status,
                TaskPhase::Deprovisioning | TaskPhase::Stopped
            )
    }

    /// Whether it belongs to the given deployment (by `startedBy`, else by task definition).
    pub fn belongs_to(&self, deployment: &Deployment) -> bool {
        match &self.started_by {
            Some(by) if by.starts_with("ecs-svc/") => *by == deployment.id,
            _ => {
                self.task_definition.is_some() && self.task_definition == deployment.task_definition
            }
        }
    }

    /// Whether it stopped (or is stopping) on its own rather than because someone asked.
    pub fn stopped_on_its_own(&self) -> bool {
        if self.is_alive() && !self.is_on_its_way_out() {
            return false;
        }
        let reason = self
            .stopped_reason
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match self.stop_code.as_deref() {
            Some("TaskFailedToStart") | Some("EssentialContainerExited") => true,
            // ECS stops tasks that fail their container or load balancer health checks itself.
            Some("ServiceSchedulerInitiated") => reason.contains("health check"),
            Some(_) => false,
            None => reason.contains("error") || reason.contains("exited"),
        }
    }
}

/// Everything the decision needs to know about the platform at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Observation {
    /// The service.
    pub service: ServiceSnapshot,
    /// Its tasks: alive ones, and recently stopped ones where the backend listed them.
    pub tasks: Vec<TaskSnapshot>,
    /// Tasks ListTasks named that DescribeTasks did not describe (not visible to it yet, or
    /// gone since).
    pub undescribed: Vec<String>,
}
