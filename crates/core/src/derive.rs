//! The decision: one pure function from an observation to a status.
//!
//! Backends only translate the platform into an [`Observation`]; everything a user is told
//! (the state, the task, the endpoint, the reason) is decided here, once, with no I/O.

use crate::endpoint::{AddressKind, Endpoint, ServiceProfile};
use crate::observation::{Observation, TaskPhase, TaskSnapshot};
use crate::readiness::Readiness;
use crate::state::State;
use crate::status::{Status, TaskInfo};

/// The task that should serve: alive and not asked to stop, RUNNING first, then of the
/// primary deployment, then the newest.
pub fn select_task(obs: &Observation) -> Option<&TaskSnapshot> {
    let primary = obs.service.primary_deployment();
    obs.tasks
        .iter()
        .filter(|t| t.is_alive() && !t.is_on_its_way_out())
        .max_by_key(|t| {
            (
                t.last_status == TaskPhase::Running,
                primary.is_none_or(|d| t.belongs_to(d)),
                t.created_at,
            )
        })
}

/// The address users would reach a task on, if it is known yet.
pub fn task_endpoint(task: &TaskSnapshot, profile: &ServiceProfile) -> Option<Endpoint> {
    let ip = match profile.address {
        AddressKind::Public => task.network.public_ip,
        AddressKind::Private => task.network.private_ip,
    }?;
    Some(profile.endpoint(ip))
}

/// The endpoint whose health decides between `Starting` and `Running`, if there is one to check.
pub fn probe_target(obs: &Observation, profile: &ServiceProfile) -> Option<Endpoint> {
    if obs.service.desired_count == 0 {
        return None;
    }
    let task = select_task(obs)?;
    if task.last_status != TaskPhase::Running {
        return None;
    }
    task_endpoint(task, profile)
}

/// The newest task of the primary deployment that stopped on its own.
fn last_failure(obs: &Observation) -> Option<&TaskSnapshot> {
    let primary = obs.service.primary_deployment();
    obs.tasks
        .iter()
        .filter(|t| t.stopped_on_its_own() && primary.is_none_or(|d| t.belongs_to(d)))
        .max_by_key(|t| (t.stopped_at, t.created_at))
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

/// Derives the status from what the platform reports and what the health check said about
/// [`probe_target`]'s endpoint. Never panics, whatever the observation.
pub fn derive(obs: &Observation, profile: &ServiceProfile, readiness: &Readiness) -> Status {
    let name = &profile.display_name;
    let svc = &obs.service;
    let mut status = Status {
        state: State::Stopped,
        endpoint: None,
        message: String::new(),
        reason: None,
        desired_count: svc.desired_count,
        running_count: svc.running_count,
        pending_count: svc.pending_count,
        task: None,
        healthy: false,
    };

    if svc.desired_count == 0 {
        let alive = obs
            .tasks
            .iter()
            .filter(|t| t.is_alive())
            .max_by_key(|t| t.created_at);
        if alive.is_some() || svc.running_count > 0 || svc.pending_count > 0 {
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

    let selected = select_task(obs);
    if let Some(task) = selected
        && task.last_status == TaskPhase::Running
        && let Some(endpoint) = task_endpoint(task, profile)
        && *readiness == Readiness::Ready
        && probe_target(obs, profile).as_ref() == Some(&endpoint)
    {
        status.state = State::Running;
        status.message = format!("{name} is running at {}.", endpoint.url());
        status.endpoint = Some(endpoint);
        status.healthy = true;
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
        status.state = State::Starting;
        status.message = format!("{name} is starting; it usually takes under a minute.");
        status.reason = Some("waiting for ECS to place a task".into());
        return status;
    };
    status.task = Some(info(task));
    let endpoint = task_endpoint(task, profile);
    status.state = State::Starting;
    status.message = format!(
        "{name} is starting ({}); it usually takes under a minute.",
        task.last_status
    );
    let waiting = if task.last_status != TaskPhase::Running {
        format!("the task is {}", task.last_status)
    } else if endpoint.is_none() {
        let which = match profile.address {
            AddressKind::Public => "public",
            AddressKind::Private => "private",
        };
        format!("the task runs; waiting for its {which} IP")
    } else {
        match readiness {
            Readiness::NotReady(why) => {
                format!("the task runs; {name} does not answer yet ({why})")
            }
            _ => format!("the task runs; waiting for {name} to answer"),
        }
    };
    status.reason = Some(waiting);
    status
}
