//! The session decision: every rule by table, the invariants by property.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, TimeZone, Utc};
use grafana_ondemand_core::*;
use proptest::prelude::*;
use std::time::Duration;

fn t(min: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + min * 60, 0)
        .single()
        .unwrap()
}

fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

fn session(activity: Activity, lease: Option<i64>) -> Session {
    Session {
        started_at: t(0),
        activity,
        lease_until: lease.map(t),
    }
}

fn stop_reason(v: Verdict) -> String {
    match v {
        Verdict::Stop { reason } => reason.to_string(),
        other => panic!("expected a stop, got {other:?}"),
    }
}

fn kept(v: Verdict) -> (Option<DateTime<Utc>>, KeepReason) {
    match v {
        Verdict::Keep { until, why } => (until, why),
        other => panic!("expected keep, got {other:?}"),
    }
}

#[test]
fn durations_read_as_people_write_them() {
    assert_eq!(parse_limit("30m"), Ok(Some(mins(30))));
    assert_eq!(parse_limit("45s"), Ok(Some(Duration::from_secs(45))));
    assert_eq!(parse_limit("12h"), Ok(Some(mins(720))));
    assert_eq!(parse_limit("1h30m"), Ok(Some(mins(90))));
    assert_eq!(parse_limit(" OFF "), Ok(None));
    for bad in ["", "30", "m", "3x", "-5m", "1.5h", "99999999999999999999h"] {
        assert!(
            parse_limit(bad).unwrap_err().contains("use 30m, 45s, 12h"),
            "{bad}"
        );
    }
    assert_eq!(human(mins(72)), "1 h 12 min");
    assert_eq!(human(mins(30)), "30 min");
    assert_eq!(human(mins(720)), "12 h");
    assert_eq!(human(Duration::from_secs(45)), "45 s");
}

#[test]
fn the_defaults_suit_a_person_opening_dashboards_now_and_then() {
    let p = SessionPolicy::default();
    assert_eq!(
        (p.startup_grace, p.idle_timeout, p.max_session),
        (Some(mins(15)), Some(mins(30)), Some(mins(720)))
    );
}

#[test]
fn unused_after_start_stops_at_the_end_of_the_grace() {
    let p = SessionPolicy::default();
    let s = session(Activity::NeverUsed, None);
    assert_eq!(
        kept(decide(&p, &s, t(14))),
        (Some(t(15)), KeepReason::StartupGrace)
    );
    assert_eq!(
        stop_reason(decide(&p, &s, t(15))),
        "stopped: nobody used it within 15 min of its start"
    );
    // Use before this session began is not use of it.
    let before = session(Activity::LastUsed(t(-5)), None);
    assert!(matches!(decide(&p, &before, t(15)), Verdict::Stop { .. }));
}

#[test]
fn used_it_stops_after_the_idle_timeout_from_the_last_use() {
    let p = SessionPolicy::default();
    let s = session(Activity::LastUsed(t(40)), None);
    assert_eq!(
        kept(decide(&p, &s, t(69))),
        (Some(t(70)), KeepReason::InUse)
    );
    assert_eq!(
        stop_reason(decide(&p, &s, t(70))),
        "stopped after 30 min without use"
    );
}

#[test]
fn a_short_idle_timeout_never_cuts_into_the_grace() {
    let p = SessionPolicy {
        idle_timeout: Some(mins(5)),
        ..SessionPolicy::default()
    };
    let s = session(Activity::LastUsed(t(1)), None);
    assert!(matches!(decide(&p, &s, t(10)), Verdict::Keep { .. }));
    assert!(matches!(decide(&p, &s, t(15)), Verdict::Stop { .. }));
}

#[test]
fn a_lease_holds_it_then_idleness_counts_from_its_end() {
    let p = SessionPolicy::default();
    let s = session(Activity::NeverUsed, Some(120));
    assert_eq!(
        kept(decide(&p, &s, t(100))),
        (Some(t(150)), KeepReason::Lease)
    );
    assert!(matches!(decide(&p, &s, t(149)), Verdict::Keep { .. }));
    assert_eq!(
        stop_reason(decide(&p, &s, t(150))),
        "stopped after 30 min without use"
    );
}

#[test]
fn the_session_limit_wins_over_everything() {
    let p = SessionPolicy::default();
    let s = session(Activity::LastUsed(t(719)), Some(800));
    assert_eq!(
        stop_reason(decide(&p, &s, t(720))),
        "stopped at the 12 h session limit"
    );
    let unknown = session(Activity::Unknown, None);
    assert_eq!(
        kept(decide(&p, &unknown, t(700))),
        (Some(t(720)), KeepReason::ActivityUnknown)
    );
    assert!(matches!(decide(&p, &unknown, t(720)), Verdict::Stop { .. }));
}

