//! The controller: reads the platform cheaply, decides with [`derive`](crate::derive), acts
//! idempotently. One room per job, each file saying what it reads, what it may write and what
//! it must not touch:
//!
//! - [`actions`]: start, extend, stop, status, the reaper's tick; one at a time.
//! - [`observe`]: the read path (what ECS and EC2 report, the cache that makes reads cheap).
//! - [`usage`]: the session's use from the request log, and the policy's verdict on it.
//! - [`entrance`]: where people are sent (the door's entry, a private name's record), and
//!   the rule that nothing unreachable is advertised.
//! - [`records`]: what is written on the service (tags, leases, stop records, timings).
//! - [`events`]: ECS's events, and the notices they call for, told once.
//!
//! This file holds the controller itself, its construction, and the one path every read and
//! every action ends with: read → decide → place the entrance → report.

mod actions;
mod entrance;
mod events;
mod observe;
mod records;
mod usage;

use crate::cost::Prices;
use crate::dns::{HostedZone, RecordTarget};
use crate::door::{DoorOutcome, DoorWriter, FrontDoor};
use crate::endpoint::ServiceProfile;
use crate::error::{Error, Result};
use crate::notice::Notifier;
use crate::observation::{Observation, TaskSnapshot};
use crate::platform::Platform;
use crate::readiness::ReadinessProbe;
use crate::restore::restore_hold;
use crate::session::{Session, SessionPolicy, Verdict};
use crate::session_tags::{STOP_TAG, StopRecord};
use crate::state::State;
use crate::status::Status;
use actions::waiting;
use chrono::{DateTime, Utc};
use entrance::{KnownRecords, both_doors};
use events::claim_name;
use observe::Expectation;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a tag written by another instance may take to show. ECS's tags are eventually
/// consistent (the lag is undocumented; a second or so): a claim on a notice is confirmed by
/// two reads this far apart, so another instance's claim written up to a lag later has shown
/// by the second; the reaper reads the service again this long after deciding to stop, so a
/// lease written just before is seen.
pub(super) const TAG_SETTLE: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
struct Memory {
    expectation: Expectation,
    /// Public IPs by task ARN, for the life of each task.
    public_ips: HashMap<String, IpAddr>,
    /// Public DNS names by task ARN, likewise.
    public_names: HashMap<String, String>,
    /// The state the last status reported, to log changes once.
    last_state: Option<State>,
    /// The name's record sets as last read or written; `None` when not known.
    records: Option<KnownRecords>,
    /// Service tags this process wrote lately, and when (ECS shows them to readers later).
    written: Vec<(String, String, DateTime<Utc>)>,
    /// Tasks not healthy at the last look, and when that look was; then when each was first
    /// seen healthy, and how long before it may have been (for its start's timings).
    unhealthy_at: HashMap<String, DateTime<Utc>>,
    healthy_at: HashMap<String, (DateTime<Utc>, i64)>,
    /// Tasks whose start's timings this process recorded on the service.
    timed: HashSet<String>,
}

/// What one read saw and decided.
struct Reading {
    obs: Observation,
    status: Status,
    /// Where the name was pointed for it.
    target: RecordTarget,
    /// Whether the front door leads where the status says, if there is one.
    door: Option<DoorOutcome>,
    /// The session and its verdict, when running.
    session: Option<(Session, Verdict)>,
}

/// A [`ServiceController`](crate::ServiceController) over any [`Platform`]: the one implementation of the decisions.
///
/// Calls per [`status`](crate::ServiceController::status): one (DescribeServices) while it stays
/// stopped; three made concurrently (DescribeServices, DescribeTasks, and FilterLogEvents on
/// its request log for its last use) while the same task runs; on a cold process, or when
/// tasks change, DescribeServices and two ListTasks concurrently, then DescribeTasks, then
/// DescribeNetworkInterfaces for interfaces not seen before, then (running) FilterLogEvents.
/// [`reap`](crate::ServiceController::reap) reads the same way and, to stop, reads the service again
/// before UpdateService and the TagResource that records why.
#[derive(Debug)]
pub struct Controller<P> {
    platform: P,
    profile: ServiceProfile,
    probe: Arc<dyn ReadinessProbe>,
    policy: SessionPolicy,
    prices: Prices,
    zone: Option<HostedZone>,
    door: Option<DoorWriter>,
    notifier: Option<Arc<dyn Notifier>>,
    /// This process's name in the claims it writes on notices.
    claim: String,
    memory: Mutex<Memory>,
    /// Serializes the actions (start, extend, stop, reap), so concurrent starts cause one
    /// scale-up.
    actions: tokio::sync::Mutex<()>,
}
impl<P: Platform> Controller<P> {
    /// A controller for the service behind `platform`, checked with `probe`.
    pub fn new(platform: P, profile: ServiceProfile, probe: Arc<dyn ReadinessProbe>) -> Self {
        Controller {
            platform,
            profile,
            probe,
            policy: SessionPolicy::default(),
            prices: Prices::default(),
            zone: None,
            door: None,
            notifier: None,
            claim: claim_name(),
            memory: Mutex::default(),
            actions: tokio::sync::Mutex::new(()),
        }
    }

