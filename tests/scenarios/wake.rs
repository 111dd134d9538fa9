//! The sleeping name, on every backend: while Grafana sleeps its name is an alias of the API's
//! custom domain, so requests at the name reach the controller's API, which gives a person's
//! navigation the wake page and starts nothing until its button is pressed; once Grafana
//! answers the name is the task again, and the reaper's stop makes it the alias again.

use super::names::{Inbox, NAME, Watcher, ZONE, named};
use super::{PATIENCE, World};
use grafana_ondemand::api::{Access, Api, MARKER, NAME_API};
use grafana_ondemand::{
    AliasTarget, HostedZone, NameRecord, RecordType, ServiceController, SessionPolicy, State,
};
use http::{HeaderMap, Request, StatusCode};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::sleep;

/// The custom domain the module makes for the name (its target in API Gateway's zone).
const TARGET: &str = "d-abc123.execute-api.eu-west-3.amazonaws.com";
const TARGET_ZONE: &str = "ZLY8HYME6SFDD";

fn asleep() -> NameRecord {
    NameRecord::Alias {
        kind: RecordType::A,
        target: AliasTarget::new(TARGET, TARGET_ZONE),
    }
}

/// A watcher keeping the name in a zone whose sleeping name is the custom domain's alias, and
/// the API over it, serving the wake page at the name.
async fn setup(world: &impl World) -> (Arc<dyn Watcher>, Api) {
    world.ecs().add_hosted_zone(ZONE, "example.com");
    world.ecs().add_custom_domain(TARGET, TARGET_ZONE, None);
    let zone = HostedZone {
        zone_id: ZONE.into(),
        ttl: 30,
        asleep: Some(AliasTarget::new(TARGET, TARGET_ZONE)),
    };
    let c: Arc<dyn Watcher> = Arc::from(
        world
            .named_controller(named(), zone, Arc::new(Inbox::default()))
            .await,
    );
    let controller: Arc<dyn ServiceController> = c.clone();
    let api =
        Api::new(controller, Access::default()).at_public_name(NAME, &SessionPolicy::default());
    (c, api)
}

