//! Readiness: a RUNNING task is not yet a service that answers.
//!
//! Two sources can confirm it: ECS's container health check, which runs inside the task and
//! needs no network path to it (the Lambda's case: it runs outside the VPC, and the task's
//! security group admits only the users), and an HTTP probe of the endpoint, for a controller
//! on a network the security group admits (the CLI, the server).

use crate::endpoint::{Endpoint, ServiceProfile};
use crate::error::{Error, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// What confirmed that a running task serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReadyBy {
    /// ECS's container health check reported HEALTHY.
    #[serde(rename = "ecs-health")]
    EcsHealth,
    /// The HTTP probe of the endpoint answered 2xx.
    #[serde(rename = "http")]
    HttpProbe,
}

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

/// The probe a profile calls for: the HTTP probe when its readiness may probe, else
/// [`NoNetworkPath`], which costs nothing to build (a Lambda's cold start skips loading a
/// second TLS client and its root certificates).
pub fn probe_for(profile: &ServiceProfile) -> Result<Arc<dyn ReadinessProbe>> {
    Ok(if profile.readiness.probes() {
        Arc::new(HttpProbe::new(profile)?)
    } else {
        Arc::new(NoNetworkPath)
    })
}

/// The probe of a controller with no network path to its tasks (the Lambda, outside the
/// VPC): it never connects. With `READINESS=ecs` the controller never asks it.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNetworkPath;

#[async_trait]
impl ReadinessProbe for NoNetworkPath {
    async fn check(&self, _endpoint: &Endpoint) -> Readiness {
        Readiness::NotReady("this controller has no network path to the task".into())
    }
}

/// The HTTP health check: `GET <endpoint><path>`, any 2xx counts (rustls-only client). An
/// endpoint with a public name is checked at its name, connecting to its IP (DNS may not
/// follow yet): the TLS certificate is checked against the name users see.
#[derive(Debug, Clone)]
pub struct HttpProbe {
    client: reqwest::Client,
    path: String,
    timeout: Duration,
    extra_root: Option<reqwest::Certificate>,
    /// The client that resolves the public name to the task's address, for the address last
    /// checked: a status poll reuses it (and its TLS roots) until the task changes.
    named: Arc<std::sync::Mutex<Option<(String, std::net::SocketAddr, reqwest::Client)>>>,
}

impl HttpProbe {
    /// A probe for the profile's health path and timeout.
    pub fn new(profile: &ServiceProfile) -> Result<Self> {
        Self::with(profile.health_path.clone(), profile.probe_timeout)
    }

    /// A probe for a path, each check bounded by `timeout`. Fails rather than fall back to a
    /// client without a timeout, which could hold a request past its host's limit.
    pub fn with(path: impl Into<String>, timeout: Duration) -> Result<Self> {
        let client = client(timeout, None, None)?;
        let mut path = path.into();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        Ok(HttpProbe {
            client,
            path,
            timeout,
            extra_root: None,
            named: Arc::default(),
        })
    }

    /// Also trusts this CA certificate (PEM) for TLS: a private CA, or a test's own.
    pub fn trusting(mut self, ca_pem: &[u8]) -> Result<Self> {
        let cert = reqwest::Certificate::from_pem(ca_pem).map_err(|e| {
            Error::invalid_config("HEALTH_CA", format!("not a PEM certificate ({e})"))
        })?;
        self.client = client(self.timeout, Some(cert.clone()), None)?;
        self.extra_root = Some(cert);
        self.named = Arc::default();
        Ok(self)
    }
}

impl HttpProbe {
    /// The client resolving `host` to `addr`: the one kept for it, or a new one kept instead.
    fn named_client(&self, host: &str, addr: std::net::SocketAddr) -> Result<reqwest::Client> {
        let mut kept = self
            .named
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((h, a, c)) = kept.as_ref()
            && h == host
            && *a == addr
        {
            return Ok(c.clone());
        }
        let c = client(self.timeout, self.extra_root.clone(), Some((host, addr)))?;
        *kept = Some((host.to_owned(), addr, c.clone()));
        Ok(c)
    }
}

/// The probe's HTTP client: bounded, no proxy, no redirects; resolving `name` to an address
/// when given.
fn client(
    timeout: Duration,
    extra_root: Option<reqwest::Certificate>,
    name: Option<(&str, std::net::SocketAddr)>,
) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        // The endpoint is a task's own address: a proxy from the environment would only get
        // in the way.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none());
    if let Some(cert) = extra_root {
        builder = builder.tls_certs_merge([cert]);
    }
    if let Some((name, addr)) = name {
        builder = builder.resolve(name, addr);
    }
    builder.build().map_err(|e| {
        Error::invalid_config(
            "HEALTH_TIMEOUT_MS",
            format!("the HTTP probe cannot be built ({e}): check the TLS setup of this machine"),
        )
    })
}

#[async_trait]
impl ReadinessProbe for HttpProbe {
    async fn check(&self, endpoint: &Endpoint) -> Readiness {
        let url = format!("{}{}", endpoint.url(), self.path);
        // A name is resolved to the endpoint's own address.
        let client = match &endpoint.host {
            None => self.client.clone(),
            Some(host) => match self.named_client(host, endpoint.socket()) {
                Ok(c) => c,
                Err(e) => return Readiness::NotReady(e.to_string()),
            },
        };
        match client.get(&url).send().await {
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
            Err(e) if e.is_connect() && endpoint.scheme == "https" => Readiness::NotReady(format!(
                "{} refused the connection or its TLS certificate",
                self.path
            )),
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
            host: None,
            front_door: false,
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
        let ok = HttpProbe::with("/api/health", Duration::from_secs(2)).unwrap();
        assert_eq!(ok.check(&endpoint(addr)).await, Readiness::Ready);
        let busy = HttpProbe::with("busy", Duration::from_secs(2)).unwrap();
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
        let probe = HttpProbe::with("/api/health", Duration::from_secs(2)).unwrap();
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
        let probe = HttpProbe::with("/api/health", Duration::from_millis(200)).unwrap();
        assert_eq!(
            probe.check(&endpoint(addr)).await,
            Readiness::NotReady("/api/health did not answer in time".into())
        );
    }
}
