//! Who made a change and why, for the events it writes: the caller (the
//! subject of its token), the request id (`x-request-id`, which the server
//! stack generates when the caller sent none and echoes in the response), the
//! trace id of the request's span, and the reason the call gave. The auth
//! layer puts the first three in a task-local scope around each call; a
//! handler whose call has a reason adds it; the outbox writers read it all
//! when they append an event. Work outside a call (a projection of another
//! service's events, a background job) runs in a scope of its own or falls
//! back to the service itself as the actor.

use std::sync::{Arc, Mutex};

use opentelemetry::trace::TraceContextExt as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Longest reason kept with an event (longer ones are cut at a character boundary).
pub const MAX_REASON_CHARS: usize = 500;

/// The origin of a change, as stored with its event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// `user:42`, `admin:platform`, `service:moderation`.
    pub actor: String,
    pub request_id: String,
    /// 32 lowercase hex digits (W3C), empty when the call was not traced.
    pub trace_id: String,
    pub reason: String,
}

impl Origin {
    /// The origin of `actor`'s call carrying `headers`, inside the request's span.
    pub fn of_request(actor: &crate::Actor, headers: &http::HeaderMap) -> Self {
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Self {
            actor: actor.to_string(),
            request_id,
            trace_id: trace_id(headers),
            reason: String::new(),
        }
    }
}

impl Origin {
    /// As read back from an outbox row of `service`'s (null columns: nothing
    /// known but that the service wrote it).
    pub fn from_columns(
        service: &str,
        actor: Option<String>,
        request_id: Option<String>,
        trace_id: Option<String>,
        reason: Option<String>,
    ) -> Self {
        Self {
            actor: actor.unwrap_or_else(|| format!("service:{service}")),
            request_id: request_id.unwrap_or_default(),
            trace_id: trace_id.unwrap_or_default(),
            reason: reason.unwrap_or_default(),
        }
    }

    /// The envelope of an event at `cursor`, committed at `occurred_at`.
    pub fn meta(
        &self,
        cursor: i64,
        occurred_at: prost_types::Timestamp,
    ) -> roster_proto::v1::EventMeta {
        roster_proto::v1::EventMeta {
            cursor: cursor.to_string(),
            occurred_at: Some(occurred_at),
            actor: self.actor.clone(),
            request_id: self.request_id.clone(),
            trace_id: self.trace_id.clone(),
            reason: self.reason.clone(),
            live: false,
        }
    }

    /// The origin a change made from another service's event carries: that
    /// event's own (who banned, and why, for the user's BANNED event).
    pub fn of_event(meta: Option<&roster_proto::v1::EventMeta>) -> Self {
        meta.map(|m| Self {
            actor: m.actor.clone(),
            request_id: m.request_id.clone(),
            trace_id: m.trace_id.clone(),
            reason: m.reason.clone(),
        })
        .unwrap_or_default()
    }
}

/// The trace id of the current span; without a tracing pipeline, the one the
/// caller's `traceparent` names (so a product's trace still links the event).
fn trace_id(headers: &http::HeaderMap) -> String {
    let span = tracing::Span::current().context();
    let current = span.span().span_context().clone();
    if current.is_valid() {
        return current.trace_id().to_string();
    }
    // W3C trace context, as the server propagates it (telemetry::init), read
    // directly so that it holds whether or not telemetry was initialised.
    use opentelemetry::propagation::TextMapPropagator as _;
    let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .extract(&crate::telemetry::HeaderExtractor(headers));
    let remote = parent.span().span_context().clone();
    if remote.is_valid() {
        remote.trace_id().to_string()
    } else {
        String::new()
    }
}

tokio::task_local! {
    static ORIGIN: Arc<Mutex<Origin>>;
}

/// Runs `work` with `origin` as the origin of the changes it makes.
pub async fn scope<F: std::future::Future>(origin: Origin, work: F) -> F::Output {
    ORIGIN.scope(Arc::new(Mutex::new(origin)), work).await
}

/// `work` in the current call's origin scope wherever it is polled: for work
/// handed to a task of its own (task-locals stay with the task that set them).
pub fn carried<F: std::future::Future>(work: F) -> impl std::future::Future<Output = F::Output> {
    let current = ORIGIN.try_with(Arc::clone).ok();
    async move {
        match current {
            Some(origin) => ORIGIN.scope(origin, work).await,
            None => work.await,
        }
    }
}

/// Records why the current call makes its change (a ban's reason, a
/// deletion's); no-op outside a call's scope.
pub fn set_reason(reason: &str) {
    let reason: String = reason.chars().take(MAX_REASON_CHARS).collect();
    let _ = ORIGIN.try_with(|origin| {
        origin
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .reason = reason;
    });
}

/// The origin of the change being written; outside any scope, `service`
/// itself (e.g. `service:users`) with nothing else known.
pub fn current(service: &str) -> Origin {
    let mut origin = ORIGIN
        .try_with(|origin| {
            origin
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        })
        .unwrap_or_default();
    if origin.actor.is_empty() {
        origin.actor = format!("service:{service}");
    }
    origin
}

/// An empty column for an empty value: events written before origins were
/// kept, and those without a request id or trace, read back the same.
pub fn column(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scope_carries_its_origin_and_reason_and_nothing_leaks_out() {
        let origin = Origin {
            actor: "user:7".into(),
            request_id: "r-1".into(),
            ..Default::default()
        };
        let seen = scope(origin, async {
            set_reason("spam");
            current("users")
        })
        .await;
        assert_eq!(seen.actor, "user:7");
        assert_eq!(seen.request_id, "r-1");
        assert_eq!(seen.reason, "spam");
        set_reason("ignored");
        assert_eq!(
            current("users"),
            Origin {
                actor: "service:users".into(),
                ..Default::default()
            }
        );
    }

    #[test]
    fn a_traceparent_names_the_trace_when_nothing_traces_here() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            http::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        );
        assert_eq!(trace_id(&headers), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(trace_id(&http::HeaderMap::new()), "");
    }
}