#[test]
fn unreadable_activity_never_stops_for_idleness() {
    let p = SessionPolicy {
        max_session: None,
        ..SessionPolicy::default()
    };
    let s = session(Activity::Unknown, None);
    assert_eq!(
        kept(decide(&p, &s, t(100_000))),
        (None, KeepReason::ActivityUnknown)
    );
}

#[test]
fn everything_off_never_stops() {
    let p = SessionPolicy {
        startup_grace: None,
        idle_timeout: None,
        max_session: None,
    };
    let s = session(Activity::NeverUsed, None);
    assert_eq!(
        kept(decide(&p, &s, t(1_000_000))),
        (None, KeepReason::NoIdleLimit)
    );
}

fn is_keep(v: Verdict) -> bool {
    matches!(v, Verdict::Keep { .. })
}

fn limit() -> impl Strategy<Value = Option<Duration>> {
    prop::option::of((0u64..2000).prop_map(mins))
}

fn policy() -> impl Strategy<Value = SessionPolicy> {
    (limit(), limit(), limit()).prop_map(|(startup_grace, idle_timeout, max_session)| {
        SessionPolicy {
            startup_grace,
            idle_timeout,
            max_session,
        }
    })
}

fn any_session() -> impl Strategy<Value = Session> {
    (
        prop_oneof![
            (-100i64..3000).prop_map(|m| Activity::LastUsed(t(m))),
            (-100i64..3000).prop_map(|m| Activity::IdleSince(t(m))),
            Just(Activity::NeverUsed),
            Just(Activity::Unknown)
        ],
        prop::option::of(-100i64..3000),
    )
        .prop_map(|(activity, lease)| session(activity, lease))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn never_inside_a_lease_or_the_grace_before_the_limit(p in policy(), s in any_session(), now in 0i64..4000) {
        let now = t(now);
        let limit = p.max_session.map(|m| s.started_at + chrono::Duration::from_std(m).unwrap());
        let before_limit = limit.is_none_or(|l| now < l);
        let in_lease = s.lease_until.is_some_and(|l| now < l);
        let in_grace = p.startup_grace.is_some_and(|g| now < s.started_at + chrono::Duration::from_std(g).unwrap());
        if before_limit && (in_lease || in_grace) {
            prop_assert!(is_keep(decide(&p, &s, now)));
        }
    }

    #[test]
    fn always_past_the_limit_with_its_reason(p in policy(), s in any_session(), now in 0i64..4000) {
        let now = t(now);
        if let Some(m) = p.max_session && now >= s.started_at + chrono::Duration::from_std(m).unwrap() {
            prop_assert_eq!(decide(&p, &s, now), Verdict::Stop { reason: StopReason::SessionLimit { limit: m } });
        }
    }

    #[test]
    fn unknown_activity_stops_only_at_the_limit(p in policy(), s in any_session(), now in 0i64..4000) {
        let s = Session { activity: Activity::Unknown, ..s };
        if let Verdict::Stop { reason } = decide(&p, &s, t(now)) {
            prop_assert!(matches!(reason, StopReason::SessionLimit { .. }), "{reason:?}");
        }
    }

    #[test]
    fn a_keep_says_a_future_stop_and_it_holds_until_then(p in policy(), s in any_session(), now in 0i64..4000) {
        let now = t(now);
        match decide(&p, &s, now) {
            Verdict::Keep { until: Some(until), .. } => {
                prop_assert!(until > now);
                // Nothing changes: it is kept just before, and stopped at, that instant.
                let just_before = until - chrono::Duration::seconds(1);
                if just_before >= now {
                    prop_assert!(is_keep(decide(&p, &s, just_before)));
                }
                prop_assert!(!is_keep(decide(&p, &s, until)));
            }
            Verdict::Keep { until: None, .. } => {
                prop_assert!(p.max_session.is_none());
            }
            Verdict::Stop { reason } => prop_assert!(!reason.to_string().is_empty()),
        }
    }
}

#[test]
fn idle_since_times_idleness_from_then_without_claiming_a_use() {
    let p = SessionPolicy::default();
    // Nothing in the last 30 min of a 2 h session: stopped for idleness, not for no use.
    let s = session(Activity::IdleSince(t(90)), None);
    assert_eq!(
        stop_reason(decide(&p, &s, t(120))),
        "stopped after 30 min without use"
    );
    assert_eq!(kept(decide(&p, &s, t(119))).0, Some(t(120)));
}

