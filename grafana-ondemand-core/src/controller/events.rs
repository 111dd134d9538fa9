//! ECS's events and the notices they call for: the status read for each event (so the
//! entrance follows at once), the notice decided (`notice.rs` decides, purely), claimed on the
//! service so that one instance tells it, and told.
//!
//! Reads: the status (through the read path), the service's announced tag. Writes: the
//! announced tag (claims), the notifier (SNS, a webhook). Must not touch: the desired count.

use super::{Controller, Reading, TAG_SETTLE};
use crate::announced::{
    ANNOUNCED_TAG, ClaimSeen, already_announced, announced_tag, claim_on, released,
};
use crate::error::{Error, Result};
use crate::event::PlatformEvent;
use crate::notice::{
    EventHandler, Handled, Notice, NoticeContext, NoticeKind, notice_for, running_notice,
};
use crate::observation::Observation;
use crate::platform::Platform;
use async_trait::async_trait;
use std::time::Duration;

/// Times a claim erased by another instance's write (for another event) is written again.
const CLAIM_TRIES: usize = 3;

/// How long handling a RUNNING event waits for Grafana's readiness and for the name to lead
/// to it on every Route 53 server: within the Lambda's 28 s. Past it, the reaper's next tick
/// tells "running".
const RUNNING_WAIT: chrono::Duration = chrono::Duration::seconds(20);

#[async_trait]
impl<P: Platform> EventHandler for Controller<P> {
    /// Reads the status (so the public name follows at once), and sends the notice the event
    /// calls for unless it was sent already (EventBridge may deliver an event twice, and out
    /// of order). A notice that could not be delivered is an error, and is not remembered as
    /// sent: the event's redelivery sends it.
    async fn handle_event(&self, event: &PlatformEvent) -> Result<Handled> {
        // An event is a change: read everything, the name's record included.
        self.forget();
        self.memory().records = None;
        let mut read = self.read().await?;
        // ECS's RUNNING is not Grafana answering: wait (within the invocation) for readiness
        // and for the name to lead to the task everywhere (it is pointed once readiness is
        // confirmed, and Route 53 takes a while to serve a change), so that people are told
        // "running" with a link that opens. Past the wait, the reaper's next tick tells it.
        let running_event = matches!(event, PlatformEvent::Task(t)
            if t.last_status == "RUNNING" && t.desired_status == "RUNNING");
        let deadline = self.platform.now() + RUNNING_WAIT;
        let mut ready = running_event && self.running_ready(&read).await;
        while running_event
            && !ready
            && read.obs.service.desired_count > 0
            && self.platform.now() < deadline
        {
            tokio::time::sleep(Duration::from_secs(2)).await;
            self.forget();
            read = self.read().await?;
            ready = self.running_ready(&read).await;
        }
        let Reading { obs, status, .. } = read;
        let ctx = NoticeContext {
            display_name: &self.profile.display_name,
            tags: Some(&obs.service.tags),
            url: status.url(),
            service_wanted: obs.service.desired_count > 0,
            deployment: obs.service.primary_deployment().map(|d| d.id.as_str()),
        };
        let notice = if running_event {
            ready
                .then(|| running_notice(&status, &self.profile.display_name))
                .flatten()
        } else {
            notice_for(event, &ctx)
        };
        let notice = notice.map(|n| self.with_session_figures(n, event, &obs));
        let marker = obs.service.tags.get(ANNOUNCED_TAG).map(String::as_str);
        let sent = match &notice {
            Some(notice) => self.tell(marker, notice).await?,
            None => false,
        };
        Ok(Handled {
            status,
            notice,
            sent,
        })
    }
}

impl<P: Platform> Controller<P> {
    /// A stop's notice with the session's minutes and cost (for its metrics).
    pub(super) fn with_session_figures(
        &self,
        mut notice: Notice,
        event: &PlatformEvent,
        obs: &Observation,
    ) -> Notice {
        let PlatformEvent::Task(t) = event else {
            return notice;
        };
        if notice.kind != NoticeKind::Stopped {
            return notice;
        }
        let task = obs.tasks.iter().find(|x| x.arn == t.task_arn);
        let end = task
            .and_then(|x| x.stopped_at)
            .unwrap_or_else(|| self.platform.now());
        if let Some(started) = t.started_at.or_else(|| task.and_then(|x| x.started_at)) {
            let minutes = (end - started).num_seconds().max(0) as f64 / 60.0;
            notice.session_minutes = Some((minutes * 10.0).round() / 10.0);
        }
        notice.session_cost = task
            .and_then(|x| self.prices.cost(x, end))
            .map(|c| c.so_far);
        notice
    }
    /// Sends `notice` unless it was told already (`marker`: the announced tag as read) or
    /// another instance tells it; whether this one sent it.
    pub(super) async fn tell(&self, marker: Option<&str>, notice: &Notice) -> Result<bool> {
        if already_announced(marker, notice) {
            tracing::debug!(kind = notice.kind.as_str(), subject = %notice.subject, "already announced");
            return Ok(false);
        }
        let Some(notifier) = &self.notifier else {
            return Ok(false);
        };
        // Several instances may handle the same event at once (EventBridge delivers at least
        // once), or different events at once (a crash's STOPPED and its replacement's
        // PROVISIONING). Tags have no conditional write: each claims the notice under its own
        // name, and reads back. The last claim on a notice wins, and only its writer sends; a
        // claim erased by a write for another event is written again, merged.
        let mut current = marker.map(str::to_owned);
        let mut confirmed = false;
        for _ in 0..CLAIM_TRIES {
            self.platform
                .tag_service(&[(
                    ANNOUNCED_TAG,
                    announced_tag(current.as_deref(), notice, &self.claim),
                )])
                .await?;
            let mut seen = Vec::new();
            for _ in 0..2 {
                tokio::time::sleep(TAG_SETTLE).await;
                let tags = self.platform.describe_service().await?.tags;
                current = tags.get(ANNOUNCED_TAG).cloned();
                seen.push(claim_on(current.as_deref(), notice, &self.claim));
                if seen.last() != Some(&ClaimSeen::Mine) {
                    break;
                }
            }
            match seen.last() {
                Some(ClaimSeen::Mine) => {
                    confirmed = true;
                    break;
                }
                Some(ClaimSeen::Theirs) => {
                    tracing::info!(kind = notice.kind.as_str(), subject = %notice.subject, "another instance tells it");
                    return Ok(false);
                }
                _ => {
                    tracing::debug!(kind = notice.kind.as_str(), subject = %notice.subject, "the claim does not show: written again")
                }
            }
        }
        if !confirmed {
            return Err(Error::NotDelivered {
                channel: "the notices".into(),
                problem: format!(
                    "its claim on the service's tag {ANNOUNCED_TAG} never showed after {CLAIM_TRIES} writes; the event's redelivery tries again"
                ),
            });
        }
        if let Err(e) = notifier.send(notice).await {
            // Released, so that the event's redelivery tells it.
            let previous = released(current.as_deref(), marker, notice);
            if let Err(release) = self
                .platform
                .tag_service(&[(ANNOUNCED_TAG, previous)])
                .await
            {
                tracing::warn!(error = %release, "an undelivered notice's claim could not be released: it will not be told");
            }
            return Err(e);
        }
        tracing::info!(kind = notice.kind.as_str(), subject = %notice.subject, "notice sent");
        Ok(true)
    }
}

/// A name for this controller's claims, unique enough among a few concurrent instances: eight
/// hex digits from the standard library's randomly seeded hasher.
pub(super) fn claim_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    format!("{:08x}", h.finish() as u32)
}
