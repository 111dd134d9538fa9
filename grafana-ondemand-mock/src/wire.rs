//! The simulated ECS served over the real AWS wire protocols, with `wiremock`.
//!
//! ECS speaks JSON 1.1 (`POST /`, `X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Op>`,
//! errors as `{"__type": ..., "message": ...}` with `x-amzn-ErrorType`), and so does CloudWatch
//! Logs (`X-Amz-Target: Logs_20140328.FilterLogEvents`); EC2 speaks the query
//! protocol (form-encoded `Action=DescribeNetworkInterfaces`, XML answers, `<Response><Errors>`
//! errors); Route 53 speaks REST-XML (`/2013-04-01/hostedzone/{id}/rrset`). Answers are written in the shape AWS documents and returns, field by field, from
//! the model's state — not with the SDK's serializers — so the real SDK clients can be pointed
//! at [`WireStub::uri`] (`endpoint_url`, or `AWS_ENDPOINT_URL`).

mod backup;
mod iam;
mod kvs;
mod route53;
pub mod sigv4;

use crate::ecs::SimulatedEcs;
use crate::model::{CallFault, Model};
use grafana_ondemand_core::{DesiredStatus, ServiceSnapshot, TaskSnapshot};
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::{body_string_contains, header_exists, method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::events::{ACCOUNT, REGION};

/// A running HTTP server that answers ECS and EC2 calls from a [`SimulatedEcs`].
#[derive(Debug)]
pub struct WireStub {
    server: MockServer,
    ecs: SimulatedEcs,
    roles: iam::RolePolicies,
}

impl WireStub {
    /// Starts a stub that answers at once.
    pub async fn start(ecs: SimulatedEcs) -> WireStub {
        WireStub::with_delay(ecs, Duration::ZERO).await
    }

    /// Starts a stub that waits `delay` before each answer (a stand-in for the round trip).
    pub async fn with_delay(ecs: SimulatedEcs, delay: Duration) -> WireStub {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(header_exists("x-amz-target"))
            .respond_with(EcsWire {
                ecs: ecs.clone(),
                delay,
            })
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(body_string_contains("Action=DescribeNetworkInterfaces"))
            .respond_with(Ec2Wire {
                ecs: ecs.clone(),
                delay,
            })
            .mount(&server)
            .await;
        Mock::given(path_regex(
            "^/2013-04-01/(hostedzone/[^/]+/rrset/?|change/[A-Za-z0-9]+)$",
        ))
        .respond_with(route53::Route53Wire {
            ecs: ecs.clone(),
            delay,
        })
        .mount(&server)
        .await;
        Mock::given(path_regex("^/key-value-stores/[^/]+(/keys/[^/]+)?$"))
            .respond_with(kvs::KvsWire {
                ecs: ecs.clone(),
                delay,
            })
            .mount(&server)
            .await;
        Mock::given(path_regex(
            "^/(resources/[^/]+/recovery-points/?|backup-vaults/[^/]+/recovery-points/[^/]+/restore-metadata|restore-jobs(/[^/]+)?)$",
        ))
        .respond_with(backup::BackupWire {
            ecs: ecs.clone(),
            delay,
        })
        .mount(&server)
        .await;
        let roles = iam::RolePolicies::default();
        roles.lock().unwrap_or_else(|p| p.into_inner()).insert(
            iam::ECS_SERVICE_LINKED_ROLE.into(),
            serde_json::json!({"Version": "2012-10-17", "Statement": []}),
        );
        Mock::given(method("POST"))
            .and(wiremock::matchers::body_string_contains(
                "Version=2010-05-08",
            ))
            .respond_with(iam::IamWire {
                ecs: ecs.clone(),
                policies: roles.clone(),
                delay,
            })
            .mount(&server)
            .await;
        WireStub { server, ecs, roles }
    }

    /// Gives the role `role_arn` this policy (a policy document's JSON), for
    /// `iam:SimulatePrincipalPolicy`; a role never given one does not exist.
    pub fn serve_role_policy(&self, role_arn: &str, policy: Value) {
        self.roles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(role_arn.to_owned(), policy);
    }

    /// Deletes the role named `name` (the last part of its ARN): ECS's service-linked role,
    /// `AWSServiceRoleForECS`, which the stub's account has until then.
    pub fn delete_role(&self, name: &str) {
        self.roles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|arn, _| arn.rsplit('/').next() != Some(name));
    }

    /// The base URL to point the SDK at.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// The wiremock server, to mount one-off answers (priority 1 wins over the model).
    pub fn server(&self) -> &MockServer {
        &self.server
    }

    /// Answers SNS Publish (query protocol) to `topic_arn` as SNS does, refusing what SNS
    /// refuses (a subject of 100 characters or more, or with a line break or a control
    /// character); the messages are in [`WireStub::server`]'s received requests.
    pub async fn serve_topic(&self, topic_arn: &str) {
        let encoded = topic_arn.replace(':', "%3A");
        Mock::given(method("POST"))
            .and(body_string_contains("Action=Publish"))
            .and(body_string_contains(format!("TopicArn={encoded}")))
            .respond_with(SnsWire)
            .mount(&self.server)
            .await;
    }

    /// The simulated ECS behind the stub.
    pub fn ecs(&self) -> &SimulatedEcs {
        &self.ecs
    }
}

