//! AWS Backup's REST-JSON protocol over the simulated vault, and ECS's `RunTask` and
//! `DescribeTasks` for one-off tasks: what `restore` calls.
//!
//! - `GET /resources/{resourceArn}/recovery-points` (ListRecoveryPointsByResource),
//! - `GET /backup-vaults/{vault}/recovery-points/{arn}/restore-metadata`,
//! - `PUT /restore-jobs` (StartRestoreJob) and `GET /restore-jobs/{id}` (DescribeRestoreJob),
//!
//! ARNs percent-encoded in the path as the SDK sends them, timestamps in epoch seconds,
//! errors with `x-amzn-ErrorType` and a JSON `Message`.

use super::{epoch, percent_decoded, rest_json_error as error};
use crate::backup::{JobSeen, OneOffRun, RestoreJobRecord, SimJob, SimRun};
use crate::ecs::SimulatedEcs;
use crate::events::{ACCOUNT, REGION};
use crate::model::{CallFault, Model};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use wiremock::{Request, Respond, ResponseTemplate};

#[derive(Debug)]
pub(super) struct BackupWire {
    pub ecs: SimulatedEcs,
    pub delay: Duration,
}

fn fault(f: CallFault, action: &str) -> ResponseTemplate {
    match f {
        CallFault::Throttled => error(429, "ThrottlingException", "Rate exceeded"),
        CallFault::AccessDenied => error(
            403,
            "AccessDeniedException",
            &format!(
                "User: arn:aws:sts::123456789012:assumed-role/operator/cli is not authorized to perform: {action}"
            ),
        ),
        CallFault::ResourceNotFound(m) => error(400, "ResourceNotFoundException", &m),
        CallFault::InvalidParameter(m) => error(400, "InvalidParameterValueException", &m),
        other => error(400, "InvalidParameterValueException", &format!("{other:?}")),
    }
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("x-amzn-RequestId", "8a4b5c6d-7e8f-4a9b-0c1d-2e3f4a5b6c7d")
        .set_body_raw(body.to_string(), "application/json")
}

fn vault_arn(vault: &str) -> String {
    format!("arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:{vault}")
}

impl BackupWire {
    fn answer(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (request.method.as_str(), parts.as_slice()) {
            ("GET", ["resources", arn, "recovery-points"]) => {
                self.recovery_points(&percent_decoded(arn))
            }
            (
                "GET",
                [
                    "backup-vaults",
                    vault,
                    "recovery-points",
                    arn,
                    "restore-metadata",
                ],
            ) => self.restore_metadata(&percent_decoded(vault), &percent_decoded(arn)),
            ("PUT", ["restore-jobs"]) => self.start_restore_job(&request.body),
            ("GET", ["restore-jobs", id]) => self.describe_restore_job(&percent_decoded(id)),
            (m, _) => error(
                400,
                "InvalidParameterValueException",
                &format!("{m} {path} is not simulated"),
            ),
        }
    }

    fn recovery_points(&self, resource: &str) -> ResponseTemplate {
        let listed = self
            .ecs
            .call("ListRecoveryPointsByResource", false, |m| {
                m.backup
                    .points
                    .iter()
                    .filter(|p| p.resource_arn == resource)
                    .map(|p| {
                        json!({
                            "RecoveryPointArn": p.arn,
                            "CreationDate": p.created.timestamp_millis() as f64 / 1000.0,
                            "Status": p.status,
                            "BackupSizeBytes": 1_048_576,
                            "BackupVaultName": p.vault,
                            "EncryptionKeyArn": format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/0a1b2c3d-aws-backup"),
                            "IsParent": false,
                        })
                    })
                    .collect::<Vec<Value>>()
            });
        match listed {
            Ok(points) => ok(json!({ "RecoveryPoints": points })),
            Err(f) => fault(f, "backup:ListRecoveryPointsByResource"),
        }
    }

    fn restore_metadata(&self, vault: &str, arn: &str) -> ResponseTemplate {
        let found = self
            .ecs
            .call("GetRecoveryPointRestoreMetadata", false, |m| {
                m.backup
                    .points
                    .iter()
                    .find(|p| p.arn == arn && p.vault == vault)
                    .map(|p| p.resource_arn.clone())
            });
        match found {
            Ok(Some(resource)) => {
                let fs = resource.rsplit('/').next().unwrap_or_default().to_owned();
                ok(json!({
                    "BackupVaultArn": vault_arn(vault),
                    "RecoveryPointArn": arn,
                    "ResourceType": "EFS",
                    "RestoreMetadata": {
                        "file-system-id": fs,
                        "Encrypted": "true",
                        "KmsKeyId": format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/0a1b2c3d-aws-elasticfilesystem"),
                        "PerformanceMode": "generalPurpose",
                        "CreationToken": "grafana-data",
                        "newFileSystem": "true",
                    }
                }))
            }
            Ok(None) => error(
                400,
                "ResourceNotFoundException",
                &format!("Recovery point {arn} not found in vault {vault}"),
            ),
            Err(f) => fault(f, "backup:GetRecoveryPointRestoreMetadata"),
        }
    }

