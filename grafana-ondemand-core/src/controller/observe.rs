//! The read path: what the platform reports, read with as few calls as what this process
//! already knows allows, and what it keeps between reads.
//!
//! Reads: ECS (DescribeServices, ListTasks, DescribeTasks), EC2 (DescribeNetworkInterfaces),
//! the readiness probe. Writes: only this process's memory (the expectation, the tasks'
//! addresses, the last state). Must not touch: anything on the platform; no decision is made
//! here beyond "what is cheapest to read next" (the status is [`derive`]'s).

use super::Controller;
use super::usage::Early;
use crate::derive::{Probes, derive, probe_targets, select_task};
use crate::endpoint::AddressKind;
use crate::error::Result;
use crate::observation::{Observation, ServiceSnapshot, TaskPhase, TaskSnapshot};
use crate::platform::{DesiredStatus, NetworkInterface, Platform};
use crate::readiness::Readiness;
use crate::state::State;
use crate::status::Status;
use chrono::{DateTime, Utc};

/// DescribeTasks takes at most this many ARNs.
const DESCRIBE_TASKS_MAX: usize = 100;

/// ListTasks pages read at most, per desired status: 1,000 tasks, far past one service's.
const MAX_PAGES: usize = 10;

/// How long this process trusts its own tag writes over what ECS shows: far past the lag.
const OWN_WRITES_KEPT: chrono::Duration = chrono::Duration::seconds(30);

/// What the last status saw, so the next read can be cheaper.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) enum Expectation {
    /// Nothing known (a cold process, or after an action): read everything, concurrently.
    #[default]
    Unknown,
    /// Stopped last time: DescribeServices alone tells whether that still holds.
    Idle,
    /// This task (started then) served last time: DescribeServices and DescribeTasks of it,
    /// and its request log, concurrently.
    Serving(String, Option<DateTime<Utc>>),
}

impl<P: Platform> Controller<P> {
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

    pub(super) async fn read_platform(&self) -> Result<Observation> {
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
    pub(super) async fn observe_with_activity(&self) -> Result<(Observation, Option<Early>)> {
        let expectation = self.memory().expectation.clone();
        let Expectation::Serving(arn, Some(started)) = expectation else {
            return Ok((self.observe().await?, None));
        };
        let id = arn.rsplit('/').next().unwrap_or(&arn).to_owned();
        let (obs, read) = tokio::join!(self.observe(), self.activity(&id, started));
        Ok((obs?, Some(Early { arn, started, read })))
    }

    /// Every page of ListTasks, up to [`MAX_PAGES`].
    pub(super) async fn list_all(&self, desired: DesiredStatus) -> Result<Vec<String>> {
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

    pub(super) async fn describe_listed(
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
    pub(super) async fn with_addresses(&self, mut obs: Observation) -> Result<Observation> {
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
    pub(super) async fn assess(&self, obs: &Observation) -> (Status, Probes) {
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
    pub(super) fn remember(&self, obs: &Observation, status: &Status, probes: &Probes) {
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

    pub(super) fn forget(&self) {
        self.memory().expectation = Expectation::Unknown;
    }
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
