//! Every AWS call the code makes is one the controller's IAM policies grant, with the
//! resources and condition keys IAM evaluates: the calls are recorded on the wire while the
//! scenarios' actions run, then judged by a small evaluator of the policy language against
//! `grafana-ondemand-aws/iam-policy.json` and the module's `controller-policy.json.tftpl`.
//! Removing any statement must deny a call: that proves the check can fail.

use crate::aws_wire::OverTheWire;
use crate::scenarios::{STORE, front_door};
use grafana_ondemand::{ServiceController, ServiceProfile, State, wait_for};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const REGION: &str = "eu-west-3";
const ACCOUNT: &str = "123456789012";

/// One authorization IAM makes: an action on resources, with condition keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    pub action: String,
    pub resources: Vec<String>,
    pub context: BTreeMap<String, String>,
}

fn cluster_arn(given: &str) -> String {
    if given.starts_with("arn:") {
        given.to_owned()
    } else {
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{given}")
    }
}

/// The SSM parameter's ARN, as IAM names it (a leading `/` is not doubled).
pub fn parameter_arn(name: &str) -> String {
    format!(
        "arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{}",
        name.trim_start_matches('/')
    )
}

fn log_group_arn(group: &str) -> String {
    format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}")
}

/// The log group the module's task logs to, in these tests.
const LOG_GROUP: &str = "/ecs/grafana-ondemand";

fn service_arn(cluster: &str, given: &str) -> String {
    if given.starts_with("arn:") {
        given.to_owned()
    } else {
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{given}")
    }
}