    fn start_restore_job(&self, body: &[u8]) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(body).unwrap_or_default();
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let (Some(point), Some(role)) = (text("RecoveryPointArn"), text("IamRoleArn")) else {
            return error(
                400,
                "MissingParameterValueException",
                "RecoveryPointArn and IamRoleArn are required",
            );
        };
        let metadata: BTreeMap<String, String> = body
            .get("Metadata")
            .and_then(Value::as_object)
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        // What AWS Backup checks for an EFS restore into an existing file system.
        if metadata.get("newFileSystem").map(String::as_str) == Some("false")
            && !metadata.contains_key("file-system-id")
        {
            return error(
                400,
                "InvalidParameterValueException",
                "file-system-id is required when newFileSystem is false",
            );
        }
        if let Some(items) = metadata.get("ItemsToRestore") {
            let paths: Option<Vec<String>> = serde_json::from_str(items).ok();
            if !paths.is_some_and(|p| !p.is_empty() && p.iter().all(|p| p.starts_with('/'))) {
                return error(
                    400,
                    "InvalidParameterValueException",
                    "ItemsToRestore must be a JSON list of paths from the file system's root",
                );
            }
        }
        if !role.starts_with("arn:aws:iam::") || !role.contains(":role/") {
            return error(
                400,
                "InvalidParameterValueException",
                &format!("Invalid IAM role ARN: {role}"),
            );
        }
        let started = self.ecs.call("StartRestoreJob", false, |m: &mut Model| {
            if !m.backup.points.iter().any(|p| p.arn == point) {
                return None;
            }
            let id = format!("{:08X}-0A1B-4C2D-8E3F-{:012X}", m.backup.jobs.len(), 0x5EED);
            let fails_with = m.backup.fail_next_job.take();
            m.backup.jobs.push(SimJob {
                record: RestoreJobRecord {
                    id: id.clone(),
                    recovery_point: point.clone(),
                    role: role.clone(),
                    metadata: metadata.clone(),
                },
                started: m.now,
                fails_with,
            });
            Some(id)
        });
        match started {
            Ok(Some(id)) => ok(json!({ "RestoreJobId": id })),
            Ok(None) => error(
                400,
                "ResourceNotFoundException",
                &format!("Recovery point {point} not found"),
            ),
            Err(f) => fault(f, "backup:StartRestoreJob"),
        }
    }

    fn describe_restore_job(&self, id: &str) -> ResponseTemplate {
        let seen = self.ecs.call("DescribeRestoreJob", false, |m| {
            let seen = m.backup.job(id, m.now)?;
            let job = m.backup.jobs.iter().find(|j| j.record.id == id)?;
            Some((seen, job.record.clone(), m.wall(job.started)))
        });
        let (seen, record, created) = match seen {
            Ok(Some(found)) => found,
            Ok(None) => {
                return error(
                    400,
                    "ResourceNotFoundException",
                    &format!("Restore job {id} not found"),
                );
            }
            Err(f) => return fault(f, "backup:DescribeRestoreJob"),
        };
        let fs = record
            .metadata
            .get("file-system-id")
            .cloned()
            .unwrap_or_default();
        let mut answer = json!({
            "AccountId": ACCOUNT,
            "RestoreJobId": id,
            "RecoveryPointArn": record.recovery_point,
            "IamRoleArn": record.role,
            "ResourceType": "EFS",
            "CreationDate": epoch(Some(created)),
            "BackupSizeInBytes": 1_048_576,
        });
        let (status, percent, message, done) = match seen {
            JobSeen::Running(p) => ("RUNNING", format!("{p}.00%"), None, false),
            JobSeen::Completed => ("COMPLETED", "100.00%".to_owned(), None, true),
            JobSeen::Failed(reason) => ("FAILED", "0.00%".to_owned(), Some(reason), true),
        };
        if let Some(obj) = answer.as_object_mut() {
            obj.insert("Status".into(), json!(status));
            obj.insert("PercentDone".into(), json!(percent));
            if let Some(message) = message {
                obj.insert("StatusMessage".into(), json!(message));
            }
            if done {
                obj.insert(
                    "CreatedResourceArn".into(),
                    json!(format!(
                        "arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/{fs}"
                    )),
                );
            }
        }
        ok(answer)
    }
}

impl Respond for BackupWire {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.answer(request).set_delay(self.delay)
    }
}

// ---- ECS one-off tasks -----------------------------------------------------------------

