//! Word when things change: ECS's events turned into notices for people, each sent once.
//!
//! ECS reports every phase change of a task as an "ECS Task State Change" event and a task it
//! cannot place as an "ECS Service Action" event, through EventBridge. [`PlatformEvent`] reads
//! the documented shapes; [`notice_for`] decides, purely, what people are told; the
//! [`ANNOUNCED_TAG`] service tag remembers what was told, so that EventBridge's duplicate
//! deliveries and out-of-order events are not told twice.

use crate::error::Result;
use crate::session::StopRecord;
use crate::state::State;
use crate::status::Status;
use crate::timings::StartTimings;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The service tag that remembers the notices sent: `<task id>:<kind>` for the last few tasks.
pub const ANNOUNCED_TAG: &str = "grafana-ondemand:announced";

/// Tasks remembered in [`ANNOUNCED_TAG`] (a tag value holds 256 characters).
const ANNOUNCED_KEPT: usize = 4;

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

/// What a notice tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeKind {
    /// A task was asked for and is on its way.
    Started,
    /// The task runs; the URL goes with it.
    Running,
    /// It stopped, and why.
    Stopped,
    /// It failed, with ECS's reason.
    Failed,
}

impl NoticeKind {
    /// The word in the wire form and the tag.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Started => "started",
            NoticeKind::Running => "running",
            NoticeKind::Stopped => "stopped",
            NoticeKind::Failed => "failed",
        }
    }

    /// Later in a task's life: a notice never follows one of a higher rank for the same task.
    fn rank(self) -> u8 {
        match self {
            NoticeKind::Started => 1,
            NoticeKind::Running => 2,
            NoticeKind::Stopped | NoticeKind::Failed => 3,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            NoticeKind::Started,
            NoticeKind::Running,
            NoticeKind::Stopped,
            NoticeKind::Failed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A notice for people: what happened, to which task, and the sentence to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// What happened.
    pub kind: NoticeKind,
    /// The task it happened to (for a placement failure, the deployment).
    pub subject: String,
    /// The sentence people read, such as "Grafana is running: https://grafana.example.com".
    pub text: String,
    /// Where it answers, for `running`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Why, for `stopped` and `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How long the start took, for `running`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<StartTimings>,
    /// How long the session ran, in minutes, for `stopped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_minutes: Option<f64>,
    /// What the session cost, in USD at the configured prices, for `stopped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_cost: Option<f64>,
}

/// What the controller knows besides the event when it decides on a notice.
#[derive(Debug, Clone, Default)]
pub struct NoticeContext<'a> {
    /// The name people know the service by ("Grafana").
    pub display_name: &'a str,
    /// The service's tags (the stop record).
    pub tags: Option<&'a BTreeMap<String, String>>,
    /// Where the event's task answers, when known.
    pub url: Option<String>,
    /// Whether the service is still asked to run (a task replaced in a deployment).
    pub service_wanted: bool,
    /// The primary deployment's id, which names a placement failure (with the start's time,
    /// so that each start's failure to place is told once).
    pub deployment: Option<&'a str>,
}

/// The notice an event calls for, if any; pure.
pub fn notice_for(event: &PlatformEvent, ctx: &NoticeContext<'_>) -> Option<Notice> {
    let name = ctx.display_name;
    match event {
        PlatformEvent::Task(t) => {
            let notice = |kind, text: String, url, reason| Notice {
                kind,
                subject: t.task_id().to_owned(),
                text,
                url,
                reason,
                timings: None,
                session_minutes: None,
                session_cost: None,
            };
            match (t.last_status.as_str(), t.desired_status.as_str()) {
                ("PROVISIONING" | "PENDING" | "ACTIVATING", "RUNNING") => Some(notice(
                    NoticeKind::Started,
                    format!("{name} is starting (task {}).", t.task_id()),
                    None,
                    None,
                )),
                // RUNNING is ECS's word, not Grafana's answer: "running" is told from a status
                // that confirmed readiness ([`running_notice`]), not from this event.
                ("STOPPED", _) => {
                    if let Some(reason) = failure(t) {
                        return Some(notice(
                            NoticeKind::Failed,
                            format!("{name} failed: {reason}"),
                            None,
                            Some(reason),
                        ));
                    }
                    // A task replaced while the service still runs (a deployment) is no stop
                    // of the service.
                    if ctx.service_wanted
                        && t.stop_code.as_deref() == Some("ServiceSchedulerInitiated")
                    {
                        return None;
                    }
                    // This controller's record says who or what stopped it ("stopped after
                    // 30 min without use"); a stop made elsewhere has ECS's sentence.
                    let recorded = ctx
                        .tags
                        .and_then(StopRecord::read)
                        .filter(|r| t.started_at.is_none_or(|s| r.at >= s))
                        .map(|r| r.to_string());
                    let (text, reason) = match recorded {
                        Some(r) => (format!("{name} {r}."), r),
                        None => {
                            let r = t
                                .stopped_reason
                                .clone()
                                .unwrap_or_else(|| "no reason given".into());
                            (format!("{name} stopped: {r}."), r)
                        }
                    };
                    Some(notice(NoticeKind::Stopped, text, None, Some(reason)))
                }
                _ => None,
            }
        }
        PlatformEvent::PlacementFailure { reason, .. } => {
            let reason = format!("ECS could not place a task ({reason})");
            Some(Notice {
                kind: NoticeKind::Failed,
                subject: format!(
                    "{}-{}",
                    ctx.deployment
                        .map_or("placement", |d| d.rsplit('/').next().unwrap_or(d)),
                    ctx.tags
                        .and_then(StopRecord::started_at)
                        .map_or(0, |t| t.timestamp())
                ),
                text: format!("{name} failed to start: {reason}."),
                url: None,
                reason: Some(reason),
                timings: None,
                session_minutes: None,
                session_cost: None,
            })
        }
        PlatformEvent::Other(_) => None,
    }
}

