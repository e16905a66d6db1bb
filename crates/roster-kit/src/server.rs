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
    auth::{AuthLayer, PublicMethods, SessionCheck, TokenKeys},
    error::Error,
    telemetry,
};

/// Collects services, then serves them on one listener.
pub struct ServerBuilder {
    routes: RoutesBuilder,
    service_names: Vec<&'static str>,
    public_methods: Vec<String>,
    keys: Arc<TokenKeys>,
    session_check: Option<Arc<dyn SessionCheck>>,
    request_timeout: Duration,
}

impl ServerBuilder {
    pub fn new(keys: Arc<TokenKeys>, request_timeout: Duration) -> Self {
        let mut builder = Self {
            routes: RoutesBuilder::default(),
            service_names: Vec::new(),
            public_methods: Vec::new(),
            keys,
            session_check: None,
            request_timeout,
        };
        builder.add_service(DiagnosticsServiceServer::new(Diagnostics));
        builder
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

    /// Extra validation of verified sessions (e.g. token revocation).
    pub fn session_check(&mut self, check: Arc<dyn SessionCheck>) -> &mut Self {
        self.session_check = Some(check);
        self
    }

    /// Serves until `shutdown` resolves, then drains in-flight calls.
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

        let auth = AuthLayer::new(
            self.keys,
            PublicMethods::new(self.public_methods),
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
            .layer(auth);

        tonic::transport::Server::builder()
            .timeout(self.request_timeout)
            .layer(stack)
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming_without_delay(listener), shutdown)
            .await
            .map_err(Error::internal)
    }
}

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

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; draining in-flight calls");
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