fn epoch(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    // ECS JSON timestamps are epoch seconds with a fraction, like 1.700000000123E9.
    t.map(|t| json!(t.timestamp_millis() as f64 / 1000.0))
        .unwrap_or(Value::Null)
}

fn service_arn(m: &Model) -> String {
    format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:service/{}/{}",
        m.cluster, m.service
    )
}

fn cluster_arn(m: &Model) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{}", m.cluster)
}

/// Whether `given` names `name` (by name, or by an ARN ending in `/name`).
fn names(given: Option<&str>, name: &str) -> bool {
    given.is_some_and(|g| g == name || g.ends_with(&format!("/{name}")))
}

fn ecs_error(kind: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(400)
        .insert_header(
            "x-amzn-ErrorType",
            format!("{kind}:http://internal.amazon.com/coral/com.amazonaws.ecs/"),
        )
        .insert_header("x-amzn-RequestId", "9a1e4b6e-0c58-4b4a-9e2a-6f1d2c3b4a50")
        .set_body_raw(
            json!({"__type": kind, "message": message}).to_string(),
            "application/x-amz-json-1.1",
        )
}

/// A REST-JSON error as AWS's services send it: its type in `x-amzn-ErrorType` (what the SDK
/// reads), its type and message in the body.
fn rest_json_error(status: u16, kind: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-amzn-ErrorType", kind)
        .insert_header("x-amzn-RequestId", "5d1e2f3a-4b5c-4d6e-8f9a-0b1c2d3e4f5a")
        .set_body_raw(
            json!({ "Code": kind, "Message": message }).to_string(),
            "application/json",
        )
}

fn ecs_ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("x-amzn-RequestId", "3c5e2f0a-7b1d-4e2c-8a9f-0d1e2f3a4b5c")
        .set_body_raw(body.to_string(), "application/x-amz-json-1.1")
}

fn fault_response(fault: CallFault) -> ResponseTemplate {
    match fault {
        CallFault::Throttled => ecs_error("ThrottlingException", "Rate exceeded"),
        CallFault::ServiceNotFound => ecs_error("ServiceNotFoundException", "Service not found."),
        CallFault::AccessDenied => ecs_error(
            "AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/controller/fn is not authorized to perform this action",
        ),
        CallFault::InvalidParameter(message) => ecs_error("InvalidParameterException", &message),
        CallFault::ResourceNotFound(message) => ecs_error("ResourceNotFoundException", &message),
        CallFault::InvalidChangeBatch(message)
        | CallFault::Conflict(message)
        | CallFault::NoSuchHostedZone(message)
        | CallFault::NoSuchChange(message) => ecs_error("InvalidParameterException", &message),
    }
}

