//! What a task needs before Grafana runs at all: images that exist, the log groups its
//! containers write to, and roles ECS can assume for it. Each failure here is a task that
//! never starts (STOPPED with CannotPullContainerError or ResourceInitializationError), which
//! no other check would show.

use super::{Check, Doctor, TaskSeen, Verdict, check, image_variable, unreadable};
use crate::errors::map;

/// The principal ECS takes a task's roles as.
const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";

/// An image in a private ECR registry: its account, region, repository, and tag or digest.
#[derive(Debug, PartialEq, Eq)]
struct EcrImage<'a> {
    account: &'a str,
    region: &'a str,
    repository: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

/// `<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag|@digest]`, else `None`.
fn ecr_image(image: &str) -> Option<EcrImage<'_>> {
    let (host, path) = image.split_once('/')?;
    let mut labels = host.split('.');
    let (account, dkr, ecr, region) = (
        labels.next()?,
        labels.next()?,
        labels.next()?,
        labels.next()?,
    );
    if dkr != "dkr"
        || ecr != "ecr"
        || !host.ends_with(".amazonaws.com") && !host.ends_with(".amazonaws.com.cn")
    {
        return None;
    }
    let (name, digest) = match path.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (path, None),
    };
    let (repository, tag) = match (digest, name.rsplit_once(':')) {
        (None, Some((r, t))) => (r, Some(t)),
        (None, None) => (name, Some("latest")),
        (Some(_), _) => (name, None),
    };
    Some(EcrImage {
        account,
        region,
        repository,
        tag,
        digest,
    })
}

/// Whether a trust policy lets `ecs-tasks.amazonaws.com` assume the role; the services it
/// names otherwise.
fn trusts_ecs_tasks(document: &str) -> Result<bool, Vec<String>> {
    let decoded = if document.trim_start().starts_with('{') {
        document.to_owned()
    } else {
        percent_encoding::percent_decode_str(document)
            .decode_utf8_lossy()
            .into_owned()
    };
    let policy: serde_json::Value = serde_json::from_str(&decoded).unwrap_or_default();
    let list = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let statements = match &policy["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        s @ serde_json::Value::Object(_) => vec![s.clone()],
        _ => Vec::new(),
    };
    let mut named = Vec::new();
    for s in &statements {
        let services = list(&s["Principal"]["Service"]);
        let assumes = list(&s["Action"])
            .iter()
            .any(|a| a == "sts:AssumeRole" || a == "sts:*" || a == "*");
        if s["Effect"] == "Allow" && assumes && services.iter().any(|p| p == ECS_TASKS) {
            return Ok(true);
        }
        named.extend(services);
        named.extend(list(&s["Principal"]["AWS"]));
    }
    Err(named)
}

impl Doctor {
    /// Every container's image, where it can be read: an ECR image of this account and region
    /// must have its repository and its tag (or digest); a public registry's, doctor cannot
    /// see into, and says so.
    pub(super) async fn images(&self, task: &TaskSeen, checks: &mut Vec<Check>) {
        let name = "its images exist";
        if task.images.is_empty() {
            return;
        }
        // arn:<partition>:ecs:<region>:<account>:task-definition/…
        let mut parts = task.arn.split(':').skip(3);
        let (region, account) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let mut missing = Vec::new();
        let mut found = Vec::new();
        let mut unseen = Vec::new();
        for (container, image) in &task.images {
            let Some(ecr) = ecr_image(image).filter(|e| e.account == account && e.region == region)
            else {
                unseen.push(image.clone());
                continue;
            };
            self.count();
            let id = aws_sdk_ecr::types::ImageIdentifier::builder()
                .set_image_tag(ecr.tag.map(str::to_owned))
                .set_image_digest(ecr.digest.map(str::to_owned))
                .build();
            let asked = self
                .ecr
                .describe_images()
                .repository_name(ecr.repository)
                .image_ids(id)
                .send()
                .await;
            let variable = image_variable(container);
            match asked {
                Ok(_) => found.push(image.clone()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_repository_not_found_exception()) =>
                {
                    missing.push(format!(
                        "{image} ({variable}): repository {} does not exist in {account} {region}",
                        ecr.repository
                    ));
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_image_not_found_exception()) =>
                {
                    missing.push(format!(
                        "{image} ({variable}): {} {} is not in repository {}",
                        if ecr.digest.is_some() {
                            "digest"
                        } else {
                            "tag"
                        },
                        ecr.digest.or(ecr.tag).unwrap_or_default(),
                        ecr.repository
                    ));
                }
                Err(e) => {
                    let e = map(e, "ecr:DescribeImages", &self.names());
                    checks.push(unreadable(name, &e, "ecr:DescribeImages on the repository"));
                    return;
                }
            }
        }
        if !missing.is_empty() {
            checks.push(check(
                name,
                Verdict::Fail,
                format!("{}: the task cannot pull it, and never starts", missing.join("; ")),
                Some("push the image, or set the variable named to an image that exists, and `terraform apply`"),
            ));
        } else if !unseen.is_empty() {
            checks.push(check(
                name,
                Verdict::Warn,
                format!(
                    "{}{}: a public registry, or another account's or region's, that doctor cannot see into",
                    if found.is_empty() { String::new() } else { format!("{} found in ECR; ", found.join(", ")) },
                    unseen.join(", ")
                ),
                Some("check that the tags exist where they are published (a start that cannot pull says CannotPullContainerError)"),
            ));
        } else {
            checks.push(check(
                name,
                Verdict::Pass,
                format!("{} in ECR", found.join(", ")),
                None,
            ));
        }
    }

