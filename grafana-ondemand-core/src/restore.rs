//! Putting a backup of Grafana's data back, without ever giving it to two writers.
//!
//! AWS Backup restores an EFS recovery point into a new directory at the file system's root
//! (`/aws-backup-restore_<time>/`), outside the access point Grafana mounts. A one-off task
//! (its definition is the module's, mounting the root) then moves the restored directory
//! into the access point's place, keeping the replaced one aside. The steps, in order:
//!
//! 1. refuse unless Grafana is stopped (no task alive, no start waiting);
//! 2. hold the service ([`RESTORE_TAG`]): every start is refused until the restore ends;
//! 3. start the restore job, and wait for it;
//! 4. check again that nothing runs, run the one-off task, and wait for it;
//! 5. release the hold.
//!
//! A failure before the move releases the hold (nothing was changed); a failed move keeps it
//! (the data may be half moved) and says how to go on.

use crate::error::{Error, Result};
use crate::service::ServiceController;
use crate::state::State;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::time::Instant;

/// The tag that holds the service while its data is restored: `since <RFC 3339 time>`, or
/// `released <time>` once done. A held service refuses every start.
pub const RESTORE_TAG: &str = "grafana-ondemand:restoring";

/// When the hold on the service began, if it is held.
pub fn restore_hold(tags: &std::collections::BTreeMap<String, String>) -> Option<&str> {
    tags.get(RESTORE_TAG)?.strip_prefix("since ")
}

/// The tag value that holds the service from `at`.
pub fn hold_tag(at: DateTime<Utc>) -> String {
    format!("since {}", at.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// The tag value that releases it at `at`.
pub fn released_tag(at: DateTime<Utc>) -> String {
    format!("released {}", at.format("%Y-%m-%dT%H:%M:%SZ"))
}

/// One recovery point of the file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryPoint {
    /// Its ARN, what `restore --from` takes.
    pub arn: String,
    /// The vault that keeps it.
    pub vault: String,
    /// When the backup was taken.
    pub created: Option<DateTime<Utc>>,
    /// `COMPLETED`, `PARTIAL`, `EXPIRED`…: only a completed one restores everything.
    pub status: String,
    /// Its size, when AWS Backup says.
    pub size_bytes: Option<i64>,
}

/// Where a restore job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Waiting or copying, with AWS Backup's percentage when it gives one.
    Running(Option<String>),
    /// Done: the files are in `/aws-backup-restore_<time>/`.
    Completed,
    /// Failed or aborted, with AWS Backup's reason.
    Failed(String),
}

/// Where the one-off task that moves the files is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoverState {
    /// Not stopped yet.
    Running,
    /// Stopped, with its container's exit code (none when it never ran) and ECS's reason.
    Stopped {
        /// The container's exit code.
        exit_code: Option<i32>,
        /// ECS's `stoppedReason`.
        reason: Option<String>,
    },
}

/// What a restore needs from the platform beyond the controller's calls: AWS Backup, the
/// one-off task, and the service's tag.
#[async_trait]
pub trait RestorePlatform: Send + Sync {
    /// The file system's recovery points, newest first.
    async fn recovery_points(&self) -> Result<Vec<RecoveryPoint>>;
    /// Starts restoring `point` into the file system (its `/grafana` directory only), and
    /// returns the job's id.
    async fn start_restore(&self, point: &RecoveryPoint) -> Result<String>;
    /// Where the restore job `id` is.
    async fn restore_job(&self, id: &str) -> Result<JobState>;
    /// Runs the one-off task that moves the restored files into place, keeping the replaced
    /// ones in `aside`; returns the task's ARN.
    async fn run_mover(&self, aside: &str) -> Result<String>;
    /// Where the one-off task is.
    async fn mover(&self, task_arn: &str) -> Result<MoverState>;
    /// Sets the service's [`RESTORE_TAG`].
    async fn tag_hold(&self, value: String) -> Result<()>;
    /// Whether the service is held, and since when.
    async fn hold(&self) -> Result<Option<String>>;
    /// The platform's clock.
    fn now(&self) -> DateTime<Utc>;
}

/// A step of the restore, for a frontend to print as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The service is held: starts are refused from now on.
    Held,
    /// The restore job started.
    JobStarted(String),
    /// The restore job is still running.
    JobRunning(Option<String>),
    /// The files are restored beside Grafana's; the move comes next.
    JobCompleted,
    /// The one-off task was asked for.
    MoverStarted(String),
}

/// A restore that finished: Grafana may start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The restore job.
    pub job: String,
    /// Where the replaced data is kept, at the file system's root.
    pub aside: String,
}

/// How long to wait for each part, and how often to look.
#[derive(Debug, Clone, Copy)]
pub struct RestoreLimits {
    /// The restore job's deadline (AWS Backup can take hours for a large volume).
    pub job: Duration,
    /// The one-off task's deadline (placing, pulling, moving).
    pub mover: Duration,
    /// How often to look.
    pub poll: Duration,
}

impl Default for RestoreLimits {
    fn default() -> Self {
        RestoreLimits {
            job: Duration::from_secs(2 * 3600),
            mover: Duration::from_secs(15 * 60),
            poll: Duration::from_secs(15),
        }
    }
}

/// What the one-off task's exit codes mean (the module's `restore.sh` exits with them).
pub fn mover_exit_meaning(code: i32) -> &'static str {
    match code {
        3 => {
            "no aws-backup-restore_* directory at the file system's root: the restore job's files are not there"
        }
        4 => {
            "the restored directory has no `grafana` directory: the recovery point does not hold Grafana's data"
        }
        5 => "the replaced data's place already exists: a restore with the same name ran before",
        _ => "the move failed",
    }
}

