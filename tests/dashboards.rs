//! The dashboards the module provisions: the built-in "On demand" dashboard asks CloudWatch
//! only for metrics the Lambda really writes (their names read from the EMF code, so a renamed
//! metric fails here), every metric written is shown, and the tokens the module fills in are
//! exactly the ones the JSON holds; the example's dashboards are dashboards.
//!
//! That the files reach Grafana (and a change and a removal with them) is the moto apply's
//! check: infra/test/moto-apply runs the task definition's own start command.

use grafana_ondemand::{NAMESPACE, Notice, emf_line};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn module() -> PathBuf {
    crate::support::root().join("infra/modules/grafana_on_demand")
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The tokens dashboards.tf replaces in the built-in dashboard (`"__NAME__", value`).
fn tokens_the_module_fills() -> BTreeSet<String> {
    let tf = read(module().join("dashboards.tf"));
    tf.split('"')
        .filter(|s| s.len() > 4 && s.starts_with("__") && s.ends_with("__"))
        .filter(|s| {
            s[2..s.len() - 2]
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_')
        })
        .map(str::to_string)
        .collect()
}

/// Every `__NAME__` token in `text`.
fn tokens_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("__") {
        let after = &rest[at + 2..];
        let len = after
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .unwrap_or(after.len());
        let word = &after[..len];
        if let Some(name) = word.strip_suffix("__").filter(|n| !n.is_empty()) {
            found.insert(format!("__{name}__"));
            rest = &after[len..];
        } else {
            rest = after;
        }
    }
    found
}

/// What the Lambda's EMF lines declare, for every notice that carries figures: the namespace,
/// the dimension sets, and each metric's name.
struct Emitted {
    namespaces: BTreeSet<String>,
    dimensions: BTreeSet<Vec<String>>,
    metrics: BTreeSet<String>,
}

fn emitted() -> Emitted {
    let requested = chrono::Utc::now();
    let notices = [
        json!({"kind": "started", "subject": "task/1", "text": "starting"}),
        json!({"kind": "failed", "subject": "task/1", "text": "failed", "reason": "CannotPullContainerError"}),
        json!({"kind": "running", "subject": "task/1", "text": "running", "url": "https://g.example.com",
               "timings": {"requestedAt": requested, "placing": 12.0, "pulling": 18.0, "booting": 13.0,
                           "bootingWithin": 2.0, "frontDoor": 4.0, "ready": 47.0}}),
        json!({"kind": "stopped", "subject": "task/1", "text": "stopped", "reason": "idle",
               "sessionMinutes": 42.0, "sessionCost": 0.03}),
    ];
    let mut out = Emitted {
        namespaces: BTreeSet::new(),
        dimensions: BTreeSet::new(),
        metrics: BTreeSet::new(),
    };
    for notice in notices {
        let notice: Notice = serde_json::from_value(notice).unwrap();
        let line = emf_line(&notice, "grafana", requested)
            .unwrap_or_else(|| panic!("{:?} writes no EMF line", notice.kind));
        let line: Value = serde_json::from_str(&line).unwrap();
        for directive in line["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            out.namespaces
                .insert(directive["Namespace"].as_str().unwrap().into());
            for set in directive["Dimensions"].as_array().unwrap() {
                let mut set: Vec<String> = set
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_str().unwrap().to_string())
                    .collect();
                set.sort();
                out.dimensions.insert(set);
            }
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(line.get(name).is_some(), "{name} declared without a value");
                out.metrics.insert(name.into());
            }
        }
    }
    out
}

/// The built-in dashboard as the module writes it for service "grafana".
fn on_demand() -> Value {
    let text = read(module().join("dashboards/on-demand.json"))
        .replace("__SERVICE__", "grafana")
        .replace("__REGION__", "eu-west-1")
        .replace("__IDLE_TIMEOUT__", "30m")
        .replace("__MAX_SESSION__", "8h")
        .replace("__STARTUP_GRACE__", "10m");
    serde_json::from_str(&text).expect("on-demand.json, its tokens filled in, is JSON")
}

#[test]
fn the_on_demand_dashboard_asks_only_for_metrics_the_lambda_writes_and_shows_them_all() {
    let emitted = emitted();
    assert!(
        emitted.metrics.len() >= 9,
        "the EMF code declares {:?}",
        emitted.metrics
    );
    let dashboard = on_demand();
    let mut asked = BTreeSet::new();
    let panels = dashboard["panels"].as_array().unwrap();
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            let metric = target["metricName"].as_str().unwrap_or_default();
            assert!(
                emitted.metrics.contains(metric),
                "panel {title:?} asks for {metric:?}, which the Lambda never writes (it writes {:?})",
                emitted.metrics
            );
            let namespace = target["namespace"].as_str().unwrap_or_default();
            assert!(
                emitted.namespaces.contains(namespace) && namespace == NAMESPACE,
                "panel {title:?} asks namespace {namespace:?}"
            );
            let mut keys: Vec<String> = target["dimensions"]
                .as_object()
                .unwrap_or_else(|| panic!("panel {title:?} has no dimensions"))
                .keys()
                .cloned()
                .collect();
            keys.sort();
            assert!(
                emitted.dimensions.contains(&keys),
                "panel {title:?} filters on {keys:?}; the lines carry {:?}",
                emitted.dimensions
            );
            assert_eq!(target["dimensions"]["Service"], "grafana", "{title}");
            assert_eq!(target["region"], "eu-west-1", "{title}");
            assert_eq!(target["datasource"]["type"], "cloudwatch", "{title}");
            asked.insert(metric.to_string());
        }
    }
    let unshown: Vec<_> = emitted.metrics.difference(&asked).collect();
    assert!(unshown.is_empty(), "no panel shows {unshown:?}");

    let text: String = panels
        .iter()
        .filter(|p| p["type"] == "text")
        .map(|p| p["options"]["content"].as_str().unwrap_or_default())
        .collect();
    for setting in ["30m", "8h", "idle_timeout", "max_session"] {
        assert!(
            text.contains(setting),
            "the text panel does not say {setting}"
        );
    }
    // Grafana's CloudWatch panels take the data source from the variable; one of that type.
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(
        variables
            .iter()
            .any(|v| v["type"] == "datasource" && v["query"] == "cloudwatch")
    );
    assert_eq!(dashboard["uid"], "grafana-ondemand");
}

#[test]
fn the_module_fills_in_every_token_of_the_on_demand_dashboard_and_no_other() {
    let raw = read(module().join("dashboards/on-demand.json"));
    assert_eq!(
        tokens_in(&raw),
        tokens_the_module_fills(),
        "on-demand.json's tokens and dashboards.tf's replace() calls differ"
    );
    assert!(tokens_in(&raw).contains("__SERVICE__"));
}

#[test]
fn the_examples_dashboards_are_grafana_dashboards() {
    let dir = crate::support::root().join("infra/examples/complete/dashboards");
    let mut uids = BTreeSet::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    for file in files {
        let dashboard: Value = serde_json::from_str(&read(file.clone()))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let uid = dashboard["uid"].as_str().unwrap_or_default();
        assert!(!uid.is_empty(), "{}: no uid", file.display());
        assert!(
            uid != "grafana-ondemand",
            "{}: the built-in's uid",
            file.display()
        );
        assert!(uids.insert(uid.to_string()), "{uid} twice");
        assert!(dashboard["title"].is_string(), "{}", file.display());
        assert!(
            dashboard.get("__inputs").is_none(),
            "{}: an export for sharing (its ${{DS_…}} would not resolve)",
            file.display()
        );
        assert!(!dashboard["panels"].as_array().unwrap().is_empty());
    }
}
