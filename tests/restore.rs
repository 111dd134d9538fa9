//! `restore`: the CLI on the AWS backend over the wire stub (AWS Backup's REST-JSON, ECS's
//! RunTask and DescribeTasks in AWS's shapes), and the module's `restore.sh` on a directory
//! laid out as AWS Backup leaves a file system.

use crate::support::command;
use crate::support::text;
use grafana_ondemand::RESTORE_TAG;
use grafana_ondemand::mock::wire::WireStub;
use grafana_ondemand::mock::{SimulatedEcs, Timing};
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

const FILE_SYSTEM: &str =
    "arn:aws:elasticfilesystem:eu-west-3:123456789012:file-system/fs-0123456789abcdef0";
const ROLE: &str = "arn:aws:iam::123456789012:role/grafana-ondemand-bkrestore-0123";
const VAULT: &str = "aws/efs/automatic-backup-vault";

/// The CLI on the AWS backend, pointed at the stub, with `env` and the module's restore flags.
pub(crate) async fn run_cli(stub: &WireStub, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = command("cli");
    c.args(args)
        .args([
            "--backend",
            "aws",
            "--region",
            "eu-west-3",
            "--cluster",
            "ondemand",
            "--service",
            "grafana",
        ])
        .env("RESTORE_FILE_SYSTEM_ARN", FILE_SYSTEM)
        .env("RESTORE_BACKUP_ROLE_ARN", ROLE)
        .env("RESTORE_TASK_DEFINITION", "grafana-restore")
        .env("AWS_ENDPOINT_URL", stub.uri())
        .env(
            "AWS_ACCESS_KEY_ID",
            grafana_ondemand_mock::wire::sigv4::ACCESS_KEY_ID,
        )
        .env(
            "AWS_SECRET_ACCESS_KEY",
            grafana_ondemand_mock::wire::sigv4::SECRET_ACCESS_KEY,
        )
        .envs(env.iter().copied());
    tokio::task::spawn_blocking(move || c.output().expect("cli runs"))
        .await
        .expect("joined")
}

async fn cli(stub: &WireStub, args: &[&str]) -> Output {
    run_cli(stub, args, &[]).await
}

