//! The simulated network between a browser and the simulated AWS: the public name resolved
//! as Route 53's name servers answer it now, and cached for its TTL as a resolver does, behind
//! an HTTP `CONNECT` proxy on loopback (point a browser at it with `--proxy-server`).
//!
//! A real browser opening `https://grafana.example.com` reaches whatever the name's record
//! leads to: the API Gateway custom domain (the wake page) while it is an alias, the task once
//! it is an A record, and only after Route 53 serves the change and the resolver's cached
//! answer expires. The proxy does that for the simulated zones: a client's `CONNECT name:443`
//! is tunnelled to the custom domain's listener or to the task's address.

use crate::ecs::SimulatedEcs;
use grafana_ondemand_core::NameRecord;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long resolvers keep an API Gateway custom domain's answer (its records' TTL).
const CUSTOM_DOMAIN_TTL: Duration = Duration::from_secs(60);
/// The longest request head the proxy reads, and how long it waits for it.
const HEAD_MAX: usize = 8 * 1024;
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP `CONNECT` proxy on loopback that resolves names in the simulated zones; dropped,
/// it stops.
#[derive(Debug)]
pub struct NameProxy {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

/// What the proxy resolves with.
#[derive(Debug)]
struct Resolver {
    ecs: SimulatedEcs,
    /// Where a task's port 443 is served on this machine (the sandbox cannot bind 443).
    service_port: u16,
    /// Resolver TTLs are multiplied by this (the simulated world's time scale).
    ttl_scale: f64,
    cache: Mutex<HashMap<String, (SocketAddr, Instant)>>,
}

impl NameProxy {
    /// Serves on `listener`. `service_port` is where a simulated task's service listens (its
    /// port 443 is mapped there); `ttl_scale` scales the TTLs a resolver keeps answers for,
    /// as `SIMULATED_TIME_SCALE` scales the rest of the world.
    pub fn spawn(
        ecs: SimulatedEcs,
        listener: TcpListener,
        service_port: u16,
        ttl_scale: f64,
    ) -> std::io::Result<NameProxy> {
        let addr = listener.local_addr()?;
        let resolver = Arc::new(Resolver {
            ecs,
            service_port,
            ttl_scale,
            cache: Mutex::default(),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let resolver = resolver.clone();
                tokio::spawn(async move {
                    if let Err(e) = tunnel(client, &resolver).await {
                        tracing::debug!(error = %e, "a proxied connection ended");
                    }
                });
            }
        });
        Ok(NameProxy { addr, task })
    }

    /// Where it listens: `--proxy-server=http://<addr>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for NameProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Resolver {
    /// Where `name:port` leads now, from the resolver's cache or from what Route 53 serves.
    fn resolve(&self, name: &str, port: u16) -> Result<SocketAddr, String> {
        let key = format!("{name}:{port}");
        let now = Instant::now();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((addr, until)) = cache.get(&key)
            && *until > now
        {
            return Ok(*addr);
        }
        let records = self.ecs.served_records(name);
        // An A record first, as browsers try IPv4 when both answer on loopback.
        let record = records
            .iter()
            .min_by_key(|r| r.kind())
            .ok_or_else(|| format!("{name} has no A or AAAA record in the simulated zones"))?;
        let (addr, ttl) = match record {
            NameRecord::Address { value, ttl } => {
                let port = if port == 443 { self.service_port } else { port };
                (
                    SocketAddr::new(value.to_canonical(), port),
                    Duration::from_secs(u64::from(*ttl)),
                )
            }
            NameRecord::Alias { target, .. } => (
                self.ecs
                    .custom_domain_address(target)
                    .ok_or_else(|| format!("{} serves nowhere on this machine", target.dns_name))?,
                CUSTOM_DOMAIN_TTL,
            ),
        };
        if !addr.ip().is_loopback() {
            return Err(format!(
                "{name} leads to {addr}: the simulated network reaches loopback only"
            ));
        }
        cache.insert(key, (addr, now + ttl.mul_f64(self.ttl_scale.max(0.0))));
        Ok(addr)
    }
}

/// One client: its `CONNECT host:port`, the name resolved, the bytes copied both ways.
async fn tunnel(mut client: TcpStream, resolver: &Resolver) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = client.read(&mut buf).await?;
            if n == 0 || head.len() + n > HEAD_MAX {
                return Err(std::io::Error::other("no request head"));
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(())
    };
    tokio::time::timeout(HEAD_TIMEOUT, read_head)
        .await
        .map_err(|_| std::io::Error::other("the request head took too long"))??;
    let line = String::from_utf8_lossy(&head);
    let target = line
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("CONNECT "))
        .and_then(|l| l.split(' ').next())
        .and_then(|hp| {
            let (host, port) = hp.rsplit_once(':')?;
            Some((host.to_ascii_lowercase(), port.parse::<u16>().ok()?))
        });
    let Some((host, port)) = target else {
        return answer(
            &mut client,
            "405 Method Not Allowed",
            "this proxy only tunnels CONNECT host:port",
        )
        .await;
    };
    let addr = match resolver.resolve(&host, port) {
        Ok(addr) => addr,
        Err(why) => return answer(&mut client, "502 Bad Gateway", &why).await,
    };
    let mut upstream =
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await {
            Ok(Ok(upstream)) => upstream,
            _ => {
                return answer(
                    &mut client,
                    "502 Bad Gateway",
                    &format!("nothing answers at {addr}"),
                )
                .await;
            }
        };
    client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

async fn answer(client: &mut TcpStream, status: &str, why: &str) -> std::io::Result<()> {
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{why}",
        why.len()
    );
    client.write_all(reply.as_bytes()).await
}
