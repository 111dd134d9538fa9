//! Another service than Grafana, on every backend: a profile built for it
//! ([`ServiceProfile::http`]) runs end to end with nothing of Grafana's in its way.

use super::{PATIENCE, World};
use grafana_ondemand::{ServiceProfile, State, wait_for};
use std::time::Duration;
use tokio::time::sleep;

/// A Jupyter server (port 8888, health at `/api`, an access log): every message names
/// Jupyter and its port; its health checks, logged every few seconds, are no use; a person's
/// request is; left alone past the idle timeout, it stops by itself and says why.
pub async fn another_http_service_runs_end_to_end(world: &impl World) {
    let jupyter = ServiceProfile::http("Jupyter", 8888, "/api");
    world.ecs().serve_profile(&jupyter);
    let c = world.another_controller(jupyter).await;
    let s = c.start(None).await.unwrap();
    assert_eq!(s.state, State::Starting, "{s:?}");
    assert!(
        s.message.contains("Jupyter") && !s.message.contains("Grafana"),
        "{}",
        s.message
    );
    let up = wait_for(c.as_ref(), State::Running, PATIENCE)
        .await
        .unwrap();
    let url = up.url().unwrap();
    assert!(
        url.starts_with("http://127.0.0.") && url.ends_with(":8888"),
        "{url}"
    );
    assert!(up.message.contains("Jupyter"), "{}", up.message);

    // Minutes of health checks at /api in the log: none of them is a use.
    sleep(Duration::from_secs(180)).await;
    let s = c.status().await.unwrap();
    assert_eq!(s.state, State::Running);
    assert_eq!(s.last_activity_at, None, "health checks are no use: {s:?}");

    // A person opens the lab: logged as the server logs it, read back as a use.
    let (_, ip) = world.ecs().serving().expect("a task serves");
    assert!(world.ecs().record_request(ip, "GET", "/lab"));
    let s = c.status().await.unwrap();
    assert!(s.last_activity_at.is_some(), "the request is a use: {s:?}");

    // Nobody since: past the idle timeout (30 min by default), the reaper stops it.
    sleep(Duration::from_secs(31 * 60)).await;
    let s = c.reap().await.unwrap();
    assert!(matches!(s.state, State::Stopping | State::Stopped), "{s:?}");
    let reason = s.reason.unwrap_or_default();
    assert!(reason.contains("30 min without use"), "{reason}");
    assert!(!s.message.contains("Grafana"), "{}", s.message);
}