fn tags_json(s: &ServiceSnapshot) -> Value {
    Value::Array(
        s.tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

fn service_json(m: &Model, s: &ServiceSnapshot) -> Value {
    let deployments: Vec<Value> = s
        .deployments
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "status": if d.primary { "PRIMARY" } else { "ACTIVE" },
                "taskDefinition": d.task_definition,
                "desiredCount": if d.primary { s.desired_count } else { 0 },
                "pendingCount": 0,
                "runningCount": 0,
                "failedTasks": 0,
                "createdAt": epoch(d.created_at),
                "updatedAt": epoch(d.created_at),
                "launchType": "FARGATE",
                "platformVersion": "1.4.0",
                "platformFamily": "Linux",
                "networkConfiguration": {"awsvpcConfiguration": {
                    "subnets": ["subnet-0a1b2c3d4e5f60718"],
                    "securityGroups": ["sg-0123456789abcdef0"],
                    "assignPublicIp": if m.assign_public_ip { "ENABLED" } else { "DISABLED" }
                }},
                "rolloutState": if d.primary { "IN_PROGRESS" } else { "COMPLETED" },
                "rolloutStateReason": "ECS deployment in progress."
            })
        })
        .collect();
    json!({
        "serviceArn": service_arn(m),
        "serviceName": m.service,
        "clusterArn": cluster_arn(m),
        "loadBalancers": [],
        "serviceRegistries": [],
        "status": "ACTIVE",
        "desiredCount": s.desired_count,
        "runningCount": s.running_count,
        "pendingCount": s.pending_count,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "platformFamily": "Linux",
        "taskDefinition": s.deployments.iter().find(|d| d.primary).and_then(|d| d.task_definition.clone()),
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": true, "rollback": false},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100
        },
        "deployments": deployments,
        "events": s.events.iter().enumerate().map(|(i, e)| json!({
            "id": format!("{:08x}-5a1e-4c3b-9d2e-{:012x}", i, i),
            "createdAt": epoch(e.at),
            "message": e.message,
        })).collect::<Vec<Value>>(),
        "networkConfiguration": {"awsvpcConfiguration": {
            "subnets": ["subnet-0a1b2c3d4e5f60718"],
            "securityGroups": ["sg-0123456789abcdef0"],
            "assignPublicIp": if m.assign_public_ip { "ENABLED" } else { "DISABLED" }
        }},
        "createdAt": 1.764000000E9,
        "schedulingStrategy": "REPLICA",
        "enableECSManagedTags": false,
        "propagateTags": "NONE",
        "enableExecuteCommand": false
    })
}

fn task_json(m: &Model, t: &TaskSnapshot) -> Value {
    let mut details = vec![json!({"name": "subnetId", "value": "subnet-0a1b2c3d4e5f60718"})];
    if let Some(eni) = &t.network.eni_id {
        details.push(json!({"name": "networkInterfaceId", "value": eni}));
        details.push(json!({"name": "macAddress", "value": "0a:1b:2c:3d:4e:5f"}));
        details.push(
            json!({"name": "privateDnsName", "value": "ip-10-0-1-5.eu-west-3.compute.internal"}),
        );
    }
    if let Some(ip) = t.network.private_ip {
        details.push(json!({"name": "privateIPv4Address", "value": ip.to_string()}));
    }
    if let Some(ip) = t.network.ipv6 {
        details.push(json!({"name": "ipv6Address", "value": ip.to_string()}));
    }
    let health = match t.health {
        grafana_ondemand_core::Health::Healthy => "HEALTHY",
        grafana_ondemand_core::Health::Unhealthy => "UNHEALTHY",
        grafana_ondemand_core::Health::Unknown => "UNKNOWN",
    };
    let mut task = json!({
        "taskArn": t.arn,
        "clusterArn": cluster_arn(m),
        "taskDefinitionArn": t.task_definition,
        "lastStatus": t.last_status.as_str(),
        "desiredStatus": t.desired_status.as_str(),
        "startedBy": t.started_by,
        "group": format!("service:{}", m.service),
        "launchType": "FARGATE",
        "capacityProviderName": if t.size.spot { "FARGATE_SPOT" } else { "FARGATE" },
        "platformVersion": "1.4.0",
        "platformFamily": "Linux",
        "cpu": t.size.cpu_units.map(|c| c.to_string()),
        "memory": t.size.memory_mib.map(|c| c.to_string()),
        "attributes": [{"name": "ecs.cpu-architecture", "value": if t.size.arm64 { "arm64" } else { "x86_64" }}],
        "connectivity": "CONNECTED",
        "healthStatus": health,
        "createdAt": epoch(t.created_at),
        "attachments": [{
            "id": "3a6f1c2e-8d4b-4e5f-9a0b-1c2d3e4f5a6b",
            "type": "ElasticNetworkInterface",
            "status": if t.network.eni_id.is_some() { "ATTACHED" } else { "PRECREATED" },
            "details": details
        }],
        "containers": [{
            "containerArn": format!("{}/grafana", t.arn.replace(":task/", ":container/")),
            "taskArn": t.arn,
            "name": "grafana",
            "image": "grafana/grafana-oss:11.3.0",
            "lastStatus": t.last_status.as_str(),
            "healthStatus": health,
            "cpu": "0"
        }],
        "version": 3
    });
    if let Some(obj) = task.as_object_mut() {
        for (key, value) in [
            ("startedAt", epoch(t.started_at)),
            ("pullStartedAt", epoch(t.pull_started_at)),
            ("pullStoppedAt", epoch(t.pull_stopped_at)),
            ("stoppedAt", epoch(t.stopped_at)),
        ] {
            if !value.is_null() {
                obj.insert(key.into(), value);
            }
        }
        if let Some(code) = &t.stop_code {
            obj.insert("stopCode".into(), json!(code));
        }
        if let Some(reason) = &t.stopped_reason {
            obj.insert("stoppedReason".into(), json!(reason));
        }
    }
    task
}

