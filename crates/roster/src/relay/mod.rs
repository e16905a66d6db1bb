//! The event relay: every service's event stream, in order, to NATS
//! JetStream (`roster relay nats`, or inside `roster serve` with
//! `relay.nats.enabled`). One task per service reads its watch stream over
//! gRPC from the position the JetStream stream holds and publishes each event
//! before reading the next; any failure (NATS down, the service restarting)
//! is logged, waited out with backoff, and resumed from the stream's position.

pub mod jetstream;
pub mod source;

use std::time::Duration;

use futures::StreamExt;
use roster_kit::{Error, client::PeerChannel, events::BackgroundTask, service::ServiceContext};
use serde::Deserialize;

use self::{
    jetstream::{BoxError, Target},
    source::{SOURCES, Source},
};

/// `[relay]`: where the services' events are published.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RelaySettings {
    pub nats: NatsRelaySettings,
}

/// `[relay.nats]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct NatsRelaySettings {
    /// Run the relay inside `roster serve` (`roster relay nats` runs it alone
    /// whatever this says).
    pub enabled: bool,
    /// The NATS server(s), comma-separated: `nats://host:4222`.
    pub url: String,
    /// The JetStream stream, created when missing (subjects `roster.>`).
    pub stream: String,
    /// What the messages carry: the event message in protobuf, or in JSON.
    pub format: PayloadFormat,
    /// JetStream's duplicate window: a publish retried within it lands once.
    pub duplicate_window_secs: u64,
    /// Backoff after a failure: the first wait, doubled per failure up to the second.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
}

impl Default for NatsRelaySettings {
    fn default() -> Self {
        Self {
            enabled: false,
            url: "nats://127.0.0.1:4222".into(),
            stream: "ROSTER".into(),
            format: PayloadFormat::Protobuf,
            duplicate_window_secs: 120,
            retry_initial_ms: 500,
            retry_max_ms: 30_000,
        }
    }
}

/// The payload of the relay's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayloadFormat {
    /// `Content-Type: application/protobuf`: the encoded event message.
    Protobuf,
    /// `Content-Type: application/json`: the proto3 JSON mapping.
    Json,
}

/// The relay's tasks; they stop when it is dropped.
pub struct Relay {
    _tasks: Vec<BackgroundTask>,
}

impl Relay {
    /// Starts publishing every service's events, reading them as the `relay`
    /// service through `ctx`'s peer channels.
    pub fn start(ctx: &ServiceContext, settings: &NatsRelaySettings) -> Result<Self, Error> {
        let mut tasks = Vec::new();
        for source in SOURCES {
            let channel = ctx.peer_channel(source.peer(), "relay")?;
            tasks.push(BackgroundTask::spawn(relay(
                *source,
                channel,
                settings.clone(),
            )));
        }
        Ok(Self { _tasks: tasks })
    }
}

/// Relays `source` until dropped.
async fn relay(source: Source, channel: PeerChannel, settings: NatsRelaySettings) {
    let initial = Duration::from_millis(settings.retry_initial_ms.max(1));
    let max = Duration::from_millis(settings.retry_max_ms).max(initial);
    let mut delay = initial;
    loop {
        let mut published = false;
        let outcome = run(source, &channel, &settings, &mut published).await;
        if published {
            delay = initial;
        }
        let err = match outcome {
            Ok(()) => "the event stream ended".into(),
            Err(err) => err,
        };
        metrics::counter!("roster_relay_errors_total", "stream" => source.name()).increment(1);
        tracing::error!(
            stream = source.name(),
            nats = %settings.url,
            retry_in_ms = delay.as_millis() as u64,
            error = %err,
            "relaying events to NATS failed; nothing is lost: retrying from the last event the stream acknowledged"
        );
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(max);
    }
}

/// One attempt: connect, find the position, publish until something fails.
async fn run(
    source: Source,
    channel: &PeerChannel,
    settings: &NatsRelaySettings,
    published: &mut bool,
) -> Result<(), BoxError> {
    let client = async_nats::ConnectOptions::new()
        .name(format!("roster-relay-{}", source.name()))
        .connect(settings.url.as_str())
        .await?;
    let target = Target::open(
        client,
        &settings.stream,
        Duration::from_secs(settings.duplicate_window_secs),
        settings.format,
    )
    .await?;
    let mut position = target.position(source).await?;
    set_position(source, position);
    let mut events = source.open(channel.clone(), position).await?;
    tracing::info!(
        stream = source.name(),
        after = position,
        "relaying events to NATS"
    );
    while let Some(event) = events.next().await {
        let event = event?;
        if event.live {
            target.publish_live(source, &event).await?;
            metrics::counter!("roster_relay_live_published_total", "stream" => source.name())
                .increment(1);
            continue;
        }
        if event.cursor <= position {
            // Never published twice, whatever a stream replays.
            continue;
        }
        target.publish(source, &event).await?;
        position = event.cursor;
        *published = true;
        set_position(source, position);
        metrics::counter!("roster_relay_published_total", "stream" => source.name()).increment(1);
        if let Some(at) = event.occurred_at {
            let lag = chrono::Utc::now().timestamp_millis() as f64 / 1000.0
                - (at.seconds as f64 + f64::from(at.nanos) / 1e9);
            metrics::gauge!("roster_relay_lag_seconds", "stream" => source.name())
                .set(lag.max(0.0));
        }
    }
    Ok(())
}

fn set_position(source: Source, position: i64) {
    metrics::gauge!("roster_relay_position", "stream" => source.name()).set(position as f64);
}
