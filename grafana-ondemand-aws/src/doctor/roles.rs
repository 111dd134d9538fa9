//! What IAM lets the roles do, as IAM decides it: the task's two, the controller's, and
//! ECS's own service-linked role.

use super::{CONTROLLER_ROLE_TAG, Check, Doctor, TaskSeen, Verdict, check, tag, unreadable};
use crate::errors::map;
use aws_sdk_ecs::types as ecs;
use grafana_ondemand_core::{ANNOUNCED_TAG, LEASE_TAG, READY_TAG, STOP_TAG};

/// ECS's service-linked role: ECS places no task, and creates no service, without it.
const ECS_SERVICE_LINKED_ROLE: &str = "AWSServiceRoleForECS";

/// One simulation: these actions, on this resource, with these context keys and values.
type Ask = (Vec<&'static str>, String, Vec<(&'static str, Vec<String>)>);

impl Doctor {
    /// What the roles may do, as IAM decides it (`iam:SimulatePrincipalPolicy`, policies,
    /// boundaries and conditions included): the execution role creates the task's log streams
    /// and reads its secrets; the task role mounts Grafana's data through its access point.
    pub(super) async fn permissions(
        &self,
        service: &ecs::Service,
        task: &TaskSeen,
        store: Option<&str>,
        checks: &mut Vec<Check>,
    ) {
        // arn:<partition>:ecs:<region>:<account>:task-definition/…
        let mut parts = task.arn.split(':').skip(1);
        let (Some(partition), _, Some(region), Some(account)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        if let Some(role) = &task.execution_role {
            let mut asks: Vec<Ask> = task
                .logs
                .iter()
                .map(|(group, prefix)| {
                    (
                        vec!["logs:CreateLogStream", "logs:PutLogEvents"],
                        format!("arn:{partition}:logs:{region}:{account}:log-group:{group}:log-stream:{prefix}/grafana/0"),
                        Vec::new(),
                    )
                })
                .collect();
            for secret in &task.secrets {
                let arn = if secret.starts_with("arn:") {
                    secret.clone()
                } else {
                    format!(
                        "arn:{partition}:ssm:{region}:{account}:parameter/{}",
                        secret.trim_start_matches('/')
                    )
                };
                let action = if arn.contains(":secretsmanager:") {
                    "secretsmanager:GetSecretValue"
                } else {
                    "ssm:GetParameters"
                };
                asks.push((vec![action], arn, Vec::new()));
            }
            self.simulate(
                "the execution role can start the task",
                role,
                &asks,
                "aws_iam_role_policy.execution",
                checks,
            )
            .await;
        }
        if let (Some(role), Some(fs)) = (&task.task_role, &task.file_system) {
            let fs_arn =
                format!("arn:{partition}:elasticfilesystem:{region}:{account}:file-system/{fs}");
            let context = task
                .access_point
                .iter()
                .map(|ap| {
                    (
                        "elasticfilesystem:AccessPointArn",
                        vec![format!(
                            "arn:{partition}:elasticfilesystem:{region}:{account}:access-point/{ap}"
                        )],
                    )
                })
                .collect();
            let asks = vec![(
                vec![
                    "elasticfilesystem:ClientMount",
                    "elasticfilesystem:ClientWrite",
                ],
                fs_arn,
                context,
            )];
            self.simulate(
                "the task role can mount Grafana's data",
                role,
                &asks,
                "aws_iam_role_policy.task",
                checks,
            )
            .await;
        }
        self.controller(service, task, store, (partition, region, account), checks)
            .await;
    }

    /// The controller's role (the module tags the service with it) may do what a start, a
    /// status and a stop call: read and scale the service, record its tags, list and read its
    /// tasks and their network interfaces, read Grafana's request log, and with a front door,
    /// read and write its entry.
    async fn controller(
        &self,
        service: &ecs::Service,
        task: &TaskSeen,
        store: Option<&str>,
        (partition, region, account): (&str, &str, &str),
        checks: &mut Vec<Check>,
    ) {
        let name = "the controller's role can start and stop Grafana";
        let Some(role) = tag(service, CONTROLLER_ROLE_TAG) else {
            checks.push(check(
                name,
                Verdict::Warn,
                format!("not checked: the service has no {CONTROLLER_ROLE_TAG} tag"),
                Some("the module tags the service with the controller's role: `terraform apply` with this version adds it"),
            ));
            return;
        };
        let service_arn = service.service_arn().unwrap_or_default().to_owned();
        let cluster_arn = service.cluster_arn().unwrap_or_default().to_owned();
        let tag_keys = [LEASE_TAG, STOP_TAG, ANNOUNCED_TAG, READY_TAG].map(str::to_owned);
        let mut asks: Vec<Ask> = vec![
            (
                vec!["ecs:DescribeServices", "ecs:UpdateService"],
                service_arn.clone(),
                Vec::new(),
            ),
            (
                vec!["ecs:TagResource"],
                service_arn,
                vec![("aws:TagKeys", tag_keys.to_vec())],
            ),
            (
                vec!["ecs:ListTasks", "ecs:DescribeTasks"],
                "*".into(),
                vec![("ecs:cluster", vec![cluster_arn])],
            ),
            (
                vec!["ec2:DescribeNetworkInterfaces"],
                "*".into(),
                Vec::new(),
            ),
        ];
        if let Some((group, _)) = task.logs.first() {
            asks.push((
                vec!["logs:FilterLogEvents"],
                format!("arn:{partition}:logs:{region}:{account}:log-group:{group}"),
                Vec::new(),
            ));
        }
        if let Some(store) = store {
            asks.push((
                vec![
                    "cloudfront-keyvaluestore:DescribeKeyValueStore",
                    "cloudfront-keyvaluestore:GetKey",
                    "cloudfront-keyvaluestore:PutKey",
                ],
                store.to_owned(),
                Vec::new(),
            ));
        }
        self.simulate(name, &role, &asks, "aws_iam_role_policy.controller", checks)
            .await;
    }

    /// ECS's service-linked role exists: without it ECS places no task (a brand-new account
    /// whose first ECS call was Terraform's has none).
    pub(super) async fn service_linked_role(&self, checks: &mut Vec<Check>) {
        let name = "ECS's service-linked role exists";
        self.count();
        let out = self
            .iam
            .get_role()
            .role_name(ECS_SERVICE_LINKED_ROLE)
            .send()
            .await;
        match out {
            Ok(o) => checks.push(check(
                name,
                Verdict::Pass,
                o.role().map(|r| r.arn().to_owned()).unwrap_or_default(),
                None,
            )),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_no_such_entity_exception()) =>
            {
                checks.push(check(
                    name,
                    Verdict::Fail,
                    format!("the account has no {ECS_SERVICE_LINKED_ROLE}: ECS cannot place the task"),
                    Some("create_ecs_service_linked_role = true and `terraform apply`, or `aws iam create-service-linked-role --aws-service-name ecs.amazonaws.com`"),
                ));
            }
            Err(e) => {
                let e = map(e, "iam:GetRole", &self.names());
                checks.push(unreadable(name, &e, "iam:GetRole on AWSServiceRoleForECS"));
            }
        }
    }