/// The restore procedure over a controller (for the state) and a [`RestorePlatform`].
pub struct Restore<'a> {
    service: &'a dyn ServiceController,
    platform: &'a dyn RestorePlatform,
    limits: RestoreLimits,
}

impl std::fmt::Debug for Restore<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restore")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

fn refused(problem: impl Into<String>) -> Error {
    Error::Restore {
        problem: problem.into(),
    }
}

impl<'a> Restore<'a> {
    /// A restore of the service `service` controls, through `platform`.
    pub fn new(
        service: &'a dyn ServiceController,
        platform: &'a dyn RestorePlatform,
        limits: RestoreLimits,
    ) -> Self {
        Restore {
            service,
            platform,
            limits,
        }
    }

    /// Refuses unless nothing of Grafana runs or is about to.
    async fn ensure_stopped(&self) -> Result<()> {
        let status = self.service.status().await?;
        if status.state == State::Stopped {
            return Ok(());
        }
        Err(refused(format!(
            "Grafana is {} ({}): stop it first (`stop --wait`), then restore; a restore under a running Grafana would be overwritten by it, or corrupt its database",
            status.state, status.message
        )))
    }

    /// Restores `point_arn` (one of [`RestorePlatform::recovery_points`]) from the start.
    pub async fn run(
        &self,
        point_arn: &str,
        on: &mut (dyn FnMut(Step) + Send),
    ) -> Result<Restored> {
        let points = self.platform.recovery_points().await?;
        let Some(point) = points.iter().find(|p| p.arn == point_arn) else {
            return Err(refused(format!(
                "`{point_arn}` is not a recovery point of Grafana's file system: `restore` without --from lists them"
            )));
        };
        if point.status != "COMPLETED" {
            return Err(refused(format!(
                "recovery point `{point_arn}` is {}, not COMPLETED: pick a completed one",
                point.status
            )));
        }
        self.ensure_stopped().await?;
        if let Some(since) = self.platform.hold().await? {
            return Err(refused(format!(
                "a restore is already under way (since {since}): `restore --job <its job>` goes on with it, `restore --release` ends the hold if it was abandoned"
            )));
        }
        self.platform
            .tag_hold(hold_tag(self.platform.now()))
            .await?;
        on(Step::Held);
        // A start that read the service just before the hold may have set the count after it.
        if let Err(e) = self.ensure_stopped().await {
            self.release().await?;
            return Err(e);
        }
        let job = match self.platform.start_restore(point).await {
            Ok(job) => job,
            Err(e) => {
                self.release().await?;
                return Err(e);
            }
        };
        on(Step::JobStarted(job.clone()));
        self.finish(&job, on).await
    }

    /// Goes on with restore job `job` (started by an earlier `run` that stopped waiting):
    /// waits for it, then moves its files into place.
    pub async fn finish(&self, job: &str, on: &mut (dyn FnMut(Step) + Send)) -> Result<Restored> {
        if self.platform.hold().await?.is_none() {
            self.ensure_stopped().await?;
            self.platform
                .tag_hold(hold_tag(self.platform.now()))
                .await?;
            on(Step::Held);
        }
        let begun = Instant::now();
        loop {
            match self.platform.restore_job(job).await? {
                JobState::Completed => break,
                JobState::Failed(reason) => {
                    self.release().await?;
                    return Err(refused(format!(
                        "AWS Backup's restore job {job} failed: {reason}. Grafana's data was not changed, and Grafana may start again"
                    )));
                }
                JobState::Running(percent) => on(Step::JobRunning(percent)),
            }
            if begun.elapsed() >= self.limits.job {
                return Err(refused(format!(
                    "restore job {job} is still running after {} s; Grafana stays held (starts are refused): run `restore --job {job}` to wait again and finish",
                    self.limits.job.as_secs()
                )));
            }
            tokio::time::sleep(self.limits.poll).await;
        }
        on(Step::JobCompleted);
        self.ensure_stopped().await?;
        let aside = format!(
            "replaced-{}",
            self.platform.now().format("%Y-%m-%dT%H-%M-%SZ")
        );
        let task = self.platform.run_mover(&aside).await?;
        on(Step::MoverStarted(task.clone()));
        let begun = Instant::now();
        loop {
            match self.platform.mover(&task).await? {
                MoverState::Stopped {
                    exit_code: Some(0), ..
                } => break,
                MoverState::Stopped { exit_code, reason } => {
                    let what = match exit_code {
                        Some(code) => format!("exited {code}: {}", mover_exit_meaning(code)),
                        None => format!(
                            "never ran: {}",
                            reason.as_deref().unwrap_or("ECS gave no reason")
                        ),
                    };
                    return Err(refused(format!(
                        "the task that moves the restored files ({task}) {what}. Grafana stays held (starts are refused) until its data is whole: read the task's log, then `restore --job {job}` to move again, or `restore --release` to let Grafana start as it is"
                    )));
                }
                MoverState::Running => {}
            }
            if begun.elapsed() >= self.limits.mover {
                return Err(refused(format!(
                    "the task that moves the restored files ({task}) has not stopped after {} s; Grafana stays held: once it stops, `restore --job {job}` again, or `restore --release`",
                    self.limits.mover.as_secs()
                )));
            }
            tokio::time::sleep(self.limits.poll).await;
        }
        self.release().await?;
        Ok(Restored {
            job: job.to_owned(),
            aside,
        })
    }

    /// Lets Grafana start again.
    pub async fn release(&self) -> Result<()> {
        self.platform
            .tag_hold(released_tag(self.platform.now()))
            .await
    }
}
