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

/// Serves `/api/health` (200 once the simulated task at that address answers, 503 before)
/// and a page that says it stands in for Grafana, on every simulated task address, and logs
/// each request into that task's log stream as Grafana does.
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
                .route("/api/health", get(health))
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

/// Logs every request as Grafana does (router logging on), into the simulated task's log
/// stream: what the controller reads the service's use from.
async fn log_request(
    State((ecs, ip)): State<(SimulatedEcs, IpAddr)>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    ecs.record_request(ip, &method, &path);
    response
}

async fn page() -> Html<&'static str> {
    Html(
        "<!doctype html><meta charset=utf-8><title>Grafana stand-in</title>\
         <h1>Grafana stand-in</h1><p>This page stands in for Grafana: it is served by the \
         simulated ECS of grafana-ondemand, on the address of a simulated task.</p>",
    )
}
