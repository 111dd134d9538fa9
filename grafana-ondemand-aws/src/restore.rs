//! [`BackupRestore`]: the core's [`RestorePlatform`] on AWS Backup and an ECS one-off task.
//!
//! Only the CLI's `restore` links this (feature `restore`): the Lambda never restores.

use crate::errors::map;
use crate::platform::EcsPlatform;
use async_trait::async_trait;
use aws_sdk_ecs::types as ecs;
use chrono::{DateTime, Utc};
use grafana_ondemand_core::{
    Error, JobState, MoverState, Platform, RESTORE_TAG, RecoveryPoint, RestorePlatform, Result,
    restore_hold,
};

/// What a restore needs to know of the deployment: the module's outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSettings {
    /// Grafana's EFS file system's ARN (the module's `efs_file_system_arn`).
    pub file_system_arn: String,
    /// The role AWS Backup restores with (the module's `backup_restore_role_arn`).
    pub backup_role_arn: String,
    /// The one-off task's definition (the module's `restore_task_definition`).
    pub task_definition: String,
}

/// The one-off task's container, as the module names it.
pub const MOVER_CONTAINER: &str = "restore";
/// The directory AWS Backup restores, relative to the file system's root: the access
/// point's.
pub const RESTORED_ITEM: &str = "/grafana";

/// AWS Backup and the one-off task, for the service an [`EcsPlatform`] drives.
#[derive(Debug, Clone)]
pub struct BackupRestore {
    platform: EcsPlatform,
    ecs: aws_sdk_ecs::Client,
    backup: aws_sdk_backup::Client,
    settings: RestoreSettings,
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

impl BackupRestore {
    /// A restore of `platform`'s service, with clients made from `sdk`.
    pub fn new(
        sdk: &aws_config::SdkConfig,
        platform: EcsPlatform,
        settings: RestoreSettings,
    ) -> Result<Self> {
        if !settings.file_system_arn.starts_with("arn:")
            || !settings.file_system_arn.contains(":file-system/fs-")
        {
            return Err(Error::invalid_config(
                "--file-system",
                format!(
                    "`{}` is not an EFS file system ARN (arn:aws:elasticfilesystem:<region>:<account>:file-system/fs-…): use the module's output efs_file_system_arn",
                    settings.file_system_arn
                ),
            ));
        }
        if !settings.backup_role_arn.starts_with("arn:") {
            return Err(Error::invalid_config(
                "--backup-role",
                "is not a role ARN: use the module's output backup_restore_role_arn",
            ));
        }
        Ok(BackupRestore {
            platform,
            ecs: aws_sdk_ecs::Client::new(sdk),
            backup: aws_sdk_backup::Client::new(sdk),
            settings,
        })
    }

    fn file_system_id(&self) -> &str {
        self.settings
            .file_system_arn
            .rsplit('/')
            .next()
            .unwrap_or_default()
    }

    fn names(&self) -> crate::errors::Names {
        crate::errors::Names {
            cluster: self.platform.cluster().to_owned(),
            service: self.platform.service().to_owned(),
        }
    }

    /// The service's network configuration: the one-off task runs where Grafana runs, so it
    /// reaches the same mount targets.
    async fn network(&self) -> Result<ecs::NetworkConfiguration> {
        let out = self
            .ecs
            .describe_services()
            .cluster(self.platform.cluster())
            .services(self.platform.service())
            .send()
            .await
            .map_err(|e| map(e, "ecs:DescribeServices", &self.names()))?;
        out.services()
            .first()
            .and_then(|s| s.network_configuration())
            .cloned()
            .ok_or_else(|| Error::ServiceNotFound {
                cluster: self.platform.cluster().to_owned(),
                service: self.platform.service().to_owned(),
            })
    }
}

#[async_trait]
impl RestorePlatform for BackupRestore {
    async fn recovery_points(&self) -> Result<Vec<RecoveryPoint>> {
        let mut points = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .backup
                .list_recovery_points_by_resource()
                .resource_arn(&self.settings.file_system_arn)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| map(e, "backup:ListRecoveryPointsByResource", &self.names()))?;
            points.extend(out.recovery_points().iter().filter_map(|p| {
                Some(RecoveryPoint {
                    arn: p.recovery_point_arn()?.to_owned(),
                    vault: p.backup_vault_name().unwrap_or_default().to_owned(),
                    created: time(p.creation_date()),
                    status: p
                        .status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    size_bytes: p.backup_size_bytes(),
                })
            }));
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        points.sort_by_key(|p| std::cmp::Reverse(p.created));
        Ok(points)
    }