/// ECS RunTask of the restore's task definition (`<service>-restore`, by family or ARN),
/// refused as ECS refuses it without a network configuration on Fargate.
pub(super) fn run_task(ecs: &SimulatedEcs, body: &Value) -> Result<Value, Refusal> {
    let invalid = |m: &str| Refusal::Refused("InvalidParameterException".to_owned(), m.to_owned());
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let Some(definition) = text("taskDefinition") else {
        return Err(invalid("taskDefinition can not be blank."));
    };
    let vpc = body
        .get("networkConfiguration")
        .and_then(|n| n.get("awsvpcConfiguration"));
    let list = |v: Option<&Value>, k: &str| -> Vec<String> {
        v.and_then(|v| v.get(k))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let subnets = list(vpc, "subnets");
    if subnets.is_empty() {
        return Err(invalid(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
        ));
    }
    let environment: Vec<(String, String, String)> = body
        .get("overrides")
        .and_then(|o| o.get("containerOverrides"))
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .flat_map(|c| {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                    c.get("environment")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(move |e| {
                            Some((
                                name.to_owned(),
                                e.get("name")?.as_str()?.to_owned(),
                                e.get("value")?.as_str()?.to_owned(),
                            ))
                        })
                })
                .collect()
        })
        .unwrap_or_default();
    let ran = ecs.call("RunTask", false, |m: &mut Model| {
        let family = format!("{}-restore", m.service);
        let known = definition == family
            || definition.starts_with(&format!("{family}:"))
            || definition.contains(&format!(":task-definition/{family}:"));
        if !known {
            return Err(Refusal::Refused(
                "ClientException".to_owned(),
                "Unable to find task definition.".to_owned(),
            ));
        }
        let arn = format!(
            "arn:aws:ecs:{REGION}:{ACCOUNT}:task/{}/{:032x}",
            m.cluster,
            0xfeed_0000_u64 + m.backup.runs.len() as u64
        );
        let run = OneOffRun {
            arn: arn.clone(),
            task_definition: definition.clone(),
            started_by: body
                .get("startedBy")
                .and_then(Value::as_str)
                .map(str::to_owned),
            launch_type: body
                .get("launchType")
                .and_then(Value::as_str)
                .map(str::to_owned),
            subnets: subnets.clone(),
            security_groups: list(vpc, "securityGroups"),
            assign_public_ip: vpc
                .and_then(|v| v.get("assignPublicIp"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            environment: environment.clone(),
        };
        let sim = SimRun {
            run,
            started: m.now,
            exit_code: m.backup.run_exit_code,
            duration: m.backup.run_duration,
        };
        let json = one_off_json(m, &sim, None);
        m.backup.runs.push(sim);
        Ok(json)
    });
    match ran {
        Ok(Ok(task)) => Ok(json!({"tasks": [task], "failures": []})),
        Ok(Err(e)) => Err(e),
        Err(f) => Err(Refusal::Fault(f)),
    }
}

/// Why RunTask was refused: a fault injected in the model, or ECS's own check.
#[derive(Debug)]
pub(super) enum Refusal {
    Fault(CallFault),
    /// The error's type and message.
    Refused(String, String),
}

/// The one-off tasks among `arns`, as DescribeTasks describes them; `None` when `arns` are
/// not all one-off tasks (the service's own are answered by the model).
pub(super) fn describe_one_offs(ecs: &SimulatedEcs, arns: &[String]) -> Option<Value> {
    let m = ecs.model();
    let tasks: Vec<Value> = arns
        .iter()
        .map(|a| {
            let (run, exit) = m.backup.run(a, m.now)?;
            Some(one_off_json(&m, run, exit))
        })
        .collect::<Option<_>>()?;
    Some(json!({"tasks": tasks, "failures": []}))
}

fn one_off_json(m: &Model, sim: &SimRun, exit: Option<i32>) -> Value {
    let status = if exit.is_some() { "STOPPED" } else { "RUNNING" };
    let mut container = json!({
        "name": crate::backup::MOVER_CONTAINER,
        "lastStatus": status,
        "image": "public.ecr.aws/docker/library/busybox:stable",
    });
    let mut task = json!({
        "taskArn": sim.run.arn,
        "clusterArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{}", m.cluster),
        "taskDefinitionArn": sim.run.task_definition,
        "lastStatus": status,
        "desiredStatus": if exit.is_some() { "STOPPED" } else { "RUNNING" },
        "launchType": "FARGATE",
        "group": format!("family:{}-restore", m.service),
        "createdAt": epoch(Some(m.wall(sim.started))),
    });
    if let Some(started_by) = &sim.run.started_by
        && let Some(obj) = task.as_object_mut()
    {
        obj.insert("startedBy".into(), json!(started_by));
    }
    if let Some(code) = exit {
        if let Some(obj) = container.as_object_mut() {
            obj.insert("exitCode".into(), json!(code));
        }
        if let Some(obj) = task.as_object_mut() {
            obj.insert("stopCode".into(), json!("EssentialContainerExited"));
            obj.insert(
                "stoppedReason".into(),
                json!("Essential container in task exited"),
            );
            obj.insert(
                "stoppedAt".into(),
                epoch(Some(m.wall(sim.started + sim.duration))),
            );
        }
    }
    if let Some(obj) = task.as_object_mut() {
        obj.insert("containers".into(), json!([container]));
    }
    task
}
