//! The decision: one pure function from an observation to a status.
//!
//! Backends only translate the platform into an [`Observation`]; everything a user is told
//! (the state, the task, the endpoint, the reason) is decided here, once, with no I/O.

use crate::endpoint::ReadinessSource;
use crate::endpoint::{AddressKind, Endpoint, ServiceProfile};
use crate::observation::{Health, Observation, ServiceEvent, TaskPhase, TaskSnapshot};
use crate::readiness::{Readiness, ReadyBy};
use crate::session_tags::StopRecord;
use crate::state::State;
use crate::status::{Status, TaskInfo};
use crate::timings::{Seen, StartTimings};
use std::collections::BTreeMap;

/// What the HTTP probe said, by task ARN (tasks not probed are absent).
pub type Probes = BTreeMap<String, Readiness>;

/// How many HTTP probes one status may make: the preferred task and the one serving before it.
pub const MAX_PROBES: usize = 2;

/// Placement failures in one deployment after which ECS is not expected to succeed by itself.
const PLACEMENT_FAILURES_BEFORE_FAILED: usize = 2;

/// Orders tasks by preference: RUNNING first, then of the primary deployment, then newest.
fn preference(obs: &Observation, t: &TaskSnapshot) -> impl Ord + use<> {
    let primary = obs.service.primary_deployment();
    (
        t.last_status == TaskPhase::Running,
        primary.is_none_or(|d| t.belongs_to(d)),
        t.created_at,
    )
}

/// Tasks that may serve: alive and not asked to stop, the preferred first.
fn contenders(obs: &Observation) -> Vec<&TaskSnapshot> {
    let mut tasks: Vec<&TaskSnapshot> = obs
        .tasks
        .iter()
        .filter(|t| t.is_alive() && !t.is_on_its_way_out())
        .collect();
    tasks.sort_by_key(|t| std::cmp::Reverse(preference(obs, t)));
    tasks
}

/// The address users would reach a task on, if it is known yet: the chosen kind of IPv4
/// address, else its IPv6 address (IPv6-only subnets).
pub fn task_endpoint(task: &TaskSnapshot, profile: &ServiceProfile) -> Option<Endpoint> {
    let v4 = match profile.address {
        AddressKind::Public => task.network.public_ip,
        AddressKind::Private => task.network.private_ip,
    };
    Some(profile.endpoint(v4.or(task.network.ipv6)?))
}

/// What confirms that `task` serves on its endpoint, if anything does yet.
pub fn confirmed(
    task: &TaskSnapshot,
    profile: &ServiceProfile,
    probes: &Probes,
) -> Option<ReadyBy> {
    if task.last_status != TaskPhase::Running || task_endpoint(task, profile).is_none() {
        return None;
    }
    if profile.readiness.trusts_ecs() && task.health == Health::Healthy {
        return Some(ReadyBy::EcsHealth);
    }
    (profile.readiness.probes() && probes.get(&task.arn) == Some(&Readiness::Ready))
        .then_some(ReadyBy::HttpProbe)
}

/// The task that should serve: alive and not asked to stop; among them a confirmed one first
/// (so the task that serves keeps serving until its successor is confirmed), then RUNNING,
/// then of the primary deployment, then the newest.
pub fn select_task<'a>(
    obs: &'a Observation,
    profile: &ServiceProfile,
    probes: &Probes,
) -> Option<&'a TaskSnapshot> {
    let contenders = contenders(obs);
    contenders
        .iter()
        .find(|t| confirmed(t, profile, probes).is_some())
        .or(contenders.first())
        .copied()
}

/// The endpoints the HTTP probe should check, by task ARN, the preferred first: RUNNING tasks
/// with an address that ECS's health does not confirm already. Empty when the profile does not
/// probe or nothing is asked to run.
pub fn probe_targets(obs: &Observation, profile: &ServiceProfile) -> Vec<(String, Endpoint)> {
    if obs.service.desired_count == 0 || !profile.readiness.probes() {
        return Vec::new();
    }
    let no_probes = Probes::new();
    contenders(obs)
        .into_iter()
        .filter(|t| t.last_status == TaskPhase::Running)
        .filter(|t| confirmed(t, profile, &no_probes).is_none())
        .filter_map(|t| Some((t.arn.clone(), task_endpoint(t, profile)?)))
        .take(MAX_PROBES)
        .collect()
}

