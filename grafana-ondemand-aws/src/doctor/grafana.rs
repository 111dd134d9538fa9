//! What sleeps with Grafana: its alert rules, counted through Grafana's own API while it runs
//! (with the admin password the task reads from Parameter Store).

use super::{Check, Doctor, GRAFANA_URL_TAG, TaskSeen, Verdict, check, tag, unreadable};
use crate::errors::map;
use aws_sdk_ecs::types as ecs;
use serde::Deserialize;

/// One alert rule, as Grafana's provisioning API lists it (only what the check says).
#[derive(Debug, Deserialize)]
struct AlertRule {
    #[serde(default)]
    title: String,
}

const WHERE_INSTEAD: &str = "alerts that must fire while nobody looks belong in CloudWatch alarms or Amazon Managed Service for Prometheus (docs/sessions.md, What sleeps with Grafana)";

impl Doctor {
    /// Grafana's alert rules are not evaluated while it sleeps, and notify nobody: said when
    /// it has any. Counted only while it runs (its database is its own).
    pub(super) async fn alert_rules(
        &self,
        service: &ecs::Service,
        task: &TaskSeen,
        checks: &mut Vec<Check>,
    ) {
        let name = "no alert rules sleep with Grafana";
        if service.running_count() == 0 {
            checks.push(check(
                name,
                Verdict::Warn,
                "not counted: Grafana sleeps, and only it can say. Whatever alert rules it has are not evaluated while it sleeps".into(),
                Some(&format!("run doctor again while Grafana runs to count them; {WHERE_INSTEAD}")),
            ));
            return;
        }
        let (Some(url), Some(parameter)) = (tag(service, GRAFANA_URL_TAG), &task.admin_password)
        else {
            checks.push(check(
                name,
                Verdict::Warn,
                format!("not counted: the service has no {GRAFANA_URL_TAG} tag, or the task no GF_SECURITY_ADMIN_PASSWORD secret"),
                Some("`terraform apply` with this version tags the service with Grafana's address"),
            ));
            return;
        };
        self.count();
        let password = match self
            .ssm
            .get_parameter()
            .name(parameter)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(o) => o
                .parameter()
                .and_then(|p| p.value())
                .unwrap_or_default()
                .to_owned(),
            Err(e) => {
                let e = map(e, "ssm:GetParameter", &self.names());
                checks.push(unreadable(
                    name,
                    &e,
                    "ssm:GetParameter (with decryption) on Grafana's admin password",
                ));
                return;
            }
        };
        let listed = async {
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .map_err(|e| e.to_string())?;
            let response = client
                .get(format!(
                    "{}/api/v1/provisioning/alert-rules",
                    url.trim_end_matches('/')
                ))
                .basic_auth(&task.admin_user, Some(&password))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("Grafana answered {status}"));
            }
            response
                .json::<Vec<AlertRule>>()
                .await
                .map_err(|e| format!("Grafana's answer is not a list of alert rules: {e}"))
        }
        .await;
        match listed {
            Ok(rules) if rules.is_empty() => checks.push(check(
                name,
                Verdict::Pass,
                format!("{url}: no alert rules"),
                None,
            )),
            Ok(rules) => {
                let titles: Vec<&str> = rules.iter().take(3).map(|r| r.title.as_str()).collect();
                let more = rules.len().saturating_sub(titles.len());
                checks.push(check(
                    name,
                    Verdict::Warn,
                    format!(
                        "{} alert rule{} ({}{}): not evaluated while Grafana sleeps, and notifying nobody then",
                        rules.len(),
                        if rules.len() == 1 { "" } else { "s" },
                        titles.join(", "),
                        if more > 0 { format!(" and {more} more") } else { String::new() }
                    ),
                    Some(WHERE_INSTEAD),
                ));
            }
            Err(why) => checks.push(check(
                name,
                Verdict::Warn,
                format!("not counted: {url}/api/v1/provisioning/alert-rules: {why}"),
                Some("run doctor again once Grafana answers (`start --wait`)"),
            )),
        }
    }
}
