//! ECS's events about the service, as EventBridge delivers them: an "ECS Task State Change"
//! for every phase change of a task, an "ECS Service Action" for a task it cannot place.
//! [`PlatformEvent`] reads their documented shapes; nothing here decides what they mean.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// An event of the platform about this service, as EventBridge delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformEvent {
    /// "ECS Task State Change": a task of the service changed phase.
    Task(TaskEvent),
    /// "ECS Service Action" `SERVICE_TASK_PLACEMENT_FAILURE`: ECS could not place a task.
    PlacementFailure {
        /// The service's ARN.
        service_arn: String,
        /// ECS's reason, such as `RESOURCE:FARGATE`.
        reason: String,
    },
    /// Anything else from ECS (other service actions, deployment events): nothing to tell.
    Other(String),
}

/// The fields of an "ECS Task State Change" event a notice needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskEvent {
    /// The task's ARN.
    pub task_arn: String,
    /// `service:<name>` for a service's tasks.
    #[serde(default)]
    pub group: Option<String>,
    /// The phase it is in: PROVISIONING, PENDING, ACTIVATING, RUNNING, … STOPPED.
    pub last_status: String,
    /// RUNNING or STOPPED.
    pub desired_status: String,
    /// Why it stopped: `EssentialContainerExited`, `TaskFailedToStart`, …
    #[serde(default)]
    pub stop_code: Option<String>,
    /// ECS's sentence for the stop.
    #[serde(default)]
    pub stopped_reason: Option<String>,
    /// When its containers started; absent for a task that never ran.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// Its containers, for their exit reasons.
    #[serde(default)]
    pub containers: Vec<ContainerState>,
    /// Increases with every change of the task: tells a later event from an earlier one.
    #[serde(default)]
    pub version: u64,
}

/// A container in a task event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    /// The container's name.
    pub name: String,
    /// Its exit code, once exited.
    #[serde(default)]
    pub exit_code: Option<i64>,
    /// Why it stopped (`CannotPullContainerError: …`), when ECS says.
    #[serde(default)]
    pub reason: Option<String>,
}

impl TaskEvent {
    /// The short task id.
    pub fn task_id(&self) -> &str {
        self.task_arn.rsplit('/').next().unwrap_or(&self.task_arn)
    }
}

/// The EventBridge envelope.
#[derive(Debug, Deserialize)]
struct Envelope {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    resources: Vec<String>,
    detail: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceAction {
    event_name: String,
    #[serde(default)]
    reason: Option<String>,
}

impl PlatformEvent {
    /// Reads an EventBridge event from ECS; `None` when `value` is not an EventBridge event
    /// from ECS at all, an error when it claims to be one but is malformed.
    pub fn from_eventbridge(
        value: &serde_json::Value,
    ) -> Option<std::result::Result<Self, String>> {
        let envelope: Envelope = serde_json::from_value(value.clone()).ok()?;
        if envelope.source != "aws.ecs" {
            return None;
        }
        Some(match envelope.detail_type.as_str() {
            "ECS Task State Change" => serde_json::from_value(envelope.detail)
                .map(PlatformEvent::Task)
                .map_err(|e| format!("an ECS Task State Change event without its fields: {e}")),
            "ECS Service Action" => serde_json::from_value::<ServiceAction>(envelope.detail)
                .map(|a| {
                    if a.event_name == "SERVICE_TASK_PLACEMENT_FAILURE" {
                        PlatformEvent::PlacementFailure {
                            service_arn: envelope.resources.first().cloned().unwrap_or_default(),
                            reason: a.reason.unwrap_or_else(|| "no reason given".into()),
                        }
                    } else {
                        PlatformEvent::Other(a.event_name)
                    }
                })
                .map_err(|e| format!("an ECS Service Action event without its fields: {e}")),
            other => Ok(PlatformEvent::Other(other.to_owned())),
        })
    }
}

impl PlatformEvent {
    /// Whether the event is about the service `service` (EventBridge rules filter on it
    /// already; a rule written by hand may not).
    pub fn concerns(&self, service: &str) -> bool {
        match self {
            PlatformEvent::Task(t) => t.group.as_deref() == Some(&format!("service:{service}")),
            PlatformEvent::PlacementFailure { service_arn, .. } => {
                service_arn.rsplit('/').next() == Some(service)
            }
            PlatformEvent::Other(_) => false,
        }
    }
}
