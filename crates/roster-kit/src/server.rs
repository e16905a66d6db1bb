//! The gRPC server every Roster service runs in: health, reflection, the
//! diagnostics `Ping`, and one tower stack (request id, tracing, timeout, auth).

use std::{convert::Infallible, future::Future, sync::Arc, time::Duration};

use roster_proto::v1::{
    PingRequest, PingResponse,
    diagnostics_service_server::{DiagnosticsService, DiagnosticsServiceServer},
};
use tokio::net::TcpListener;
use tonic::{
    Request, Response, Status,
    server::NamedService,
    service::{Routes, RoutesBuilder},
};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::{
    admin::Readiness,
    auth::{AuthLayer, MethodSet, SessionCheck, TokenKeys},
    config::TlsSettings,
    error::Error,
    lifecycle::{DeadlineLayer, DrainLayer},
    metrics::GrpcMetricsLayer,
    telemetry,
};
use tokio_util::sync::CancellationToken;

/// Collects services, then serves them on one listener.
pub struct ServerBuilder {
    routes: RoutesBuilder,
    service_names: Vec<&'static str>,
    public_methods: Vec<String>,
    service_methods: Vec<String>,
    keys: Arc<TokenKeys>,
    session_check: Option<Arc<dyn SessionCheck>>,
    request_timeout: Duration,
    drain_deadline: Duration,
    tls: Option<tonic::transport::ServerTlsConfig>,
    readiness: Readiness,
}

impl ServerBuilder {
    pub fn new(keys: Arc<TokenKeys>, request_timeout: Duration) -> Self {
        let mut builder = Self {
            routes: RoutesBuilder::default(),
            service_names: Vec::new(),
            public_methods: Vec::new(),
            service_methods: Vec::new(),
            keys,
            session_check: None,
            request_timeout,
            drain_deadline: Duration::from_secs(20),
            tls: None,
            readiness: Readiness::default(),
        };
        builder.add_service(DiagnosticsServiceServer::new(Diagnostics));
        builder.service_method("/roster.v1.DiagnosticsService/Ping");
        builder
    }