#[test]
fn a_lease_left_by_an_earlier_session_is_none() {
    let p = SessionPolicy::default();
    // Yesterday's lease ended before this session began: the grace rules, not the lease.
    let s = session(Activity::NeverUsed, Some(-600));
    assert_eq!(
        kept(decide(&p, &s, t(5))),
        (Some(t(15)), KeepReason::StartupGrace)
    );
    assert!(stop_reason(decide(&p, &s, t(15))).contains("nobody used it"));
}

#[test]
fn the_lease_and_the_stop_live_in_tags_aws_accepts() {
    let mut tags = std::collections::BTreeMap::new();
    assert_eq!(lease_in(&tags), None);
    tags.insert(LEASE_TAG.to_string(), lease_tag(t(42)));
    assert_eq!(lease_in(&tags), Some(t(42)));
    tags.insert(LEASE_TAG.to_string(), "next tuesday".into());
    assert_eq!(lease_in(&tags), None, "a tag edited by hand is no lease");
    for by in [
        StoppedBy::Request,
        StoppedBy::Policy(StopReason::Idle { timeout: mins(30) }),
        StoppedBy::Policy(StopReason::UnusedAfterStart { grace: mins(15) }),
        StoppedBy::Policy(StopReason::SessionLimit { limit: mins(720) }),
    ] {
        let record = StopRecord { by, at: t(7) };
        let value = record.tag();
        // ECS tag values: letters, digits, spaces and _ . : / = + - @, at most 256.
        assert!(value.len() <= 256);
        assert!(
            value
                .chars()
                .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c)),
            "{value}"
        );
        tags.insert(STOP_TAG.to_string(), value);
        assert_eq!(StopRecord::read(&tags), Some(record));
    }
    // Started since: no stop to explain, whatever came before.
    tags.insert(STOP_TAG.to_string(), StopRecord::started_tag(t(8)));
    assert_eq!(StopRecord::read(&tags), None);
    assert_eq!(
        StopRecord {
            by: StoppedBy::Policy(StopReason::Idle { timeout: mins(30) }),
            at: t(0)
        }
        .to_string(),
        "stopped after 30 min without use"
    );
}

#[test]
fn a_session_costs_its_size_at_list_prices() {
    let prices = Prices::default();
    let mut task = TaskSnapshot::new("arn:aws:ecs:eu-west-3:1:task/c/abc");
    assert_eq!(prices.hourly(&task), None, "no size, no cost");
    task.size = TaskSize {
        cpu_units: Some(256),
        memory_mib: Some(512),
        arm64: false,
        spot: false,
    };
    task.created_at = Some(t(0));
    // 0.25 vCPU and 0.5 GB, no public IPv4.
    let base = 0.25 * 0.04048 + 0.5 * 0.004445;
    assert!((prices.hourly(&task).unwrap() - base).abs() < 1e-12);
    task.network.public_ip = Some("127.0.0.10".parse().unwrap());
    assert!((prices.hourly(&task).unwrap() - (base + 0.005)).abs() < 1e-12);
    task.size.spot = true;
    task.size.arm64 = true;
    let spot_arm = 0.25 * 0.009714 + 0.5 * 0.001068 + 0.005;
    assert!((prices.hourly(&task).unwrap() - spot_arm).abs() < 1e-12);
    let cost = prices.cost(&task, t(72)).unwrap();
    assert!((cost.so_far - spot_arm * 1.2).abs() < 1e-9);
    assert_eq!(
        cost.summary(t(72)),
        format!("1 h 12 min, $0.01 (${spot_arm:.3}/h)")
    );
    // Fargate bills a minute at least.
    assert!((prices.cost(&task, t(0)).unwrap().so_far - spot_arm / 60.0).abs() < 1e-12);
}

#[test]
fn prices_are_overridden_whole_or_refused_with_the_shape_to_give() {
    let json = serde_json::to_string(&Prices::default()).unwrap();
    let back: Prices = serde_json::from_str(&json).unwrap();
    assert_eq!(back, Prices::default());
    assert!(serde_json::from_str::<Prices>(r#"{"region": "eu-west-3"}"#).is_err());
}

#[test]
fn the_rules_are_said_in_a_sentence() {
    assert_eq!(
        SessionPolicy::default().describe(),
        "It stops by itself 15 min after a start nobody used, 30 min after its last use, and after 12 h at most."
    );
    let only_limit = SessionPolicy {
        startup_grace: None,
        idle_timeout: None,
        max_session: Some(Duration::from_secs(8 * 3600)),
    };
    assert_eq!(
        only_limit.describe(),
        "It stops by itself after 8 h at most."
    );
    let none = SessionPolicy {
        max_session: None,
        ..only_limit
    };
    assert_eq!(none.describe(), "It runs until someone stops it.");
}
