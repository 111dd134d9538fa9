//! Word when things change: ECS's events turned into notices for people, each sent once.
//!
//! [`PlatformEvent`] reads ECS's events (`event.rs`); [`notice_for`] decides, purely, what
//! people are told; the [`ANNOUNCED_TAG`](crate::ANNOUNCED_TAG) service tag remembers what was
//! told (`announced.rs`); a [`Notifier`] tells it.

use crate::error::Result;
use crate::session_tags::StopRecord;
use crate::state::State;
use crate::status::Status;
use crate::timings::StartTimings;
use async_trait::async_trait;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::event::{PlatformEvent, TaskEvent};

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
    pub(crate) fn rank(self) -> u8 {
        match self {
            NoticeKind::Started => 1,
            NoticeKind::Running => 2,
            NoticeKind::Stopped | NoticeKind::Failed => 3,
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
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
    /// The sentence people read, such as "Grafana is running: `https://grafana.example.com`".
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

/// Handles the platform's events about one service (the Lambda, given EventBridge's events;
/// the demo server, given the simulated ECS's).
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// Handles one event: what it did, or an error for the event to be delivered again.
    async fn handle_event(&self, event: &PlatformEvent) -> Result<Handled>;
}

/// What handling a platform event did.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    /// The status read for it (the entrance follows it).
    pub status: Status,
    /// The notice the event called for, if any.
    pub notice: Option<Notice>,
    /// Whether the notice was sent now (not when it had been already).
    pub sent: bool,
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
