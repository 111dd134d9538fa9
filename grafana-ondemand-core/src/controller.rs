//! The controller: reads the platform cheaply, decides with [`derive`], acts idempotently.

use crate::cost::Prices;
use crate::derive::{Probes, derive, probe_targets, select_task};
use crate::dns::{HostedZone, NameRecord, RecordTarget, changes};
use crate::door::{DoorOutcome, DoorTarget, DoorWriter, FrontDoor};
use crate::endpoint::{AddressKind, ServiceProfile};
use crate::error::{Error, Result};
use crate::notice::{
    ANNOUNCED_TAG, ClaimSeen, EventHandler, Notice, NoticeContext, NoticeKind, Notifier,
    PlatformEvent, already_announced, announced_tag, claim_on, notice_for, released,
    running_notice,
};
use crate::observation::{Observation, ServiceSnapshot, TaskPhase, TaskSnapshot};
use crate::platform::{DesiredStatus, NetworkInterface, Platform};
use crate::readiness::{Readiness, ReadinessProbe};
use crate::restore::restore_hold;
use crate::service::ServiceController;
use crate::session::{
    Activity, LEASE_TAG, STOP_TAG, Session, SessionPolicy, StopRecord, StoppedBy, Verdict, decide,
    every_request, lease_in, lease_tag, past_session_limit, plus, within_session,
};
use crate::state::State;
use crate::status::Status;
use crate::timings::{READY_TAG, Seen, StartTimings};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// DescribeTasks takes at most this many ARNs.
const DESCRIBE_TASKS_MAX: usize = 100;
/// ListTasks pages read at most, per desired status: 1,000 tasks, far past one service's.
const MAX_PAGES: usize = 10;
/// FilterLogEvents pages read at most for one activity read (each up to 1 MB of events).
const MAX_LOG_PAGES: usize = 10;
/// How long the name's record is trusted as last read or written before it is read again:
/// someone may change it by hand (the console, an old deployment of this controller).
const RECORD_RECHECK: chrono::Duration = chrono::Duration::minutes(5);
/// How long a tag written by another instance may take to show. ECS's tags are eventually
/// consistent (the lag is undocumented; a second or so): a claim on a notice is confirmed by
/// two reads this far apart, so another instance's claim written up to a lag later has shown
/// by the second; the reaper reads the service again this long after deciding to stop, so a
/// lease written just before is seen.
const TAG_SETTLE: Duration = Duration::from_secs(2);
/// Times a claim erased by another instance's write (for another event) is written again.
const CLAIM_TRIES: usize = 3;
/// A read of the request log shorter than this proves nothing by finding no request at all:
/// the container's health check (every 5 s in the module) may not have run yet.
const SILENT_LOG_MIN: chrono::Duration = chrono::Duration::minutes(2);
/// How long this process trusts its own tag writes over what ECS shows: far past the lag.
const OWN_WRITES_KEPT: chrono::Duration = chrono::Duration::seconds(30);
/// How long handling a RUNNING event waits for Grafana's readiness and for the name to lead
/// to it on every Route 53 server: within the Lambda's 28 s. Past it, the reaper's next tick
/// tells "running".
const RUNNING_WAIT: chrono::Duration = chrono::Duration::seconds(20);

/// What the last status saw, so the next read can be cheaper.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Expectation {
    /// Nothing known (a cold process, or after an action): read everything, concurrently.
    #[default]
    Unknown,
    /// Stopped last time: DescribeServices alone tells whether that still holds.
    Idle,
    /// This task (started then) served last time: DescribeServices and DescribeTasks of it,
    /// and its request log, concurrently.
    Serving(String, Option<DateTime<Utc>>),
}

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

/// The name's record sets as this process last read or wrote them.
#[derive(Debug, Clone)]
struct KnownRecords {
    records: Vec<NameRecord>,
    /// When they were read or written.
    at: DateTime<Utc>,
    /// The Route 53 change that wrote them, until it is seen INSYNC.
    change: Option<String>,
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

/// What handling a platform event did.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    /// The status read for it (the record follows it).
    pub status: Status,
    /// The notice the event called for, if any.
    pub notice: Option<Notice>,
    /// Whether the notice was sent now (not when it had been already).
    pub sent: bool,
}

