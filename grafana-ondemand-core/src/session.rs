//! When a running service stops by itself: the session policy and the pure decision.
//!
//! From the task's start, the last time it was used, any lease and the policy, [`decide`]
//! says keep (until when, and why) or stop (and why). No I/O, no clock: `now` is an input.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// When a session ends by itself. `None` turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// How long a freshly started service may go unused before it stops.
    pub startup_grace: Option<Duration>,
    /// How long after its last use a service stops.
    pub idle_timeout: Option<Duration>,
    /// The longest a session lasts, whatever happens (leases included).
    pub max_session: Option<Duration>,
}

impl Default for SessionPolicy {
    /// For a person opening dashboards now and then: 15 min of grace after a start, 30 min
    /// without use, 12 h at most.
    fn default() -> Self {
        SessionPolicy {
            startup_grace: Some(Duration::from_secs(15 * 60)),
            idle_timeout: Some(Duration::from_secs(30 * 60)),
            max_session: Some(Duration::from_secs(12 * 3600)),
        }
    }
}

impl SessionPolicy {
    /// The default policy, overridden by `STARTUP_GRACE`, `IDLE_TIMEOUT` and `MAX_SESSION`
    /// (durations such as `30m`, `45s`, `12h`, `1h30m`, or `off`).
    pub fn from_env() -> crate::Result<Self> {
        let mut policy = SessionPolicy::default();
        for (name, field) in [
            ("STARTUP_GRACE", &mut policy.startup_grace),
            ("IDLE_TIMEOUT", &mut policy.idle_timeout),
            ("MAX_SESSION", &mut policy.max_session),
        ] {
            if let Some(v) = crate::env::setting(name) {
                *field = parse_limit(&v).map_err(|e| crate::Error::invalid_config(name, e))?;
            }
        }
        Ok(policy)
    }
}

impl SessionPolicy {
    /// The rules in a sentence for people: "It stops by itself 15 min after a start nobody
    /// used, 30 min after its last use, and after 12 h at most."
    pub fn describe(&self) -> String {
        let rules: Vec<String> = [
            self.startup_grace
                .map(|d| format!("{} after a start nobody used", human(d))),
            self.idle_timeout
                .map(|d| format!("{} after its last use", human(d))),
            self.max_session
                .map(|d| format!("after {} at most", human(d))),
        ]
        .into_iter()
        .flatten()
        .collect();
        match rules.as_slice() {
            [] => "It runs until someone stops it.".into(),
            [one] => format!("It stops by itself {one}."),
            [init @ .., last] => format!("It stops by itself {}, and {last}.", init.join(", ")),
        }
    }

    /// Every limit multiplied by `factor` (the simulated backend's `SIMULATED_TIME_SCALE`).
    pub fn scaled(&self, factor: f64) -> Self {
        let f = |d: Option<Duration>| d.map(|d| d.mul_f64(factor.max(0.0)));
        SessionPolicy {
            startup_grace: f(self.startup_grace),
            idle_timeout: f(self.idle_timeout),
            max_session: f(self.max_session),
        }
    }
}

/// Parses a limit: `off`, or a duration of whole units `d`, `h`, `m`, `s` (`1h30m`, `45s`).
pub fn parse_limit(s: &str) -> Result<Option<Duration>, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    parse_duration(s).map(Some)
}

/// Parses a duration of whole units `d`, `h`, `m`, `s`, such as `2h`, `1h30m`, `45s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration: use 30m, 45s, 12h or 1h30m");
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut units = 0;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        digits.clear();
        units += 1;
    }
    if !digits.is_empty() || units == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// A duration the way people read it: `45 s`, `30 min`, `1 h 12 min`, `12 h`.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// What is known of the service's use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Last used at this instant (possibly before this session began).
    LastUsed(DateTime<Utc>),
    /// Readable, and no use was ever seen.
    NeverUsed,
    /// Readable, and no use since this instant (what came before was not read).
    IdleSince(DateTime<Utc>),
    /// Could not be read: no stop for idleness may follow from it.
    Unknown,
}

/// One running session, as the decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// When the serving task started (its session began).
    pub started_at: DateTime<Utc>,
    /// Its use.
    pub activity: Activity,
    /// Kept at least until then, if a user asked.
    pub lease_until: Option<DateTime<Utc>>,
}

/// Why a session was stopped by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Nobody used it within the startup grace.
    UnusedAfterStart {
        /// The grace it had.
        grace: Duration,
    },
    /// Nobody used it for the idle timeout.
    Idle {
        /// The timeout that passed.
        timeout: Duration,
    },
    /// It reached the maximum session.
    SessionLimit {
        /// The limit.
        limit: Duration,
    },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::UnusedAfterStart { grace } => write!(
                f,
                "stopped: nobody used it within {} of its start",
                human(*grace)
            ),
            StopReason::Idle { timeout } => {
                write!(f, "stopped after {} without use", human(*timeout))
            }
            StopReason::SessionLimit { limit } => {
                write!(f, "stopped at the {} session limit", human(*limit))
            }
        }
    }
}

/// Why a session is kept for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepReason {
    /// A user's lease holds it.
    Lease,
    /// It started recently and may not have been used yet.
    StartupGrace,
    /// It was used recently.
    InUse,
    /// Its use cannot be read: only the maximum session applies.
    ActivityUnknown,
    /// No idle limit is set.
    NoIdleLimit,
}

