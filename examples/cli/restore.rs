//! `restore`: lists Grafana's recovery points, or puts one back, on AWS only.

use grafana_ondemand::aws::{BackupRestore, Builder, RestoreSettings};
use grafana_ondemand::{
    Error, RecoveryPoint, Restore, RestoreLimits, RestorePlatform, Result, ServiceProfile, Step,
};
use std::time::Duration;

/// What `restore` was asked, from its flags.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The recovery point to put back (its ARN, as `restore` lists them).
    #[arg(long = "from")]
    from: Option<String>,
    /// Go on with a restore job started earlier (after a time-out or a failed move).
    #[arg(long, conflicts_with = "from")]
    job: Option<String>,
    /// End an abandoned restore's hold, so that Grafana may start as its data is.
    #[arg(long, conflicts_with_all = ["from", "job"])]
    release: bool,
    /// Grafana's EFS file system ARN (the module's output `efs_file_system_arn`).
    #[arg(long, env = "RESTORE_FILE_SYSTEM_ARN")]
    file_system: Option<String>,
    /// The role AWS Backup restores with (the module's output `backup_restore_role_arn`).
    #[arg(long, env = "RESTORE_BACKUP_ROLE_ARN")]
    backup_role: Option<String>,
    /// The one-off task that moves the restored files into place (the module's output
    /// `restore_task_definition`).
    #[arg(long, env = "RESTORE_TASK_DEFINITION")]
    task_definition: Option<String>,
    /// How long to wait for AWS Backup's restore job.
    #[arg(long, default_value = "2h", value_parser = super::parse_duration)]
    timeout: Duration,
    /// How often to look at the restore job and the task.
    #[arg(long, default_value = "15s", value_parser = super::parse_duration)]
    poll: Duration,
}

fn missing(flag: &str, output: &str) -> Error {
    Error::invalid_config(
        format!("--{flag}"),
        format!(
            "is not set: `terraform output -raw restore_flags` gives every flag, or set it to the module's output {output}"
        ),
    )
}

/// Runs `restore` against the AWS service `cluster`/`service`.
pub async fn run(
    args: RestoreArgs,
    cluster: String,
    service: String,
    region: Option<String>,
    json: bool,
) -> Result<u8> {
    let settings = RestoreSettings {
        file_system_arn: args
            .file_system
            .ok_or_else(|| missing("file-system", "efs_file_system_arn"))?,
        backup_role_arn: args
            .backup_role
            .ok_or_else(|| missing("backup-role", "backup_restore_role_arn"))?,
        task_definition: args
            .task_definition
            .ok_or_else(|| missing("task-definition", "restore_task_definition"))?,
    };
    let mut builder = Builder::new()
        .cluster(cluster)
        .service(service)
        .profile(ServiceProfile::from_env()?);
    if let Some(region) = region {
        builder = builder.region(region);
    }
    let (controller, platform) = builder.build_restore(settings).await?;
    let restore = Restore::new(
        &controller,
        &platform,
        RestoreLimits {
            job: args.timeout,
            poll: args.poll,
            ..RestoreLimits::default()
        },
    );
    if args.release {
        restore.release().await?;
        println!("released: Grafana may start again, with its data as it is now");
        return Ok(0);
    }
    let mut last_percent = None;
    let mut say = |step: Step| match step {
        Step::Held => {
            eprintln!("Grafana is stopped: held (starts are refused) until the restore ends")
        }
        Step::JobStarted(job) => eprintln!("AWS Backup's restore job {job} started"),
        Step::JobRunning(percent) => {
            if percent != last_percent {
                eprintln!("restoring: {}", percent.as_deref().unwrap_or("under way"));
                last_percent = percent;
            }
        }
        Step::JobCompleted => {
            eprintln!("restored beside Grafana's data; moving it into place")
        }
        Step::MoverStarted(task) => eprintln!("the moving task {task} started"),
    };
    let done = match (args.from, args.job) {
        (Some(point), _) => restore.run(&point, &mut say).await?,
        (None, Some(job)) => restore.finish(&job, &mut say).await?,
        (None, None) => return list(&platform, json).await,
    };
    println!(
        "restored (job {}): Grafana's data is the recovery point's; the data it replaced is kept in /{} on the file system. Grafana can start now (`start`).",
        done.job, done.aside
    );
    Ok(0)
}

async fn list(platform: &BackupRestore, json: bool) -> Result<u8> {
    let points = platform.recovery_points().await?;
    if json {
        let list: Vec<serde_json::Value> = points.iter().map(point_json).collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(0);
    }
    if points.is_empty() {
        println!(
            "no recovery point of Grafana's file system yet: AWS Backup takes the first within a day of efs_backup = true"
        );
        return Ok(0);
    }
    for p in &points {
        println!(
            "{}  {:<9}  {:>9}  {}",
            p.created
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|| "(no date)".into()),
            p.status,
            p.size_bytes.map(size).unwrap_or_default(),
            p.arn
        );
    }
    eprintln!("put one back (Grafana stopped): restore --from <ARN>, with the same flags");
    Ok(0)
}

fn point_json(p: &RecoveryPoint) -> serde_json::Value {
    serde_json::json!({
        "recoveryPointArn": p.arn,
        "vault": p.vault,
        "created": p.created,
        "status": p.status,
        "sizeBytes": p.size_bytes,
    })
}

fn size(bytes: i64) -> String {
    let mb = bytes as f64 / 1_048_576.0;
    if mb < 1024.0 {
        format!("{mb:.1} MB")
    } else {
        format!("{:.1} GB", mb / 1024.0)
    }
}
