//! The admin HTTP port of every process: `/metrics` (Prometheus text),
//! `/livez` (the process answers) and `/readyz` (it serves, and is not
//! draining), for probes and scrapers that do not speak gRPC.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{Router, http::StatusCode, routing::get};
use tokio::net::TcpListener;

use crate::error::Error;

/// Whether this process should get traffic: set once it serves, cleared when
/// it starts to drain. Cheap to clone.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The admin routes.
pub fn router(readiness: Readiness) -> Router {
    let metrics = crate::metrics::install();
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let rendered = metrics.as_ref().map(|handle| handle.render());
                async move {
                    match rendered {
                        Some(text) => (
                            StatusCode::OK,
                            [(
                                axum::http::header::CONTENT_TYPE,
                                "text/plain; version=0.0.4; charset=utf-8",
                            )],
                            text,
                        ),
                        None => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            [(axum::http::header::CONTENT_TYPE, "text/plain")],
                            "no metrics recorder in this process\n".to_owned(),
                        ),
                    }
                }
            }),
        )
        .route("/livez", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let ready = readiness.is_ready();
                async move {
                    if ready {
                        (StatusCode::OK, "ready\n")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                    }
                }
            }),
        )
}

/// Serves the admin routes on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    readiness: Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    axum::serve(listener, router(readiness))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::internal)
}
