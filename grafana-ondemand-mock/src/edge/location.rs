//! A simulated CloudFront edge location: the permanent front door at the name. Every viewer
//! request runs the door's function ([`DOOR_JS`](super::DOOR_JS), in QuickJS) with the
//! KeyValueStore entry as this location sees it (a write reaches it only after its
//! propagation delay), then goes where the function said, as the module's distribution is
//! configured ([`ModuleDistribution`]): the controller's origin (the API's own domain as
//! `Host`, as AllViewerExceptHostHeader sends it, with the origin's custom headers, which
//! overwrite a viewer's copy), the origin the function chose (its custom headers those it
//! gave, else the controller origin's, as CloudFront inherits them; resolved from its public
//! DNS name through the simulated EC2, over HTTPS checked against `allowedCertificateNames`),
//! or the function's own response. A method the behaviour does not allow is CloudFront's 403;
//! a function that throws or calls a helper with what AWS refuses is CloudFront's 502.
//! Connections from viewers are kept alive; WebSocket upgrades pass through.

use super::{ChosenOrigin, Door, Entry, ModuleDistribution, Routed, ViewerRequest, check_origin};
use crate::ecs::SimulatedEcs;
use axum::body::Body;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;
use tokio::net::TcpStream;

/// The header the module's distribution adds to what it sends the controller's origin, with
/// the door's secret.
pub const DOOR_SECRET_HEADER: &str = "x-grafana-ondemand-door";

/// What an edge location needs to know of the world behind it.
#[derive(Debug, Clone)]
pub struct Origins {
    /// The simulated AWS: the KeyValueStore, and EC2's public DNS names.
    pub ecs: SimulatedEcs,
    /// The KeyValueStore the function reads.
    pub store_arn: String,
    /// How long a write takes to reach this location.
    pub propagation: Duration,
    /// The distribution as the module configures it (placeholders filled).
    pub distribution: ModuleDistribution,
    /// Where the controller's origin (the simulated API Gateway) listens on loopback, plain
    /// HTTP.
    pub controller: SocketAddr,
    /// Where a task's port 443 is served on this machine (the sandbox cannot bind 443).
    pub service_port: u16,
    /// The CA a task's certificate is checked against, PEM (HTTPS origins).
    pub origin_ca_pem: Option<String>,
}