/// The decision for one session at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep it; `until` is when it stops if nothing changes (`None`: not by itself).
    Keep {
        /// When it stops if nothing changes.
        until: Option<DateTime<Utc>>,
        /// Why it is kept.
        why: KeepReason,
    },
    /// Stop it now.
    Stop {
        /// Why.
        reason: StopReason,
    },
}

/// `t + d`, saturating at the end of time (a limit of years is no error).
pub(crate) fn plus(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The session limit's reason once `policy.max_session` has passed since `started` (leases
/// included: nothing extends a session past its limit).
pub fn past_session_limit(
    policy: &SessionPolicy,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<StopReason> {
    let limit = policy.max_session?;
    (now >= plus(started, limit)).then_some(StopReason::SessionLimit { limit })
}

/// `verdict` for the running task, bounded by the session's limit counted from the start
/// recorded on the service (`recorded`): a task that replaced another (a crash, a failed
/// health check) does not start the session's clock again.
pub fn within_session(
    policy: &SessionPolicy,
    recorded: Option<DateTime<Utc>>,
    verdict: Verdict,
    now: DateTime<Utc>,
) -> Verdict {
    let Some(started) = recorded else {
        return verdict;
    };
    if let Some(reason) = past_session_limit(policy, started, now) {
        return Verdict::Stop { reason };
    }
    match (verdict, policy.max_session) {
        (Verdict::Keep { until, why }, Some(limit)) => {
            let end = plus(started, limit);
            Verdict::Keep {
                until: Some(until.map_or(end, |u| u.min(end))),
                why,
            }
        }
        (verdict, _) => verdict,
    }
}

/// The activity filter without its exclusions (`-"/api/health"`): every request the service
/// logs, its health checks included, or `None` for a pattern of another syntax (JSON or
/// space-delimited). A log where even that matches nothing is not read as "never used": the
/// service words its requests otherwise, or does not log them.
pub fn every_request(filter: &str) -> Option<String> {
    let filter = filter.trim();
    if filter.starts_with('{') || filter.starts_with('[') {
        return None;
    }
    let mut kept = Vec::new();
    let mut chars = filter.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut term = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() && !quoted {
                break;
            }
            if c == '"' {
                quoted = !quoted;
            }
            term.push(c);
            chars.next();
        }
        if !term.starts_with('-') {
            kept.push(term);
        }
    }
    Some(kept.join(" "))
}

/// Keep or stop `session` at `now` under `policy`. The maximum session always wins; before
/// it, a session is never stopped inside its lease or its startup grace, and never for
/// idleness when its use cannot be read.
pub fn decide(policy: &SessionPolicy, session: &Session, now: DateTime<Utc>) -> Verdict {
    // A lease that ended before this session began (a tag left by an earlier one) is none.
    let session = &Session {
        lease_until: session.lease_until.filter(|l| *l > session.started_at),
        ..*session
    };
    let limit_at = policy.max_session.map(|m| plus(session.started_at, m));
    if let Some(reason) = past_session_limit(policy, session.started_at, now) {
        return Verdict::Stop { reason };
    }
    let grace_end = policy
        .startup_grace
        .map(|g| plus(session.started_at, g))
        .unwrap_or(session.started_at);
    // Use before this session began does not count as use of it; no use since `t` times
    // idleness from `t` at the latest.
    let used = match session.activity {
        Activity::LastUsed(t) | Activity::IdleSince(t) if t >= session.started_at => Some(t),
        Activity::LastUsed(_) | Activity::IdleSince(_) | Activity::NeverUsed => None,
        Activity::Unknown => {
            return Verdict::Keep {
                until: limit_at,
                why: KeepReason::ActivityUnknown,
            };
        }
    };
    // When and why it would stop for want of use, if nothing changes.
    let unused: Option<(DateTime<Utc>, StopReason)> = match (used, session.lease_until) {
        // Idleness counts from the last use or the lease's end, whichever is later.
        (u, Some(lease)) => policy.idle_timeout.map(|timeout| {
            let from = u.map_or(lease, |u| u.max(lease));
            (plus(from, timeout), StopReason::Idle { timeout })
        }),
        (Some(u), None) => policy
            .idle_timeout
            .map(|timeout| (plus(u, timeout), StopReason::Idle { timeout })),
        (None, None) => match (policy.startup_grace, policy.idle_timeout) {
            (Some(grace), _) => Some((grace_end, StopReason::UnusedAfterStart { grace })),
            (None, Some(timeout)) => Some((
                plus(session.started_at, timeout),
                StopReason::Idle { timeout },
            )),
            (None, None) => None,
        },
    };
    // Never inside the grace or the lease.
    let protected_until = session.lease_until.map_or(grace_end, |l| l.max(grace_end));
    let unused = unused.map(|(at, why)| (at.max(protected_until), why));
    if let Some((at, reason)) = unused
        && now >= at
    {
        return Verdict::Stop { reason };
    }
    let why = if session.lease_until.is_some_and(|l| now < l) {
        KeepReason::Lease
    } else if now < grace_end && used.is_none() {
        KeepReason::StartupGrace
    } else if policy.idle_timeout.is_none() {
        KeepReason::NoIdleLimit
    } else {
        KeepReason::InUse
    };
    let until = [unused.map(|(at, _)| at), limit_at]
        .into_iter()
        .flatten()
        .min();
    Verdict::Keep { until, why }
}
