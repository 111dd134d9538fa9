//! Where a running task answers, and how to reach it.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Which of a task's addresses users reach it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressKind {
    /// The public IP of the task's ENI (public subnets, `assignPublicIp`).
    #[default]
    Public,
    /// The private IP (private subnets reached over a VPN or peering).
    Private,
}

impl std::str::FromStr for AddressKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "public" => Ok(AddressKind::Public),
            "private" => Ok(AddressKind::Private),
            other => Err(format!(
                "`{other}` is not an address kind: use public or private"
            )),
        }
    }
}

/// A reachable address of the service: always a real IP, never a placeholder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: String,
    /// The task's IP.
    pub ip: IpAddr,
    /// The port the service listens on.
    pub port: u16,
    /// The public name that points at `ip`, when the service has one: the URL's host, and the
    /// name its certificate is checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Users reach it through the front door at `host`, over HTTPS on 443, whatever the task's
    /// own scheme and port.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub front_door: bool,
}

impl Endpoint {
    /// The base URL: `https://grafana.example.com` with a public name (the port only when not
    /// the scheme's default), else `http://203.0.113.7:3000` (IPv6 in brackets).
    pub fn url(&self) -> String {
        match &self.host {
            Some(host) if self.front_door => format!("https://{host}"),
            Some(host) => named_url(&self.scheme, host, self.port),
            None => format!("{}://{}", self.scheme, SocketAddr::new(self.ip, self.port)),
        }
    }

    /// The socket address the service answers on.
    pub fn socket(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }
}

/// `scheme://host`, with `:port` only when it is not the scheme's default.
fn named_url(scheme: &str, host: &str, port: u16) -> String {
    match (scheme, port) {
        ("https", 443) | ("http", 80) => format!("{scheme}://{host}"),
        _ => format!("{scheme}://{host}:{port}"),
    }
}

/// What runs in the task and how to reach it: Grafana by default, any HTTP service otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceProfile {
    /// The name shown to users in messages ("Grafana").
    pub display_name: String,
    /// Which address users reach.
    pub address: AddressKind,
    /// `http` or `https`.
    pub scheme: String,
    /// The port the service listens on.
    pub port: u16,
    /// The health check path; any 2xx answer counts as ready.
    pub health_path: String,
    /// How long one health check may take.
    pub probe_timeout: Duration,
    /// Which checks may confirm that a running task serves.
    pub readiness: ReadinessSource,
    /// The CloudWatch Logs filter pattern that picks a use out of the task's log: the
    /// requests of a person, not health checks, scrapes, assets or background calls.
    pub activity_filter: String,
    /// The DNS name that points at the serving task, when there is one: the URL's host.
    pub public_name: Option<String>,
    /// Users reach the service through the front door at the public name (CloudFront, over
    /// HTTPS), not at the task's own scheme and port.
    #[serde(default)]
    pub front_door: bool,
}

/// Grafana's request log lines (with `GF_SERVER_ROUTER_LOGGING=true`) that are a person's
/// use: every "Request Completed" but health checks, metrics scrapes, static assets, the
/// live websocket, and the calls an idle open tab makes by itself.
pub const GRAFANA_ACTIVITY_FILTER: &str = "\"Request Completed\" -\"path=/api/health\" \
    -\"path=/healthz\" -\"path=/metrics\" -\"path=/public/\" -\"path=/api/live/\" \
    -\"path=/api/frontend-metrics\" -\"path=/api/user/auth-tokens/rotate\" \
    -\"path=/api/login/ping\" -\"path=/avatar/\"";

/// The activity filter of [`ServiceProfile::http`]: every request line of an access log in
/// the Common Log Format (`"GET /lab HTTP/1.1" 200 …`) but the health checks at `health_path`.
pub fn access_log_filter(health_path: &str) -> String {
    format!("\"HTTP/1.\" -\"{health_path} HTTP/\"")
}