    /// The log groups the containers write to exist (the module does not let tasks create
    /// them): without one, the task fails at start.
    pub(super) async fn log_groups(&self, task: &TaskSeen, checks: &mut Vec<Check>) {
        let name = "its log groups exist";
        let mut groups: Vec<&str> = task.logs.iter().map(|(g, _)| g.as_str()).collect();
        groups.sort_unstable();
        groups.dedup();
        let mut absent = Vec::new();
        for group in &groups {
            self.count();
            let read = self
                .logs
                .describe_log_groups()
                .log_group_name_prefix(*group)
                .send()
                .await;
            match read {
                Ok(out)
                    if out
                        .log_groups()
                        .iter()
                        .any(|g| g.log_group_name() == Some(*group)) => {}
                Ok(_) if task.created_groups.iter().any(|g| g == group) => {}
                Ok(_) => absent.push(*group),
                Err(e) => {
                    let e = map(e, "logs:DescribeLogGroups", &self.names());
                    checks.push(unreadable(name, &e, "logs:DescribeLogGroups"));
                    return;
                }
            }
        }
        if absent.is_empty() {
            if !groups.is_empty() {
                checks.push(check(name, Verdict::Pass, groups.join(", "), None));
            }
        } else {
            checks.push(check(
                name,
                Verdict::Fail,
                format!("{} does not exist, and the task definition does not create it (awslogs-create-group): the task fails at start", absent.join(", ")),
                Some("`terraform apply` creates it again (aws_cloudwatch_log_group.grafana)"),
            ));
        }
    }

    /// The execution and task roles trust `ecs-tasks.amazonaws.com`: ECS cannot start the task
    /// with a role it cannot assume.
    pub(super) async fn trust(&self, task: &TaskSeen, checks: &mut Vec<Check>) {
        let name = "ECS can assume its roles";
        let roles: Vec<(&str, &str)> = [
            ("execution role", &task.execution_role),
            ("task role", &task.task_role),
        ]
        .into_iter()
        .filter_map(|(what, arn)| Some((what, arn.as_deref()?)))
        .collect();
        if roles.is_empty() {
            return;
        }
        let mut refused = Vec::new();
        for (what, arn) in &roles {
            let role_name = arn.rsplit('/').next().unwrap_or(arn);
            self.count();
            let read = self.iam.get_role().role_name(role_name).send().await;
            match read {
                Ok(out) => {
                    let document = out
                        .role()
                        .and_then(|r| r.assume_role_policy_document())
                        .unwrap_or_default();
                    if let Err(named) = trusts_ecs_tasks(document) {
                        refused.push(format!(
                            "the {what} {arn} trusts {} instead",
                            if named.is_empty() {
                                "nobody".to_owned()
                            } else {
                                named.join(", ")
                            }
                        ));
                    }
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_no_such_entity_exception()) =>
                {
                    refused.push(format!("the {what} {arn} does not exist"));
                }
                Err(e) => {
                    let e = map(e, "iam:GetRole", &self.names());
                    checks.push(unreadable(name, &e, "iam:GetRole on the task's roles"));
                    return;
                }
            }
        }
        if refused.is_empty() {
            checks.push(check(
                name,
                Verdict::Pass,
                format!(
                    "{} trust {ECS_TASKS}",
                    roles
                        .iter()
                        .map(|(w, _)| *w)
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
                None,
            ));
        } else {
            checks.push(check(
                name,
                Verdict::Fail,
                format!("{}, not {ECS_TASKS}: ECS cannot start the task", refused.join("; ")),
                Some(&format!("let {ECS_TASKS} assume it (sts:AssumeRole in its trust policy): `terraform apply` puts the module's back")),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_images_are_read_from_their_uri() {
        assert_eq!(
            ecr_image("123456789012.dkr.ecr.eu-west-3.amazonaws.com/grafana/grafana-oss:11.3.0"),
            Some(EcrImage {
                account: "123456789012",
                region: "eu-west-3",
                repository: "grafana/grafana-oss",
                tag: Some("11.3.0"),
                digest: None
            })
        );
        assert_eq!(
            ecr_image("123456789012.dkr.ecr.eu-west-3.amazonaws.com/g@sha256:abc")
                .map(|e| (e.repository, e.digest)),
            Some(("g", Some("sha256:abc")))
        );
        assert_eq!(
            ecr_image("123456789012.dkr.ecr.eu-west-3.amazonaws.com/g").and_then(|e| e.tag),
            Some("latest")
        );
        for other in [
            "grafana/grafana-oss:11.3.0",
            "public.ecr.aws/grafana/grafana-oss:11",
            "ghcr.io/x/y:1",
        ] {
            assert_eq!(ecr_image(other), None, "{other}");
        }
    }

    #[test]
    fn a_trust_policy_names_ecs_tasks_or_what_it_trusts_instead() {
        let ecs = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        assert_eq!(trusts_ecs_tasks(ecs), Ok(true));
        let encoded: String =
            percent_encoding::utf8_percent_encode(ecs, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        assert_eq!(
            trusts_ecs_tasks(&encoded),
            Ok(true),
            "IAM answers it URL-encoded"
        );
        let lambda = ecs.replace("ecs-tasks", "lambda");
        assert_eq!(
            trusts_ecs_tasks(&lambda),
            Err(vec!["lambda.amazonaws.com".to_owned()])
        );
        let denied = ecs.replace("Allow", "Deny");
        assert!(trusts_ecs_tasks(&denied).is_err());
    }
}
