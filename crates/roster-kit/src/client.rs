//! Outgoing gRPC connections between Roster services, and the credentials
//! they carry.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tonic::{
    Request, Status,
    metadata::AsciiMetadataValue,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};

use crate::{auth::TokenKeys, config::TlsSettings, error::Error};

/// A channel to `endpoint` (e.g. `http://roster-roles:50051`, or `https://…`
/// with `tls`) that connects on first use and reconnects by itself, so services
/// can start in any order. `field` names the setting the endpoint came from,
/// for the error message.
pub fn lazy_channel(
    endpoint: &str,
    field: &str,
    tls: Option<&ClientTlsConfig>,
) -> Result<Channel, Error> {
    let mut builder = Endpoint::from_shared(endpoint.to_owned())
        .map_err(|_| Error::invalid_field(field, format!("{endpoint:?} is not a valid URI")))?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true)
        .tcp_nodelay(true);
    if endpoint.starts_with("https://") {
        let tls = tls.ok_or_else(|| {
            Error::invalid_field(
                field,
                format!("{endpoint:?} is https but tls.ca_file is not set"),
            )
        })?;
        builder = builder
            .tls_config(tls.clone())
            .map_err(|err| Error::invalid_field("tls", err.to_string()))?;
    }
    Ok(builder.connect_lazy())
}

/// Chooses rustls's crypto provider for the process. Both `ring` and
/// `aws-lc-rs` end up in the dependency graph (through other crates' features),
/// and then rustls cannot pick one by itself and panics at the first handshake.
pub fn install_tls_provider() {
    // Already installed (by an earlier call or another crate) is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn read_pem(path: &std::path::Path, field: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|err| Error::invalid_field(field, format!("reading {}: {err}", path.display())))
}

/// The client side of `tls`: the CA to trust, the name to expect, and the
/// certificate to present for mutual TLS. `None` without `tls.ca_file`.
pub fn client_tls(tls: &TlsSettings) -> Result<Option<ClientTlsConfig>, Error> {
    let Some(ca) = &tls.ca_file else {
        return Ok(None);
    };
    install_tls_provider();
    let mut config =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read_pem(ca, "tls.ca_file")?));
    if let Some(name) = &tls.server_name {
        config = config.domain_name(name.clone());
    }
    match (&tls.client_cert_file, &tls.client_key_file) {
        (Some(cert), Some(key)) => {
            config = config.identity(Identity::from_pem(
                read_pem(cert, "tls.client_cert_file")?,
                read_pem(key, "tls.client_key_file")?,
            ));
        }
        (None, None) => {}
        _ => {
            return Err(Error::invalid_field(
                "tls.client_cert_file",
                "client_cert_file and client_key_file go together",
            ));
        }
    }
    Ok(Some(config))
}

/// Adds a bearer token (and the current trace context) to outgoing calls of a
/// gRPC client. Service credentials mint a short-lived service token and renew
/// it when a third of its lifetime is left; a fixed token is sent as it is.
#[derive(Clone)]
pub struct ServiceCredentials {
    inner: Arc<Credentials>,
}

struct Credentials {
    minter: Option<Minter>,
    current: Mutex<(AsciiMetadataValue, Instant)>,
}

struct Minter {
    keys: Arc<TokenKeys>,
    service: String,
    ttl: Duration,
}

impl Minter {
    fn mint(&self) -> Result<(AsciiMetadataValue, Instant), Error> {
        let token = self.keys.issue_service(&self.service, self.ttl)?.token;
        Ok((bearer(&token)?, Instant::now() + self.ttl * 2 / 3))
    }
}

fn bearer(token: &str) -> Result<AsciiMetadataValue, Error> {
    format!("Bearer {token}").parse().map_err(Error::internal)
}

impl ServiceCredentials {
    /// Tokens of `service`, signed with this process's service key.
    pub fn mint(keys: Arc<TokenKeys>, service: &str, ttl: Duration) -> Result<Self, Error> {
        let minter = Minter {
            keys,
            service: service.to_owned(),
            ttl,
        };
        let current = minter.mint()?;
        Ok(Self {
            inner: Arc::new(Credentials {
                minter: Some(minter),
                current: Mutex::new(current),
            }),
        })
    }

    fn header(&self) -> Result<AsciiMetadataValue, Error> {
        let mut current = self
            .inner
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(minter) = &self.inner.minter
            && Instant::now() >= current.1
        {
            *current = minter.mint()?;
        }
        Ok(current.0.clone())
    }
}

impl tonic::service::Interceptor for ServiceCredentials {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let header = self.header()?;
        request.metadata_mut().insert("authorization", header);
        crate::telemetry::inject_trace_context(request.metadata_mut());
        Ok(request)
    }
}

/// A channel with credentials: what every peer client is built on.
pub type PeerChannel = tonic::service::interceptor::InterceptedService<Channel, ServiceCredentials>;
