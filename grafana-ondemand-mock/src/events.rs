//! What EventBridge delivers from the simulated ECS: an "ECS Task State Change" event for
//! every phase a task enters, and an "ECS Service Action" event for every placement failure,
//! in the shapes AWS documents (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html>).

use crate::model::{Model, SimTask};
use grafana_ondemand_core::TaskPhase;
use serde_json::{Value, json};

/// The account and region the simulated resources live in.
pub(crate) const ACCOUNT: &str = "123456789012";
/// See [`ACCOUNT`].
pub(crate) const REGION: &str = "eu-west-3";

/// The container every simulated task runs.
const CONTAINER: &str = "grafana";

impl Model {
    /// The events not delivered yet, oldest first, and marks them delivered.
    pub fn take_events(&mut self) -> Vec<Value> {
        let mut due: Vec<(tokio::time::Instant, Value)> = Vec::new();
        for task in &self.tasks {
            let done = self.delivered.0.get(&task.arn).copied().unwrap_or(0);
            for (i, (at, phase)) in task.history.iter().enumerate().skip(done) {
                due.push((*at, self.task_event(task, i + 1, *at, phase)));
            }
        }
        for task in &self.tasks {
            self.delivered
                .0
                .insert(task.arn.clone(), task.history.len());
        }
        for (at, reason) in self.placement_failures.iter().skip(self.delivered.1) {
            due.push((*at, self.placement_event(*at, reason)));
        }
        self.delivered.1 = self.placement_failures.len();
        due.sort_by_key(|(at, _)| *at);
        due.into_iter().map(|(_, e)| e).collect()
    }

    fn envelope(
        &self,
        n: usize,
        detail_type: &str,
        at: tokio::time::Instant,
        resource: String,
        detail: Value,
    ) -> Value {
        json!({
            "version": "0",
            "id": format!("6a7e4feb-b491-4cf7-a9f1-{:012x}", n),
            "detail-type": detail_type,
            "source": "aws.ecs",
            "account": ACCOUNT,
            "time": self.wall(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "region": REGION,
            "resources": [resource],
            "detail": detail,
        })
    }

    fn task_event(
        &self,
        task: &SimTask,
        version: usize,
        at: tokio::time::Instant,
        phase: &TaskPhase,
    ) -> Value {
        let stopping = matches!(
            phase,
            TaskPhase::Deactivating
                | TaskPhase::Stopping
                | TaskPhase::Deprovisioning
                | TaskPhase::Stopped
        );
        let wall = |i: Option<tokio::time::Instant>| {
            i.filter(|i| *i <= at).map(|i| {
                Value::String(
                    self.wall(i)
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                )
            })
        };
        let mut container = json!({
            "containerArn": format!("{}/{CONTAINER}", task.arn.replace(":task/", ":container/")),
            "lastStatus": match phase { TaskPhase::Running => "RUNNING", TaskPhase::Stopped => "STOPPED", _ => "PENDING" },
            "name": CONTAINER,
            "image": "grafana/grafana-oss:12.3.0",
            "taskArn": task.arn,
            "networkInterfaces": [{"attachmentId": task.eni_id, "privateIpv4Address": task.private_ip.to_string()}],
            "cpu": "0",
        });
        let mut detail = json!({
            "attachments": [{
                "id": task.eni_id,
                "type": "eni",
                "status": if *phase == TaskPhase::Provisioning { "PRECREATED" } else if stopping { "DELETED" } else { "ATTACHED" },
                "details": [
                    {"name": "subnetId", "value": "subnet-0a1b2c3d"},
                    {"name": "networkInterfaceId", "value": task.eni_id},
                    {"name": "privateIPv4Address", "value": task.private_ip.to_string()},
                ],
            }],
            "availabilityZone": format!("{REGION}a"),
            "clusterArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{}", self.cluster),
            "containers": [],
            "createdAt": wall(Some(task.created)),
            "launchType": "FARGATE",
            "cpu": "256",
            "memory": "512",
            "desiredStatus": if stopping { "STOPPED" } else { "RUNNING" },
            "group": format!("service:{}", self.service),
            "lastStatus": phase.as_str(),
            "startedBy": task.deployment_id,
            "taskArn": task.arn,
            "taskDefinitionArn": task.task_definition,
            "updatedAt": wall(Some(at)),
            "version": version,
            "platformVersion": "1.4.0",
        });
        if let Some(started) = wall(task.started) {
            detail["startedAt"] = started;
        }
        if stopping {
            if let Some(code) = &task.stop_code {
                detail["stopCode"] = json!(code);
            }
            if let Some(reason) = &task.stopped_reason {
                detail["stoppedReason"] = json!(reason);
                if task.stop_code.as_deref() == Some("TaskFailedToStart") {
                    container["reason"] = json!(reason);
                }
            }
            if *phase == TaskPhase::Stopped {
                container["exitCode"] = json!(match task.stop_code.as_deref() {
                    Some("EssentialContainerExited") => 1,
                    _ => 0,
                });
                if let Some(stopped) = wall(task.stopped) {
                    detail["stoppedAt"] = stopped;
                }
            }
        }
        detail["containers"] = json!([container]);
        self.envelope(
            version,
            "ECS Task State Change",
            at,
            task.arn.clone(),
            detail,
        )
    }

    fn placement_event(&self, at: tokio::time::Instant, reason: &str) -> Value {
        let service_arn = format!(
            "arn:aws:ecs:{REGION}:{ACCOUNT}:service/{}/{}",
            self.cluster, self.service
        );
        self.envelope(
            self.placement_failures.len(),
            "ECS Service Action",
            at,
            service_arn,
            json!({
                "eventType": "WARN",
                "eventName": "SERVICE_TASK_PLACEMENT_FAILURE",
                "clusterArn": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{}", self.cluster),
                "capacityProviderArns": [],
                "reason": reason,
                "createdAt": self.wall(at).to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            }),
        )
    }
}

/// An EventBridge event fixture (a JSON file in AWS's documented shape) moved into the
/// world: every RFC 3339 instant shifted so that its `time` is `at` (the others keep their
/// distance to it), and, given `task_arn`, the fixture's task replaced by that task of the
/// world (its ARN and its id, in every field that names it). A fixture compared with a clock
/// as it was written would pass until its date and fail after it.
pub fn stamped_fixture(
    fixture: &Value,
    task_arn: Option<&str>,
    at: chrono::DateTime<chrono::Utc>,
) -> Value {
    let parse = |v: &str| {
        chrono::DateTime::parse_from_rfc3339(v)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let shift = fixture["time"]
        .as_str()
        .and_then(parse)
        .map_or(chrono::Duration::zero(), |written| at - written);
    let id = |arn: &str| arn.rsplit('/').next().unwrap_or(arn).to_owned();
    let swap = task_arn.and_then(|new| {
        let old = fixture["detail"]["taskArn"].as_str()?;
        Some((old.to_owned(), new.to_owned(), id(old), id(new)))
    });
    fn walk(v: &mut Value, f: &dyn Fn(&str) -> Option<String>) {
        match v {
            Value::String(s) => {
                if let Some(new) = f(s) {
                    *s = new;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, f)),
            Value::Object(fields) => fields.values_mut().for_each(|i| walk(i, f)),
            _ => {}
        }
    }
    let mut event = fixture.clone();
    walk(&mut event, &|s: &str| {
        if let Some(t) = parse(s) {
            return Some((t + shift).to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        }
        let (old_arn, new_arn, old_id, new_id) = swap.as_ref()?;
        (s.contains(old_id.as_str())).then(|| s.replace(old_arn, new_arn).replace(old_id, new_id))
    });
    event
}