fn hold(ecs: &SimulatedEcs) -> String {
    ecs.tags().get(RESTORE_TAG).cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_lists_backups_and_puts_one_back_only_while_grafana_is_stopped() {
    let ecs = SimulatedEcs::named("ondemand", "grafana", Timing::fargate().scaled(0.02));
    ecs.set_restore_timing(Duration::from_secs(3), Duration::from_secs(2), 0);
    let stub = WireStub::start(ecs.clone()).await;
    let now = ecs.now();
    let day = chrono::Duration::days(1);
    let older = ecs.add_recovery_point(FILE_SYSTEM, VAULT, now - day * 2, "COMPLETED");
    let newest = ecs.add_recovery_point(FILE_SYSTEM, VAULT, now - day, "COMPLETED");
    let partial = ecs.add_recovery_point(FILE_SYSTEM, VAULT, now - day * 3, "PARTIAL");

    // Without --from: the recovery points, newest first.
    let out = cli(&stub, &["restore"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(
        listed[0].ends_with(&newest) && listed[0].contains("COMPLETED"),
        "{listed:?}"
    );
    assert!(listed[1].ends_with(&older) && listed[2].ends_with(&partial));
    assert!(text(&out.stderr).contains("restore --from <ARN>"));
    let out = cli(&stub, &["restore", "--json"]).await;
    let points: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(points[0]["recoveryPointArn"], newest.as_str());
    assert_eq!(points[0]["vault"], VAULT);

    // Grafana asked for: refused, and nothing started or held.
    let out = cli(&stub, &["start"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = cli(&stub, &["restore", "--from", &newest]).await;
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out.stderr);
    assert!(said.contains("stop it first"), "{said}");
    assert!(ecs.restore_jobs().is_empty() && ecs.one_off_runs().is_empty());
    assert_eq!(hold(&ecs), "");
    let out = cli(&stub, &["stop", "--wait", "--timeout", "60s"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // A point that is not whole, or not this file system's: refused with what to do.
    let out = cli(&stub, &["restore", "--from", &partial]).await;
    assert!(text(&out.stderr).contains("PARTIAL, not COMPLETED"));
    let out = cli(
        &stub,
        &[
            "restore",
            "--from",
            "arn:aws:backup:eu-west-3:123456789012:recovery-point:other",
        ],
    )
    .await;
    assert!(text(&out.stderr).contains("without --from lists them"));

    // Stopped: restored, then moved into place by the one-off task.
    let out = cli(&stub, &["restore", "--from", &newest, "--poll", "1s"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    for step in [
        "held (starts are refused)",
        "restore job",
        "restoring: ",
        "moving it into place",
        "the moving task",
    ] {
        assert!(said.contains(step), "{step}: {said}");
    }
    let printed = text(&out.stdout);
    assert!(printed.contains("Grafana can start now"), "{printed}");
    let jobs = ecs.restore_jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].recovery_point.as_str(), jobs[0].role.as_str()),
        (newest.as_str(), ROLE)
    );
    let meta = &jobs[0].metadata;
    assert_eq!(meta["file-system-id"], "fs-0123456789abcdef0");
    assert_eq!(meta["newFileSystem"], "false", "into the same file system");
    assert_eq!(meta["ItemsToRestore"], r#"["/grafana"]"#);
    assert_eq!(
        meta["PerformanceMode"], "generalPurpose",
        "the point's own metadata kept"
    );
    let runs = ecs.one_off_runs();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.task_definition, "grafana-restore");
    assert_eq!(run.launch_type.as_deref(), Some("FARGATE"));
    assert_eq!(
        run.subnets,
        ["subnet-0a1b2c3d4e5f60718"],
        "the service's subnets"
    );
    assert_eq!(run.security_groups, ["sg-0123456789abcdef0"]);
    assert_eq!(run.assign_public_ip.as_deref(), Some("ENABLED"));
    let aside = &run.environment[0];
    assert_eq!((aside.0.as_str(), aside.1.as_str()), ("restore", "ASIDE"));
    assert!(
        aside.2.starts_with("replaced-") && printed.contains(&format!("/{}", aside.2)),
        "{printed}"
    );
    assert!(hold(&ecs).starts_with("released "), "{}", hold(&ecs));

    // A move that fails keeps Grafana held: a start is refused, saying why; --release ends
    // the hold.
    ecs.set_restore_timing(Duration::from_secs(1), Duration::from_secs(1), 4);
    let out = cli(&stub, &["restore", "--from", &older, "--poll", "1s"]).await;
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out.stderr);
    assert!(
        said.contains("exited 4") && said.contains("no `grafana` directory"),
        "{said}"
    );
    assert!(
        said.contains("restore --job") && said.contains("restore --release"),
        "{said}"
    );
    assert!(hold(&ecs).starts_with("since "));
    let out = cli(&stub, &["start"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("being restored from a backup"),
        "{}",
        text(&out.stderr)
    );
    let out = cli(&stub, &["status"]).await;
    assert!(
        text(&out.stdout).contains("starts are refused until the restore is done"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(ecs.desired_count(), 0);
    let out = cli(&stub, &["restore", "--release"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = cli(&stub, &["start"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(ecs.desired_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_restore_job_lets_grafana_start_and_a_missing_flag_says_which_output() {
    let ecs = SimulatedEcs::named("ondemand", "grafana", Timing::fargate().scaled(0.02));
    ecs.set_restore_timing(Duration::from_secs(1), Duration::from_secs(1), 0);
    let stub = WireStub::start(ecs.clone()).await;
    let point = ecs.add_recovery_point(
        FILE_SYSTEM,
        VAULT,
        ecs.now() - chrono::Duration::hours(3),
        "COMPLETED",
    );
    ecs.fail_next_restore("Access denied to the KMS key");
    let out = cli(&stub, &["restore", "--from", &point, "--poll", "1s"]).await;
    assert_eq!(out.status.code(), Some(1));
    let said = text(&out.stderr);
    assert!(
        said.contains("failed: Access denied to the KMS key") && said.contains("was not changed"),
        "{said}"
    );
    assert!(ecs.one_off_runs().is_empty(), "nothing moved");
    assert!(hold(&ecs).starts_with("released "), "Grafana may start");

    let mut c = command("cli");
    c.args([
        "restore",
        "--backend",
        "aws",
        "--cluster",
        "ondemand",
        "--service",
        "grafana",
    ]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("efs_file_system_arn")
            && text(&out.stderr).contains("restore_flags"),
        "{}",
        text(&out.stderr)
    );
    let out = command("cli")
        .args(["restore", "--backend", "simulated"])
        .output()
        .unwrap();
    assert!(
        text(&out.stderr).contains("keeps no backups"),
        "{}",
        text(&out.stderr)
    );
}

/// The task's script, run as the task runs it (`sh -c <script>`), on a directory laid out
/// as AWS Backup leaves the file system.
fn mover(root: &Path, aside: &str) -> Output {
    let script = std::fs::read_to_string(
        crate::support::root().join("infra/modules/grafana_on_demand/restore.sh"),
    )
    .expect("restore.sh");
    std::process::Command::new("sh")
        .args(["-c", &script])
        .env("DATA_ROOT", root)
        .env("ASIDE", aside)
        .output()
        .expect("sh runs")
}

#[test]
fn the_module_s_mover_swaps_the_restored_directory_in_and_keeps_the_old_one() {
    let root = std::env::temp_dir().join(format!("restore-{}", std::process::id()));
    std::fs::remove_dir_all(&root).ok();
    let write = |path: &str, body: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    };
    // Nothing restored yet: exit 3, nothing touched.
    write("grafana/grafana.db", "today");
    assert_eq!(mover(&root, "replaced-1").status.code(), Some(3));
    // A restore without Grafana's directory: exit 4.
    write(
        "aws-backup-restore_2026-12-01T03-00-00-000Z/other/file",
        "x",
    );
    assert_eq!(mover(&root, "replaced-1").status.code(), Some(4));
    std::fs::remove_dir_all(root.join("aws-backup-restore_2026-12-01T03-00-00-000Z")).unwrap();
    // Two restores: the newest is moved in, the replaced data kept aside.
    write(
        "aws-backup-restore_2026-12-01T03-00-00-000Z/grafana/grafana.db",
        "older",
    );
    write(
        "aws-backup-restore_2026-12-05T03-00-00-000Z/grafana/grafana.db",
        "yesterday",
    );
    write(
        "aws-backup-restore_2026-12-05T03-00-00-000Z/grafana/plugins/p/x",
        "plugin",
    );
    let out = mover(&root, "replaced-2");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    assert_eq!(read("grafana/grafana.db"), "yesterday");
    assert_eq!(read("grafana/plugins/p/x"), "plugin");
    assert_eq!(read("replaced-2/grafana/grafana.db"), "today");
    assert!(
        !root
            .join("aws-backup-restore_2026-12-05T03-00-00-000Z")
            .exists()
    );
    assert!(text(&out.stdout).contains("/replaced-2/grafana"));
    // The same aside twice: exit 5, nothing moved.
    let out = mover(&root, "replaced-2");
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(read("grafana/grafana.db"), "yesterday");
    std::fs::remove_dir_all(&root).ok();
}