/// The newest task of the primary deployment that stopped on its own.
fn last_failure(obs: &Observation) -> Option<&TaskSnapshot> {
    let primary = obs.service.primary_deployment();
    obs.tasks
        .iter()
        .filter(|t| t.stopped_on_its_own() && primary.is_none_or(|d| t.belongs_to(d)))
        .max_by_key(|t| (t.stopped_at, t.created_at))
}

/// ECS's placement failures since the primary deployment began, newest first.
fn placement_failures(obs: &Observation) -> Vec<&ServiceEvent> {
    // Without the deployment's start, old events cannot be told from new ones: trust none.
    let Some(since) = obs.service.primary_deployment().and_then(|d| d.created_at) else {
        return Vec::new();
    };
    let mut failures: Vec<&ServiceEvent> = obs
        .service
        .events
        .iter()
        .filter(|e| e.is_placement_failure() && e.at.is_some_and(|at| at >= since))
        .collect();
    failures.sort_by_key(|e| std::cmp::Reverse(e.at));
    failures
}

fn info(task: &TaskSnapshot) -> TaskInfo {
    TaskInfo {
        id: task.id().to_owned(),
        phase: task.last_status.clone(),
        created_at: task.created_at,
        started_at: task.started_at,
    }
}

fn failure_reason(task: &TaskSnapshot) -> String {
    let given = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    given(&task.stopped_reason)
        .or_else(|| given(&task.stop_code))
        .unwrap_or_else(|| "the task stopped on its own".into())
}

/// Why a task that is not confirmed yet does not serve.
fn waiting_reason(task: &TaskSnapshot, profile: &ServiceProfile, probes: &Probes) -> String {
    let name = &profile.display_name;
    if task.last_status != TaskPhase::Running {
        return format!("the task is {}", task.last_status);
    }
    if task_endpoint(task, profile).is_none() {
        let which = match profile.address {
            AddressKind::Public => "public",
            AddressKind::Private => "private",
        };
        return format!("the task runs; waiting for its {which} IP");
    }
    let health = match task.health {
        Health::Unhealthy => "UNHEALTHY",
        _ => "not reported yet",
    };
    match (profile.readiness, probes.get(&task.arn)) {
        (ReadinessSource::Ecs, _) => format!(
            "the task runs; waiting for ECS's container health check ({health}; a task definition without a health check never passes: set READINESS=http then)"
        ),
        (_, Some(Readiness::NotReady(why))) => {
            format!("the task runs; {name} does not answer yet ({why})")
        }
        _ => format!("the task runs; waiting for {name} to answer"),
    }
}

/// Derives the status from what the platform reports and what the HTTP probe said of the
/// endpoints of [`probe_targets`], with the start's timings so far. Never panics, whatever
/// the observation.
pub fn derive(obs: &Observation, profile: &ServiceProfile, probes: &Probes) -> Status {
    let mut status = derive_state(obs, profile, probes);
    let tags = &obs.service.tags;
    if matches!(status.state, State::Starting | State::Running)
        && let (Some(requested), Some(info)) = (StopRecord::started_at(tags), &status.task)
        && let Some(task) = obs.tasks.iter().find(|t| t.id() == info.id)
    {
        let seen = Seen::read(tags, &info.id);
        status.timings = Some(StartTimings::of(requested, task, seen.as_ref()));
    }
    status
}

