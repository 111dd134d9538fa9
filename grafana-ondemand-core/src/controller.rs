//! The controller: reads the platform cheaply, decides with [`derive`], acts idempotently.

use crate::derive::{Probes, derive, probe_targets, select_task};
use crate::endpoint::{AddressKind, ServiceProfile};
use crate::error::Result;
use crate::observation::{Observation, ServiceSnapshot, TaskPhase, TaskSnapshot};
use crate::platform::{DesiredStatus, NetworkInterface, Platform};
use crate::readiness::{Readiness, ReadinessProbe};
use crate::service::ServiceController;
use crate::state::State;
use crate::status::Status;
use async_trait::async_trait;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// DescribeTasks takes at most this many ARNs.
const DESCRIBE_TASKS_MAX: usize = 100;
/// ListTasks pages read at most, per desired status: 1,000 tasks, far past one service's.
const MAX_PAGES: usize = 10;

/// What the last status saw, so the next read can be cheaper.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Expectation {
    /// Nothing known (a cold process, or after an action): read everything, concurrently.
    #[default]
    Unknown,
    /// Stopped last time: DescribeServices alone tells whether that still holds.
    Idle,
    /// This task served last time: DescribeServices and DescribeTasks of it, concurrently.
    Serving(String),
}

#[derive(Debug, Default)]
struct Memory {
    expectation: Expectation,
    /// Public IPs by task ARN, for the life of each task.
    public_ips: HashMap<String, IpAddr>,
    /// The state the last status reported, to log changes once.
    last_state: Option<State>,
}

/// A [`ServiceController`] over any [`Platform`]: the one implementation of the decisions.
///
/// Calls per [`status`](ServiceController::status): one (DescribeServices) while it stays
/// stopped;
/// two made concurrently (DescribeServices, DescribeTasks) while the same task runs; on a
/// cold process, or when tasks change, DescribeServices and two ListTasks concurrently, then
/// DescribeTasks, then DescribeNetworkInterfaces for interfaces not seen before.
#[derive(Debug)]
pub struct Controller<P> {
    platform: P,
    profile: ServiceProfile,
    probe: Arc<dyn ReadinessProbe>,
    memory: Mutex<Memory>,
    /// Serializes start and stop, so concurrent starts cause one scale-up.
    actions: tokio::sync::Mutex<()>,
}

impl<P: Platform> Controller<P> {
    /// A controller for the service behind `platform`, checked with `probe`.
    pub fn new(platform: P, profile: ServiceProfile, probe: Arc<dyn ReadinessProbe>) -> Self {
        Controller {
            platform,
            profile,
            probe,
            memory: Mutex::default(),
            actions: tokio::sync::Mutex::new(()),
        }
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

    /// Reads the platform into an observation, with as few calls as what it knows allows.
    pub async fn observe(&self) -> Result<Observation> {
        let expectation = self.memory().expectation.clone();
        let p = &self.platform;
        let service = match expectation {
            Expectation::Serving(arn) => {
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
        }
        memory.expectation = match (&status.state, &status.task) {
            (State::Stopped, _) if obs.service.is_idle() => Expectation::Idle,
            (State::Running, Some(_)) => select_task(obs, &self.profile, probes)
                .map(|t| Expectation::Serving(t.arn.clone()))
                .unwrap_or_default(),
            _ => Expectation::Unknown,
        };
        if obs.service.is_idle() {
            memory.public_ips.clear();
        } else {
            for task in obs.tasks.iter().filter(|t| !t.is_alive()) {
                memory.public_ips.remove(&task.arn);
            }
        }
    }

    fn forget(&self) {
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

#[async_trait]
impl<P: Platform> ServiceController for Controller<P> {
    async fn start(&self) -> Result<Status> {
        let _one_at_a_time = self.actions.lock().await;
        let mut obs = self.observe().await?;
        let (current, probes) = self.assess(&obs).await;
        if matches!(current.state, State::Running | State::Starting) {
            self.remember(&obs, &current, &probes);
            return Ok(current);
        }
        // Setting the count is idempotent, so starts through several processes (Lambda
        // instances) converge on one task. Only a failure calls for a fresh deployment,
        // which leaves the failures of the previous one behind.
        let fresh = current.state == State::Failed;
        obs.service = self.platform.update_service(1, fresh).await?;
        self.forget();
        tracing::info!(before = %current.state, fresh_deployment = fresh, "asked ECS for one task");
        Ok(derive(&obs, &self.profile, &Probes::new()))
    }

    async fn stop(&self) -> Result<Status> {
        let _one_at_a_time = self.actions.lock().await;
        let mut obs = self.observe().await?;
        if obs.service.desired_count == 0 {
            let (current, probes) = self.assess(&obs).await;
            self.remember(&obs, &current, &probes);
            return Ok(current);
        }
        obs.service = self.platform.update_service(0, false).await?;
        self.forget();
        tracing::info!("asked ECS for no task");
        Ok(derive(&obs, &self.profile, &Probes::new()))
    }

    async fn status(&self) -> Result<Status> {
        let obs = self.observe().await?;
        let (status, probes) = self.assess(&obs).await;
        self.remember(&obs, &status, &probes);
        tracing::debug!(state = %status.state, "status read");
        Ok(status)
    }
}