/// One running edge location; dropped, it stops.
#[derive(Debug)]
pub struct EdgeLocation {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl EdgeLocation {
    /// Serves viewers on `listener` (plain TCP, or a [`TlsListener`](crate::TlsListener) with
    /// the name's certificate).
    pub fn spawn<L>(mut listener: L, origins: Origins) -> std::io::Result<EdgeLocation>
    where
        L: axum::serve::Listener<Addr = SocketAddr>,
    {
        let addr = listener.local_addr()?;
        let function = FunctionThread::start().map_err(std::io::Error::other)?;
        let edge = Arc::new(Edge { origins, function });
        let task = tokio::spawn(async move {
            let mut serial = 0u64;
            loop {
                let (io, _) = listener.accept().await;
                let edge = edge.clone();
                serial += 1;
                let connection = serial;
                tracing::debug!(connection, "a viewer connected");
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let edge = edge.clone();
                        tracing::debug!(connection, method = %req.method(), path = %req.uri().path(), "viewer request");
                        async move { Ok::<_, std::convert::Infallible>(edge.handle(req).await) }
                    });
                    let served = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(io), service)
                        .with_upgrades()
                        .await;
                    tracing::debug!(connection, result = ?served, "a viewer connection ended");
                });
            }
        });
        Ok(EdgeLocation { addr, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for EdgeLocation {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Job = (
    ViewerRequest,
    Entry,
    tokio::sync::oneshot::Sender<Result<Routed, String>>,
);

/// The function's engine on a thread of its own (QuickJS is single-threaded), fed one
/// request at a time, as a CloudFront Functions worker is.
#[derive(Debug)]
struct FunctionThread {
    jobs: std::sync::Mutex<mpsc::Sender<Job>>,
}

impl FunctionThread {
    fn start() -> Result<FunctionThread, String> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, loaded) = mpsc::channel();
        std::thread::Builder::new()
            .name("edge-function".into())
            .spawn(move || {
                let door = match Door::load(super::DOOR_JS) {
                    Ok(door) => {
                        let _ = ready.send(Ok(()));
                        door
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                while let Ok((request, entry, answer)) = queue.recv() {
                    let _ = answer.send(door.route(&request, &entry));
                }
            })
            .map_err(|e| e.to_string())?;
        loaded
            .recv()
            .map_err(|_| "the function's thread ended".to_owned())??;
        Ok(FunctionThread {
            jobs: std::sync::Mutex::new(jobs),
        })
    }

    async fn route(&self, request: ViewerRequest, entry: Entry) -> Result<Routed, String> {
        let (answer, routed) = tokio::sync::oneshot::channel();
        self.jobs
            .lock()
            .map_err(|_| "the function's queue is poisoned".to_owned())?
            .send((request, entry, answer))
            .map_err(|_| "the function's thread ended".to_owned())?;
        routed
            .await
            .map_err(|_| "the function dropped the request".to_owned())?
    }
}

#[derive(Debug)]
struct Edge {
    origins: Origins,
    function: FunctionThread,
}

/// Hop-by-hop headers, never forwarded (an upgrade's own are put back).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_owned()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// CloudFront's own error page for `error` (`FunctionValidationError`,
/// `FunctionExecutionError`): a 502, the reason in `x-cache`, nothing behind it run.
fn cloudfront_error(status: StatusCode, error: &str) -> Response<Body> {
    let mut r = text(
        status,
        &format!(
            "{} ERROR\nThe request could not be satisfied.\n{error}\nGenerated by cloudfront (CloudFront)\n",
            status.as_u16()
        ),
    );
    if let Ok(v) = hyper::header::HeaderValue::from_str(&format!("{error} from cloudfront")) {
        r.headers_mut().insert("x-cache", v);
    }
    r
}

impl Edge {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        match self.serve(req).await {
            Ok(r) => r,
            Err(why) => {
                tracing::debug!(%why, "the edge could not serve a request");
                // CloudFront's own words when it cannot reach an origin.
                text(
                    StatusCode::BAD_GATEWAY,
                    &format!(
                        "502 ERROR: CloudFront wasn't able to connect to the origin ({why})\n"
                    ),
                )
            }
        }
    }

    async fn serve(&self, req: Request<Incoming>) -> Result<Response<Body>, String> {
        let o = &self.origins;
        let behavior = &o.distribution.default_behavior;
        if !behavior
            .allowed_methods
            .iter()
            .any(|m| m == req.method().as_str())
        {
            return Ok(cloudfront_error(
                StatusCode::FORBIDDEN,
                "This distribution is not configured to allow the HTTP request method that was used for this request.",
            ));
        }
        let controller = o
            .distribution
            .origins
            .iter()
            .find(|origin| origin.origin_id == behavior.target_origin_id)
            .ok_or("the default behaviour's origin is not among the distribution's")?;
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let header_refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let viewer = ViewerRequest::new(req.method().as_str(), req.uri().path(), &header_refs);
        let entry = match o.ecs.store_value_at_edge(
            &o.store_arn,
            grafana_ondemand_core::DOOR_KEY,
            o.propagation,
        ) {
            Some(v) => Entry::Value(v),
            None => Entry::Missing,
        };
        match self.function.route(viewer, entry).await? {
            Routed::Answered {
                status,
                headers,
                body,
            } => {
                let mut r = Response::new(Body::from(body));
                *r.status_mut() = StatusCode::from_u16(status).map_err(|e| e.to_string())?;
                for (k, v) in headers {
                    if let (Ok(k), Ok(v)) = (
                        hyper::header::HeaderName::from_bytes(k.as_bytes()),
                        hyper::header::HeaderValue::from_str(&v),
                    ) {
                        r.headers_mut().insert(k, v);
                    }
                }
                Ok(r)
            }
            Routed::Refused { error, why } => {
                tracing::warn!(%error, %why, "CloudFront would refuse the door's function");
                Ok(cloudfront_error(StatusCode::BAD_GATEWAY, error))
            }
            Routed::Controller => {
                let to = Target {
                    addr: o.controller,
                    host: controller.domain_name.clone(),
                    path_prefix: controller.origin_path.clone(),
                    headers: &controller.custom_headers,
                    tls: None,
                };
                forward(req, to).await
            }
            Routed::Origin(origin) => {
                let chosen: ChosenOrigin = check_origin(&origin)?;
                let Some(name) = chosen.domain_name.clone() else {
                    // The behaviour's origin, with what the function changed.
                    let to = Target {
                        addr: o.controller,
                        host: chosen
                            .host_header
                            .clone()
                            .unwrap_or_else(|| controller.domain_name.clone()),
                        path_prefix: chosen
                            .origin_path
                            .clone()
                            .unwrap_or_else(|| controller.origin_path.clone()),
                        headers: chosen
                            .custom_headers
                            .as_ref()
                            .unwrap_or(&controller.custom_headers),
                        tls: None,
                    };
                    return forward(req, to).await;
                };
                let ip = o
                    .ecs
                    .resolve_public_name(&name)
                    .ok_or_else(|| format!("{name} does not resolve"))?;
                // Unset, the behaviour's origin's: HTTPS on 443, as the module configures it.
                let (port, https) = chosen.port_and_https.unwrap_or((443, true));
                let port = if port == 443 { o.service_port } else { port };
                let host = chosen.host_header.clone().unwrap_or_else(|| name.clone());
                let tls = if https {
                    let pinned = chosen
                        .allowed_certificate_names
                        .first()
                        .cloned()
                        .or_else(|| chosen.sni.clone())
                        .unwrap_or_else(|| host.clone());
                    Some((pinned, self.client_tls()?))
                } else {
                    None
                };
                let to = Target {
                    addr: SocketAddr::new(ip, port),
                    host,
                    path_prefix: chosen.origin_path.clone().unwrap_or_default(),
                    // Not given: the behaviour's origin's custom headers, as CloudFront
                    // inherits them.
                    headers: chosen
                        .custom_headers
                        .as_ref()
                        .unwrap_or(&controller.custom_headers),
                    tls,
                };
                forward(req, to).await
            }
        }
    }

    fn client_tls(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        let mut roots = rustls::RootCertStore::empty();
        let pem = self
            .origins
            .origin_ca_pem
            .as_deref()
            .ok_or("an HTTPS origin, and no CA to check it with")?;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots
                .add(cert.map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

/// Where a request goes: the address, its `Host`, the origin's path, its custom headers
/// (they overwrite a viewer's copy), and the name its certificate must hold over TLS.
struct Target<'a> {
    addr: SocketAddr,
    host: String,
    path_prefix: String,
    headers: &'a BTreeMap<String, String>,
    tls: Option<(String, Arc<rustls::ClientConfig>)>,
}

/// Sends `req` to `to`, and passes an upgrade (a WebSocket) through both ways.
async fn forward(mut req: Request<Incoming>, to: Target<'_>) -> Result<Response<Body>, String> {
    let upgrade = req
        .headers()
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let viewer_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut req));
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    let mut out = Request::builder()
        .method(req.method().clone())
        .uri(format!("{}{path}", to.path_prefix));
    for (k, v) in req.headers() {
        if !HOP_BY_HOP.contains(&k.as_str()) && k != "host" && !to.headers.contains_key(k.as_str())
        {
            out = out.header(k, v);
        }
    }
    out = out.header("host", &to.host);
    if let Some(upgrade) = &upgrade {
        out = out
            .header("connection", "upgrade")
            .header("upgrade", upgrade);
    }
    for (k, v) in to.headers {
        out = out.header(k.as_str(), v);
    }
    let out = out
        .body(Body::new(req.into_body()))
        .map_err(|e| e.to_string())?;
    let (to, tls) = (to.addr, to.tls);
    let tcp = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(to))
        .await
        .map_err(|_| format!("connecting to {to} timed out"))?
        .map_err(|e| format!("{to}: {e}"))?;
    let mut response = match tls {
        None => send(TokioIo::new(tcp), out).await?,
        Some((name, config)) => {
            let server_name =
                rustls::pki_types::ServerName::try_from(name.clone()).map_err(|e| e.to_string())?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(server_name, tcp)
                .await
                .map_err(|e| format!("the origin's certificate is not valid for {name}: {e}"))?;
            send(TokioIo::new(stream), out).await?
        }
    };
    if response.status() == StatusCode::SWITCHING_PROTOCOLS
        && let Some(viewer_upgrade) = viewer_upgrade
    {
        let origin_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(async move {
            if let (Ok(viewer), Ok(origin)) = (viewer_upgrade.await, origin_upgrade.await) {
                let (mut viewer, mut origin) = (TokioIo::new(viewer), TokioIo::new(origin));
                let _ = tokio::io::copy_bidirectional(&mut viewer, &mut origin).await;
            }
        });
    }
    let (mut parts, body) = response.into_parts();
    for h in HOP_BY_HOP {
        if parts.status != StatusCode::SWITCHING_PROTOCOLS || (h != "connection" && h != "upgrade")
        {
            parts.headers.remove(h);
        }
    }
    Ok(Response::from_parts(parts, Body::new(body)))
}

async fn send<T>(io: TokioIo<T>, req: Request<Body>) -> Result<Response<Incoming>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "an origin connection ended");
        }
    });
    sender.send_request(req).await.map_err(|e| e.to_string())
}