#[derive(Debug)]
struct EcsWire {
    ecs: SimulatedEcs,
    delay: Duration,
}

impl EcsWire {
    fn answer(&self, op: &str, body: &Value) -> ResponseTemplate {
        let (cluster, service) = {
            let m = self.ecs.model();
            (m.cluster.clone(), m.service.clone())
        };
        if op == "TagResource" {
            return self.tag_resource(body);
        }
        if op == "DescribeTaskDefinition" {
            return self.describe_task_definition(body);
        }
        let cluster_given = body.get("cluster").and_then(Value::as_str);
        if !names(cluster_given.or(Some("default")), &cluster) {
            return ecs_error("ClusterNotFoundException", "Cluster not found.");
        }
        match op {
            "DescribeServices" => {
                let asked = body
                    .get("services")
                    .and_then(|s| s.get(0))
                    .and_then(Value::as_str);
                let found = if names(asked, &service) {
                    self.ecs.op_describe_service()
                } else {
                    Err(CallFault::ServiceNotFound)
                };
                match found {
                    Ok(s) => {
                        let m = self.ecs.model();
                        let mut service = service_json(&m, &s);
                        // Tags come back only when asked for (`include: ["TAGS"]`).
                        let with_tags = body
                            .get("include")
                            .and_then(Value::as_array)
                            .is_some_and(|i| i.iter().any(|v| v == "TAGS"));
                        if let (true, Some(obj)) = (with_tags, service.as_object_mut()) {
                            obj.insert("tags".into(), tags_json(&s));
                        }
                        ecs_ok(json!({"services": [service], "failures": []}))
                    }
                    Err(CallFault::ServiceNotFound) => {
                        let m = self.ecs.model();
                        let arn = format!(
                            "arn:aws:ecs:{REGION}:{ACCOUNT}:service/{}/{}",
                            m.cluster,
                            asked.unwrap_or("")
                        );
                        ecs_ok(
                            json!({"services": [], "failures": [{"arn": arn, "reason": "MISSING"}]}),
                        )
                    }
                    Err(f) => fault_response(f),
                }
            }
            "ListTasks" => {
                if !names(body.get("serviceName").and_then(Value::as_str), &service) {
                    return ecs_error("ServiceNotFoundException", "Service not found.");
                }
                let desired = match body.get("desiredStatus").and_then(Value::as_str) {
                    Some("STOPPED") => DesiredStatus::Stopped,
                    _ => DesiredStatus::Running,
                };
                if let Some(max) = body.get("maxResults").and_then(Value::as_u64)
                    && !(1..=100).contains(&max)
                {
                    return ecs_error(
                        "InvalidParameterException",
                        "maxResults must be between 1 and 100.",
                    );
                }
                let token = body.get("nextToken").and_then(Value::as_str);
                match self.ecs.op_list_tasks(desired, token) {
                    Ok(page) => {
                        let mut answer = json!({"taskArns": page.arns});
                        if let (Some(obj), Some(next)) = (answer.as_object_mut(), page.next_token) {
                            obj.insert("nextToken".into(), json!(next));
                        }
                        ecs_ok(answer)
                    }
                    Err(f) => fault_response(f),
                }
            }
            "DescribeTasks" => {
                let arns: Vec<String> = body
                    .get("tasks")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                if arns.is_empty() || arns.len() > 100 {
                    return ecs_error("InvalidParameterException", "Tasks cannot be empty.");
                }
                if let Some(one_offs) = backup::describe_one_offs(&self.ecs, &arns) {
                    return ecs_ok(one_offs);
                }
                match self.ecs.op_describe_tasks(&arns) {
                    Ok(tasks) => {
                        let m = self.ecs.model();
                        let failures: Vec<Value> = arns
                            .iter()
                            .filter(|a| !tasks.iter().any(|t| &&t.arn == a))
                            .map(|a| json!({"arn": a, "reason": "MISSING"}))
                            .collect();
                        let tasks: Vec<Value> = tasks.iter().map(|t| task_json(&m, t)).collect();
                        ecs_ok(json!({"tasks": tasks, "failures": failures}))
                    }
                    Err(f) => fault_response(f),
                }
            }
            "UpdateService" => {
                if !names(body.get("service").and_then(Value::as_str), &service) {
                    return ecs_error("ServiceNotFoundException", "Service not found.");
                }
                let desired = body
                    .get("desiredCount")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let force = body
                    .get("forceNewDeployment")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                match self
                    .ecs
                    .op_update_service(u32::try_from(desired).unwrap_or(u32::MAX), force)
                {
                    Ok(s) => {
                        let m = self.ecs.model();
                        ecs_ok(json!({"service": service_json(&m, &s)}))
                    }
                    Err(f) => fault_response(f),
                }
            }
            "RunTask" => match backup::run_task(&self.ecs, body) {
                Ok(answer) => ecs_ok(answer),
                Err(backup::Refusal::Fault(f)) => fault_response(f),
                Err(backup::Refusal::Refused(kind, message)) => ecs_error(&kind, &message),
            },
            other => ecs_error("InvalidAction", &format!("{other} is not simulated")),
        }
    }
}