impl ServiceProfile {
    /// Any HTTP service: `display_name` (in every message people read), plain HTTP on `port`,
    /// ready when `GET health_path` answers 2xx (or ECS's container health says so), reached at
    /// its task's public IP, and used when its request log holds a request line other than a
    /// health check ([`access_log_filter`]: an access log in the Common Log Format; set
    /// `activity_filter` to your service's own CloudWatch Logs filter pattern otherwise).
    ///
    /// ```
    /// use grafana_ondemand_core::ServiceProfile;
    /// let jupyter = ServiceProfile::http("Jupyter", 8888, "/api");
    /// assert_eq!((jupyter.port, jupyter.health_path.as_str()), (8888, "/api"));
    /// ```
    pub fn http(display_name: &str, port: u16, health_path: &str) -> Self {
        ServiceProfile {
            display_name: display_name.into(),
            address: AddressKind::Public,
            scheme: "http".into(),
            port,
            health_path: health_path.into(),
            probe_timeout: Duration::from_secs(2),
            readiness: ReadinessSource::Any,
            activity_filter: access_log_filter(health_path),
            public_name: None,
            front_door: false,
        }
    }

    /// Grafana, the preset this project deploys: port 3000, `http`, `GET /api/health`, public
    /// IP, readiness from ECS's container health or the probe, whichever confirms first, its
    /// use read from its router log ([`GRAFANA_ACTIVITY_FILTER`]).
    pub fn grafana() -> Self {
        ServiceProfile {
            display_name: "Grafana".into(),
            address: AddressKind::Public,
            scheme: "http".into(),
            port: 3000,
            health_path: "/api/health".into(),
            probe_timeout: Duration::from_secs(2),
            readiness: ReadinessSource::Any,
            activity_filter: GRAFANA_ACTIVITY_FILTER.into(),
            public_name: None,
            front_door: false,
        }
    }

    /// The URL at the public name, whatever task serves it; `None` without a name.
    pub fn public_url(&self) -> Option<String> {
        let name = self.public_name.as_deref()?;
        Some(match self.front_door {
            true => format!("https://{name}"),
            false => named_url(&self.scheme, name, self.port),
        })
    }

    /// The endpoint for an address, with this profile's scheme and port.
    pub fn endpoint(&self, ip: IpAddr) -> Endpoint {
        Endpoint {
            scheme: self.scheme.clone(),
            ip,
            port: self.port,
            host: self.public_name.clone(),
            front_door: self.front_door && self.public_name.is_some(),
        }
    }
}

impl ServiceProfile {
    /// Grafana's profile, overridden by `SERVICE_DISPLAY_NAME`, `SERVICE_ADDRESS`
    /// (`public`/`private`), `SERVICE_SCHEME`, `SERVICE_PORT`, `HEALTH_PATH` and
    /// `HEALTH_TIMEOUT_MS`, `READINESS` (`ecs`, `http`, `any`), `ACTIVITY_FILTER` (a
    /// CloudWatch Logs filter pattern) and `PUBLIC_NAME` where set. With a public name the
    /// scheme and port default to `https` and 443.
    pub fn from_env() -> crate::Result<Self> {
        use crate::env::setting as var;
        let mut p = ServiceProfile::grafana();
        if let Some(v) = var("SERVICE_DISPLAY_NAME") {
            p.display_name = v;
        }
        if let Some(v) = var("SERVICE_ADDRESS") {
            p.address = v
                .parse()
                .map_err(|e: String| crate::Error::invalid_config("SERVICE_ADDRESS", e))?;
        }
        if let Some(v) = var("PUBLIC_NAME") {
            let name = crate::dns::check_name(&v)
                .map_err(|e| crate::Error::invalid_config("PUBLIC_NAME", e))?;
            p.public_name = Some(name);
            p.scheme = "https".into();
            p.port = 443;
        }
        if let Some(v) = var("SERVICE_SCHEME") {
            if v != "http" && v != "https" {
                return Err(crate::Error::invalid_config(
                    "SERVICE_SCHEME",
                    format!("`{v}` is not http or https"),
                ));
            }
            p.scheme = v;
        }
        if let Some(v) = var("SERVICE_PORT") {
            p.port = v.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
                crate::Error::invalid_config(
                    "SERVICE_PORT",
                    format!("`{v}` is not a port (1 to 65535)"),
                )
            })?;
        }
        if let Some(v) = var("HEALTH_PATH") {
            p.health_path = if v.starts_with('/') {
                v
            } else {
                format!("/{v}")
            };
        }
        if let Some(v) = var("HEALTH_TIMEOUT_MS") {
            let ms: u64 = v
                .parse()
                .ok()
                .filter(|ms| (1..=60_000).contains(ms))
                .ok_or_else(|| {
                    crate::Error::invalid_config(
                        "HEALTH_TIMEOUT_MS",
                        format!("`{v}` is not milliseconds from 1 to 60000"),
                    )
                })?;
            p.probe_timeout = Duration::from_millis(ms);
        }
        if let Some(v) = var("ACTIVITY_FILTER") {
            p.activity_filter = v;
        }
        if let Some(v) = var("READINESS") {
            p.readiness = v
                .parse()
                .map_err(|e: String| crate::Error::invalid_config("READINESS", e))?;
        }
        Ok(p)
    }
}