    async fn start_restore(&self, point: &RecoveryPoint) -> Result<String> {
        let base = self
            .backup
            .get_recovery_point_restore_metadata()
            .backup_vault_name(&point.vault)
            .recovery_point_arn(&point.arn)
            .send()
            .await
            .map_err(|e| map(e, "backup:GetRecoveryPointRestoreMetadata", &self.names()))?;
        let mut metadata = base.restore_metadata().cloned().unwrap_or_default();
        // Into the same file system (AWS Backup never overwrites: a new directory at its
        // root), only Grafana's directory.
        metadata.insert("file-system-id".into(), self.file_system_id().to_owned());
        metadata.insert("newFileSystem".into(), "false".into());
        metadata.insert("ItemsToRestore".into(), format!("[\"{RESTORED_ITEM}\"]"));
        let out = self
            .backup
            .start_restore_job()
            .recovery_point_arn(&point.arn)
            .iam_role_arn(&self.settings.backup_role_arn)
            .resource_type("EFS")
            .set_metadata(Some(metadata))
            .send()
            .await
            .map_err(|e| map(e, "backup:StartRestoreJob", &self.names()))?;
        out.restore_job_id()
            .map(str::to_owned)
            .ok_or_else(|| Error::backend("backup:StartRestoreJob", "no restore job id returned"))
    }

    async fn restore_job(&self, id: &str) -> Result<JobState> {
        use aws_sdk_backup::types::RestoreJobStatus as S;
        let out = self
            .backup
            .describe_restore_job()
            .restore_job_id(id)
            .send()
            .await
            .map_err(|e| map(e, "backup:DescribeRestoreJob", &self.names()))?;
        let reason = || {
            out.status_message()
                .unwrap_or("AWS Backup gave no reason")
                .to_owned()
        };
        Ok(match out.status() {
            Some(S::Completed) => JobState::Completed,
            Some(S::Failed) => JobState::Failed(reason()),
            Some(S::Aborted) => JobState::Failed(format!("aborted: {}", reason())),
            _ => JobState::Running(out.percent_done().map(str::to_owned)),
        })
    }

    async fn run_mover(&self, aside: &str) -> Result<String> {
        let network = self.network().await?;
        let overrides = ecs::TaskOverride::builder()
            .container_overrides(
                ecs::ContainerOverride::builder()
                    .name(MOVER_CONTAINER)
                    .environment(
                        ecs::KeyValuePair::builder()
                            .name("ASIDE")
                            .value(aside)
                            .build(),
                    )
                    .build(),
            )
            .build();
        let out = self
            .ecs
            .run_task()
            .cluster(self.platform.cluster())
            .task_definition(&self.settings.task_definition)
            .launch_type(ecs::LaunchType::Fargate)
            .count(1)
            .started_by("grafana-ondemand-restore")
            .network_configuration(network)
            .overrides(overrides)
            .send()
            .await
            .map_err(|e| map(e, "ecs:RunTask", &self.names()))?;
        if let Some(task) = out.tasks().first().and_then(|t| t.task_arn()) {
            return Ok(task.to_owned());
        }
        let why = out
            .failures()
            .first()
            .map(|f| {
                format!(
                    "{} {}",
                    f.reason().unwrap_or("no reason"),
                    f.detail().unwrap_or_default()
                )
            })
            .unwrap_or_else(|| "ECS placed no task and gave no reason".into());
        Err(Error::Restore {
            problem: format!(
                "ECS did not run the task that moves the restored files ({}): {why}; Grafana stays held: try `restore --job <job>` again",
                self.settings.task_definition
            ),
        })
    }

    async fn mover(&self, task_arn: &str) -> Result<MoverState> {
        let out = self
            .ecs
            .describe_tasks()
            .cluster(self.platform.cluster())
            .tasks(task_arn)
            .send()
            .await
            .map_err(|e| map(e, "ecs:DescribeTasks", &self.names()))?;
        let Some(task) = out.tasks().first() else {
            // Just run: DescribeTasks may not list it yet (eventual consistency).
            return Ok(MoverState::Running);
        };
        if task.last_status() != Some("STOPPED") {
            return Ok(MoverState::Running);
        }
        let exit_code = task
            .containers()
            .iter()
            .find(|c| c.name() == Some(MOVER_CONTAINER))
            .and_then(|c| c.exit_code());
        Ok(MoverState::Stopped {
            exit_code,
            reason: task.stopped_reason().map(str::to_owned),
        })
    }

    async fn tag_hold(&self, value: String) -> Result<()> {
        self.platform.tag_service(&[(RESTORE_TAG, value)]).await
    }

    async fn hold(&self) -> Result<Option<String>> {
        let service = self.platform.describe_service().await?;
        Ok(restore_hold(&service.tags).map(str::to_owned))
    }

    fn now(&self) -> DateTime<Utc> {
        Platform::now(&self.platform)
    }
}
