//! Operational metrics, exposed in the Prometheus text format on the admin
//! HTTP port (see [`crate::admin`]): the `metrics` facade records, the
//! `metrics-exporter-prometheus` recorder renders.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `roster_grpc_requests_total` | counter | `method`, `code` (gRPC status name) |
//! | `roster_grpc_request_duration_seconds` | histogram | `method` (time to the response) |
//! | `roster_db_pool_connections` | gauge | `database`, `state` (`in_use`, `idle`, `max`) |
//! | `roster_cache_lookups_total` | counter | `cache`, `result` (`hit`, `miss`) |
//! | `roster_outbox_position` | gauge | `stream`: the newest event this process wrote or served |
//! | `roster_stream_position` | gauge | `stream`, `consumer`: the newest event a follower applied |
//! | `roster_outbox_pruned_total` | counter | `stream`: events deleted by the outbox retention |
//!
//! A follower's lag is `roster_outbox_position - roster_stream_position` for
//! the same `stream` (the two may come from different processes).

use std::{
    sync::OnceLock,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures::future::BoxFuture;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::tasks::{BackgroundTask, every};

/// Latency buckets, in seconds: sub-millisecond cache hits to the 10 s deadline.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's metrics recorder (once; later calls return the same
/// handle). `None` when another recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
                .ok()?
                .install_recorder()
                .ok()
        })
        .clone()
}

/// Counts a cache lookup.
pub fn cache_lookup(cache: &'static str, hit: bool) {
    metrics::counter!(
        "roster_cache_lookups_total",
        "cache" => cache,
        "result" => if hit { "hit" } else { "miss" }
    )
    .increment(1);
}

/// The newest event of `stream` this process wrote or served.
pub fn outbox_position(stream: &'static str, sequence: i64) {
    metrics::gauge!("roster_outbox_position", "stream" => stream).set(sequence as f64);
}

/// Live events (never kept, so never replayed) a slow watch stream of
/// `stream` fell too far behind to receive.
pub fn live_events_missed(stream: &'static str, batches: u64) {
    metrics::counter!("roster_live_batches_missed_total", "stream" => stream).increment(batches);
}

/// The newest event of `stream` that `consumer` applied.
pub fn stream_position(stream: &'static str, consumer: &'static str, sequence: i64) {
    metrics::gauge!(
        "roster_stream_position",
        "stream" => stream,
        "consumer" => consumer
    )
    .set(sequence as f64);
}

/// Samples `database`'s connection pool every `interval` until dropped.
pub fn watch_pool(
    database: &'static str,
    connection: &sea_orm::DatabaseConnection,
    interval: Duration,
) -> BackgroundTask {
    let connection = connection.clone();
    let sample = move || {
        let (size, idle, max) = pool_state(&connection);
        let gauge = |state: &'static str, value: u32| {
            metrics::gauge!(
                "roster_db_pool_connections",
                "database" => database,
                "state" => state
            )
            .set(f64::from(value));
        };
        gauge("in_use", size.saturating_sub(idle));
        gauge("idle", idle);
        gauge("max", max);
    };
    // The recorder may not be installed yet (the admin port starts after the
    // services); a gauge set before it would be lost until the next sample.
    install();
    sample();
    every(interval, move || {
        sample();
        std::future::ready(())
    })
}

/// (open, idle, maximum) connections of the pool.
fn pool_state(connection: &sea_orm::DatabaseConnection) -> (u32, u32, u32) {
    use sea_orm::DbBackend;
    let idle = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    match connection.get_database_backend() {
        DbBackend::Postgres => {
            let pool = connection.get_postgres_connection_pool();
            (
                pool.size(),
                idle(pool.num_idle()),
                pool.options().get_max_connections(),
            )
        }
        DbBackend::Sqlite => {
            let pool = connection.get_sqlite_connection_pool();
            (
                pool.size(),
                idle(pool.num_idle()),
                pool.options().get_max_connections(),
            )
        }
        _ => (0, 0, 0),
    }
}

/// Tower layer: per-RPC request counts by status code, and latency.
#[derive(Clone, Default)]
pub struct GrpcMetricsLayer;

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

#[derive(Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let started = Instant::now();
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await?;
            metrics::histogram!("roster_grpc_request_duration_seconds", "method" => method.clone())
                .record(started.elapsed().as_secs_f64());
            // An error answered at once carries its status in the headers
            // ("trailers-only"); otherwise it comes in the trailers at the end.
            if let Some(code) = grpc_code(response.headers()) {
                count(&method, code);
                return Ok(response);
            }
            Ok(response.map(|body| {
                tonic::body::Body::new(CountedBody {
                    inner: body,
                    method: Some(method),
                })
            }))
        })
    }
}

fn grpc_code(headers: &http::HeaderMap) -> Option<tonic::Code> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(tonic::Code::from_i32)
}

fn count(method: &str, code: tonic::Code) {
    metrics::counter!(
        "roster_grpc_requests_total",
        "method" => method.to_owned(),
        "code" => format!("{code:?}")
    )
    .increment(1);
}

/// A response body that counts its call once its trailers (or its end) pass.
struct CountedBody {
    inner: tonic::body::Body,
    /// Taken once counted.
    method: Option<String>,
}

impl http_body::Body for CountedBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, tonic::Status>>> {
        let frame = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        match &frame {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_code)
                    && let Some(method) = self.method.take()
                {
                    count(&method, code);
                }
            }
            Poll::Ready(Some(Err(status))) => {
                if let Some(method) = self.method.take() {
                    count(&method, status.code());
                }
            }
            Poll::Ready(None) => {
                // Ended without trailers: the client went away first.
                if let Some(method) = self.method.take() {
                    count(&method, tonic::Code::Cancelled);
                }
            }
            Poll::Pending => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for CountedBody {
    fn drop(&mut self) {
        // Dropped before its end: the client cancelled the call.
        if let Some(method) = self.method.take() {
            count(&method, tonic::Code::Cancelled);
        }
    }
}
