//! What a controller answers: the state, the endpoint when there is one, and why.

use crate::cost::Cost;
use crate::endpoint::Endpoint;
use crate::observation::TaskPhase;
use crate::readiness::ReadyBy;
use crate::state::State;
use crate::timings::StartTimings;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The task a status speaks of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    /// The short task id.
    pub id: String,
    /// Its ECS lifecycle phase.
    pub phase: TaskPhase,
    /// When it was created (asked for).
    pub created_at: Option<DateTime<Utc>>,
    /// When its containers started running.
    pub started_at: Option<DateTime<Utc>>,
}

/// The status of the service at one moment.
///
/// Serializes into the JSON contract of the original design (`status`, `url`, `ip`,
/// `runningCount`, `desiredCount`, `message`) plus `reason`, `pendingCount`, `taskId`,
/// `phase`, `createdAt`, `startedAt`, `healthy`, `readyBy`, `stopsAt`, `lastActivityAt` and
/// `cost`. Absent values are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "StatusBody", from = "StatusBody")]
pub struct Status {
    /// Where the service stands.
    pub state: State,
    /// Where it answers: present exactly when the state is `Running`.
    pub endpoint: Option<Endpoint>,
    /// A sentence for people.
    pub message: String,
    /// Why it failed, or what it waits for.
    pub reason: Option<String>,
    /// Tasks asked for.
    pub desired_count: u32,
    /// Tasks in RUNNING.
    pub running_count: u32,
    /// Tasks on their way up.
    pub pending_count: u32,
    /// The task this status speaks of.
    pub task: Option<TaskInfo>,
    /// Whether the service answered its health check on the endpoint.
    pub healthy: bool,
    /// What confirmed that it serves, when running: ECS's container health or the HTTP probe.
    pub ready_by: Option<ReadyBy>,
    /// When it stops by itself if nothing changes (no use, no lease), when running.
    pub stops_at: Option<DateTime<Utc>>,
    /// The last use seen in its request log, when running and known.
    pub last_activity_at: Option<DateTime<Utc>>,
    /// What this session costs, when running and its size is known.
    pub cost: Option<Cost>,
    /// How long this start took, phase by phase, as far as it went.
    pub timings: Option<StartTimings>,
}

impl Status {
    /// The endpoint's URL, when running.
    pub fn url(&self) -> Option<String> {
        self.endpoint.as_ref().map(Endpoint::url)
    }
}

/// The wire form of [`Status`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody {
    status: State,
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    running_count: u32,
    desired_count: u32,
    #[serde(default)]
    pending_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phase: Option<TaskPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    healthy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ready_by: Option<ReadyBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stops_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_activity_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cost: Option<Cost>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timings: Option<StartTimings>,
}

impl From<Status> for StatusBody {
    fn from(s: Status) -> Self {
        let url = s.url();
        StatusBody {
            status: s.state,
            message: s.message,
            url,
            ip: s.endpoint.as_ref().map(|e| e.ip),
            port: s.endpoint.as_ref().map(|e| e.port),
            running_count: s.running_count,
            desired_count: s.desired_count,
            pending_count: s.pending_count,
            reason: s.reason,
            task_id: s.task.as_ref().map(|t| t.id.clone()),
            phase: s.task.as_ref().map(|t| t.phase.clone()),
            created_at: s.task.as_ref().and_then(|t| t.created_at),
            started_at: s.task.as_ref().and_then(|t| t.started_at),
            healthy: s.healthy,
            ready_by: s.ready_by,
            stops_at: s.stops_at,
            last_activity_at: s.last_activity_at,
            cost: s.cost,
            timings: s.timings,
        }
    }
}