fn derive_state(obs: &Observation, profile: &ServiceProfile, probes: &Probes) -> Status {
    let name = &profile.display_name;
    let svc = &obs.service;
    // Service counts lag the tasks by seconds: when tasks were read, they are the truth.
    let (running_count, pending_count) = if obs.tasks.is_empty() {
        (svc.running_count, svc.pending_count)
    } else {
        let alive = obs.tasks.iter().filter(|t| t.is_alive());
        let running = alive
            .clone()
            .filter(|t| t.last_status == TaskPhase::Running)
            .count();
        let pending = alive
            .filter(|t| {
                matches!(
                    t.last_status,
                    TaskPhase::Provisioning | TaskPhase::Pending | TaskPhase::Activating
                )
            })
            .count();
        (
            u32::try_from(running).unwrap_or(u32::MAX),
            u32::try_from(pending).unwrap_or(u32::MAX),
        )
    };
    let mut status = Status {
        state: State::Stopped,
        endpoint: None,
        message: String::new(),
        reason: None,
        desired_count: svc.desired_count,
        running_count,
        pending_count,
        task: None,
        healthy: false,
        ready_by: None,
        stops_at: None,
        last_activity_at: None,
        cost: None,
        timings: None,
    };

    if svc.desired_count == 0 {
        let alive = obs
            .tasks
            .iter()
            .filter(|t| t.is_alive())
            .max_by_key(|t| t.created_at);
        if alive.is_some() || running_count > 0 || pending_count > 0 {
            status.state = State::Stopping;
            status.message = format!("{name} is stopping.");
            status.reason = Some("a stop was requested; the task is shutting down".into());
            status.task = alive.map(info);
        } else {
            status.state = State::Stopped;
            status.message = format!("{name} is stopped. Start it to use it.");
        }
        return status;
    }

    let selected = select_task(obs, profile, probes);
    if let Some(task) = selected
        && let Some(by) = confirmed(task, profile, probes)
        && let Some(endpoint) = task_endpoint(task, profile)
    {
        status.state = State::Running;
        status.message = format!("{name} is running at {}.", endpoint.url());
        status.endpoint = Some(endpoint);
        status.healthy = true;
        status.ready_by = Some(by);
        status.task = Some(info(task));
        return status;
    }

    // A failure in this deployment stays visible until a task of it answers: ECS retries on
    // its own, and a user must not watch an endless "starting" while every retry fails.
    if let Some(failed) = last_failure(obs) {
        let reason = failure_reason(failed);
        status.state = State::Failed;
        status.message = match selected {
            Some(_) => format!(
                "{name} failed to start: {reason}. ECS is retrying; start it again to retry with a fresh deployment."
            ),
            None => format!("{name} failed to start: {reason}. Start it again to retry."),
        };
        status.reason = Some(reason);
        status.task = Some(info(failed));
        return status;
    }

    let Some(task) = selected else {
        let placement = placement_failures(obs);
        status.state = State::Starting;
        status.message = format!("{name} is starting; it usually takes under a minute.");
        status.reason = Some(match placement.first() {
            Some(event) if placement.len() >= PLACEMENT_FAILURES_BEFORE_FAILED => {
                status.state = State::Failed;
                status.message = format!(
                    "{name} cannot start: ECS cannot place its task ({}). Fix the cause (capacity, subnets, image access), then start it again.",
                    event.message
                );
                event.message.clone()
            }
            Some(event) => format!("ECS cannot place the task yet: {}", event.message),
            None if !obs.undescribed.is_empty() => {
                "ECS placed a task; it is not described yet".into()
            }
            None => "waiting for ECS to place a task".into(),
        });
        return status;
    };
    status.task = Some(info(task));

    // No address can ever appear: say so now rather than wait forever.
    let attached = task.network.private_ip.is_some() || task.network.eni_id.is_some();
    if profile.address == AddressKind::Public
        && svc.assign_public_ip == Some(false)
        && attached
        && task.network.public_ip.is_none()
        && task.network.ipv6.is_none()
    {
        status.state = State::Failed;
        status.reason = Some(
            "the service gives its tasks no public IP (assignPublicIp is DISABLED) and the task has no IPv6 address".into(),
        );
        status.message = format!(
            "{name} cannot be reached: its task gets no public address. Set SERVICE_ADDRESS=private to use its private IP over your VPN, or enable assign_public_ip in public subnets; then stop and start it."
        );
        return status;
    }

    status.state = State::Starting;
    status.message = format!(
        "{name} is starting ({}); it usually takes under a minute.",
        task.last_status
    );
    status.reason = Some(waiting_reason(task, profile, probes));
    status
}
