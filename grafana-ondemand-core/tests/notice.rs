//! Notices from ECS's events, in the shapes AWS documents (the fixtures the Lambda's tests
//! share), decided purely.

#![allow(clippy::unwrap_used)]

use grafana_ondemand_core::{
    ANNOUNCED_TAG, ClaimSeen, NoticeContext, NoticeKind, PlatformEvent, STOP_TAG,
    already_announced, announced_tag, claim_on, notice_for, released, running_notice,
};
use std::collections::BTreeMap;

fn event(json: &str) -> PlatformEvent {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    PlatformEvent::from_eventbridge(&value)
        .expect("an ECS event")
        .expect("well formed")
}

const RUNNING: &str = include_str!("../../examples/fixtures/ecs_task_running.json");
const STOPPED: &str = include_str!("../../examples/fixtures/ecs_task_stopped.json");
const FAILED: &str = include_str!("../../examples/fixtures/ecs_task_failed_to_start.json");
const PLACEMENT: &str = include_str!("../../examples/fixtures/ecs_service_placement_failure.json");

fn ctx<'a>(tags: &'a BTreeMap<String, String>) -> NoticeContext<'a> {
    NoticeContext {
        display_name: "Grafana",
        tags: Some(tags),
        url: Some("https://grafana.example.com".into()),
        service_wanted: true,
        deployment: Some("ecs-svc/9223370457372456987"),
    }
}

#[test]
fn running_is_told_from_a_running_status_not_from_ecs_running() {
    let tags = BTreeMap::new();
    // ECS's RUNNING: the task's containers started, Grafana is still booting.
    assert_eq!(notice_for(&event(RUNNING), &ctx(&tags)), None);
    let mut status = grafana_ondemand_core::Status {
        state: grafana_ondemand_core::State::Starting,
        task: Some(grafana_ondemand_core::TaskInfo {
            id: "c13b4cb40f1f4fe4a2971f76ae5a47ad".into(),
            phase: grafana_ondemand_core::TaskPhase::Running,
            created_at: None,
            started_at: None,
        }),
        endpoint: None,
        message: String::new(),
        reason: None,
        desired_count: 1,
        running_count: 1,
        pending_count: 0,
        healthy: false,
        ready_by: None,
        stops_at: None,
        last_activity_at: None,
        cost: None,
        timings: None,
    };
    assert_eq!(
        running_notice(&status, "Grafana"),
        None,
        "not confirmed yet"
    );
    status.state = grafana_ondemand_core::State::Running;
    let named = grafana_ondemand_core::ServiceProfile {
        public_name: Some("grafana.example.com".into()),
        scheme: "https".into(),
        port: 443,
        ..grafana_ondemand_core::ServiceProfile::grafana()
    };
    status.endpoint = Some(named.endpoint("203.0.113.7".parse().unwrap()));
    let n = running_notice(&status, "Grafana").unwrap();
    assert_eq!(n.kind, NoticeKind::Running);
    assert_eq!(n.subject, "c13b4cb40f1f4fe4a2971f76ae5a47ad");
    assert_eq!(n.text, "Grafana is running: https://grafana.example.com");
    assert_eq!(n.url.as_deref(), Some("https://grafana.example.com"));
}

#[test]
fn a_stop_carries_who_or_what_stopped_it() {
    // Stopped by the reaper: its record, written before the task stopped, says why.
    let mut tags = BTreeMap::new();
    tags.insert(
        STOP_TAG.to_owned(),
        "idle 1800 2026-11-26T09:48:00Z".to_owned(),
    );
    let stopped = ctx(&tags);
    let stopped = NoticeContext {
        service_wanted: false,
        ..stopped
    };
    let n = notice_for(&event(STOPPED), &stopped).unwrap();
    assert_eq!(n.kind, NoticeKind::Stopped);
    assert_eq!(n.text, "Grafana stopped after 30 min without use.");
    // Stopped elsewhere (a record older than the task): ECS's sentence.
    tags.insert(
        STOP_TAG.to_owned(),
        "request 0 2026-11-25T18:00:00Z".to_owned(),
    );
    let n = notice_for(
        &event(STOPPED),
        &NoticeContext {
            service_wanted: false,
            ..ctx(&tags)
        },
    )
    .unwrap();
    assert_eq!(
        n.reason.as_deref(),
        Some("Scaling activity initiated by (deployment ecs-svc/9223370457372456987)")
    );
    // A task replaced while the service still runs (a deployment) is no stop of the service.
    assert_eq!(notice_for(&event(STOPPED), &ctx(&tags)), None);
}

#[test]
fn a_task_that_could_not_start_is_a_failure_with_ecs_reason() {
    let tags = BTreeMap::new();
    let n = notice_for(&event(FAILED), &ctx(&tags)).unwrap();
    assert_eq!(n.kind, NoticeKind::Failed);
    assert!(
        n.text
            .starts_with("Grafana failed: CannotPullContainerError"),
        "{}",
        n.text
    );
    assert!(
        n.reason.unwrap().contains("i/o timeout"),
        "the container's own reason is kept"
    );
    let n = notice_for(&event(PLACEMENT), &ctx(&tags)).unwrap();
    assert_eq!(n.kind, NoticeKind::Failed);
    assert_eq!(n.subject, "9223370457372456987-0", "no start recorded");
    // Each start's failure to place is its own: the start's time is in the subject.
    let mut started = BTreeMap::new();
    started.insert(
        STOP_TAG.to_owned(),
        "started 0 2026-11-26T09:12:00Z".to_owned(),
    );
    let n = notice_for(&event(PLACEMENT), &ctx(&started)).unwrap();
    assert_eq!(n.subject, "9223370457372456987-1795684320");
    assert!(n.text.contains("RESOURCE:FARGATE"), "{}", n.text);
}