/// A [`ServiceController`] over any [`Platform`]: the one implementation of the decisions.
///
/// Calls per [`status`](ServiceController::status): one (DescribeServices) while it stays
/// stopped; three made concurrently (DescribeServices, DescribeTasks, and FilterLogEvents on
/// its request log for its last use) while the same task runs; on a cold process, or when
/// tasks change, DescribeServices and two ListTasks concurrently, then DescribeTasks, then
/// DescribeNetworkInterfaces for interfaces not seen before, then (running) FilterLogEvents.
/// [`reap`](ServiceController::reap) reads the same way and, to stop, reads the service again
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

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        // The memory is a cache: a panic elsewhere cannot leave it in a state worth refusing.
        self.memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the platform into an observation, with as few calls as what it knows allows. The
    /// service's tags include what this process wrote lately (a lease, a stop's record) even
    /// where ECS does not show it yet: its tags are eventually consistent.
    pub async fn observe(&self) -> Result<Observation> {
        let mut obs = self.read_platform().await?;
        let now = self.platform.now();
        let mut memory = self.memory();
        memory
            .written
            .retain(|(_, _, at)| now - *at < OWN_WRITES_KEPT);
        for (key, value, _) in &memory.written {
            obs.service.tags.insert(key.clone(), value.clone());
        }
        Ok(obs)
    }

    /// Writes service tags (a lease, a start's or a stop's record) and remembers them, so that
    /// this process reads its own writes.
    async fn tag(&self, tags: &[(&str, String)]) -> Result<()> {
        self.platform.tag_service(tags).await?;
        let now = self.platform.now();
        let mut memory = self.memory();
        for (key, value) in tags {
            memory.written.retain(|(k, _, _)| k != key);
            memory.written.push(((*key).to_owned(), value.clone(), now));
        }
        Ok(())
    }

    async fn read_platform(&self) -> Result<Observation> {
        let expectation = self.memory().expectation.clone();
        let p = &self.platform;
        let service = match expectation {
            Expectation::Serving(arn, _) => {
                let wanted = [arn];
                let (service, tasks) =
                    tokio::join!(p.describe_service(), p.describe_tasks(&wanted));
                let service = service?;
                match tasks {
                    Ok(tasks) if is_steady(&service, &tasks, &wanted[0]) => {
                        let obs = Observation {
                            service,
                            tasks,
                            undescribed: Vec::new(),
                        };
                        return self.with_addresses(obs).await;
                    }
                    _ => service,
                }
            }
            Expectation::Idle => {
                let service = p.describe_service().await?;
                if service.is_idle() {
                    return Ok(Observation {
                        service,
                        ..Observation::default()
                    });
                }
                service
            }
            Expectation::Unknown => {
                let (service, running, stopped) = tokio::join!(
                    p.describe_service(),
                    self.list_all(DesiredStatus::Running),
                    self.list_all(DesiredStatus::Stopped)
                );
                // Counts alone would miss tasks still shutting down (neither running nor
                // pending): with no expectation, what ECS lists decides.
                return self.describe_listed(service?, running?, stopped?).await;
            }
        };
        let (running, stopped) = tokio::join!(
            self.list_all(DesiredStatus::Running),
            self.list_all(DesiredStatus::Stopped)
        );
        self.describe_listed(service, running?, stopped?).await
    }

    /// [`observe`](Self::observe), and when the same task is expected to serve, its request
    /// log at the same time: a steady running status costs one round trip.
    async fn observe_with_activity(&self) -> Result<(Observation, Option<Early>)> {
        let expectation = self.memory().expectation.clone();
        let Expectation::Serving(arn, Some(started)) = expectation else {
            return Ok((self.observe().await?, None));
        };
        let id = arn.rsplit('/').next().unwrap_or(&arn).to_owned();
        let (obs, read) = tokio::join!(self.observe(), self.activity(&id, started));
        Ok((obs?, Some(Early { arn, started, read })))
    }

    /// Every page of ListTasks, up to [`MAX_PAGES`].
    async fn list_all(&self, desired: DesiredStatus) -> Result<Vec<String>> {
        let mut arns = Vec::new();
        let mut token = None;
        for _ in 0..MAX_PAGES {
            let page = self.platform.list_tasks(desired, token).await?;
            arns.extend(page.arns);
            token = page.next_token;
            if token.is_none() {
                break;
            }
        }
        Ok(arns)
    }

    async fn describe_listed(
        &self,
        service: ServiceSnapshot,
        running: Vec<String>,
        stopped: Vec<String>,
    ) -> Result<Observation> {
        let mut arns = running;
        for arn in stopped {
            if !arns.contains(&arn) {
                arns.push(arn);
            }
        }
        arns.truncate(DESCRIBE_TASKS_MAX);
        let tasks = if arns.is_empty() {
            Vec::new()
        } else {
            self.platform.describe_tasks(&arns).await?
        };
        // ListTasks may name a task DescribeTasks cannot see yet (or any more).
        let undescribed = arns
            .into_iter()
            .filter(|arn| !tasks.iter().any(|t| &t.arn == arn))
            .collect();
        self.with_addresses(Observation {
            service,
            tasks,
            undescribed,
        })
        .await
    }

    /// Fills in public IPs of the tasks that may serve: from memory for tasks seen before,
    /// else one EC2 call for all. Tasks on their way out are skipped: their interfaces are
    /// being deleted.
    async fn with_addresses(&self, mut obs: Observation) -> Result<Observation> {
        if self.profile.address == AddressKind::Private {
            return Ok(obs);
        }
        let mut missing = Vec::new();
        {
            let memory = self.memory();
            for task in obs
                .tasks
                .iter_mut()
                .filter(|t| t.has_interface() && !t.is_on_its_way_out())
            {
                if let Some(ip) = memory.public_ips.get(&task.arn) {
                    task.network.public_ip = Some(*ip);
                    task.network.public_dns_name = memory.public_names.get(&task.arn).cloned();
                } else if let Some(eni) = &task.network.eni_id {
                    missing.push(eni.clone());
                }
            }
        }
        if missing.is_empty() {
            return Ok(obs);
        }
        let interfaces = self.platform.describe_network_interfaces(&missing).await?;
        let mut memory = self.memory();
        for task in obs.tasks.iter_mut() {
            let found: Option<&NetworkInterface> = interfaces
                .iter()
                .find(|i| task.network.eni_id.as_deref() == Some(i.id.as_str()));
            let Some(found) = found else { continue };
            if task.network.ipv6.is_none() {
                task.network.ipv6 = found.ipv6;
            }
            if let Some(ip) = found.public_ip {
                task.network.public_ip = Some(ip);
                memory.public_ips.insert(task.arn.clone(), ip);
                if let Some(name) = &found.public_dns_name {
                    task.network.public_dns_name = Some(name.clone());
                    memory.public_names.insert(task.arn.clone(), name.clone());
                }
            }
        }
        Ok(obs)
    }

    /// Probes the endpoints ECS's health does not confirm (the preferred first, until one
    /// answers), then derives.
    async fn assess(&self, obs: &Observation) -> (Status, Probes) {
        let mut probes = Probes::new();
        for (arn, endpoint) in probe_targets(obs, &self.profile) {
            let readiness = self.probe.check(&endpoint).await;
            let ready = readiness == Readiness::Ready;
            probes.insert(arn, readiness);
            if ready {
                break;
            }
        }
        (derive(obs, &self.profile, &probes), probes)
    }

    /// Remembers what this status saw, and forgets addresses of tasks that are gone.
    fn remember(&self, obs: &Observation, status: &Status, probes: &Probes) {
        let mut memory = self.memory();
        if memory.last_state != Some(status.state) {
            tracing::info!(
                from = memory.last_state.map(State::as_str).unwrap_or("unknown"),
                to = %status.state,
                reason = status.reason.as_deref().unwrap_or_default(),
                "state changed"
            );
            memory.last_state = Some(status.state);
            // A change is when someone else may have moved the name too: read it again.
            memory.records = None;
        }
        memory.expectation = match (&status.state, &status.task) {
            (State::Stopped, _) if obs.service.is_idle() => Expectation::Idle,
            (State::Running, Some(_)) => select_task(obs, &self.profile, probes)
                .map(|t| Expectation::Serving(t.arn.clone(), t.started_at.or(t.created_at)))
                .unwrap_or_default(),
            _ => Expectation::Unknown,
        };
        if obs.service.is_idle() {
            memory.public_ips.clear();
            memory.public_names.clear();
            memory.unhealthy_at.clear();
            memory.healthy_at.clear();
            memory.timed.clear();
        } else {
            for task in obs.tasks.iter().filter(|t| !t.is_alive()) {
                memory.public_ips.remove(&task.arn);
                memory.public_names.remove(&task.arn);
            }
        }
    }

    fn forget(&self) {
        self.memory().expectation = Expectation::Unknown;
    }

    /// The last use of a task that started at `started`, read from its request log over the
    /// grace and the idle timeout (the whole session when younger), and when it was read.
    /// `Unknown` when the log cannot be read.
    async fn activity(&self, task_id: &str, started: DateTime<Utc>) -> (Activity, DateTime<Utc>) {
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
    async fn annotate(
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

    /// Sets the lease to `until` unless a later one holds; returns the lease in force.
    async fn lease(&self, obs: &mut Observation, until: DateTime<Utc>) -> Result<DateTime<Utc>> {
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

    /// Points the public name where `target` says, if a zone is configured and the record
    /// differs from what it is known to be. Never fails the caller: a record that could not
    /// be set is logged and read again next time.
    async fn point_name(&self, target: RecordTarget) {
        let (Some(zone), Some(name)) = (&self.zone, &self.profile.public_name) else {
            return;
        };
        let wanted = zone.records(&target);
        let now = self.platform.now();
        let known = self
            .memory()
            .records
            .clone()
            .filter(|k| now - k.at < RECORD_RECHECK)
            .map(|k| k.records);
        let point = |known: Option<Vec<NameRecord>>| async {
            let current = match known {
                Some(records) => records,
                None => self.platform.address_records(&zone.zone_id, name).await?,
            };
            let batch = changes(&current, &wanted);
            if batch.is_empty() {
                return Ok::<_, Error>(None);
            }
            let change = self
                .platform
                .change_address_records(&zone.zone_id, name, &batch)
                .await?;
            tracing::info!(%name, target = ?target, %change, "public name pointed");
            Ok(Some(change))
        };
        let result = match known {
            // What this process remembers may be stale (another instance moved the name, and
            // Route 53 refuses a delete that does not match): read it, and try once more.
            Some(known) => match point(Some(known)).await {
                Err(e) if !e.is_retryable() => point(None).await,
                other => other,
            },
            None => point(None).await,
        };
        let mut memory = self.memory();
        memory.records = match result {
            Ok(change) => {
                // Unchanged: a change of ours that wrote these may still be on its way.
                let pending = memory
                    .records
                    .as_ref()
                    .filter(|k| k.records == wanted)
                    .and_then(|k| k.change.clone());
                Some(KnownRecords {
                    records: wanted,
                    at: now,
                    change: change.or(pending),
                })
            }
            Err(e) => {
                tracing::warn!(%name, error = %e, "the public name could not be pointed; next read tries again");
                None
            }
        };
    }

    /// Where the public name should point for what was observed: the chosen task's addresses
    /// once Grafana answers (readiness confirmed), asleep otherwise: the name never leads to
    /// a Grafana still booting, and while it boots the wake page keeps its visitors informed.
    fn record_target(&self, obs: &Observation, probes: &Probes, status: &Status) -> RecordTarget {
        if obs.service.desired_count == 0 || status.state != State::Running {
            return RecordTarget::Asleep;
        }
        let Some(task) = select_task(obs, &self.profile, probes) else {
            return RecordTarget::Asleep;
        };
        let v4 = match self.profile.address {
            AddressKind::Public => task.network.public_ip,
            AddressKind::Private => task.network.private_ip,
        };
        match (v4, task.network.ipv6) {
            (None, None) => RecordTarget::Asleep,
            (v4, v6) => RecordTarget::Task { v4, v6 },
        }
    }

    /// Points the front door, if there is one, where the status says, and keeps the status
    /// honest: "running" only once the door leads to the task. A task the door cannot reach
    /// (no public DNS name) is a failure; an entry that cannot be written keeps it "starting",
    /// saying why, until a later read writes it.
    async fn open_door(
        &self,
        obs: &Observation,
        probes: &Probes,
        status: &mut Status,
    ) -> Option<DoorOutcome> {
        let writer = self.door.as_ref()?;
        let serving = (status.state == State::Running && obs.service.desired_count > 0)
            .then(|| select_task(obs, &self.profile, probes))
            .flatten();
        let target = match serving {
            None => DoorTarget::Asleep,
            Some(task) => match &task.network.public_dns_name {
                Some(origin) => DoorTarget::Task {
                    origin: origin.clone(),
                },
                None => {
                    let reason = format!(
                        "the task's network interface has no public DNS name, and the front door can only reach a task by name: enable DNS hostnames and DNS support on the VPC (enableDnsHostnames, enableDnsSupport), then start {} again",
                        self.profile.display_name
                    );
                    status.state = State::Failed;
                    status.message = format!(
                        "{} runs but the front door cannot reach it: {reason}.",
                        self.profile.display_name
                    );
                    status.reason = Some(reason);
                    status.endpoint = None;
                    DoorTarget::Asleep
                }
            },
        };
        let outcome = writer.point(&self.platform, &target, false).await;
        if let (DoorOutcome::NotOpen(problem), State::Running) = (&outcome, status.state) {
            status.state = State::Starting;
            status.message = format!(
                "{} is up, but {problem}. Trying again.",
                self.profile.display_name
            );
            status.reason = Some(problem.clone());
            status.endpoint = None;
        }
        Some(outcome)
    }

    /// Whether the name leads to `target` on every Route 53 server: its record sets are those
    /// of `target` as this process last read or wrote them, and the change that wrote them is
    /// INSYNC (asked of Route 53 until it is). True without a name.
    async fn name_in_sync(&self, target: &RecordTarget) -> bool {
        let Some(zone) = &self.zone else {
            return true;
        };
        let wanted = zone.records(target);
        let change = match &self.memory().records {
            Some(k) if k.records == wanted => k.change.clone(),
            _ => return false,
        };
        let Some(change) = change else {
            return true;
        };
        match self.platform.change_in_sync(&change).await {
            Ok(true) => {
                let mut memory = self.memory();
                if let Some(k) = memory.records.as_mut()
                    && k.change.as_deref() == Some(change.as_str())
                {
                    k.change = None;
                }
                true
            }
            Ok(false) => false,
            Err(e) => {
                tracing::debug!(error = %e, %change, "the name's change could not be read");
                false
            }
        }
    }

    /// Notes when the task was first seen healthy and, once it runs (with a door, once the
    /// entry's grace is over), records both on the service ([`READY_TAG`]) for every instance
    /// and later status to report the same start timings.
    async fn time_start(&self, obs: &Observation, status: &mut Status, door: Option<&DoorOutcome>) {
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

    /// Whether "running" may be told for what was read: readiness confirmed and, with a
    /// public name, the name leading to the task everywhere.
    async fn running_ready(&self, read: &Reading) -> bool {
        if read.status.state != State::Running {
            return false;
        }
        if let (Some(writer), Some(DoorOutcome::Open(at))) = (&self.door, &read.door) {
            let grace = chrono::Duration::from_std(writer.door().grace).unwrap_or_default();
            return self.platform.now() >= *at + grace;
        }
        match read.target {
            _ if self.zone.is_none() => true,
            RecordTarget::Asleep => false,
            target => self.name_in_sync(&target).await,
        }
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
        self.remember(&obs, &status, &probes);
        let session = self.annotate(&obs, &mut status, &probes, early).await;
        if let (Some(since), State::Stopped) = (restore_hold(&obs.service.tags), status.state) {
            status.reason = Some(format!(
                "Its data is being restored from a backup (since {since}): starts are refused until the restore is done."
            ));
        }
        let target = self.record_target(&obs, &probes, &status);
        let (door, ()) = tokio::join!(
            self.open_door(&obs, &probes, &mut status),
            self.point_name(target)
        );
        self.time_start(&obs, &mut status, door.as_ref()).await;
        Ok(Reading {
            obs,
            status,
            target,
            door,
            session,
        })
    }

    /// Asks ECS for no task and, once it took the request, records who stopped it and puts
    /// the name to sleep (the address goes with the task). A refused stop changes neither: the name
    /// keeps pointing at the Grafana that still runs, and no stop is announced that was not.
    async fn stop_service(&self, by: StoppedBy) -> Result<(ServiceSnapshot, StopRecord)> {
        let service = self.platform.update_service(0, false).await?;
        self.forget();
        let asleep = async {
            if let Some(writer) = &self.door {
                writer
                    .point(&self.platform, &DoorTarget::Asleep, true)
                    .await;
            }
        };
        let (record, (), ()) = tokio::join!(
            self.record_stop(by),
            self.point_name(RecordTarget::Asleep),
            asleep
        );
        Ok((service, record))
    }

    /// Records who stopped the service, and returns the record; a failure to record does not
    /// undo the stop.
    async fn record_stop(&self, by: StoppedBy) -> StopRecord {
        let record = StopRecord {
            by,
            at: self.platform.now(),
        };
        if let Err(e) = self.tag(&[(STOP_TAG, record.tag())]).await {
            tracing::warn!(error = %e, "the stop could not be recorded on the service");
        }
        record
    }
}

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
    fn with_session_figures(
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
    async fn tell(&self, marker: Option<&str>, notice: &Notice) -> Result<bool> {
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

/// A start that waits for the previous task to shut down, as a status says it.
fn waiting(status: &mut Status, name: &str) {
    status.state = State::Starting;
    status.endpoint = None;
    status.reason = Some(format!(
        "waiting for the previous {name} to shut down: one {name} at a time on its database"
    ));
    status.message =
        format!("{name} starts as soon as the previous one has shut down (under a minute).");
}

fn both_doors() -> Error {
    Error::invalid_config(
        "DOOR_KVS_ARN",
        "a front door and a hosted zone record (DNS_ZONE_ID) are two ways to reach the same name: set one",
    )
}

/// A name for this controller's claims, unique enough among a few concurrent instances: eight
/// hex digits from the standard library's randomly seeded hasher.
fn claim_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    format!("{:08x}", h.finish() as u32)
}

/// Why a service stopping or stopped by `record` is: the reason a status gives.
fn explain(record: &StopRecord, state: State) -> String {
    match state {
        State::Stopping => format!("{record}; the task is shutting down"),
        _ => format!("{record} (at {} UTC)", record.at.format("%H:%M")),
    }
}

/// The request log read alongside the service, for the task that served last time.
struct Early {
    arn: String,
    started: DateTime<Utc>,
    read: (Activity, DateTime<Utc>),
}

/// The service still runs exactly the task that served last time, and nothing else moves.
fn is_steady(service: &ServiceSnapshot, tasks: &[TaskSnapshot], arn: &str) -> bool {
    service.desired_count == 1
        && service.running_count == 1
        && service.pending_count == 0
        && service.deployments.len() <= 1
        && matches!(tasks, [t] if t.arn == arn
            && t.last_status == TaskPhase::Running
            && t.desired_status == TaskPhase::Running)
}

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
            self.remember(&obs, &current, &probes);
            self.annotate(&obs, &mut current, &probes, None).await;
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
        self.remember(&obs, &current, &probes);
        self.annotate(&obs, &mut current, &probes, None).await;
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
            self.remember(&obs, &current, &probes);
            self.annotate(&obs, &mut current, &probes, None).await;
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
