//! Logging and tracing: `tracing` with an OpenTelemetry layer exporting over
//! OTLP/gRPC when an endpoint is configured, and W3C trace context carried in
//! gRPC metadata in both directions.

use opentelemetry::{
    global,
    propagation::{Extractor, Injector},
    trace::TracerProvider as _,
};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

use crate::{config::LogSettings, error::Error};

/// Noisy dependencies are kept at `warn` unless the filter names them.
const QUIET_DEPENDENCIES: &str = "sqlx=warn,sea_orm=warn,h2=warn,hyper=warn,hyper_util=warn,tonic=warn,tower=warn,opentelemetry=warn";

/// Flushes pending spans when dropped; keep it alive for the life of the process.
#[must_use = "dropping the guard stops span export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Exports the spans ended so far now, rather than with the next batch.
    /// Blocks until the collector has answered: call it off the async worker
    /// threads (e.g. in `spawn_blocking`).
    pub fn flush(&self) -> Result<(), Error> {
        match &self.provider {
            Some(provider) => provider.force_flush().map_err(Error::internal),
            None => Ok(()),
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            eprintln!("roster: flushing traces failed: {err}");
        }
    }
}

/// Installs the global subscriber. `RUST_LOG`, when set, overrides `settings.filter`.
/// Installing twice (e.g. from several tests) keeps the first subscriber.
pub fn init(settings: &LogSettings) -> Result<TelemetryGuard, Error> {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| settings.filter.clone());
    let filter = EnvFilter::try_new(format!("{QUIET_DEPENDENCIES},{directives}"))
        .map_err(|err| Error::invalid_field("log.filter", err.to_string()))?;

    let fmt_layer = if settings.json {
        tracing_subscriber::fmt::layer().json().boxed()
    } else {
        tracing_subscriber::fmt::layer().boxed()
    };

    let provider = match &settings.otlp_endpoint {
        Some(endpoint) => {
            use opentelemetry_otlp::WithExportConfig;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
                .map_err(Error::internal)?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(
                        Resource::builder()
                            .with_service_name(settings.service_name.clone())
                            .build(),
                    )
                    .build(),
            )
        }
        None => None,
    };
    let otel_layer = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("roster")));

    // Ignoring the error keeps an already installed subscriber (tests install one per binary).
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer)
        .with(otel_layer)
        .try_init();
    Ok(TelemetryGuard { provider })
}

pub(crate) struct HeaderExtractor<'a>(pub(crate) &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            value.parse(),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// The span of one incoming gRPC request, a child of the caller's trace when
/// the request carries W3C `traceparent` metadata.
pub fn request_span<B>(request: &http::Request<B>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "grpc.request",
        otel.kind = "server",
        rpc.method = %request.uri().path(),
        request_id = %request_id,
        actor = tracing::field::Empty,
    );
    let parent =
        global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(request.headers())));
    let _ = span.set_parent(parent);
    span
}

/// Writes the current span's trace context into outgoing gRPC metadata.
pub fn inject_trace_context(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    global::get_text_map_propagator(|p| {
        p.inject_context(&context, &mut MetadataInjector(metadata))
    });
}
