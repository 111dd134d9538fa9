//! What is written on the service: its tags (a lease, who started or stopped it and when,
//! the start's timings), which every instance reads back.
//!
//! Reads: the observation's tags, this process's memory of unhealthy and healthy tasks.
//! Writes: the service's tags (TagResource), and this process's memory of its own writes (ECS
//! shows tags to readers later). Must not touch: the desired count, the door, the name.

use super::Controller;
use crate::door::DoorOutcome;
use crate::error::Result;
use crate::observation::Observation;
use crate::platform::Platform;
use crate::session_tags::{LEASE_TAG, STOP_TAG, StopRecord, StoppedBy, lease_in, lease_tag};
use crate::state::State;
use crate::status::Status;
use crate::timings::{READY_TAG, Seen, StartTimings};
use chrono::{DateTime, Utc};

impl<P: Platform> Controller<P> {
    /// Writes service tags (a lease, a start's or a stop's record) and remembers them, so that
    /// this process reads its own writes.
    pub(super) async fn tag(&self, tags: &[(&str, String)]) -> Result<()> {
        self.platform.tag_service(tags).await?;
        let now = self.platform.now();
        let mut memory = self.memory();
        for (key, value) in tags {
            memory.written.retain(|(k, _, _)| k != key);
            memory.written.push(((*key).to_owned(), value.clone(), now));
        }
        Ok(())
    }

    /// Sets the lease to `until` unless a later one holds; returns the lease in force.
    pub(super) async fn lease(
        &self,
        obs: &mut Observation,
        until: DateTime<Utc>,
    ) -> Result<DateTime<Utc>> {
        if let Some(held) = lease_in(&obs.service.tags)
            && held >= until
        {
            return Ok(held);
        }
        let value = lease_tag(until);
        self.tag(&[(LEASE_TAG, value.clone())]).await?;
        obs.service.tags.insert(LEASE_TAG.into(), value);
        Ok(until)
    }

    /// Records who stopped the service, and returns the record; a failure to record does not
    /// undo the stop.
    pub(super) async fn record_stop(&self, by: StoppedBy) -> StopRecord {
        let record = StopRecord {
            by,
            at: self.platform.now(),
        };
        if let Err(e) = self.tag(&[(STOP_TAG, record.tag())]).await {
            tracing::warn!(error = %e, "the stop could not be recorded on the service");
        }
        record
    }

    /// Notes when the task was first seen healthy and, once it runs (with a door, once the
    /// entry's grace is over), records both on the service ([`READY_TAG`]) for every instance
    /// and later status to report the same start timings.
    pub(super) async fn time_start(
        &self,
        obs: &Observation,
        status: &mut Status,
        door: Option<&DoorOutcome>,
    ) {
        let Some(task) = status
            .task
            .as_ref()
            .and_then(|info| obs.tasks.iter().find(|t| t.id() == info.id))
        else {
            return;
        };
        let id = task.id().to_owned();
        let now = self.platform.now();
        let ready_at = match (status.state, door) {
            (State::Running, Some(DoorOutcome::Open(at))) => {
                let grace = self
                    .door
                    .as_ref()
                    .map(|w| w.door().grace)
                    .unwrap_or_default();
                let serving = *at + chrono::Duration::from_std(grace).unwrap_or_default();
                (now >= serving).then_some(serving)
            }
            (State::Running, _) => Some(now),
            _ => None,
        };
        let healthy = {
            let mut memory = self.memory();
            if !status.healthy {
                memory.unhealthy_at.insert(id.clone(), now);
                return;
            }
            let since = memory
                .unhealthy_at
                .get(&id)
                .copied()
                .or(task.pull_stopped_at)
                .or(task.started_at)
                .unwrap_or(now);
            let seen = *memory
                .healthy_at
                .entry(id.clone())
                .or_insert((now, (now - since).num_milliseconds().max(0)));
            if ready_at.is_none()
                || memory.timed.contains(&id)
                || Seen::read(&obs.service.tags, &id).is_some()
            {
                return;
            }
            memory.timed.insert(id.clone());
            seen
        };
        let (Some(ready), Some(requested)) = (ready_at, StopRecord::started_at(&obs.service.tags))
        else {
            return;
        };
        let seen = Seen {
            task_id: id,
            healthy: healthy.0.min(ready),
            healthy_within_ms: healthy.1,
            ready,
        };
        status.timings = Some(StartTimings::of(requested, task, Some(&seen)));
        if let Some(summary) = status.timings.as_ref().and_then(|t| t.summary.as_deref()) {
            tracing::info!(timings = %summary, "start timed");
        }
        if let Err(e) = self.tag(&[(READY_TAG, seen.tag())]).await {
            tracing::warn!(error = %e, "the start's timings could not be recorded on the service");
        }
    }
}