    /// One check of `role`: each ask (actions, a resource, context keys) simulated.
    async fn simulate(
        &self,
        name: &str,
        role: &str,
        asks: &[Ask],
        module_policy: &str,
        checks: &mut Vec<Check>,
    ) {
        use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum, PolicyEvaluationDecisionType};
        let mut denied = Vec::new();
        for (actions, resource, context) in asks {
            self.count();
            let entries: Vec<ContextEntry> = context
                .iter()
                .map(|(k, v)| {
                    ContextEntry::builder()
                        .context_key_name(*k)
                        .set_context_key_values(Some(v.clone()))
                        .context_key_type(if v.len() > 1 {
                            ContextKeyTypeEnum::StringList
                        } else {
                            ContextKeyTypeEnum::String
                        })
                        .build()
                })
                .collect();
            let out = self
                .iam
                .simulate_principal_policy()
                .policy_source_arn(role)
                .set_action_names(Some(actions.iter().map(|a| (*a).to_owned()).collect()))
                .resource_arns(resource)
                .set_context_entries((!entries.is_empty()).then_some(entries))
                .send()
                .await;
            match out {
                Ok(out) => {
                    for r in out.evaluation_results() {
                        if r.eval_decision() != &PolicyEvaluationDecisionType::Allowed {
                            denied.push(format!(
                                "{} on {resource} ({})",
                                r.eval_action_name(),
                                r.eval_decision().as_str()
                            ));
                        }
                    }
                }
                Err(e) => {
                    let e = map(e, "iam:SimulatePrincipalPolicy", &self.names());
                    let mut seen = unreadable(name, &e, "iam:SimulatePrincipalPolicy on the role");
                    seen.detail = format!("{role}: could not be checked: {e}");
                    // IAM's decision can only be read, never guessed: a warning, not a failure.
                    seen.verdict = Verdict::Warn;
                    checks.push(seen);
                    return;
                }
            }
        }
        if denied.is_empty() {
            checks.push(check(
                name,
                Verdict::Pass,
                format!("{role}: every action it needs is allowed"),
                None,
            ));
        } else {
            checks.push(check(
                name,
                Verdict::Fail,
                format!("{role} may not: {}", denied.join("; ")),
                Some(format!("allow them in the role's policy (the module's {module_policy}: `terraform apply` puts it back); a permissions boundary or an SCP may deny them too").as_str()),
            ));
        }
    }
}