/// Grafana's preset ([`ServiceProfile::grafana`]), what the module deploys.
impl Default for ServiceProfile {
    fn default() -> Self {
        ServiceProfile::grafana()
    }
}

/// Which checks may confirm that a RUNNING task serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadinessSource {
    /// ECS's container health (`HEALTHY`) alone: no network path to the task needed.
    Ecs,
    /// The HTTP probe of the endpoint alone.
    Http,
    /// Whichever confirms first: ECS's health, else the HTTP probe.
    #[default]
    Any,
}

impl ReadinessSource {
    /// Whether ECS's container health may confirm readiness.
    pub fn trusts_ecs(self) -> bool {
        matches!(self, ReadinessSource::Ecs | ReadinessSource::Any)
    }

    /// Whether the HTTP probe may confirm readiness.
    pub fn probes(self) -> bool {
        matches!(self, ReadinessSource::Http | ReadinessSource::Any)
    }
}

impl std::str::FromStr for ReadinessSource {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ecs" => Ok(ReadinessSource::Ecs),
            "http" => Ok(ReadinessSource::Http),
            "any" => Ok(ReadinessSource::Any),
            other => Err(format!(
                "`{other}` is not a readiness source: use ecs (container health; no network path to the task needed), http (probe the endpoint) or any"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_well_formed_for_v4_and_v6() {
        let p = ServiceProfile::grafana();
        assert_eq!(
            p.endpoint("203.0.113.7".parse().unwrap()).url(),
            "http://203.0.113.7:3000"
        );
        assert_eq!(
            p.endpoint("2001:db8::1".parse().unwrap()).url(),
            "http://[2001:db8::1]:3000"
        );
        let named = ServiceProfile {
            public_name: Some("grafana.example.com".into()),
            scheme: "https".into(),
            port: 443,
            ..ServiceProfile::grafana()
        };
        let e = named.endpoint("203.0.113.7".parse().unwrap());
        assert_eq!(e.url(), "https://grafana.example.com");
        assert_eq!(e.socket().to_string(), "203.0.113.7:443");
        let other_port = ServiceProfile {
            port: 8443,
            ..named
        };
        assert_eq!(
            other_port.endpoint("203.0.113.7".parse().unwrap()).url(),
            "https://grafana.example.com:8443"
        );
        assert_eq!("PRIVATE".parse::<AddressKind>(), Ok(AddressKind::Private));
        assert!(
            "elastic"
                .parse::<AddressKind>()
                .unwrap_err()
                .contains("public or private")
        );
    }
}