/// The notice that the service runs, for a `running` status (readiness confirmed: the URL
/// answers): of the task that serves, with its URL. Once per task, as every notice.
pub fn running_notice(status: &Status, display_name: &str) -> Option<Notice> {
    if status.state != State::Running {
        return None;
    }
    let task = status.task.as_ref()?;
    let url = status.url();
    Some(Notice {
        kind: NoticeKind::Running,
        subject: task.id.clone(),
        text: match &url {
            Some(url) => format!("{display_name} is running: {url}"),
            None => format!("{display_name} is running."),
        },
        url,
        reason: None,
        timings: status.timings.clone(),
        session_minutes: None,
        session_cost: None,
    })
}

/// Why a stopped task failed (it could not start, its essential container exited, or it was
/// replaced for failing its health checks), or `None` when it stopped as asked.
fn failure(t: &TaskEvent) -> Option<String> {
    // ECS's service scheduler also stops, and replaces, a task whose health checks fail: a
    // failure of the service, not a stop anybody asked for.
    let failed_health = t.stop_code.as_deref() == Some("ServiceSchedulerInitiated")
        && t.stopped_reason.as_deref().is_some_and(|r| {
            r.contains("failed container health checks") || r.contains("failed ELB health checks")
        });
    if !failed_health
        && !matches!(
            t.stop_code.as_deref(),
            Some("TaskFailedToStart" | "EssentialContainerExited")
        )
    {
        return None;
    }
    let ecs = t.stopped_reason.clone().unwrap_or_else(|| "stopped".into());
    let container = t
        .containers
        .iter()
        .find_map(|c| c.reason.clone())
        .or_else(|| {
            t.containers.iter().find_map(|c| match c.exit_code {
                Some(code) if code != 0 => {
                    Some(format!("container {} exited with code {code}", c.name))
                }
                _ => None,
            })
        });
    Some(match container {
        Some(why) if !ecs.contains(&why) => format!("{ecs}: {why}"),
        _ => ecs,
    })
}

/// Whether the notice was already sent or claimed, by the [`ANNOUNCED_TAG`] value.
pub fn already_announced(tag: Option<&str>, notice: &Notice) -> bool {
    announced(tag)
        .iter()
        .any(|a| a.subject == notice.subject && a.kind.rank() >= notice.kind.rank())
}

/// The [`ANNOUNCED_TAG`] value that claims `notice` for the process `claim` names: it first
/// (`<subject>:<kind>:<claim>`), then the last few other subjects (their claims kept as they
/// are, so that rewriting the tag for one event does not erase another's).
pub fn announced_tag(tag: Option<&str>, notice: &Notice, claim: &str) -> String {
    let mut entries = vec![format!(
        "{}:{}:{claim}",
        notice.subject,
        notice.kind.as_str()
    )];
    entries.extend(
        announced(tag)
            .into_iter()
            .filter(|a| a.subject != notice.subject)
            .take(ANNOUNCED_KEPT - 1)
            .map(|a| a.entry),
    );
    entries.join(" ")
}

/// The [`ANNOUNCED_TAG`] value `now` with the claim on `notice` released: its subject's entry
/// as it was `before` the claim (or none), the other subjects' as they are now.
pub fn released(now: Option<&str>, before: Option<&str>, notice: &Notice) -> String {
    announced(before)
        .into_iter()
        .filter(|a| a.subject == notice.subject)
        .chain(
            announced(now)
                .into_iter()
                .filter(|a| a.subject != notice.subject),
        )
        .take(ANNOUNCED_KEPT)
        .map(|a| a.entry)
        .collect::<Vec<_>>()
        .join(" ")
}

