//! IAM's `SimulatePrincipalPolicy` and `GetRole` (query protocol: a form, XML answers) over
//! the roles a test registers ([`WireStub::serve_role_policy`](super::WireStub::serve_role_policy)),
//! decided by [`crate::iam`]'s evaluator: one result per action and resource, as IAM gives
//! them when each call names one resource. The account has ECS's service-linked role, as any
//! account with an ECS service does, until a test deletes it.

use super::form_value;
use crate::iam::decide;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::{Request, Respond, ResponseTemplate};

/// Role ARN → its policy (the union of its statements).
pub(super) type RolePolicies = Arc<Mutex<BTreeMap<String, Value>>>;

/// ECS's service-linked role, as IAM names it.
pub(super) const ECS_SERVICE_LINKED_ROLE: &str =
    "arn:aws:iam::123456789012:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS";

#[derive(Debug)]
pub(super) struct IamWire {
    pub ecs: crate::SimulatedEcs,
    pub policies: RolePolicies,
    pub delay: Duration,
}

fn list(body: &[u8], prefix: &str) -> Vec<String> {
    (1..)
        .map_while(|n| form_value(body, &format!("{prefix}.member.{n}")))
        .collect()
}

fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        format!(
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>4c5d6e7f-8091-4a2b-b3c4-d5e6f7a8b9c0</RequestId></ErrorResponse>"
        ),
        "text/xml",
    )
}

/// `GetRole`: the role of that name (the last part of its ARN), or NoSuchEntity.
fn get_role(policies: &RolePolicies, body: &[u8], ecs: &crate::SimulatedEcs) -> ResponseTemplate {
    let now = ecs.now();
    let Some(name) = form_value(body, "RoleName") else {
        return error(400, "ValidationError", "RoleName is required");
    };
    let found = policies
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .keys()
        .find(|arn| arn.rsplit('/').next() == Some(name.as_str()))
        .cloned();
    let Some(arn) = found else {
        return error(
            404,
            "NoSuchEntity",
            &format!("The role with name {name} cannot be found."),
        );
    };
    // Made when the account's first ECS service was, long before this call.
    let created = (now - chrono::Duration::days(400)).format("%Y-%m-%dT%H:%M:%SZ");
    let path = arn
        .split_once(":role")
        .map(|(_, p)| p.trim_end_matches(name.as_str()))
        .unwrap_or("/");
    // IAM gives the trust policy URL-encoded.
    let trust = percent_encoding::utf8_percent_encode(
        &ecs.role_trust(&name),
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    ResponseTemplate::new(200).set_body_raw(
        format!(
            "<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetRoleResult><Role><Path>{path}</Path><RoleName>{name}</RoleName><RoleId>AROAEXAMPLE0123456789</RoleId><Arn>{arn}</Arn><CreateDate>{created}</CreateDate><AssumeRolePolicyDocument>{trust}</AssumeRolePolicyDocument></Role></GetRoleResult><ResponseMetadata><RequestId>5d6e7f80-91a2-4b3c-8d4e-f5a6b7c8d9e0</RequestId></ResponseMetadata></GetRoleResponse>"
        ),
        "text/xml",
    )
}

impl Respond for IamWire {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body = &request.body;
        if form_value(body, "Action").as_deref() == Some("GetRole") {
            return get_role(&self.policies, body, &self.ecs).set_delay(self.delay);
        }
        let Some(role) = form_value(body, "PolicySourceArn") else {
            return error(400, "ValidationError", "PolicySourceArn is required")
                .set_delay(self.delay);
        };
        let policy = self
            .policies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&role)
            .cloned();
        let Some(policy) = policy else {
            let name = role.rsplit('/').next().unwrap_or_default();
            return error(
                404,
                "NoSuchEntity",
                &format!("The role with name {name} cannot be found."),
            )
            .set_delay(self.delay);
        };
        let actions = list(body, "ActionNames");
        let resources = {
            let r = list(body, "ResourceArns");
            if r.is_empty() {
                vec!["*".to_owned()]
            } else {
                r
            }
        };
        let mut context = BTreeMap::new();
        for n in 1.. {
            let entry = format!("ContextEntries.member.{n}");
            let Some(key) = form_value(body, &format!("{entry}.ContextKeyName")) else {
                break;
            };
            context.insert(
                key,
                list(body, &format!("{entry}.ContextKeyValues")).join("\n"),
            );
        }
        let mut results = String::new();
        for action in &actions {
            for resource in &resources {
                let decision = decide(&policy, action, resource, &context);
                results.push_str(&format!(
                    "<member><EvalActionName>{action}</EvalActionName><EvalResourceName>{resource}</EvalResourceName><EvalDecision>{}</EvalDecision><MatchedStatements/><MissingContextValues/></member>",
                    decision.as_str()
                ));
            }
        }
        ResponseTemplate::new(200)
            .set_body_raw(
                format!(
                    "<SimulatePrincipalPolicyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>{results}</EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>3b4c5d6e-7f80-4912-a3b4-c5d6e7f8a9b0</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>"
                ),
                "text/xml",
            )
            .set_delay(self.delay)
    }
}