    /// Serves TLS (mutual TLS when `tls.client_ca_file` is set) when a
    /// certificate is configured.
    pub fn tls(&mut self, tls: &TlsSettings) -> Result<&mut Self, Error> {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};
        let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) else {
            if tls.cert_file.is_some() || tls.key_file.is_some() {
                return Err(Error::invalid_field(
                    "tls.cert_file",
                    "cert_file and key_file go together",
                ));
            }
            return Ok(self);
        };
        crate::client::install_tls_provider();
        let read = |path: &std::path::Path, field: &str| {
            std::fs::read(path).map_err(|err| {
                Error::invalid_field(field, format!("reading {}: {err}", path.display()))
            })
        };
        let mut config = ServerTlsConfig::new().identity(Identity::from_pem(
            read(cert, "tls.cert_file")?,
            read(key, "tls.key_file")?,
        ));
        if let Some(ca) = &tls.client_ca_file {
            config = config.client_ca_root(Certificate::from_pem(read(ca, "tls.client_ca_file")?));
        }
        self.tls = Some(config);
        Ok(self)
    }

    /// Registers a tonic service; it is reported SERVING by health and listed by reflection.
    pub fn add_service<S>(&mut self, service: S) -> &mut Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.service_names.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// Lets a method (full path, e.g. `/roster.v1.UserService/Login`) be called without a token.
    pub fn public_method(&mut self, path: &str) -> &mut Self {
        self.public_methods.push(path.to_owned());
        self
    }

    /// Lets services (service tokens) call a method (full path); they are
    /// refused every other one.
    pub fn service_method(&mut self, path: &str) -> &mut Self {
        self.service_methods.push(path.to_owned());
        self
    }

    /// The readiness the admin port's `/readyz` reports: set while this server
    /// serves, cleared when it starts to drain.
    pub fn readiness(&mut self, readiness: Readiness) -> &mut Self {
        self.readiness = readiness;
        self
    }

    /// How long a shutdown waits for unary calls to finish before it stops anyway.
    pub fn drain_deadline(&mut self, deadline: Duration) -> &mut Self {
        self.drain_deadline = deadline;
        self
    }

    /// Extra validation of verified sessions (e.g. token revocation).
    pub fn session_check(&mut self, check: Arc<dyn SessionCheck>) -> &mut Self {
        self.session_check = Some(check);
        self
    }

    /// Serves until `shutdown` resolves, then drains: health turns NOT_SERVING
    /// (readiness probes stop sending traffic), open server streams end with
    /// UNAVAILABLE / SHUTTING_DOWN, no new call is accepted, and calls in flight
    /// finish — for at most the drain deadline.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), Error> {
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        for name in &self.service_names {
            health_reporter
                .set_service_status(*name, tonic_health::ServingStatus::Serving)
                .await;
        }

        let mut routes = self.routes;
        routes.add_service(health_service);
        let reflection = || {
            let mut builder = tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(roster_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .with_service_name("grpc.health.v1.Health");
            for name in &self.service_names {
                builder = builder.with_service_name(*name);
            }
            builder
        };
        // grpcurl 1.8 speaks only the v1alpha reflection protocol; newer clients use v1.
        routes.add_service(reflection().build_v1().map_err(Error::internal)?);
        routes.add_service(reflection().build_v1alpha().map_err(Error::internal)?);
        let routes: Routes = routes.routes();

        let drain = CancellationToken::new();
        let auth = AuthLayer::new(
            self.keys,
            MethodSet::new(self.public_methods),
            MethodSet::new(self.service_methods),
            self.session_check,
        );
        let stack = tower::ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(
                tower_http::trace::TraceLayer::new_for_grpc()
                    .make_span_with(telemetry::request_span)
                    // A refused call is an answer, not a server fault; server faults
                    // are logged where they happen, with their cause.
                    .on_failure(
                        tower_http::trace::DefaultOnFailure::new().level(tracing::Level::DEBUG),
                    ),
            )
            .layer(GrpcMetricsLayer)
            .layer(DrainLayer::new(drain.clone()))
            .layer(DeadlineLayer::new(self.request_timeout))
            .layer(auth);

        // Uploads stream megabytes per call, in messages of 64 KiB: frames of
        // up to 256 KiB (HTTP/2's default is 16 KiB) carry each message in one
        // frame instead of five, a fifth of the per-frame work.
        let mut server = tonic::transport::Server::builder().max_frame_size(MAX_FRAME_SIZE);
        if let Some(tls) = self.tls {
            server = server.tls_config(tls).map_err(Error::internal)?;
        }
        let names = self.service_names;
        let draining = drain.clone();
        let readiness = self.readiness;
        readiness.set(true);
        let signal = async move {
            shutdown.await;
            readiness.set(false);
            health_reporter
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
            for name in names {
                health_reporter
                    .set_service_status(name, tonic_health::ServingStatus::NotServing)
                    .await;
            }
            draining.cancel();
        };
        let serving = server
            .layer(stack)
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming_without_delay(listener), signal);
        let deadline = self.drain_deadline;
        tokio::select! {
            result = serving => result.map_err(Error::internal),
            () = async {
                drain.cancelled().await;
                tokio::time::sleep(deadline).await;
            } => {
                tracing::warn!(
                    deadline_ms = deadline.as_millis() as u64,
                    "calls still open at the drain deadline; stopping without them"
                );
                Ok(())
            }
        }
    }
}

/// The largest HTTP/2 frame a client may send.
const MAX_FRAME_SIZE: u32 = 256 * 1024;

/// Accepted connections with Nagle's algorithm off: tonic's own `tcp_nodelay`
/// applies only to listeners it binds itself, and without it small responses
/// wait for delayed ACKs (tens of milliseconds).
fn incoming_without_delay(
    listener: TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use futures::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|connection| {
        if let Ok(stream) = &connection
            && let Err(err) = stream.set_nodelay(true)
        {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
        connection
    })
}

/// Resolves on the first SIGINT or SIGTERM; a second one ends the process at
/// once (exit code 130), without waiting for the drain. The handlers are
/// installed when this is called, not when the future is first polled: call it
/// before announcing that the server is up, so an early signal is not lost.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send {
    let mut signals = Signals::install();
    async move {
        signals.next().await;
        tracing::info!("shutdown requested; draining (a second signal stops at once)");
        tokio::spawn(async move {
            signals.next().await;
            tracing::warn!("second shutdown signal; stopping now");
            std::process::exit(130);
        });
    }
}

/// SIGINT and SIGTERM, listened to from the moment this is made.
struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        {
            async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = recv(&mut self.interrupt) => {},
                () = recv(&mut self.terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

struct Diagnostics;

#[tonic::async_trait]
impl DiagnosticsService for Diagnostics {
    async fn ping(&self, request: Request<PingRequest>) -> Result<Response<PingResponse>, Status> {
        let actor = crate::auth::actor(&request)?;
        Ok(Response::new(PingResponse {
            actor: actor.to_string(),
        }))
    }
}
