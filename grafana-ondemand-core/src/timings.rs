//! How long a start took, phase by phase: from ECS's own timestamps where it gives them
//! (`pullStartedAt`, `pullStoppedAt`), from the controller's observations otherwise (the
//! request, recorded on the service; the first HEALTHY, for which ECS keeps no timestamp, as
//! first seen, with how late that look may have been; the door serving Grafana).
//!
//! The moments only a controller sees are kept in the service's [`READY_TAG`], written once
//! per task by the first instance that sees it running, so that every instance (and every
//! later status) reports the same figures.

use crate::observation::TaskSnapshot;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The service tag that keeps what a controller saw of the last start:
/// `<task id> <healthy, epoch ms> <its uncertainty, ms> <ready, epoch ms>`.
pub const READY_TAG: &str = "grafana-ondemand:ready";

/// What a controller saw of one task's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The task.
    pub task_id: String,
    /// When it was first seen healthy (Grafana answering, or ECS's HEALTHY).
    pub healthy: DateTime<Utc>,
    /// How long before `healthy` it may have become so: the time since the previous look.
    pub healthy_within_ms: i64,
    /// When status first said running (the door open and its grace over, with a door).
    pub ready: DateTime<Utc>,
}

impl Seen {
    /// The tag value.
    pub fn tag(&self) -> String {
        format!(
            "{} {} {} {}",
            self.task_id,
            self.healthy.timestamp_millis(),
            self.healthy_within_ms,
            self.ready.timestamp_millis()
        )
    }

    /// What the tags say was seen of `task_id`, if anything.
    pub fn read(tags: &BTreeMap<String, String>, task_id: &str) -> Option<Seen> {
        let mut parts = tags.get(READY_TAG)?.split_whitespace();
        if parts.next()? != task_id {
            return None;
        }
        let mut number = || parts.next()?.parse::<i64>().ok();
        let healthy = DateTime::from_timestamp_millis(number()?)?;
        let healthy_within_ms = number()?;
        let ready = DateTime::from_timestamp_millis(number()?)?;
        Some(Seen {
            task_id: task_id.to_owned(),
            healthy,
            healthy_within_ms,
            ready,
        })
    }
}

/// A start's phases, in seconds (a tenth at most), as far as it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartTimings {
    /// When the start was asked for.
    pub requested_at: DateTime<Utc>,
    /// From the request to the image pull's start: placing the task, its network interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placing: Option<f64>,
    /// The image pull (ECS's `pullStartedAt` to `pullStoppedAt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulling: Option<f64>,
    /// From the pull's end to the first look that found Grafana healthy (EFS mount, Grafana's
    /// boot and migrations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booting: Option<f64>,
    /// How much earlier than seen Grafana may have become healthy (the time since the look
    /// before): the uncertainty of `booting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booting_within: Option<f64>,
    /// From healthy to running: the front door's entry written and propagated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub front_door: Option<f64>,
    /// From the request to running: the start's whole time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<f64>,
    /// One line for people, once ready: "ready in 47 s: 12 s placing, 18 s pulling, 13 s
    /// booting, 4 s front door" (the page and the CLI print it as it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_milliseconds().max(0) as f64 / 100.0).round() / 10.0
}

impl StartTimings {
    /// The phases of `task`'s start, asked for at `requested`, with what a controller `seen`.
    pub fn of(requested: DateTime<Utc>, task: &TaskSnapshot, seen: Option<&Seen>) -> Self {
        let pull_start = task.pull_started_at.filter(|t| *t >= requested);
        let pull_stop = task.pull_stopped_at.filter(|_| pull_start.is_some());
        let seen = seen.filter(|s| s.task_id == task.id());
        let mut timings = StartTimings {
            requested_at: requested,
            placing: pull_start.map(|t| secs(requested, t)),
            pulling: pull_start.zip(pull_stop).map(|(a, b)| secs(a, b)),
            booting: pull_stop.zip(seen).map(|(a, s)| secs(a, s.healthy)),
            booting_within: seen
                .map(|s| (s.healthy_within_ms.max(0) as f64 / 100.0).round() / 10.0),
            front_door: seen.map(|s| secs(s.healthy, s.ready)),
            ready: seen.map(|s| secs(requested, s.ready)),
            summary: None,
        };
        timings.summary = timings.line();
        timings
    }

    fn line(&self) -> Option<String> {
        let ready = self.ready?;
        let parts: Vec<String> = [
            (self.placing, "placing"),
            (self.pulling, "pulling"),
            (self.booting, "booting"),
            (self.front_door, "front door"),
        ]
        .into_iter()
        .filter_map(|(v, what)| v.map(|v| format!("{} s {what}", v.round())))
        .collect();
        Some(if parts.is_empty() {
            format!("ready in {} s", ready.round())
        } else {
            format!("ready in {} s: {}", ready.round(), parts.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn phases_come_from_ecs_timestamps_and_what_was_seen() {
        let mut task = TaskSnapshot::new("arn:aws:ecs:eu-west-3:1:task/c/abc");
        task.created_at = Some(at(1));
        task.pull_started_at = Some(at(12));
        task.pull_stopped_at = Some(at(30));
        let seen = Seen {
            task_id: "abc".into(),
            healthy: at(43),
            healthy_within_ms: 2000,
            ready: at(47),
        };
        let tags = BTreeMap::from([(READY_TAG.to_owned(), seen.tag())]);
        assert_eq!(Seen::read(&tags, "abc"), Some(seen.clone()));
        assert_eq!(Seen::read(&tags, "other"), None, "another task's start");
        let t = StartTimings::of(at(0), &task, Some(&seen));
        assert_eq!(
            (t.placing, t.pulling, t.booting, t.front_door, t.ready),
            (Some(12.0), Some(18.0), Some(13.0), Some(4.0), Some(47.0))
        );
        assert_eq!(t.booting_within, Some(2.0));
        assert_eq!(
            t.summary.as_deref(),
            Some("ready in 47 s: 12 s placing, 18 s pulling, 13 s booting, 4 s front door")
        );
        // Still pulling: no summary, the phases so far.
        task.pull_stopped_at = None;
        let t = StartTimings::of(at(0), &task, None);
        assert_eq!((t.placing, t.pulling, t.summary), (Some(12.0), None, None));
        // A pull of an earlier start is no phase of this one.
        let t = StartTimings::of(at(20), &task, None);
        assert_eq!(t.placing, None);
    }
}
