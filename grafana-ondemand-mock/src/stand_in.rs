//! A stand-in for Grafana on loopback, so the real HTTP probe and the "Open Grafana" link
//! work on the simulated backend.

use crate::ecs::SimulatedEcs;
use crate::model::{ADDRESS_POOL, FIRST_ADDRESS};
use crate::tls::{TestCertificate, TlsListener};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Serves the service's health path (`/api/health` for Grafana; 200 once the simulated task at
/// that address answers, 503 before) and a page that says it stands in for the service, on
/// every simulated task address, and logs each request into that task's log stream as the
/// service does.
#[derive(Debug)]
pub struct StandIn {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl StandIn {
    /// Binds `port` on each loopback address the simulated tasks use (127.0.0.10 and up).
    pub async fn spawn(ecs: SimulatedEcs, port: u16) -> std::io::Result<StandIn> {
        Self::serve(ecs, port, None).await
    }

    /// The same over HTTPS, with `cert` (issued for the public name).
    pub async fn spawn_https(
        ecs: SimulatedEcs,
        port: u16,
        cert: &TestCertificate,
    ) -> std::io::Result<StandIn> {
        Self::serve(ecs, port, Some(cert)).await
    }

    async fn serve(
        ecs: SimulatedEcs,
        port: u16,
        cert: Option<&TestCertificate>,
    ) -> std::io::Result<StandIn> {
        // Every address bound before any is served: a port taken on one leaves none behind.
        let mut listeners = Vec::new();
        for slot in 0..ADDRESS_POOL {
            let [a, b, c, d] = FIRST_ADDRESS.octets();
            let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d + slot)), port);
            listeners.push((addr, tokio::net::TcpListener::bind(addr).await?));
        }
        let mut tasks = Vec::new();
        for (addr, listener) in listeners {
            let app = Router::new()
                .route(&ecs.health_path(), get(health))
                .route("/login", get(login_form).post(login))
                .route("/api/live/ws", get(live))
                .fallback(get(page))
                .layer(axum::middleware::from_fn_with_state(
                    (ecs.clone(), addr.ip()),
                    log_request,
                ))
                .with_state((ecs.clone(), addr.ip()));
            let served = match cert {
                None => tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::warn!(error = %e, "stand-in stopped");
                    }
                }),
                Some(cert) => {
                    let listener = TlsListener::new(listener, cert)?;
                    tokio::spawn(async move {
                        if let Err(e) = axum::serve(listener, app).await {
                            tracing::warn!(error = %e, "stand-in stopped");
                        }
                    })
                }
            };
            tasks.push(served);
        }
        Ok(StandIn { tasks })
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn health(State((ecs, ip)): State<(SimulatedEcs, IpAddr)>) -> impl IntoResponse {
    if ecs.is_answering(ip) {
        (StatusCode::OK, r#"{"database":"ok","version":"stand-in"}"#)
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"database":"starting"}"#,
        )
    }
}

/// The front door's secret header: only the controller may ever receive it.
const DOOR_SECRET_HEADER: &str = "x-grafana-ondemand-door";

/// Logs every request as Grafana does (router logging on), into the simulated task's log
/// stream: what the controller reads the service's use from. A request that carries the
/// front door's secret is refused (421) and counted: the door leaked it to the task.
async fn log_request(
    State((ecs, ip)): State<(SimulatedEcs, IpAddr)>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if request.headers().contains_key(DOOR_SECRET_HEADER) {
        ecs.count_leaked_door_secret();
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "the front door's secret reached the task: only the controller's origin may receive it\n",
        )
            .into_response();
    }
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    ecs.record_request(ip, &method, &path);
    response
}

/// Grafana's session cookie.
pub const SESSION_COOKIE: &str = "grafana_session";

fn signed_in(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| c.trim().starts_with(&format!("{SESSION_COOKIE}=")))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Any other page: what was asked for, and whether the session cookie came with it.
async fn page(uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Html<String> {
    let who = if signed_in(&headers) {
        "<p id=session>Signed in as admin.</p>"
    } else {
        "<p id=session>Not signed in. <a id=login href=/login>Sign in</a></p>"
    };
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>Grafana stand-in</title>\
         <h1>Grafana stand-in</h1><p>This page stands in for Grafana: it is served by the \
         simulated ECS of grafana-ondemand, on the address of a simulated task.</p>\
         <p>Asked for: <code id=asked>{}</code></p>{who}",
        escape(&uri.to_string())
    ))
}

/// Grafana's login form, as far as a browser sees it: a user, a password, a button.
async fn login_form() -> Html<&'static str> {
    Html(
        "<!doctype html><meta charset=utf-8><title>Grafana stand-in: sign in</title>\
         <form method=post action=/login><input id=user name=user value=admin>\
         <input id=password name=password type=password value=admin>\
         <button id=submit type=submit>Log in</button></form>",
    )
}

/// Signs in as Grafana does: a session cookie (HttpOnly, for the whole site), then a
/// redirect to the home page, relative to the site (Grafana builds it from `root_url`: the
/// door's).
async fn login() -> impl IntoResponse {
    (
        StatusCode::FOUND,
        [
            (
                axum::http::header::SET_COOKIE,
                format!("{SESSION_COOKIE}=stand-in-session; Path=/; HttpOnly; SameSite=Lax"),
            ),
            (axum::http::header::LOCATION, "/?orgId=1".to_owned()),
        ],
    )
}

/// Grafana Live's WebSocket: echoes each text message back, as a channel would.
async fn live(ws: axum::extract::ws::WebSocketUpgrade) -> axum::response::Response {
    ws.on_upgrade(|mut socket| async move {
        use axum::extract::ws::Message;
        while let Some(Ok(message)) = socket.recv().await {
            let reply = match message {
                Message::Text(t) => Message::Text(format!("live: {t}").into()),
                Message::Close(_) => break,
                _ => continue,
            };
            if socket.send(reply).await.is_err() {
                break;
            }
        }
    })
}
