//! The JetStream side of the relay: the stream it publishes to, where each
//! service's events stand in it, and publishing one event exactly once.
//!
//! The position is read from the stream itself (the cursor header of the last
//! message on `roster.<service>.>`), never written anywhere else: a relay
//! killed between a publish and any bookkeeping finds the truth on restart.
//! The message id `<service>:<cursor>` makes a publish retried after a lost
//! acknowledgement land once.

use std::time::Duration;

use async_nats::{
    HeaderMap,
    jetstream::{
        self, ErrorCode,
        context::GetStreamErrorKind,
        message::PublishMessage,
        stream::{Config, LastRawMessageErrorKind, Stream},
    },
};
use prost::bytes::Bytes;

use super::{
    PayloadFormat,
    source::{RelayEvent, Source},
};

/// The subjects every stream the relay publishes to holds.
pub const SUBJECTS: &str = "roster.>";

/// Headers of every message (besides `Nats-Msg-Id` and `Content-Type`).
pub const SERVICE_HEADER: &str = "Roster-Service";
pub const CURSOR_HEADER: &str = "Roster-Cursor";
pub const KIND_HEADER: &str = "Roster-Kind";
pub const MESSAGE_HEADER: &str = "Roster-Message";
/// Only when the event has one (`EventMeta.request_id`, `.trace_id`).
pub const REQUEST_ID_HEADER: &str = "Roster-Request-Id";
pub const TRACE_ID_HEADER: &str = "Roster-Trace-Id";
/// Only on live events (`roster-live.…` subjects): `true`.
pub const LIVE_HEADER: &str = "Roster-Live";

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A JetStream stream the relay publishes to.
pub struct Target {
    context: jetstream::Context,
    stream: Stream,
    format: PayloadFormat,
    json: Option<prost_reflect::DescriptorPool>,
}

/// The subject of `kind` events of `source`: `roster.users.banned`.
pub fn subject(source: Source, kind: &str) -> String {
    format!("roster.{}.{kind}", source.name())
}

/// The subject of live `kind` events of `source`, outside the stream's
/// `roster.>`: `roster-live.users.presence_changed`.
pub fn live_subject(source: Source, kind: &str) -> String {
    format!("roster-live.{}.{kind}", source.name())
}

impl Target {
    /// Connects to `url` and creates the stream `name` (subjects `roster.>`),
    /// or adds those subjects and the duplicate window to the one there,
    /// keeping the rest of its configuration (limits, replicas) as the
    /// operator set it.
    pub async fn open(
        client: async_nats::Client,
        name: &str,
        duplicate_window: Duration,
        format: PayloadFormat,
    ) -> Result<Self, BoxError> {
        let context = jetstream::new(client);
        let stream = match context.get_stream(name).await {
            Ok(mut stream) => {
                let mut config = stream.info().await?.config.clone();
                let mut changed = false;
                if !config.subjects.iter().any(|s| s == SUBJECTS) {
                    config.subjects.push(SUBJECTS.to_owned());
                    changed = true;
                }
                if config.duplicate_window < duplicate_window {
                    config.duplicate_window = duplicate_window;
                    changed = true;
                }
                if changed {
                    context.update_stream(&config).await?;
                }
                stream
            }
            Err(err)
                if matches!(err.kind(), GetStreamErrorKind::JetStream(e)
                    if e.error_code() == ErrorCode::STREAM_NOT_FOUND) =>
            {
                context
                    .create_stream(Config {
                        name: name.to_owned(),
                        subjects: vec![SUBJECTS.to_owned()],
                        duplicate_window,
                        ..Default::default()
                    })
                    .await?
            }
            Err(err) => return Err(err.into()),
        };
        let json = match format {
            PayloadFormat::Protobuf => None,
            PayloadFormat::Json => Some(prost_reflect::DescriptorPool::decode(
                roster_proto::FILE_DESCRIPTOR_SET,
            )?),
        };
        Ok(Self {
            context,
            stream,
            format,
            json,
        })
    }

    /// The cursor of the newest event of `source` in the stream (0: none).
    pub async fn position(&self, source: Source) -> Result<i64, BoxError> {
        let filter = format!("roster.{}.>", source.name());
        match self.stream.get_last_raw_message_by_subject(&filter).await {
            Ok(message) => {
                let cursor = message
                    .headers
                    .get(CURSOR_HEADER)
                    .and_then(|value| value.as_str().parse::<i64>().ok())
                    .ok_or_else(|| {
                        format!(
                            "the last message on {filter} (stream sequence {}) has no {CURSOR_HEADER} header: something else publishes on roster.>",
                            message.sequence
                        )
                    })?;
                Ok(cursor)
            }
            Err(err) if err.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(0),
            Err(err) => Err(err.into()),
        }
    }

    /// Publishes `event` and waits for the stream to store it (or to say it
    /// already had it: a retried publish).
    pub async fn publish(&self, source: Source, event: &RelayEvent) -> Result<(), BoxError> {
        let (headers, payload) = self.message(source, event)?;
        // After `headers`, which replaces every header set before it.
        let publish = PublishMessage::build()
            .headers(headers)
            .message_id(format!("{}:{}", source.name(), event.cursor))
            .payload(payload);
        self.context
            .send_publish(subject(source, &event.kind), publish)
            .await?
            .await?;
        Ok(())
    }

    /// Publishes a live event (`EventMeta.live`: presence) on its subject
    /// outside the stream ([`live_subject`]), as plain NATS: delivered to the
    /// subscribers of the moment, never stored, never waited for.
    pub async fn publish_live(&self, source: Source, event: &RelayEvent) -> Result<(), BoxError> {
        let (mut headers, payload) = self.message(source, event)?;
        headers.insert(LIVE_HEADER, "true");
        self.context
            .client()
            .publish_with_headers(live_subject(source, &event.kind), headers, payload)
            .await?;
        Ok(())
    }

    /// The headers and payload every message of `event` carries.
    fn message(&self, source: Source, event: &RelayEvent) -> Result<(HeaderMap, Bytes), BoxError> {
        let mut headers = HeaderMap::new();
        headers.insert(SERVICE_HEADER, source.name());
        headers.insert(CURSOR_HEADER, event.cursor.to_string().as_str());
        headers.insert(KIND_HEADER, event.kind.as_str());
        headers.insert(MESSAGE_HEADER, source.message_name());
        if !event.request_id.is_empty() {
            headers.insert(REQUEST_ID_HEADER, event.request_id.as_str());
        }
        if !event.trace_id.is_empty() {
            headers.insert(TRACE_ID_HEADER, event.trace_id.as_str());
        }
        let (content_type, payload) = match (&self.format, &self.json) {
            (PayloadFormat::Json, Some(pool)) => ("application/json", json(pool, source, event)?),
            _ => ("application/protobuf", event.payload.clone()),
        };
        headers.insert("Content-Type", content_type);
        Ok((headers, payload))
    }
}

/// The event in the proto3 JSON mapping (camelCase names, enum names,
/// RFC 3339 times), made from the descriptor set: the same JSON as grpcurl's.
fn json(
    pool: &prost_reflect::DescriptorPool,
    source: Source,
    event: &RelayEvent,
) -> Result<Bytes, BoxError> {
    let descriptor = pool
        .get_message_by_name(source.message_name())
        .ok_or_else(|| format!("{} is not in the descriptor set", source.message_name()))?;
    let message = prost_reflect::DynamicMessage::decode(descriptor, event.payload.clone())?;
    Ok(serde_json::to_vec(&message)?.into())
}
