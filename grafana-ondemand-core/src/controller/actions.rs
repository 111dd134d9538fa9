//! The actions: start, extend, stop, status and the reaper's tick, one at a time in this
//! process (concurrent starts cause one scale-up), each read → decide → act → report.
//!
//! Reads: through the read path. Writes: the desired count (UpdateService), through the
//! other rooms the service's tags and the entrance. Must not touch: the platform's calls
//! directly beyond UpdateService and the re-read before a stop; decisions are core's pure
//! functions (`derive`, `session`).

use super::usage::explain;
use super::{Controller, Reading, TAG_SETTLE};
use crate::announced::{ANNOUNCED_TAG, already_announced};
use crate::derive::{Probes, derive};
use crate::dns::RecordTarget;
use crate::door::DoorTarget;
use crate::error::{Error, Result};
use crate::notice::running_notice;
use crate::observation::{ServiceSnapshot, TaskSnapshot};
use crate::platform::Platform;
use crate::restore::restore_hold;
use crate::service::ServiceController;
use crate::session::{
    Activity, Session, Verdict, decide, past_session_limit, plus, within_session,
};
use crate::session_tags::{LEASE_TAG, STOP_TAG, StopRecord, StoppedBy, lease_in, lease_tag};
use crate::state::State;
use crate::status::Status;
use async_trait::async_trait;
use std::time::Duration;

#[async_trait]
impl<P: Platform> ServiceController for Controller<P> {
    async fn start(&self, lease: Option<Duration>) -> Result<Status> {
        let _one_at_a_time = self.actions.lock().await;
        let mut obs = self.observe().await?;
        let (mut current, probes) = self.assess(&obs).await;
        let now = self.platform.now();
        if matches!(current.state, State::Running | State::Starting) {
            // Asking for a running service is a use of it: a lease until now at least, which
            // a reaper deciding meanwhile sees when it reads again before stopping.
            self.lease(&mut obs, plus(now, lease.unwrap_or_default()))
                .await?;
            self.report(&obs, &mut current, &probes, None).await;
            return Ok(current);
        }
        // A restore holds the service: its data is being replaced under it.
        if let Some(since) = restore_hold(&obs.service.tags) {
            return Err(Error::Restoring {
                since: since.to_owned(),
            });
        }
        // One Grafana at a time on its database: while a task of the previous session still
        // shuts down (ECS counts only RUNNING and PENDING tasks, and would place a new one
        // beside it), the start is recorded on the service and carried out, by whichever
        // instance reads it first, once that task has stopped.
        let until = lease.map_or(now, |lease| plus(now, lease));
        if obs.service.desired_count == 0 && obs.tasks.iter().any(TaskSnapshot::is_alive) {
            let tags = [
                (STOP_TAG, StopRecord::wanted_tag(now)),
                (LEASE_TAG, lease_tag(until)),
            ];
            self.tag(&tags).await?;
            tracing::info!("start wanted: the previous task still shuts down");
            waiting(&mut current, &self.profile.display_name);
            self.forget();
            return Ok(current);
        }
        // Setting the count is idempotent, so starts through several processes (Lambda
        // instances) converge on one task. Only a failure calls for a fresh deployment,
        // which leaves the failures of the previous one behind. A lease asked for goes
        // with it.
        let fresh = current.state == State::Failed;
        // A start begins a new session. The same TagResource clears the last stop's record
        // (so that a stop made elsewhere, in the console, is not explained with an old
        // reason) and sets the lease: the one asked for, or one that ends at the start, so
        // that an earlier session's lease (extended, then stopped) does not hold this one.
        let tags = [
            (STOP_TAG, StopRecord::started_tag(now)),
            (LEASE_TAG, lease_tag(until)),
        ];
        let (service, tagged) =
            tokio::join!(self.platform.update_service(1, fresh), self.tag(&tags));
        match tagged {
            Err(e) if lease.is_some() => return Err(e),
            Err(e) => tracing::warn!(error = %e, "the start could not be recorded on the service"),
            Ok(()) => {}
        }
        obs.service = service?;
        self.forget();
        tracing::info!(before = %current.state, fresh_deployment = fresh, lease = ?lease, "asked ECS for one task");
        Ok(derive(&obs, &self.profile, &Probes::new()))
    }

    async fn extend(&self, by: Duration) -> Result<Status> {
        let _one_at_a_time = self.actions.lock().await;
        let mut obs = self.observe().await?;
        let (mut current, probes) = self.assess(&obs).await;
        if !matches!(current.state, State::Running | State::Starting) {
            return Err(Error::NotRunning {
                state: current.state,
            });
        }
        let now = self.platform.now();
        let from = lease_in(&obs.service.tags).map_or(now, |held| held.max(now));
        let until = self.lease(&mut obs, plus(from, by)).await?;
        tracing::info!(until = %until, "session extended");
        // A reaper elsewhere may have stopped it between this read and the lease: the lease
        // wins, so it is asked for again.
        let again = self.platform.describe_service().await?;
        if again.desired_count == 0 {
            obs.service = self.platform.update_service(1, false).await?;
            self.forget();
            tracing::info!("asked ECS for one task again: it was stopped while being extended");
            return Ok(derive(&obs, &self.profile, &Probes::new()));
        }
        self.report(&obs, &mut current, &probes, None).await;
        Ok(current)
    }

