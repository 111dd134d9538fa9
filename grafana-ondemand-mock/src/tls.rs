//! TLS for the stand-in: a certificate authority made for one run, a certificate it signs
//! for the public name, and a listener that serves HTTPS with it, so that the probe's and
//! the page's https path is exercised for real (certificate chain and name checked).

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A CA of its own and the certificate it issued for one DNS name.
#[derive(Debug)]
pub struct TestCertificate {
    /// The CA's certificate, PEM: what a client adds to its roots to trust the stand-in.
    pub ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl TestCertificate {
    /// A fresh CA and a certificate for `name`, valid now.
    pub fn for_name(name: &str) -> Result<Self, rcgen::Error> {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate()?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "grafana-ondemand test CA");
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate()?;
        let leaf = CertificateParams::new(vec![name.to_owned()])?.signed_by(&key, &issuer)?;
        Ok(TestCertificate {
            ca_pem: ca_cert.pem(),
            chain: vec![leaf.der().clone(), ca_cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        })
    }

    fn acceptor(&self) -> Result<TlsAcceptor, rustls::Error> {
        // The provider is named: the dependency tree compiles two, and rustls refuses to guess.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                self.chain.clone(),
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// A TCP listener that hands out TLS streams (an [`axum::serve::Listener`]); a client that
/// fails its handshake (or takes more than five seconds) is dropped, and the next one
/// accepted.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("addr", &self.tcp.local_addr().ok())
            .finish()
    }
}

impl TlsListener {
    /// Serves `cert` (and its chain) on `tcp`.
    pub fn new(tcp: TcpListener, cert: &TestCertificate) -> std::io::Result<Self> {
        let acceptor = cert.acceptor().map_err(std::io::Error::other)?;
        Ok(TlsListener { tcp, acceptor })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            match tokio::time::timeout(Duration::from_secs(5), self.acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => return (tls, addr),
                Ok(Err(e)) => tracing::debug!(error = %e, %addr, "a TLS handshake failed"),
                Err(_) => tracing::debug!(%addr, "a TLS handshake took too long"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