#[test]
fn each_notice_is_told_once_and_never_after_a_later_one() {
    let tags = BTreeMap::new();
    let mut running = notice_for(&event(STOPPED), &ctx(&tags)).unwrap_or_else(|| {
        notice_for(
            &event(STOPPED),
            &NoticeContext {
                service_wanted: false,
                ..ctx(&tags)
            },
        )
        .unwrap()
    });
    running.kind = NoticeKind::Running;
    let mut stop_ctx = ctx(&tags);
    stop_ctx.service_wanted = false;
    let stopped = notice_for(&event(STOPPED), &stop_ctx).unwrap();
    assert!(!already_announced(None, &running));
    let tag = announced_tag(None, &running, "0a1b2c3d");
    assert!(
        already_announced(Some(&tag), &running),
        "a duplicate delivery"
    );
    assert!(!already_announced(Some(&tag), &stopped));
    // Two instances claim at once: the last claim written wins, and only its writer sends.
    let first = announced_tag(Some(&tag), &stopped, "aaaaaaaa");
    let second = announced_tag(Some(&tag), &stopped, "bbbbbbbb");
    assert_eq!(
        claim_on(Some(&second), &stopped, "bbbbbbbb"),
        ClaimSeen::Mine
    );
    assert_eq!(
        claim_on(Some(&second), &stopped, "aaaaaaaa"),
        ClaimSeen::Theirs
    );
    assert_eq!(
        claim_on(Some(&first), &stopped, "aaaaaaaa"),
        ClaimSeen::Mine
    );
    // A write for another task at the same moment, from a tag read before this claim, erases
    // it: the claim is absent, and written again merged keeps both.
    let mut replacement = running.clone();
    replacement.subject = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f".into();
    let theirs = announced_tag(Some(&tag), &replacement, "cccccccc");
    assert_eq!(
        claim_on(Some(&theirs), &stopped, "aaaaaaaa"),
        ClaimSeen::Absent
    );
    let merged = announced_tag(Some(&theirs), &stopped, "aaaaaaaa");
    assert_eq!(
        claim_on(Some(&merged), &stopped, "aaaaaaaa"),
        ClaimSeen::Mine
    );
    assert_eq!(
        claim_on(Some(&merged), &replacement, "cccccccc"),
        ClaimSeen::Mine,
        "{merged}"
    );
    // Released after a failed delivery: this subject as it was before, the others kept.
    let back = released(Some(&merged), Some(&tag), &stopped);
    assert!(
        already_announced(Some(&back), &running) && !already_announced(Some(&back), &stopped),
        "{back}"
    );
    assert_eq!(
        claim_on(Some(&back), &replacement, "cccccccc"),
        ClaimSeen::Mine
    );
    let tag = second;
    assert!(
        already_announced(Some(&tag), &running),
        "RUNNING delivered after STOPPED"
    );
    // Other tasks are remembered too, a few of them, within a tag value's 256 characters.
    let mut tag = tag;
    for i in 0..10 {
        let mut other = running.clone();
        other.subject = format!("{i:032x}");
        tag = announced_tag(Some(&tag), &other, "ffffffff");
    }
    assert!(tag.len() <= 256, "{}", tag.len());
    assert_eq!(tag.split(' ').count(), 4);
    assert!(
        tag.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == ' '),
        "a valid tag value: {tag}"
    );
    let _ = ANNOUNCED_TAG;
}

#[test]
fn other_events_are_recognised_and_left_alone() {
    let not_ecs =
        serde_json::json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}});
    assert!(PlatformEvent::from_eventbridge(&not_ecs).is_none());
    let http = serde_json::json!({"httpMethod": "POST", "body": "{}"});
    assert!(PlatformEvent::from_eventbridge(&http).is_none());
    let deployment = serde_json::json!({"source": "aws.ecs", "detail-type": "ECS Deployment State Change", "detail": {"eventName": "SERVICE_DEPLOYMENT_COMPLETED"}});
    let e = PlatformEvent::from_eventbridge(&deployment)
        .unwrap()
        .unwrap();
    assert_eq!(notice_for(&e, &NoticeContext::default()), None);
    let broken = serde_json::json!({"source": "aws.ecs", "detail-type": "ECS Task State Change", "detail": {"lastStatus": 3}});
    let err = PlatformEvent::from_eventbridge(&broken)
        .unwrap()
        .unwrap_err();
    assert!(err.contains("without its fields"), "{err}");
}

#[test]
fn a_webhook_url_must_be_https_and_a_url() {
    use grafana_ondemand_core::Webhook;
    let plain = Webhook::new("http://hooks.example.com/services/T0/B0/x").unwrap_err();
    assert!(plain.to_string().contains("must be https"), "{plain}");
    let junk = Webhook::new("hooks.example.com").unwrap_err();
    assert!(junk.to_string().contains("not a URL"), "{junk}");
    assert!(Webhook::new("https://hooks.slack.com/services/T0/B0/x").is_ok());
    assert!(
        Webhook::new("http://127.0.0.1:8080/hook").is_ok(),
        "loopback, for tests"
    );
}