/// What IAM evaluates for one recorded request (per the Service Authorization Reference).
pub fn call(request: &wiremock::Request) -> Call {
    let target = request
        .headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok());
    if let Some(op) = target.and_then(|t| t.strip_prefix("AmazonSSM.")) {
        let body: Value = serde_json::from_slice(&request.body).expect("SSM JSON");
        let name = body["Name"].as_str().unwrap_or_default();
        return Call {
            action: format!("ssm:{op}"),
            resources: vec![parameter_arn(name)],
            context: BTreeMap::new(),
        };
    }
    if let Some(op) = target.and_then(|t| t.strip_prefix("Logs_20140328.")) {
        let body: Value = serde_json::from_slice(&request.body).expect("CloudWatch Logs JSON");
        let group = body["logGroupName"].as_str().unwrap_or_default();
        return Call {
            action: format!("logs:{op}"),
            resources: vec![log_group_arn(group)],
            context: BTreeMap::new(),
        };
    }
    if let Some(rest) = request.url.path().strip_prefix("/key-value-stores/") {
        // The store's ARN is the one resource of every KeyValueStore action.
        let mut parts = rest.split('/');
        let arn = parts
            .next()
            .unwrap_or_default()
            .replace("%3A", ":")
            .replace("%2F", "/");
        let op = match (request.method.as_str(), parts.next()) {
            ("GET", None) => "DescribeKeyValueStore",
            ("GET", Some("keys")) => "GetKey",
            ("PUT", Some("keys")) => "PutKey",
            (m, k) => {
                panic!("the code calls KeyValueStore {m} {k:?}: add it here and to the policies")
            }
        };
        return Call {
            action: format!("cloudfront-keyvaluestore:{op}"),
            resources: vec![arn],
            context: BTreeMap::new(),
        };
    }
    if let Some(change) = request.url.path().strip_prefix("/2013-04-01/change/") {
        return Call {
            action: "route53:GetChange".into(),
            resources: vec![format!("arn:aws:route53:::change/{change}")],
            context: BTreeMap::new(),
        };
    }
    if let Some(zone) = request
        .url
        .path()
        .strip_prefix("/2013-04-01/hostedzone/")
        .and_then(|p| p.split('/').next())
    {
        let resources = vec![hosted_zone_arn(zone)];
        if request.method.as_str() == "GET" {
            return Call {
                action: "route53:ListResourceRecordSets".into(),
                resources,
                context: BTreeMap::new(),
            };
        }
        // The change's names (lowercase, no trailing dot), types and actions: multi-valued.
        let body = String::from_utf8_lossy(&request.body);
        let values = |tag: &str| -> String {
            let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
            body.split(&open)
                .skip(1)
                .filter_map(|rest| rest.split(&close).next())
                .map(|v| v.trim_end_matches('.').to_ascii_lowercase())
                .map(|v| {
                    if tag == "Name" {
                        v
                    } else {
                        v.to_ascii_uppercase()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        return Call {
            action: "route53:ChangeResourceRecordSets".into(),
            resources,
            context: BTreeMap::from([
                (
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames".to_string(),
                    values("Name"),
                ),
                (
                    "route53:ChangeResourceRecordSetsRecordTypes".to_string(),
                    values("Type"),
                ),
                (
                    "route53:ChangeResourceRecordSetsActions".to_string(),
                    values("Action"),
                ),
            ]),
        };
    }
    let target = target.and_then(|t| t.strip_prefix("AmazonEC2ContainerServiceV20141113."));
    let Some(op) = target else {
        let body = String::from_utf8_lossy(&request.body);
        if body.contains("Action=Publish") {
            let topic = body
                .split('&')
                .find_map(|p| p.strip_prefix("TopicArn="))
                .map(|t| t.replace("%3A", ":"))
                .unwrap_or_default();
            return Call {
                action: "sns:Publish".into(),
                resources: vec![topic],
                context: BTreeMap::new(),
            };
        }
        let action = body
            .split('&')
            .find_map(|p| p.strip_prefix("Action="))
            .expect("an EC2 query request names its action");
        return Call {
            action: format!("ec2:{action}"),
            resources: vec!["*".into()],
            context: BTreeMap::new(),
        };
    };
    let body: Value = serde_json::from_slice(&request.body).expect("ECS JSON");
    if op == "TagResource" {
        // A multi-valued key: its values one per line.
        let keys: Vec<&str> = body["tags"]
            .as_array()
            .map(|t| t.iter().filter_map(|t| t["key"].as_str()).collect())
            .unwrap_or_default();
        return Call {
            action: "ecs:TagResource".into(),
            resources: vec![body["resourceArn"].as_str().unwrap_or_default().to_owned()],
            context: BTreeMap::from([("aws:TagKeys".to_string(), keys.join("\n"))]),
        };
    }
    let cluster = body["cluster"].as_str().unwrap_or("default").to_owned();
    let cluster_name = cluster.rsplit('/').next().unwrap_or(&cluster).to_owned();
    let context = BTreeMap::from([("ecs:cluster".to_string(), cluster_arn(&cluster))]);
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let resources = match op {
        "DescribeServices" => strings(&body["services"])
            .iter()
            .map(|s| service_arn(&cluster_name, s))
            .collect(),
        "UpdateService" => vec![service_arn(
            &cluster_name,
            body["service"].as_str().unwrap_or_default(),
        )],
        "DescribeTasks" => strings(&body["tasks"]),
        "ListTasks" => vec!["*".into()],
        other => panic!("the code calls ecs:{other}: add it here and to the policies"),
    };
    Call {
        action: format!("ecs:{op}"),
        resources,
        context,
    }
}

/// Whether `policy` allows `call` on every resource: the mock crate's evaluator (the same
/// the wire stub's `iam:SimulatePrincipalPolicy` answers with).
pub fn allows(policy: &Value, call: &Call) -> bool {
    grafana_ondemand::mock::iam::allows(policy, &call.action, &call.resources, &call.context)
}

fn crate_policy() -> Value {
    let text = include_str!("../grafana-ondemand-aws/iam-policy.json")
        .replace("REGION", REGION)
        .replace("ACCOUNT_ID", ACCOUNT)
        .replace("CLUSTER_NAME", "ondemand")
        .replace("SERVICE_NAME", "grafana")
        .replace("LOG_GROUP", LOG_GROUP)
        .replace("DOOR_KVS_ARN", STORE);
    serde_json::from_str(&text).expect("iam-policy.json is JSON")
}

/// The module's template rendered as `templatefile` would, with the token parameter (its
/// name) when the module's auth is `token`.
pub fn module_policy(token_parameter: Option<&str>) -> Value {
    module_policy_with(&[(
        "token_parameter_arn",
        token_parameter.map(parameter_arn).unwrap_or_default(),
    )])
}

/// The module's policy with these optional grants (`token_parameter_arn`, `hosted_zone_arn`
/// with `public_name`, `topic_arn`, `webhook_parameter_arn`, and with a customer key
/// `ssm_key_arn` and `sns_key_arn`); those not given are off, as the module renders them when
/// their feature is not configured.
pub fn module_policy_with(grants: &[(&str, String)]) -> Value {
    let template = include_str!("../infra/modules/grafana_on_demand/controller-policy.json.tftpl");
    let granted = |var: &str| {
        grants
            .iter()
            .find(|(v, _)| *v == var)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    };
    let mut text = String::new();
    let mut keep = true;
    for line in template.lines() {
        match line.trim() {
            l if l.starts_with("%{ if ") => {
                let var = l
                    .trim_start_matches("%{ if ")
                    .split(' ')
                    .next()
                    .unwrap_or_default();
                keep = !granted(var).is_empty();
            }
            l if l.starts_with("%{ endif") => keep = true,
            _ if keep => {
                text.push_str(line);
                text.push('\n');
            }
            _ => {}
        }
    }
    let mut text = text
        .replace("${service_arn}", &service_arn("ondemand", "grafana"))
        .replace("${cluster_arn}", &cluster_arn("ondemand"))
        .replace("${log_group_arn}", &log_group_arn(LOG_GROUP))
        .replace("${change_arn}", "arn:aws:route53:::change/*")
        .replace("${region}", REGION);
    for (var, value) in grants {
        text = text.replace(&format!("${{{var}}}"), value);
    }
    assert!(!text.contains("${") && !text.contains("%{"), "{text}");
    serde_json::from_str(&text).expect("the module's policy template renders to JSON")
}

/// A customer-managed key, as the module's `kms_key_arn` names it.
pub const KEY: &str = "arn:aws:kms:eu-west-3:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// The KMS authorizations IAM also makes for `calls` when the parameters and the topic are
/// encrypted with `key`: SSM decrypts a SecureString's value with it on the caller's behalf,
/// SNS makes a data key for each message published to the topic (per the SSM and SNS
/// documentation on customer-managed keys); both with `kms:ViaService` set.
pub fn key_use(calls: &[Call], key: &str) -> Vec<Call> {
    let via = |service: &str| {
        BTreeMap::from([(
            "kms:ViaService".to_string(),
            format!("{service}.{REGION}.amazonaws.com"),
        )])
    };
    let kms = |action: &str, service: &str| Call {
        action: action.into(),
        resources: vec![key.into()],
        context: via(service),
    };
    calls
        .iter()
        .flat_map(|c| match c.action.as_str() {
            "ssm:GetParameter" => vec![kms("kms:Decrypt", "ssm")],
            "sns:Publish" => vec![kms("kms:GenerateDataKey", "sns"), kms("kms:Decrypt", "sns")],
            _ => vec![],
        })
        .collect()
}

/// A hosted zone's ARN, as IAM names it.
pub fn hosted_zone_arn(zone_id: &str) -> String {
    format!("arn:aws:route53:::hostedzone/{zone_id}")
}

/// What IAM evaluates for every request the stub received, in order.
pub async fn recorded(stub: &grafana_ondemand::mock::wire::WireStub) -> Vec<Call> {
    let requests = stub.server().received_requests().await.unwrap_or_default();
    requests.iter().map(call).collect()
}

/// Asserts `policy` grants every call.
pub fn assert_granted(policy: &Value, calls: &[Call]) {
    for call in calls {
        assert!(allows(policy, call), "the policy denies {call:?}");
    }
}

/// Every distinct call the controller makes through a life: cold reads, start, the wait,
/// ListTasks pages, a stop, and a second process's reads.
async fn calls_of_a_life() -> Vec<Call> {
    let w = OverTheWire::new().await;
    w.stub.ecs().set_list_page_size(1);
    let c = &w.controller;
    c.status().await.unwrap();
    c.start(None).await.unwrap();
    let up = wait_for(c, State::Running, Duration::from_secs(180))
        .await
        .unwrap();
    assert_eq!(up.state, State::Running);
    c.status().await.unwrap();
    c.extend(Duration::from_secs(3600)).await.unwrap();
    c.reap().await.unwrap();
    c.stop().await.unwrap();
    wait_for(c, State::Stopped, Duration::from_secs(180))
        .await
        .unwrap();
    c.start(None).await.unwrap();
    let fresh = crate::scenarios::World::another_controller(&w, ServiceProfile::grafana()).await;
    wait_for(fresh.as_ref(), State::Running, Duration::from_secs(180))
        .await
        .unwrap();
    // A controller with the front door: its entry read, written running, then asleep.
    w.stub.ecs().add_key_value_store(STORE);
    let door = crate::scenarios::World::door_controller(
        &w,
        ServiceProfile::grafana(),
        front_door(),
        std::sync::Arc::new(crate::scenarios::Inbox::default()),
    )
    .await;
    assert_eq!(door.status().await.unwrap().state, State::Running);
    door.stop().await.unwrap();
    let mut calls = recorded(&w.stub).await;
    calls.sort();
    calls.dedup();
    calls
}

#[tokio::test(start_paused = true)]
async fn every_call_the_code_makes_is_granted_by_both_policies() {
    let calls = calls_of_a_life().await;
    let actions: std::collections::BTreeSet<&str> =
        calls.iter().map(|c| c.action.as_str()).collect();
    assert_eq!(
        actions.into_iter().collect::<Vec<_>>(),
        [
            "cloudfront-keyvaluestore:DescribeKeyValueStore",
            "cloudfront-keyvaluestore:GetKey",
            "cloudfront-keyvaluestore:PutKey",
            "ec2:DescribeNetworkInterfaces",
            "ecs:DescribeServices",
            "ecs:DescribeTasks",
            "ecs:ListTasks",
            "ecs:TagResource",
            "ecs:UpdateService",
            "logs:FilterLogEvents"
        ],
        "the life exercised every call"
    );
    // The store's actions on that store only: another store, or none, is denied.
    let door_calls: Vec<&Call> = calls
        .iter()
        .filter(|c| c.action.starts_with("cloudfront-keyvaluestore:"))
        .collect();
    assert!(
        door_calls.iter().all(|c| c.resources == [STORE]),
        "{door_calls:?}"
    );
    for policy in [
        module_policy(None),
        module_policy_with(&[("door_kvs_arn", format!("{STORE}-other"))]),
    ] {
        assert!(door_calls.iter().all(|c| !allows(&policy, c)));
    }
    for (name, policy) in [
        ("iam-policy.json", crate_policy()),
        (
            "the module",
            module_policy_with(&[("door_kvs_arn", STORE.to_owned())]),
        ),
    ] {
        for call in &calls {
            assert!(allows(&policy, call), "{name} denies {call:?}");
        }
        // Each statement is needed: without it some call is denied, so this test can fail.
        let statements = policy["Statement"].as_array().unwrap().len();
        for i in 0..statements {
            let mut narrower = policy.clone();
            let removed = narrower["Statement"].as_array_mut().unwrap().remove(i);
            assert!(
                calls.iter().any(|c| !allows(&narrower, c)),
                "{name}: no call needs statement {}",
                removed["Sid"]
            );
        }
    }
}

#[test]
fn the_evaluator_denies_what_iam_denies() {
    let policy = module_policy(None);
    let task = Call {
        action: "ecs:DescribeTasks".into(),
        resources: vec![format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/ondemand/abc")],
        context: BTreeMap::from([("ecs:cluster".into(), cluster_arn("ondemand"))]),
    };
    assert!(allows(&policy, &task));
    let other_cluster = Call {
        context: BTreeMap::from([("ecs:cluster".into(), cluster_arn("prod"))]),
        ..task.clone()
    };
    assert!(!allows(&policy, &other_cluster), "another cluster's tasks");
    let no_key = Call {
        context: BTreeMap::new(),
        ..task
    };
    assert!(!allows(&policy, &no_key), "a missing condition key fails");
    let other_service = Call {
        action: "ecs:UpdateService".into(),
        resources: vec![service_arn("ondemand", "other")],
        context: BTreeMap::new(),
    };
    assert!(!allows(&policy, &other_service), "another service");
    let run_task = Call {
        action: "ecs:RunTask".into(),
        resources: vec!["*".into()],
        context: BTreeMap::new(),
    };
    assert!(!allows(&policy, &run_task), "an action never granted");
    let parameter = "/grafana-ondemand/api-token";
    let read = Call {
        action: "ssm:GetParameter".into(),
        resources: vec![parameter_arn(parameter)],
        context: BTreeMap::new(),
    };
    assert!(!allows(&policy, &read), "no token statement with IAM auth");
    assert!(allows(&module_policy(Some(parameter)), &read));
    let tag = |keys: &str| Call {
        action: "ecs:TagResource".into(),
        resources: vec![service_arn("ondemand", "grafana")],
        context: BTreeMap::from([("aws:TagKeys".into(), keys.into())]),
    };
    assert!(allows(&policy, &tag("grafana-ondemand:lease-until")));
    assert!(
        !allows(&policy, &tag("grafana-ondemand:lease-until\nowner")),
        "only the controller's own tags"
    );
    let other_log = Call {
        action: "logs:FilterLogEvents".into(),
        resources: vec![log_group_arn("/aws/lambda/payroll")],
        context: BTreeMap::new(),
    };
    assert!(!allows(&policy, &other_log), "another log group");
}