impl EcsWire {
    /// ECS DescribeTaskDefinition (no cluster in the request): the service's, as the model
    /// names it.
    fn describe_task_definition(&self, body: &Value) -> ResponseTemplate {
        let asked = body
            .get("taskDefinition")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let m = self.ecs.model();
        let arn = m.task_definition();
        let family = format!("{}:{}", m.service, m.revision);
        if asked != arn && asked != family && asked != m.service {
            return ecs_error("ClientException", "Unable to describe task definition.");
        }
        ecs_ok(json!({"taskDefinition": {
            "taskDefinitionArn": arn,
            "family": m.service,
            "revision": m.revision,
            "status": "ACTIVE",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "256",
            "memory": "512",
            "executionRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/{}-exec", m.service),
            "taskRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/{}-task", m.service),
            "containerDefinitions": [{
                "name": "grafana",
                "image": m.image,
                "essential": true,
                "portMappings": [{"containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}],
                "secrets": [{
                    "name": "GF_SECURITY_ADMIN_PASSWORD",
                    "valueFrom": format!("arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{}/admin-password", m.service)
                }],
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": format!("/ecs/{}", m.service),
                    "awslogs-region": REGION,
                    "awslogs-stream-prefix": "grafana"
                }},
                "mountPoints": [{"sourceVolume": "grafana-data", "containerPath": "/var/lib/grafana"}]
            }],
            "volumes": [{"name": "grafana-data", "efsVolumeConfiguration": {
                "fileSystemId": "fs-0123456789abcdef0",
                "transitEncryption": "ENABLED",
                "authorizationConfig": {"accessPointId": "fsap-0123456789abcdef0", "iam": "ENABLED"}
            }}]
        }}))
    }

    /// ECS TagResource: only this service's ARN is known; tags are `[{key, value}]`.
    fn tag_resource(&self, body: &Value) -> ResponseTemplate {
        let arn = body.get("resourceArn").and_then(Value::as_str);
        if arn != Some(service_arn(&self.ecs.model()).as_str()) {
            return ecs_error(
                "InvalidParameterException",
                "The specified resource is not valid.",
            );
        }
        let Some(tags) = body.get("tags").and_then(Value::as_array) else {
            return ecs_error("InvalidParameterException", "Tags cannot be empty.");
        };
        let mut pairs = Vec::new();
        for tag in tags {
            let (Some(k), Some(v)) = (
                tag.get("key").and_then(Value::as_str),
                tag.get("value").and_then(Value::as_str),
            ) else {
                return ecs_error(
                    "InvalidParameterException",
                    "A tag needs a key and a value.",
                );
            };
            // ECS's rule for tag values: letters, digits, spaces and _ . : / = + - @.
            let allowed = |c: char| c.is_alphanumeric() || " _.:/=+-@".contains(c);
            if k.len() > 128 || v.len() > 256 || !v.chars().all(allowed) {
                return ecs_error(
                    "InvalidParameterException",
                    &format!("The tag value `{v}` is not valid."),
                );
            }
            pairs.push((k.to_owned(), v.to_owned()));
        }
        match self.ecs.op_tag_service(&pairs) {
            Ok(()) => ecs_ok(json!({})),
            Err(f) => fault_response(f),
        }
    }

    /// CloudWatch Logs DescribeLogGroups: the account's groups whose names begin with
    /// `logGroupNamePrefix`.
    fn describe_log_groups(&self, body: &Value) -> ResponseTemplate {
        let prefix = body
            .get("logGroupNamePrefix")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let groups: Vec<Value> = self
            .ecs
            .model()
            .log_groups
            .iter()
            .filter(|g| g.starts_with(prefix))
            .map(|g| {
                json!({
                    "logGroupName": g,
                    "arn": format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{g}:*"),
                    "creationTime": 1_764_000_000_000_i64,
                    "storedBytes": 0,
                })
            })
            .collect();
        ecs_ok(json!({ "logGroups": groups }))
    }

    /// ECR DescribeImages: the image of that tag in that repository, or ECR's errors.
    fn describe_images(&self, body: &Value) -> ResponseTemplate {
        let repository = body
            .get("repositoryName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let tag = body["imageIds"][0]["imageTag"].as_str();
        let Some(tags) = self.ecs.ecr_tags(repository) else {
            return ecs_error(
                "RepositoryNotFoundException",
                &format!(
                    "The repository with name '{repository}' does not exist in the registry with id '{ACCOUNT}'"
                ),
            );
        };
        match tag {
            Some(t) if tags.iter().any(|x| x == t) => ecs_ok(json!({"imageDetails": [{
                "registryId": ACCOUNT, "repositoryName": repository, "imageTags": [t],
                "imageDigest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            }]})),
            _ => ecs_error(
                "ImageNotFoundException",
                &format!(
                    "The image with imageId {{imageDigest:'null', imageTag:'{}'}} does not exist within the repository with name '{repository}' in the registry with id '{ACCOUNT}'",
                    tag.unwrap_or_default()
                ),
            ),
        }
    }

    /// CloudWatch Logs FilterLogEvents on one stream of the task log group.
    fn filter_log_events(&self, body: &Value) -> ResponseTemplate {
        let stream = body
            .get("logStreamNames")
            .and_then(|s| s.get(0))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let group = body.get("logGroupName").and_then(Value::as_str);
        if group.is_none_or(str::is_empty) {
            return ecs_error("InvalidParameterException", "logGroupName is required.");
        }
        let Some(task_id) = stream.rsplit('/').next().filter(|id| !id.is_empty()) else {
            return ecs_error("InvalidParameterException", "logStreamNames is required.");
        };
        let since = body
            .get("startTime")
            .and_then(Value::as_i64)
            .and_then(chrono::DateTime::from_timestamp_millis)
            .unwrap_or_default();
        let pattern = body
            .get("filterPattern")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let token = body.get("nextToken").and_then(Value::as_str);
        match self.ecs.op_request_log(task_id, since, pattern, token) {
            Ok(page) => {
                let events: Vec<Value> = page
                    .times
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        json!({
                            "logStreamName": stream,
                            "timestamp": t.timestamp_millis(),
                            "ingestionTime": t.timestamp_millis() + 800,
                            "message": "logger=context msg=\"Request Completed\"",
                            "eventId": format!("{:056}", i)
                        })
                    })
                    .collect();
                let mut answer = json!({
                    "events": events,
                    "searchedLogStreams": [{"logStreamName": stream, "searchedCompletely": page.next_token.is_none()}]
                });
                if let (Some(obj), Some(next)) = (answer.as_object_mut(), page.next_token) {
                    obj.insert("nextToken".into(), json!(next));
                }
                ecs_ok(answer)
            }
            Err(f) => fault_response(f),
        }
    }
}

impl Respond for EcsWire {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let target = request
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let response = match serde_json::from_slice::<Value>(&request.body) {
            Ok(body) if target == "AmazonEC2ContainerRegistry_V20150921.DescribeImages" => {
                self.describe_images(&body)
            }
            Ok(body) => match target.strip_prefix("Logs_20140328.") {
                Some("FilterLogEvents") => self.filter_log_events(&body),
                Some("DescribeLogGroups") => self.describe_log_groups(&body),
                Some(other) => ecs_error("InvalidAction", &format!("{other} is not simulated")),
                None => self.answer(
                    target
                        .strip_prefix("AmazonEC2ContainerServiceV20141113.")
                        .unwrap_or_default(),
                    &body,
                ),
            },
            Err(_) => ecs_error(
                "SerializationException",
                "The request body is not valid JSON.",
            ),
        };
        response.set_delay(self.delay)
    }
}

#[derive(Debug)]
struct Ec2Wire {
    ecs: SimulatedEcs,
    delay: Duration,
}

fn ec2_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>5e1c2b3a-4d5e-6f70-8192-a3b4c5d6e7f8</RequestID></Response>"
    );
    ResponseTemplate::new(status).set_body_raw(xml, "text/xml;charset=UTF-8")
}

