//! The session's use: when the service was last used, read from its request log, and what
//! the session policy decides on it, put on the status (when it stops by itself and why, its
//! last use, its cost; after a stop, why it stopped).
//!
//! Reads: the request log (CloudWatch Logs FilterLogEvents), the service's tags as observed.
//! Writes: the status it is given. Must not touch: the platform (no tag, no scale).

use super::Controller;
use crate::derive::{Probes, select_task};
use crate::error::Error;
use crate::observation::Observation;
use crate::platform::Platform;
use crate::session::{Activity, Session, Verdict, decide, every_request, within_session};
use crate::session_tags::{StopRecord, lease_in};
use crate::state::State;
use crate::status::Status;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// FilterLogEvents pages read at most for one activity read (each up to 1 MB of events).
const MAX_LOG_PAGES: usize = 10;

/// A read of the request log shorter than this proves nothing by finding no request at all:
/// the container's health check (every 5 s in the module) may not have run yet.
const SILENT_LOG_MIN: chrono::Duration = chrono::Duration::minutes(2);

/// The request log read alongside the service, for the task that served last time.
pub(super) struct Early {
    pub(super) arn: String,
    pub(super) started: DateTime<Utc>,
    pub(super) read: (Activity, DateTime<Utc>),
}

impl<P: Platform> Controller<P> {
    /// The last use of a task that started at `started`, read from its request log over the
    /// grace and the idle timeout (the whole session when younger), and when it was read.
    /// `Unknown` when the log cannot be read.
    pub(super) async fn activity(
        &self,
        task_id: &str,
        started: DateTime<Utc>,
    ) -> (Activity, DateTime<Utc>) {
        let now = self.platform.now();
        // The grace and the idle timeout together: a session that young is read whole, so
        // "never used" is told from "not used lately".
        let window = match (self.policy.startup_grace, self.policy.idle_timeout) {
            (None, None) => Duration::from_secs(3600),
            (grace, idle) => grace.unwrap_or_default() + idle.unwrap_or_default(),
        };
        let since = chrono::Duration::from_std(window)
            .ok()
            .and_then(|w| now.checked_sub_signed(w))
            .map_or(started, |from| from.max(started));
        let read = async {
            // FilterLogEvents answers oldest first, possibly in several pages (some empty).
            let mut last = None;
            let mut token = None;
            for _ in 0..MAX_LOG_PAGES {
                let page = self
                    .platform
                    .request_log(task_id, since, &self.profile.activity_filter, token)
                    .await?;
                last = page.times.into_iter().max().max(last);
                token = page.next_token;
                if token.is_none() {
                    break;
                }
            }
            if token.is_some() {
                tracing::debug!(pages = MAX_LOG_PAGES, "request log read in part");
                match last {
                    // Use was seen and more remains: it is in use now.
                    Some(_) => last = Some(now),
                    // Still searching (empty pages): nothing known either way.
                    None => return Ok(Activity::Unknown),
                }
            }
            if let Some(t) = last {
                return Ok(Activity::LastUsed(t));
            }
            // No use: true only if the log shows the service's requests at all. Its health
            // checks are requests too, so a log without a single one over minutes is written
            // in a form the filter does not expect (or not written): use unknown, not "never".
            if let Some(any) = every_request(&self.profile.activity_filter)
                && now - since >= SILENT_LOG_MIN
            {
                let page = self
                    .platform
                    .request_log(task_id, since, &any, None)
                    .await?;
                if page.times.is_empty() && page.next_token.is_none() {
                    tracing::warn!(
                        filter = %any,
                        "the request log holds no request at all, health checks included: is the service logging its requests in the form the activity filter expects?"
                    );
                    return Ok(Activity::Unknown);
                }
            }
            Ok::<_, Error>(if since <= started {
                Activity::NeverUsed
            } else {
                Activity::IdleSince(since)
            })
        };
        let activity = read.await.unwrap_or_else(|e| {
            tracing::debug!(error = %e, "the request log could not be read");
            Activity::Unknown
        });
        (activity, now)
    }

    /// Adds the session to a status: when a running service stops by itself and why, its
    /// last use and its cost; after a stop, why it stopped. Returns the session and the
    /// decision when it runs.
    pub(super) async fn annotate(
        &self,
        obs: &Observation,
        status: &mut Status,
        probes: &Probes,
        early: Option<Early>,
    ) -> Option<(Session, Verdict)> {
        match status.state {
            State::Running => {
                let task = select_task(obs, &self.profile, probes)?;
                let started = task.started_at.or(task.created_at)?;
                let (activity, now) = match early {
                    // Read alongside the service, for the same task since the same start.
                    Some(early) if early.arn == task.arn && early.started == started => early.read,
                    _ => self.activity(task.id(), started).await,
                };
                let session = Session {
                    started_at: started,
                    activity,
                    lease_until: lease_in(&obs.service.tags),
                };
                let verdict = within_session(
                    &self.policy,
                    StopRecord::started_at(&obs.service.tags),
                    decide(&self.policy, &session, now),
                    now,
                );
                status.stops_at = match verdict {
                    Verdict::Keep { until, .. } => until,
                    Verdict::Stop { .. } => Some(now),
                };
                status.last_activity_at = match activity {
                    Activity::LastUsed(t) => Some(t),
                    _ => None,
                };
                status.cost = self.prices.cost(task, now);
                Some((session, verdict))
            }
            State::Stopping | State::Stopped if obs.service.desired_count == 0 => {
                if let Some(record) = StopRecord::read(&obs.service.tags) {
                    status.reason = Some(explain(&record, status.state));
                }
                None
            }
            _ => None,
        }
    }
}

/// Why a service stopping or stopped by `record` is: the reason a status gives.
pub(super) fn explain(record: &StopRecord, state: State) -> String {
    match state {
        State::Stopping => format!("{record}; the task is shutting down"),
        _ => format!("{record} (at {} UTC)", record.at.format("%H:%M")),
    }
}
