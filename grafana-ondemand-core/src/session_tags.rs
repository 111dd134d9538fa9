//! What holds a session on the service, as tags every instance reads: the lease a user asked
//! for, and who started or stopped the service last, when, and why.

use crate::session::StopReason;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The ECS service tag that holds a user's lease: an RFC 3339 instant, such as
/// `2026-11-26T14:32:00Z`. Every controller instance reads it in DescribeServices.
pub const LEASE_TAG: &str = "grafana-ondemand:lease-until";
/// The ECS service tag that records the last stop and why, such as
/// `idle 1800 2026-11-26T14:32:00Z`, so that the next status can say it; a start writes
/// `started 0 <time>` there, so that a stop made elsewhere (the console) is not explained
/// with the reason of an earlier one.
pub const STOP_TAG: &str = "grafana-ondemand:stopped";

/// The lease recorded in the service's tags, if any.
pub fn lease_in(tags: &std::collections::BTreeMap<String, String>) -> Option<DateTime<Utc>> {
    tags.get(LEASE_TAG)
        .and_then(|v| DateTime::parse_from_rfc3339(v.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The tag value of a lease until `until` (whole seconds).
pub fn lease_tag(until: DateTime<Utc>) -> String {
    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Who or what stopped the service last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoppedBy {
    /// Someone asked (the API, the CLI, the page).
    Request,
    /// The reaper, for this reason.
    Policy(StopReason),
}

/// The last stop, as recorded in the [`STOP_TAG`] tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopRecord {
    /// Who or what stopped it.
    pub by: StoppedBy,
    /// When.
    pub at: DateTime<Utc>,
}

impl StopRecord {
    /// The tag value: `<code> <seconds> <RFC 3339 instant>` (tag values allow no other form).
    pub fn tag(&self) -> String {
        let (code, secs) = match self.by {
            StoppedBy::Request => ("request", 0),
            StoppedBy::Policy(StopReason::UnusedAfterStart { grace }) => {
                ("unused", grace.as_secs())
            }
            StoppedBy::Policy(StopReason::Idle { timeout }) => ("idle", timeout.as_secs()),
            StoppedBy::Policy(StopReason::SessionLimit { limit }) => ("limit", limit.as_secs()),
        };
        format!("{code} {secs} {}", lease_tag(self.at))
    }

    /// What a start writes in [`STOP_TAG`]: no stop since `at`.
    pub fn started_tag(at: DateTime<Utc>) -> String {
        // To the millisecond: the start's timings count from it.
        format!(
            "started 0 {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    }

    /// What a start writes in [`STOP_TAG`] while the previous task still shuts down: a start is
    /// wanted since `at`, carried out (by whichever instance sees it first) once that task is
    /// gone.
    pub fn wanted_tag(at: DateTime<Utc>) -> String {
        format!("wanted 0 {}", lease_tag(at))
    }

    /// Since when a start waits for the previous task to stop, from [`STOP_TAG`]; `None` when
    /// none waits.
    pub fn start_wanted(
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Option<DateTime<Utc>> {
        let at = tags.get(STOP_TAG)?.strip_prefix("wanted 0 ")?;
        Some(
            DateTime::parse_from_rfc3339(at.trim())
                .ok()?
                .with_timezone(&Utc),
        )
    }

    /// When the service was last started through a controller, from the [`STOP_TAG`] a start
    /// writes; `None` once it was stopped since (or never started that way).
    pub fn started_at(tags: &std::collections::BTreeMap<String, String>) -> Option<DateTime<Utc>> {
        let at = tags.get(STOP_TAG)?.strip_prefix("started 0 ")?;
        Some(
            DateTime::parse_from_rfc3339(at.trim())
                .ok()?
                .with_timezone(&Utc),
        )
    }

    /// The record in the service's tags; `None` when absent, not in this form, or when the
    /// service was started since.
    pub fn read(tags: &std::collections::BTreeMap<String, String>) -> Option<StopRecord> {
        let mut parts = tags.get(STOP_TAG)?.split_whitespace();
        let (code, secs, at) = (parts.next()?, parts.next()?, parts.next()?);
        let d = Duration::from_secs(secs.parse().ok()?);
        let by = match code {
            "request" => StoppedBy::Request,
            "unused" => StoppedBy::Policy(StopReason::UnusedAfterStart { grace: d }),
            "idle" => StoppedBy::Policy(StopReason::Idle { timeout: d }),
            "limit" => StoppedBy::Policy(StopReason::SessionLimit { limit: d }),
            _ => return None,
        };
        let at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
        Some(StopRecord { by, at })
    }
}

impl std::fmt::Display for StopRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.by {
            StoppedBy::Request => f.write_str("stopped on request"),
            StoppedBy::Policy(reason) => reason.fmt(f),
        }
    }
}