/// SNS Publish: the query protocol's form, the subject checked as SNS documents it ("UTF-8
/// text with no line breaks or control characters, and less than 100 characters long").
struct SnsWire;

impl Respond for SnsWire {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let subject = form_value(&request.body, "Subject");
        if let Some(subject) = subject
            && (subject.chars().count() >= 100 || subject.chars().any(char::is_control))
        {
            return ResponseTemplate::new(400).set_body_raw(
                "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>InvalidParameter</Code><Message>Invalid parameter: Subject</Message></Error><RequestId>9b7a5c1e-2f44-5b8e-9d1a-0c2e3f4a5b6c</RequestId></ErrorResponse>",
                "text/xml",
            );
        }
        ResponseTemplate::new(200).set_body_raw(
            "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult><MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId></PublishResult><ResponseMetadata><RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId></ResponseMetadata></PublishResponse>",
            "text/xml",
        )
    }
}

/// The decoded value of `key` in a form-encoded (query protocol) body.
pub fn form_value(body: &[u8], key: &str) -> Option<String> {
    let body = String::from_utf8_lossy(body);
    let raw = body
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)?
        .1;
    Some(percent_decoded(&raw.replace('+', " ")))
}

/// `text` with its `%XX` escapes decoded (a form value, a path segment).
pub(crate) fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Respond for Ec2Wire {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if let Some(why) = sigv4::refused(request, "ec2", REGION) {
            return ec2_error(401, "AuthFailure", &why).set_delay(self.delay);
        }
        let body = String::from_utf8_lossy(&request.body);
        let pairs: Vec<(&str, &str)> = body
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .collect();
        // By id, a missing interface fails the whole call, as EC2 does; by filter it is
        // simply not in the answer.
        let by_id: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k.starts_with("NetworkInterfaceId."))
            .map(|(_, v)| (*v).to_owned())
            .collect();
        let filter = pairs
            .iter()
            .find(|(k, _)| k.starts_with("Filter.") && k.ends_with(".Name"))
            .map(|(k, v)| (k.trim_end_matches(".Name").to_owned(), *v));
        let by_filter: Vec<String> = match &filter {
            Some((prefix, "network-interface-id")) => pairs
                .iter()
                .filter(|(k, _)| k.starts_with(&format!("{prefix}.Value.")))
                .map(|(_, v)| (*v).to_owned())
                .collect(),
            Some((_, other)) => {
                return ec2_error(
                    400,
                    "InvalidParameterValue",
                    &format!("The filter '{other}' is not simulated"),
                );
            }
            None => Vec::new(),
        };
        let ids: Vec<String> = by_id.iter().chain(&by_filter).cloned().collect();
        let response = match self.ecs.op_describe_interfaces(&ids) {
            Ok(found) if !by_id.iter().all(|id| found.iter().any(|f| &f.id == id)) => {
                let missing = by_id
                    .iter()
                    .find(|id| !found.iter().any(|f| &&f.id == id))
                    .cloned()
                    .unwrap_or_default();
                ec2_error(
                    400,
                    "InvalidNetworkInterfaceID.NotFound",
                    &format!("The networkInterface ID '{missing}' does not exist"),
                )
            }
            Ok(found) => {
                let items: String = found
                    .iter()
                    .map(|n| {
                        let dns = n.public_dns_name.clone().unwrap_or_default();
                        let association = n
                            .public_ip
                            .map(|ip| format!("\n            <association>\n                <publicIp>{ip}</publicIp>\n                <publicDnsName>{dns}</publicDnsName>\n                <ipOwnerId>amazon</ipOwnerId>\n            </association>"))
                            .unwrap_or_default();
                        let private = n.private_ip.map(|ip| ip.to_string()).unwrap_or_default();
                        let ipv6 = n
                            .ipv6
                            .map(|ip| format!("\n            <ipv6AddressesSet>\n                <item>\n                    <ipv6Address>{ip}</ipv6Address>\n                    <isPrimaryIpv6>false</isPrimaryIpv6>\n                </item>\n            </ipv6AddressesSet>"))
                            .unwrap_or_default();
                        format!(
                            "\n        <item>\n            <networkInterfaceId>{}</networkInterfaceId>\n            <subnetId>subnet-0a1b2c3d4e5f60718</subnetId>\n            <vpcId>vpc-0123456789abcdef0</vpcId>\n            <availabilityZone>eu-west-3a</availabilityZone>\n            <description>arn:aws:ecs:eu-west-3:123456789012:attachment/3a6f1c2e-8d4b-4e5f-9a0b-1c2d3e4f5a6b</description>\n            <ownerId>123456789012</ownerId>\n            <requesterId>578734482556</requesterId>\n            <requesterManaged>true</requesterManaged>\n            <status>in-use</status>\n            <macAddress>0a:1b:2c:3d:4e:5f</macAddress>\n            <privateIpAddress>{private}</privateIpAddress>\n            <sourceDestCheck>true</sourceDestCheck>\n            <interfaceType>interface</interfaceType>{association}{ipv6}\n        </item>",
                            n.id
                        )
                    })
                    .collect();
                let xml = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeNetworkInterfacesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n    <requestId>7b2d9e1f-3c4a-4b5d-8e6f-9a0b1c2d3e4f</requestId>\n    <networkInterfaceSet>{items}\n    </networkInterfaceSet>\n</DescribeNetworkInterfacesResponse>"
                );
                ResponseTemplate::new(200).set_body_raw(xml, "text/xml;charset=UTF-8")
            }
            Err(CallFault::Throttled) => {
                ec2_error(503, "RequestLimitExceeded", "Request limit exceeded.")
            }
            Err(CallFault::AccessDenied) => ec2_error(
                403,
                "UnauthorizedOperation",
                "You are not authorized to perform this operation.",
            ),
            Err(CallFault::ServiceNotFound) => {
                ec2_error(400, "InvalidParameterValue", "unexpected")
            }
            Err(
                CallFault::InvalidParameter(message)
                | CallFault::ResourceNotFound(message)
                | CallFault::InvalidChangeBatch(message)
                | CallFault::Conflict(message)
                | CallFault::NoSuchHostedZone(message)
                | CallFault::NoSuchChange(message),
            ) => ec2_error(400, "InvalidParameterValue", &message),
        };
        response.set_delay(self.delay)
    }
}