    async fn stop(&self) -> Result<Status> {
        let _one_at_a_time = self.actions.lock().await;
        let mut obs = self.observe().await?;
        if obs.service.desired_count == 0 {
            if StopRecord::start_wanted(&obs.service.tags).is_some() {
                // A start waiting for the previous task: called off.
                let record = self.record_stop(StoppedBy::Request).await;
                obs.service.tags.insert(STOP_TAG.into(), record.tag());
                tracing::info!("the wanted start is called off");
            }
            let (mut current, probes) = self.assess(&obs).await;
            self.report(&obs, &mut current, &probes, None).await;
            return Ok(current);
        }
        (obs.service, _) = self.stop_service(StoppedBy::Request).await?;
        tracing::info!("asked ECS for no task");
        Ok(derive(&obs, &self.profile, &Probes::new()))
    }

    async fn status(&self) -> Result<Status> {
        let status = self.read().await?.status;
        tracing::debug!(state = %status.state, "status read");
        Ok(status)
    }

    async fn reap(&self) -> Result<Status> {
        let _one_at_a_time = self.actions.lock().await;
        // The reaper's tick is also when a name that drifted is put right.
        let reading = self.read().await?;
        // A "running" not told when ECS's event came (Grafana was still booting, or Route 53
        // not serving the name's change yet) is told at the first tick that sees it ready.
        if let (Some(notice), Some(_)) = (
            running_notice(&reading.status, &self.profile.display_name),
            &self.notifier,
        ) {
            let marker = reading.obs.service.tags.get(ANNOUNCED_TAG).cloned();
            if !already_announced(marker.as_deref(), &notice)
                && self.running_ready(&reading).await
                && let Err(e) = self.tell(marker.as_deref(), &notice).await
            {
                tracing::warn!(error = %e, "the running notice was not delivered; the next tick tries again");
            }
        }
        let Reading {
            mut obs,
            mut status,
            session,
            ..
        } = reading;
        let now = self.platform.now();
        let (session, verdict) = match session {
            Some((session, verdict)) => (Some(session), verdict),
            // Asked to run but not running (starting for ever, failed, a crash loop): billed
            // all the same, so the session's limit holds from the start recorded.
            None if obs.service.desired_count > 0 => {
                match StopRecord::started_at(&obs.service.tags)
                    .and_then(|started| past_session_limit(&self.policy, started, now))
                {
                    Some(reason) => (None, Verdict::Stop { reason }),
                    None => return Ok(status),
                }
            }
            None => return Ok(status),
        };
        if session
            .as_ref()
            .is_some_and(|s| s.activity == Activity::Unknown)
        {
            tracing::warn!(
                "the request log could not be read: no stop for want of use, only at the session limit"
            );
        }
        let Verdict::Stop { reason } = verdict else {
            tracing::debug!(stops_at = ?status.stops_at, "kept");
            return Ok(status);
        };
        // A start or an extend through another instance may have landed while this one
        // decided: read the service again right before acting (once such a lease can show),
        // and decide again on it.
        tokio::time::sleep(TAG_SETTLE).await;
        let again = self.platform.describe_service().await?;
        if again.desired_count == 0 {
            return Ok(status);
        }
        let lease_until = lease_in(&again.tags);
        if let Some(session) = session
            && lease_until != session.lease_until
        {
            let session = Session {
                lease_until,
                ..session
            };
            let verdict = within_session(
                &self.policy,
                StopRecord::started_at(&again.tags),
                decide(&self.policy, &session, now),
                now,
            );
            if let Verdict::Keep { until, .. } = verdict {
                tracing::info!(stops_at = ?until, "kept: a start or an extend arrived while deciding");
                status.stops_at = until;
                return Ok(status);
            }
        }
        let (service, record) = self.stop_service(StoppedBy::Policy(reason)).await?;
        obs.service = service;
        tracing::info!(%reason, "stopped by the session policy");
        let mut stopped = derive(&obs, &self.profile, &Probes::new());
        stopped.reason = Some(explain(&record, stopped.state));
        Ok(stopped)
    }
}

impl<P: Platform> Controller<P> {
    /// Asks ECS for no task and, once it took the request, records who stopped it and puts
    /// the name to sleep (the address goes with the task). A refused stop changes neither: the name
    /// keeps pointing at the Grafana that still runs, and no stop is announced that was not.
    pub(super) async fn stop_service(
        &self,
        by: StoppedBy,
    ) -> Result<(ServiceSnapshot, StopRecord)> {
        let service = self.platform.update_service(0, false).await?;
        self.forget();
        let asleep = async {
            if let Some(writer) = &self.door {
                writer
                    .point(&self.platform, &DoorTarget::Asleep, true)
                    .await;
            }
        };
        // A name that could not be put to sleep is logged and set by the next read.
        let (record, _, ()) = tokio::join!(
            self.record_stop(by),
            self.point_name(RecordTarget::Asleep),
            asleep
        );
        Ok((service, record))
    }
}

/// A start that waits for the previous task to shut down, as a status says it.
pub(super) fn waiting(status: &mut Status, name: &str) {
    status.state = State::Starting;
    status.endpoint = None;
    status.reason = Some(format!(
        "waiting for the previous {name} to shut down: one {name} at a time on its database"
    ));
    status.message =
        format!("{name} starts as soon as the previous one has shut down (under a minute).");
}
