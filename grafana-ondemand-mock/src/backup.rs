//! AWS Backup's recovery points and restore jobs for the service's file system, and the
//! one-off tasks ECS runs beside the service (`RunTask`): what a restore drives.

#![cfg_attr(not(feature = "wire"), allow(dead_code))]

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// The one-off task's container, as the module names it.
pub(crate) const MOVER_CONTAINER: &str = "restore";

/// A recovery point the simulated vault keeps.
#[derive(Debug, Clone)]
pub(crate) struct SimPoint {
    pub arn: String,
    pub vault: String,
    pub resource_arn: String,
    pub created: DateTime<Utc>,
    pub status: String,
}

/// A restore job, as it was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreJobRecord {
    /// Its id.
    pub id: String,
    /// The recovery point restored.
    pub recovery_point: String,
    /// The role AWS Backup restores with.
    pub role: String,
    /// The metadata given.
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub(crate) struct SimJob {
    pub record: RestoreJobRecord,
    pub started: Instant,
    pub fails_with: Option<String>,
}

/// A one-off task, as it was asked for (`RunTask`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOffRun {
    /// Its ARN.
    pub arn: String,
    /// The task definition it runs.
    pub task_definition: String,
    /// `startedBy`.
    pub started_by: Option<String>,
    /// `FARGATE`, when given.
    pub launch_type: Option<String>,
    /// The subnets, security groups and `assignPublicIp` it runs with.
    pub subnets: Vec<String>,
    /// Its security groups.
    pub security_groups: Vec<String>,
    /// `ENABLED` or `DISABLED`.
    pub assign_public_ip: Option<String>,
    /// The container overrides' environment: container, name, value.
    pub environment: Vec<(String, String, String)>,
}

#[derive(Debug, Clone)]
pub(crate) struct SimRun {
    pub run: OneOffRun,
    pub started: Instant,
    pub exit_code: i32,
    pub duration: Duration,
}

/// Backups and one-off tasks.
#[derive(Debug)]
pub(crate) struct SimBackup {
    pub points: Vec<SimPoint>,
    pub jobs: Vec<SimJob>,
    pub restore_duration: Duration,
    pub fail_next_job: Option<String>,
    pub runs: Vec<SimRun>,
    pub run_duration: Duration,
    pub run_exit_code: i32,
}

impl Default for SimBackup {
    fn default() -> Self {
        SimBackup {
            points: Vec::new(),
            jobs: Vec::new(),
            restore_duration: Duration::from_secs(2),
            fail_next_job: None,
            runs: Vec::new(),
            run_duration: Duration::from_secs(2),
            run_exit_code: 0,
        }
    }
}

/// Where a restore job is: `RUNNING` with a percentage, `COMPLETED`, or `FAILED` with a
/// reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobSeen {
    Running(u8),
    Completed,
    Failed(String),
}

impl SimBackup {
    pub fn job(&self, id: &str, now: Instant) -> Option<JobSeen> {
        let job = self.jobs.iter().find(|j| j.record.id == id)?;
        let elapsed = now.saturating_duration_since(job.started);
        if elapsed < self.restore_duration {
            let done = elapsed.as_secs_f64() / self.restore_duration.as_secs_f64().max(1e-9);
            return Some(JobSeen::Running((done * 100.0) as u8));
        }
        Some(match &job.fails_with {
            Some(reason) => JobSeen::Failed(reason.clone()),
            None => JobSeen::Completed,
        })
    }

    /// A one-off task's phase and, once stopped, its exit code.
    pub fn run(&self, arn: &str, now: Instant) -> Option<(&SimRun, Option<i32>)> {
        let run = self.runs.iter().find(|r| r.run.arn == arn)?;
        let stopped = now.saturating_duration_since(run.started) >= run.duration;
        Some((run, stopped.then_some(run.exit_code)))
    }
}
