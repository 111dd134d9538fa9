//! Readiness: a RUNNING task is not yet a service that answers.

use crate::endpoint::{Endpoint, ServiceProfile};
use async_trait::async_trait;
use std::time::Duration;

/// The outcome of a health check on an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Not checked (no endpoint to check yet).
    Unchecked,
    /// The health check answered 2xx.
    Ready,
    /// The health check did not answer 2xx; the reason says what happened.
    NotReady(String),
}

/// Checks whether a service answers on an endpoint.
#[async_trait]
pub trait ReadinessProbe: Send + Sync + std::fmt::Debug {
    /// Checks the endpoint once, within the probe's own timeout.
    async fn check(&self, endpoint: &Endpoint) -> Readiness;
}

/// The HTTP health check: `GET <endpoint><path>`, any 2xx counts (rustls-only client).
#[derive(Debug, Clone)]
pub struct HttpProbe {
    client: reqwest::Client,
    path: String,
}

impl HttpProbe {
    /// A probe for the profile's health path and timeout.
    pub fn new(profile: &ServiceProfile) -> Self {
        Self::with(profile.health_path.clone(), profile.probe_timeout)
    }

    /// A probe for a path, each check bounded by `timeout`.
    pub fn with(path: impl Into<String>, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // The endpoint is an IP: a proxy from the environment would only get in the way.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let mut path = path.into();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        HttpProbe { client, path }
    }
}

#[async_trait]
impl ReadinessProbe for HttpProbe {
    async fn check(&self, endpoint: &Endpoint) -> Readiness {
        let url = format!("{}{}", endpoint.url(), self.path);
        match self.client.get(&url).send().await {
            Ok(r) if r.status().is_success() => Readiness::Ready,
            // Grafana answers 3xx on some paths while it migrates its database: not ready yet.
            Ok(r) => Readiness::NotReady(format!(
                "{} answered HTTP {}",
                self.path,
                r.status().as_u16()
            )),
            Err(e) if e.is_timeout() => {
                Readiness::NotReady(format!("{} did not answer in time", self.path))
            }
            Err(e) if e.is_connect() => {
                Readiness::NotReady(format!("{} refused the connection", self.path))
            }
            Err(_) => Readiness::NotReady(format!("{} could not be reached", self.path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{Router, http::StatusCode, routing::get};

    async fn serve(router: Router) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        addr
    }

    fn endpoint(addr: std::net::SocketAddr) -> Endpoint {
        Endpoint {
            scheme: "http".into(),
            ip: addr.ip(),
            port: addr.port(),
        }
    }

    #[tokio::test]
    async fn any_2xx_is_ready_and_anything_else_says_why() {
        let addr = serve(
            Router::new()
                .route(
                    "/api/health",
                    get(|| async { (StatusCode::NO_CONTENT, "") }),
                )
                .route(
                    "/busy",
                    get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "") }),
                ),
        )
        .await;
        let ok = HttpProbe::with("/api/health", Duration::from_secs(2));
        assert_eq!(ok.check(&endpoint(addr)).await, Readiness::Ready);
        let busy = HttpProbe::with("busy", Duration::from_secs(2));
        assert_eq!(
            busy.check(&endpoint(addr)).await,
            Readiness::NotReady("/busy answered HTTP 503".into())
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_not_ready() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let probe = HttpProbe::with("/api/health", Duration::from_secs(2));
        match probe.check(&endpoint(addr)).await {
            Readiness::NotReady(why) => assert!(why.contains("refused"), "{why}"),
            other => panic!("expected NotReady, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_hanging_service_is_not_ready_within_the_timeout() {
        let addr = serve(Router::new().route(
            "/api/health",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        ))
        .await;
        let probe = HttpProbe::with("/api/health", Duration::from_millis(200));
        assert_eq!(
            probe.check(&endpoint(addr)).await,
            Readiness::NotReady("/api/health did not answer in time".into())
        );
    }
}
