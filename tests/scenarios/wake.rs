//! The sleeping name, on every backend, as the controller's side of the front door sees it:
//! while Grafana sleeps the door's entry says asleep, and what the door sends the controller
//! (a person's navigation, the wake page's calls, with the door's secret) gets the wake page,
//! which starts nothing until its button is pressed; once Grafana answers the entry sends
//! requests to the task, and the reaper's stop puts it back to asleep.

use super::door::{STORE, door_entry, front_door};
use super::names::{Inbox, Watcher};
use super::{PATIENCE, World};
use grafana_ondemand::api::{Access, Api, DOOR_HEADER, MARKER, NAME_API};
use grafana_ondemand::{DoorState, ServiceController, ServiceProfile, SessionPolicy, State};
use http::{HeaderMap, Request, StatusCode};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::sleep;

const SECRET: &str = "the-door-secret-0123456789abcdef";

/// A watcher writing the door's entry, and the API over it, serving the wake page to what the
/// door sends it.
async fn setup(world: &impl World) -> (Arc<dyn Watcher>, Api) {
    world.ecs().add_key_value_store(STORE);
    let c: Arc<dyn Watcher> = Arc::from(
        world
            .door_controller(
                ServiceProfile::grafana(),
                front_door(),
                Arc::new(Inbox::default()),
            )
            .await,
    );
    let controller: Arc<dyn ServiceController> = c.clone();
    let api =
        Api::new(controller, Access::default()).through_door(SECRET, &SessionPolicy::default());
    (c, api)
}

/// A request to `https://<name><path>` with these headers, as the door sends it on to the
/// controller's origin: the API's own `Host`, the door's secret added.
fn at_name(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Request<bytes::Bytes> {
    let mut r = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "abc123.execute-api.eu-west-3.amazonaws.com")
        .header(DOOR_HEADER, SECRET);
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

/// The whole cycle at the name: asleep, the door sends a navigation or a stray refresh to the
/// controller, which starts nothing; the wake button starts it; the entry leads to the task
/// only once Grafana answers; the reaper's stop puts it to sleep again.
pub async fn the_name_sleeps_wakes_at_a_click_and_sleeps_again(world: &impl World) {
    let (c, api) = setup(world).await;
    assert_eq!(c.status().await.unwrap().state, State::Stopped);
    assert!(
        door_entry(world).is_none_or(|e| e.state == DoorState::Asleep),
        "asleep"
    );

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

    // The page polls; the entry stays asleep until Grafana answers, then leads to the task.
    let mut pointed = None;
    for _ in 0..PATIENCE.as_secs() / 2 {
        sleep(Duration::from_secs(2)).await;
        let (code, headers, _) = page_asks(&api, "status").await;
        assert_eq!(
            (code, &headers[MARKER]),
            (StatusCode::OK, &"controller".parse().unwrap())
        );
        match door_entry(world) {
            Some(e) if e.state == DoorState::Running => {
                let serving = world.ecs().serving().map(|(_, ip)| ip);
                let origin = e
                    .origin
                    .as_deref()
                    .and_then(|o| world.ecs().resolve_public_name(o));
                assert!(
                    serving.is_some_and(|ip| world.ecs().is_answering(ip)) && origin == serving,
                    "pointed only at a Grafana that answers"
                );
                pointed = origin;
                break;
            }
            _ => {}
        }
    }
    pointed.expect("the door leads to the task");

    // Nobody uses it: the reaper stops it, and the door is asleep again at once.
    sleep(Duration::from_secs(16 * 60)).await;
    assert_eq!(c.reap().await.unwrap().state, State::Stopping);
    assert_eq!(door_entry(world).unwrap().state, DoorState::Asleep);
    // The next navigation gets the wake page again, and starts nothing.
    let updates = world.calls("UpdateService");
    let (code, _, page) = send(&api, at_name("GET", "/d/abc", NAVIGATION, "")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(page.contains(r#"data-mode="wake""#));
    assert_eq!(world.calls("UpdateService"), updates);
}

/// An XHR the door sends the controller while asleep (its edge answers them itself; one with
/// an entry not there yet may not) is 503 with Retry-After and costs no AWS call at all;
/// requests without the door's secret are answered as always (the control page, not the
/// wake page).
pub async fn an_xhr_while_asleep_is_503_and_reads_nothing(world: &impl World) {
    let (c, api) = setup(world).await;
    c.status().await.unwrap();
    world.ecs().reset_calls();
    for _ in 0..20 {
        let (code, headers, _) =
            send(&api, at_name("GET", "/api/search?query=", REFRESH, "")).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers["retry-after"], "30");
        assert!(headers.get("connection").is_none(), "kept alive");
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