/// A request to `https://<name><path>` with these headers, as API Gateway hands it on.
fn at_name(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Request<bytes::Bytes> {
    let mut r = Request::builder()
        .method(method)
        .uri(path)
        .header("host", NAME);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(bytes::Bytes::from(body.to_owned())).unwrap()
}

/// What a browser sends opening a page by its address bar, a link or a bookmark.
const NAVIGATION: &[(&str, &str)] = &[
    ("sec-fetch-mode", "navigate"),
    ("sec-fetch-dest", "document"),
    ("accept", "text/html,application/xhtml+xml"),
];

/// What an open Grafana tab's refreshes send (same-origin fetches).
const REFRESH: &[(&str, &str)] = &[
    ("sec-fetch-mode", "cors"),
    ("sec-fetch-site", "same-origin"),
    ("accept", "application/json"),
];

async fn send(api: &Api, request: Request<bytes::Bytes>) -> (StatusCode, HeaderMap, String) {
    let r = api.handle(request).await;
    let (parts, body) = r.into_parts();
    (parts.status, parts.headers, body)
}

/// What the wake page's script sends: `action` to the contract at the name.
async fn page_asks(api: &Api, action: &str) -> (StatusCode, HeaderMap, String) {
    let body = format!(r#"{{"action": "{action}"}}"#);
    let path = format!("{NAME_API}/");
    send(
        api,
        at_name("POST", &path, &[("sec-fetch-mode", "cors")], &body),
    )
    .await
}

/// The whole cycle at the name: asleep it is the alias and starts nothing for a navigation or
/// a refresh; the wake button starts it; the name becomes the task only once Grafana answers;
/// the reaper's stop makes it the alias again.
pub async fn the_name_sleeps_wakes_at_a_click_and_sleeps_again(world: &impl World) {
    let (c, api) = setup(world).await;
    assert_eq!(c.status().await.unwrap().state, State::Stopped);
    assert_eq!(world.ecs().records(ZONE, NAME), vec![asleep()], "the alias");

    // A person opens a dashboard link: the wake page, nothing started.
    let (code, headers, page) = send(&api, at_name("GET", "/d/abc?x=1", NAVIGATION, "")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(headers[MARKER], "controller");
    assert!(page.contains(r#"data-mode="wake""#), "the wake page");
    assert!(
        page.contains("15 min after a start nobody used"),
        "its rules"
    );
    assert_eq!(headers["x-frame-options"], "DENY", "never framed");
    // An open tab's refreshes, a monitor: 503 to try later, nothing started.
    for request in [
        at_name("GET", "/api/dashboards/uid/abc", REFRESH, ""),
        at_name("POST", "/api/ds/query", REFRESH, "{}"),
        at_name("GET", "/", &[("accept", "*/*")], ""),
    ] {
        let (code, headers, body) = send(&api, request).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(headers["retry-after"], "30");
        assert_eq!(headers[MARKER], "controller");
    }
    sleep(Duration::from_secs(60)).await;
    assert_eq!(world.calls("UpdateService"), 0, "nothing started");
    assert_eq!(world.ecs().desired_count(), 0);

    // The button.
    let (code, _, body) = page_asks(&api, "start").await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    assert_eq!(world.calls("UpdateService"), 1);

    // The page polls; the name stays the alias until Grafana answers, then is the task.
    let mut pointed = None;
    for _ in 0..PATIENCE.as_secs() / 2 {
        sleep(Duration::from_secs(2)).await;
        let (code, headers, _) = page_asks(&api, "status").await;
        assert_eq!(
            (code, &headers[MARKER]),
            (StatusCode::OK, &"controller".parse().unwrap())
        );
        let records = world.ecs().records(ZONE, NAME);
        match records.as_slice() {
            [NameRecord::Alias { .. }] => {}
            [NameRecord::Address { value, ttl: 30 }] => {
                let serving = world.ecs().serving().map(|(_, ip)| ip);
                assert_eq!(
                    serving,
                    Some(*value),
                    "pointed only at a Grafana that answers"
                );
                pointed = Some(*value);
                break;
            }
            other => panic!("the name is {other:?}"),
        }
    }
    pointed.expect("the name became the task");

    // Nobody uses it: the reaper stops it, and the name is the alias again at once.
    sleep(Duration::from_secs(16 * 60)).await;
    assert_eq!(c.reap().await.unwrap().state, State::Stopping);
    assert_eq!(world.ecs().records(ZONE, NAME), vec![asleep()]);
    // The next navigation gets the wake page again, and starts nothing.
    let updates = world.calls("UpdateService");
    let (code, _, page) = send(&api, at_name("GET", "/d/abc", NAVIGATION, "")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains(r#"data-mode="wake""#));
    assert_eq!(world.calls("UpdateService"), updates);
}

/// An XHR while asleep is 503 with Retry-After and costs no AWS call at all (a tab left open
/// on a dashboard refreshes every few seconds); requests to the API's own address are
/// answered as always (the control page, not the wake page).
pub async fn an_xhr_while_asleep_is_503_and_reads_nothing(world: &impl World) {
    let (c, api) = setup(world).await;
    c.status().await.unwrap();
    world.ecs().reset_calls();
    for _ in 0..20 {
        let (code, headers, _) =
            send(&api, at_name("GET", "/api/search?query=", REFRESH, "")).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers["retry-after"], "30");
        assert_eq!(headers["connection"], "close");
    }
    assert_eq!(world.ecs().total_calls(), 0, "{:?}", world.ecs().calls());
    let own = Request::builder()
        .uri("/grafana")
        .header("host", "abc123.execute-api.eu-west-3.amazonaws.com")
        .header("sec-fetch-mode", "navigate")
        .body(bytes::Bytes::new())
        .unwrap();
    let (code, headers, page) = send(&api, own).await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains(r#"data-mode="control""#), "the control page");
    assert!(headers.get(MARKER).is_none());
    assert_eq!(world.calls("UpdateService"), 0);
}
