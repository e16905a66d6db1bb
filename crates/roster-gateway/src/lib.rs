//! Roster's HTTP gateway: REST/JSON for web and mobile clients and backends
//! that do not speak gRPC, over the gRPC services (users, roles, files,
//! moderation). It owns nothing and decides
//! nothing: every call goes to a service with the caller's own token, and the
//! service authorises it. The gateway only names the caller (for `me`, rate
//! limits and event streams), limits request rates, and translates.
//!
//! Rooms: [`routes`] (one module per resource group: extract → gRPC request →
//! call → view), [`views`] (the JSON types and their proto conversions),
//! [`error`] with [`reasons`] (the one error mapping), [`call`] (the caller and
//! what is forwarded of it), [`events`] (server-sent events), [`rate_limit`],
//! [`openapi`] and [`server`] (the router and its tower stack).

pub mod app;
pub mod call;
pub mod console;
pub mod error;
pub mod events;
pub mod extract;
pub mod linger;
pub mod openapi;
pub mod rate_limit;
pub mod reasons;
pub mod routes;
pub mod server;
pub mod settings;
pub mod views;

use std::{future::Future, net::SocketAddr, sync::Arc};

use axum::{Router, serve::ListenerExt};
use roster_kit::{Error, service::ServiceContext};
use tokio::net::TcpListener;

pub use settings::GatewaySettings;

use crate::{app::App, rate_limit::RateLimits};

/// A ready gateway: its router, bound to the services.
pub struct Gateway {
    router: Router,
    stop: tokio_util::sync::CancellationToken,
    /// How long calls in flight may finish after shutdown.
    drain: std::time::Duration,
}

impl Gateway {
    /// Its name in `roster serve gateway`.
    pub const NAME: &'static str = "gateway";

    /// Connects to the services named by `ctx.endpoints` (lazily: they may
    /// start later) and starts following the user event stream.
    pub async fn start(ctx: &ServiceContext, settings: &GatewaySettings) -> Result<Self, Error> {
        let app = App::connect(ctx, settings)?;
        let limits = if settings.rate_limit.enabled {
            Some(Arc::new(RateLimits::new(
                &settings.rate_limit,
                app.verifier.clone(),
                app.checker.clone(),
            )?))
        } else {
            None
        };
        let stop = app.stop.clone();
        let router = server::router(app, settings, &ctx.common.public_url, limits)?;
        Ok(Self {
            router,
            stop,
            drain: std::time::Duration::from_millis(settings.request_timeout_ms),
        })
    }

    /// The router, to serve it another way (e.g. in-process in a benchmark).
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves HTTP/1.1 and HTTP/2 (cleartext) on `listener` until `shutdown`
    /// resolves. Then open event streams end, and calls in flight get up to the
    /// request timeout to finish (a long download is cut after that).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let listener = listener.tap_io(|stream| {
            // Small answers must not wait for delayed ACKs.
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(error = %err, "could not set TCP_NODELAY");
            }
        });
        let stop = self.stop.clone();
        let serving = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Event streams never end by themselves; the drain would wait forever.
            stop.cancel();
        });
        let drained = async {
            self.stop.cancelled().await;
            tokio::time::sleep(self.drain).await;
        };
        tokio::select! {
            served = serving => served.map_err(Error::internal),
            () = drained => {
                tracing::warn!("gateway calls still running after the drain; closing them");
                Ok(())
            }
        }
    }
}
