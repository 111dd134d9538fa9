//! CloudWatch metrics in the Embedded Metric Format: one JSON log line per notice, which
//! CloudWatch Logs turns into metrics with no API call (a Lambda's standard output goes to
//! its log group). Starts, failures, each start's phases, and each session's minutes and
//! cost, so that real start times can be graphed, in Grafana itself.
//!
//! The format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.

use crate::error::Result;
use crate::notice::{Notice, NoticeKind, Notifier};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// The metrics' namespace.
pub const NAMESPACE: &str = "grafana-ondemand";

/// The EMF line for `notice` of `service` at `at`; `None` when it carries no figure.
pub fn emf_line(notice: &Notice, service: &str, at: DateTime<Utc>) -> Option<String> {
    let mut figures: Vec<(&str, &str, f64)> = Vec::new();
    match notice.kind {
        NoticeKind::Started => figures.push(("Starts", "Count", 1.0)),
        NoticeKind::Failed => figures.push(("Failures", "Count", 1.0)),
        NoticeKind::Running => {
            let t = notice.timings.as_ref()?;
            for (name, value) in [
                ("StartToReady", t.ready),
                ("Placing", t.placing),
                ("Pulling", t.pulling),
                ("Booting", t.booting),
                ("FrontDoor", t.front_door),
            ] {
                if let Some(v) = value {
                    figures.push((name, "Seconds", v));
                }
            }
        }
        NoticeKind::Stopped => {
            if let Some(minutes) = notice.session_minutes {
                figures.push(("SessionMinutes", "None", minutes));
            }
            if let Some(cost) = notice.session_cost {
                figures.push(("SessionCostUSD", "None", cost));
            }
        }
    }
    if figures.is_empty() {
        return None;
    }
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Service"]],
                "Metrics": figures.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit})).collect::<Vec<Value>>(),
            }],
        }),
    );
    line.insert("Service".into(), json!(service));
    for (name, _, value) in &figures {
        line.insert((*name).into(), json!(value));
    }
    // Searchable in Logs Insights beside the figures, not metrics themselves.
    line.insert("notice".into(), json!(notice.kind.as_str()));
    line.insert("task".into(), json!(notice.subject));
    Some(Value::Object(line).to_string())
}

/// A [`Notifier`] that writes each notice's figures to standard output as an EMF line.
#[derive(Debug, Clone)]
pub struct EmfMetrics {
    service: String,
}

impl EmfMetrics {
    /// Metrics of `service` (the dimension's value: the ECS service's name).
    pub fn new(service: impl Into<String>) -> Self {
        EmfMetrics {
            service: service.into(),
        }
    }
}

#[async_trait]
impl Notifier for EmfMetrics {
    async fn send(&self, notice: &Notice) -> Result<()> {
        if let Some(line) = emf_line(notice, &self.service, Utc::now()) {
            println!("{line}");
        }
        Ok(())
    }
}