impl From<StatusBody> for Status {
    fn from(b: StatusBody) -> Self {
        let (scheme, authority) = b
            .url
            .as_deref()
            .and_then(|u| u.split_once("://"))
            .map(|(s, rest)| (s.to_owned(), rest.split('/').next().unwrap_or_default()))
            .unwrap_or_else(|| ("http".into(), ""));
        // A URL whose host is not the IP is the public name.
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(authority, |(host, _)| host);
        let host = (!host.is_empty() && !host.starts_with('[') && host.parse::<IpAddr>().is_err())
            .then(|| host.to_owned());
        // A name without a port over another port than the scheme's: the front door's URL.
        let front_door = host.is_some()
            && host.as_deref() == Some(authority)
            && !matches!(
                (scheme.as_str(), b.port),
                ("https", Some(443)) | ("http", Some(80))
            );
        let endpoint = match (b.ip, b.port) {
            (Some(ip), Some(port)) => Some(Endpoint {
                scheme,
                ip,
                port,
                host,
                front_door,
            }),
            _ => None,
        };
        let task = b.task_id.map(|id| TaskInfo {
            id,
            phase: b.phase.unwrap_or(TaskPhase::Other("UNKNOWN".into())),
            created_at: b.created_at,
            started_at: b.started_at,
        });
        Status {
            state: b.status,
            endpoint,
            message: b.message,
            reason: b.reason,
            desired_count: b.desired_count,
            running_count: b.running_count,
            pending_count: b.pending_count,
            task,
            healthy: b.healthy,
            ready_by: b.ready_by,
            stops_at: b.stops_at,
            last_activity_at: b.last_activity_at,
            cost: b.cost,
            timings: b.timings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_into_the_reference_contract() {
        let s = Status {
            state: State::Running,
            endpoint: Some(Endpoint {
                scheme: "http".into(),
                ip: "203.0.113.7".parse().unwrap(),
                port: 3000,
                host: None,
                front_door: false,
            }),
            message: "Grafana is running".into(),
            reason: None,
            desired_count: 1,
            running_count: 1,
            pending_count: 0,
            task: Some(TaskInfo {
                id: "abc".into(),
                phase: TaskPhase::Running,
                created_at: None,
                started_at: None,
            }),
            healthy: true,
            ready_by: Some(ReadyBy::EcsHealth),
            stops_at: Some("2026-11-26T14:32:00Z".parse().unwrap()),
            last_activity_at: Some("2026-11-26T14:02:00Z".parse().unwrap()),
            cost: Some(Cost {
                per_hour: 0.0173,
                so_far: 0.02,
                since: "2026-11-26T13:00:00Z".parse().unwrap(),
                pricing: "us-east-1 list prices of 2025-01".into(),
            }),
            timings: None,
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["status"], "running");
        assert_eq!(v["url"], "http://203.0.113.7:3000");
        assert_eq!(v["ip"], "203.0.113.7");
        assert_eq!(v["runningCount"], 1);
        assert_eq!(v["desiredCount"], 1);
        assert_eq!(v["phase"], "RUNNING");
        assert_eq!(v["taskId"], "abc");
        assert_eq!(v["healthy"], true);
        assert_eq!(v["readyBy"], "ecs-health");
        assert_eq!(v["stopsAt"], "2026-11-26T14:32:00Z");
        assert_eq!(v["lastActivityAt"], "2026-11-26T14:02:00Z");
        assert_eq!(v["cost"]["perHour"], 0.0173);
        let back: Status = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn a_public_name_survives_the_wire_form() {
        for (host, port, url) in [
            (
                Some("grafana.example.com"),
                443,
                "https://grafana.example.com",
            ),
            (
                Some("grafana.example.com"),
                8443,
                "https://grafana.example.com:8443",
            ),
            (None, 3000, "https://203.0.113.7:3000"),
        ] {
            let s = Status {
                endpoint: Some(Endpoint {
                    scheme: "https".into(),
                    ip: "203.0.113.7".parse().unwrap(),
                    port,
                    host: host.map(str::to_owned),
                    front_door: false,
                }),
                ..serde_json::from_value(json!({"status": "running", "message": "m", "runningCount": 1, "desiredCount": 1})).unwrap()
            };
            let v = serde_json::to_value(&s).unwrap();
            assert_eq!(v["url"], url);
            assert_eq!(v["ip"], "203.0.113.7");
            let back: Status = serde_json::from_value(v).unwrap();
            assert_eq!(back, s, "{url}");
        }
    }

    #[test]
    fn through_the_front_door_the_url_is_the_doors_whatever_the_tasks_port() {
        let s = Status {
            endpoint: Some(Endpoint {
                scheme: "http".into(),
                ip: "203.0.113.7".parse().unwrap(),
                port: 3000,
                host: Some("d111111abcdef8.cloudfront.net".into()),
                front_door: true,
            }),
            ..serde_json::from_value(
                json!({"status": "running", "message": "m", "runningCount": 1, "desiredCount": 1}),
            )
            .unwrap()
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["url"], "https://d111111abcdef8.cloudfront.net");
        assert_eq!(v["port"], 3000);
        // The task's own scheme is not in the wire form: the door's URL is what comes back.
        let back: Status = serde_json::from_value(v).unwrap();
        assert_eq!(back.url(), s.url());
        assert!(back.endpoint.unwrap().front_door);
    }

    #[test]
    fn a_status_without_endpoint_has_no_url_key() {
        let v = json!({"status": "stopped", "message": "m", "runningCount": 0, "desiredCount": 0});
        let s: Status = serde_json::from_value(v).unwrap();
        let out = serde_json::to_value(&s).unwrap();
        assert!(out.get("url").is_none() && out.get("ip").is_none());
        assert!(!serde_json::to_string(&s).unwrap().contains("None"));
    }
}