    /// When sessions end by themselves (default: [`SessionPolicy::default`]).
    pub fn with_policy(mut self, policy: SessionPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The prices a session's cost is counted at (default: [`Prices::default`]).
    pub fn with_prices(mut self, prices: Prices) -> Self {
        self.prices = prices;
        self
    }

    /// Points the profile's public name at the serving task, in this hosted zone. Without a
    /// public name in the profile there is nothing to point, and this is an error.
    pub fn with_hosted_zone(mut self, zone: HostedZone) -> Result<Self> {
        if self.profile.public_name.is_none() {
            return Err(Error::invalid_config(
                "DNS_ZONE_ID",
                "a hosted zone needs the name to manage in it: set PUBLIC_NAME too",
            ));
        }
        if self.door.is_some() {
            return Err(both_doors());
        }
        self.zone = Some(zone);
        Ok(self)
    }

    /// Opens the service through this front door: the controller writes its KeyValueStore
    /// entry, and the URLs it gives are the door's (`https://<host>`).
    pub fn with_front_door(mut self, door: FrontDoor) -> Result<Self> {
        if self.zone.is_some() {
            return Err(both_doors());
        }
        self.profile.public_name = Some(door.host.clone());
        self.profile.front_door = true;
        self.door = Some(DoorWriter::new(door));
        Ok(self)
    }

    /// Sends notices of the platform's events there.
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// When sessions end by themselves.
    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// The platform this controller drives.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// What runs and how it is reached.
    pub fn profile(&self) -> &ServiceProfile {
        &self.profile
    }

    /// How every read and every action ends: remembers what was seen (the next read is
    /// cheaper for it) and puts the session on the status; the session and its verdict when
    /// the service runs.
    async fn report(
        &self,
        obs: &Observation,
        status: &mut Status,
        probes: &crate::derive::Probes,
        early: Option<usage::Early>,
    ) -> Option<(Session, Verdict)> {
        self.remember(obs, status, probes);
        self.annotate(obs, status, probes, early).await
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        // The memory is a cache: a panic elsewhere cannot leave it in a state worth refusing.
        self.memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the platform, decides the status and the session's fate, remembers it, and
    /// points the name (a status, a reaper tick and an event all read this way).
    async fn read(&self) -> Result<Reading> {
        let (mut obs, mut early) = self.observe_with_activity().await?;
        if obs.service.desired_count == 0
            && StopRecord::start_wanted(&obs.service.tags).is_some()
            && restore_hold(&obs.service.tags).is_none()
        {
            // A start waits: every task must be seen (a cheap read lists none).
            self.forget();
            obs = self.observe().await?;
            early = None;
            if !obs.tasks.iter().any(TaskSnapshot::is_alive) && obs.undescribed.is_empty() {
                let started = [(STOP_TAG, StopRecord::started_tag(self.platform.now()))];
                let (service, tagged) =
                    tokio::join!(self.platform.update_service(1, false), self.tag(&started));
                if let Err(e) = tagged {
                    tracing::warn!(error = %e, "the wanted start could not be recorded as carried out");
                }
                obs.service = service?;
                self.forget();
                tracing::info!("asked ECS for one task: the previous one has stopped");
            }
        }
        let (mut status, probes) = self.assess(&obs).await;
        if obs.service.desired_count == 0 && StopRecord::start_wanted(&obs.service.tags).is_some() {
            waiting(&mut status, &self.profile.display_name);
        }
        let session = self.report(&obs, &mut status, &probes, early).await;
        if let (Some(since), State::Stopped) = (restore_hold(&obs.service.tags), status.state) {
            status.reason = Some(format!(
                "Its data is being restored from a backup (since {since}): starts are refused until the restore is done."
            ));
        }
        let target = self.record_target(&obs, &probes, &status);
        let (door, named) = tokio::join!(
            self.open_door(&obs, &probes, &mut status),
            self.point_name(target)
        );
        if let (Err(problem), RecordTarget::Task { .. }) = (named, target) {
            self.hold_back(&mut status, &problem);
        }
        self.time_start(&obs, &mut status, door.as_ref()).await;
        Ok(Reading {
            obs,
            status,
            target,
            door,
            session,
        })
    }
}