/// What an [`ANNOUNCED_TAG`] value, as read back, says of a claim on `notice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimSeen {
    /// `claim` holds it: the last claim written on this notice is this process's.
    Mine,
    /// Another process's claim holds it (or a later notice of the same subject): that one
    /// tells it.
    Theirs,
    /// No claim on it shows: not visible yet (tags are eventually consistent), or erased by
    /// another process that rewrote the tag for another subject at the same moment.
    Absent,
}

/// Reads the claim on `notice` in an [`ANNOUNCED_TAG`] value: the entry of its subject,
/// wherever it stands, decides (not the first entry: another subject may have been written
/// since).
pub fn claim_on(tag: Option<&str>, notice: &Notice, claim: &str) -> ClaimSeen {
    match announced(tag).iter().find(|a| a.subject == notice.subject) {
        Some(a) if a.kind == notice.kind && a.claim.as_deref() == Some(claim) => ClaimSeen::Mine,
        Some(a) if a.kind.rank() >= notice.kind.rank() => ClaimSeen::Theirs,
        _ => ClaimSeen::Absent,
    }
}

struct Announced {
    subject: String,
    kind: NoticeKind,
    claim: Option<String>,
    entry: String,
}

fn announced(tag: Option<&str>) -> Vec<Announced> {
    tag.unwrap_or_default()
        .split_whitespace()
        .filter_map(|entry| {
            let mut parts = entry.split(':');
            let subject = parts.next()?.to_owned();
            let kind = NoticeKind::parse(parts.next()?)?;
            Some(Announced {
                subject,
                kind,
                claim: parts.next().map(str::to_owned),
                entry: entry.to_owned(),
            })
        })
        .collect()
}

/// Handles the platform's events about one service (the Lambda, given EventBridge's events;
/// the demo server, given the simulated ECS's).
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// Handles one event: what it did, or an error for the event to be delivered again.
    async fn handle_event(&self, event: &PlatformEvent) -> Result<crate::Handled>;
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

/// Where notices go: a webhook, an SNS topic, or several.
#[async_trait]
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// Sends one notice; an error means it was not delivered.
    async fn send(&self, notice: &Notice) -> Result<()>;
}

/// Every notifier of a list, each tried; fails if any failed (after trying all).
#[async_trait]
impl Notifier for Vec<std::sync::Arc<dyn Notifier>> {
    async fn send(&self, notice: &Notice) -> Result<()> {
        let mut first_error = None;
        for notifier in self {
            if let Err(e) = notifier.send(notice).await {
                tracing::warn!(error = %e, kind = notice.kind.as_str(), "a notice was not delivered");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// A webhook taking `{"text": …}` (Slack's incoming webhooks, Mattermost, Google Chat, and
/// anything reading JSON), with the notice's fields under `"notice"`.
#[derive(Debug, Clone)]
pub struct Webhook {
    client: reqwest::Client,
    url: String,
}

impl Webhook {
    /// A webhook at `url` (https, or http on loopback for tests).
    pub fn new(url: impl Into<String>) -> Result<Self> {
        let url = url.into();
        let parsed = reqwest::Url::parse(&url).map_err(|e| {
            crate::Error::invalid_config(
                "NOTIFY_WEBHOOK",
                format!("the webhook URL is not a URL ({e})"),
            )
        })?;
        let loopback = parsed.host_str().is_some_and(|h| {
            h == "localhost"
                || h.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
        if parsed.scheme() != "https" && !loopback {
            return Err(crate::Error::invalid_config(
                "NOTIFY_WEBHOOK",
                "the webhook URL must be https: its URL is a secret, and so are the notices",
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| {
                crate::Error::invalid_config("NOTIFY_WEBHOOK", format!("no HTTP client ({e})"))
            })?;
        Ok(Webhook { client, url })
    }
}

#[async_trait]
impl Notifier for Webhook {
    async fn send(&self, notice: &Notice) -> Result<()> {
        let body = serde_json::json!({ "text": notice.text, "notice": notice });
        let answer = self
            .client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| crate::Error::NotDelivered {
                channel: "the webhook".into(),
                problem: if e.is_timeout() {
                    "it did not answer within 5 s".into()
                } else {
                    "it could not be reached".into()
                },
            })?;
        if !answer.status().is_success() {
            return Err(crate::Error::NotDelivered {
                channel: "the webhook".into(),
                problem: format!("it answered HTTP {}", answer.status().as_u16()),
            });
        }
        Ok(())
    }
}
