//! A service's event log (its outbox): cursors, the gRPC watch stream that
//! replays and follows it, its retention (pruning, and refusing cursors whose
//! next events were pruned), and the followers of other services' streams.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures::{FutureExt, Stream};
use tokio::sync::{Notify, mpsc};
use tonic::Status;

use crate::{config::OutboxSettings, error::Error};

/// A server-streaming response of events.
pub type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

pub use crate::tasks::{BackgroundTask, every};

/// How many events one read fetches.
pub const EVENT_BATCH: u64 = 100;

/// How long a follower refused CURSOR_EXPIRED waits before asking again.
const EXPIRED_RETRY_DELAY: Duration = Duration::from_secs(60);

/// Metadata key of watch responses carrying the cursor the stream starts after
/// (the current end of the log for a `from_now` watch).
pub const START_CURSOR_HEADER: &str = "roster-start-cursor";

/// An event cursor as clients pass it (`after_cursor`): the event's sequence
/// number, opaque to them. Empty means "from the beginning".
pub fn parse_cursor(raw: &str, field: &str) -> Result<i64, Error> {
    if raw.is_empty() {
        return Ok(0);
    }
    raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
        let mut err = Error::invalid_field(field, "is not a cursor of this event stream");
        err.reason = "CURSOR_INVALID";
        err
    })
}

/// Where a watch request starts: after a cursor (`Some`; 0 is the
/// beginning), or at the current end of the log with `from_now` (`None`).
pub fn watch_start(after_cursor: &str, from_now: bool) -> Result<Option<i64>, Error> {
    if !from_now {
        return parse_cursor(after_cursor, "after_cursor").map(Some);
    }
    if !after_cursor.is_empty() {
        return Err(Error::invalid_field(
            "from_now",
            "cannot be combined with after_cursor",
        ));
    }
    Ok(None)
}

/// Puts the cursor a watch starts after in its response's metadata
/// ([`START_CURSOR_HEADER`]), so a caller can resume from there even if no
/// event arrives.
pub fn with_start_cursor<T>(mut response: tonic::Response<T>, start: i64) -> tonic::Response<T> {
    response.metadata_mut().insert(
        START_CURSOR_HEADER,
        tonic::metadata::MetadataValue::from(start),
    );
    response
}

/// The error of a read resuming after `after` when the events right after it
/// were pruned: OUT_OF_RANGE / CURSOR_EXPIRED, never a silent gap.
pub fn cursor_expired(after: i64) -> Error {
    Error::new(
        crate::error::ErrorKind::OutOfRange,
        "CURSOR_EXPIRED",
        format!(
            "after_cursor: the events after cursor {after} are no longer kept (outbox.retention_days, outbox.retention_events); re-read the current state, then watch again with an empty cursor"
        ),
    )
}

/// Refuses a read after sequence `after` (0: from the beginning, never
/// refused) when the log's oldest kept event is not the next one: the events
/// in between were pruned. Call it when the first event read is not `after + 1`
/// (a sequence may also have gaps of its own: rolled-back appends), with the
/// oldest sequence read *after* the events, so a prune in between errs on the
/// side of refusing.
pub fn ensure_kept(after: i64, oldest: Option<i64>) -> Result<(), Error> {
    match oldest {
        Some(oldest) if after > 0 && after + 1 < oldest => Err(cursor_expired(after)),
        _ => Ok(()),
    }
}

/// How long an outbox keeps its events (see [`OutboxSettings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Events younger than this are kept.
    pub max_age: Duration,
    /// The newest this many events are kept whatever their age (at least 1).
    pub min_events: u64,
}

impl Retention {
    pub fn from_settings(settings: &OutboxSettings) -> Self {
        Self {
            max_age: Duration::from_secs(u64::from(settings.retention_days) * 24 * 3600),
            min_events: settings.retention_events.max(1),
        }
    }

    /// Events that occurred before this are old enough to prune at `now`.
    pub fn cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        chrono::Duration::from_std(self.max_age)
            .ok()
            .and_then(|age| now.checked_sub_signed(age))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// An outbox that deletes what its retention no longer keeps.
#[async_trait::async_trait]
pub trait PrunableLog: Send + Sync + 'static {
    /// Deletes the events `retention` no longer keeps at `now` (a prefix of
    /// the log); returns how many.
    async fn prune(&self, retention: Retention, now: DateTime<Utc>) -> Result<u64, Error>;
}

/// Prunes `log` (the outbox of `stream`) once now and then every
/// `outbox.prune_interval_secs`, until the returned task is dropped; does
/// nothing when the interval is 0. Every replica may run it: a prune that
/// finds nothing to delete costs two index lookups.
pub fn prune_outbox(
    stream: &'static str,
    log: Arc<dyn PrunableLog>,
    settings: &OutboxSettings,
) -> BackgroundTask {
    let retention = Retention::from_settings(settings);
    let interval = Duration::from_secs(settings.prune_interval_secs);
    BackgroundTask::spawn(async move {
        if interval.is_zero() {
            return;
        }
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match log.prune(retention, Utc::now()).await {
                Ok(0) => {}
                Ok(pruned) => {
                    metrics::counter!("roster_outbox_pruned_total", "stream" => stream)
                        .increment(pruned);
                    tracing::info!(stream, pruned, "outbox pruned");
                }
                Err(err) => tracing::warn!(stream, error = %err, "pruning the outbox failed"),
            }
        }
    })
}

/// Whether a stream ended because its server is draining (it says so with the
/// SHUTTING_DOWN reason): routine, the follower just reconnects.
pub fn ended_by_drain(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::Unavailable && has_reason(status, "SHUTTING_DOWN")
}

/// Whether `status` carries `reason` in its `ErrorInfo`.
fn has_reason(status: &tonic::Status, reason: &str) -> bool {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .is_some_and(|info| info.reason == reason)
}

/// Streams the log after sequence `after`: `read(after, limit)` returns the next
/// events with their sequence numbers, oldest first. Replays in batches, then
/// waits for `committed` (a commit in this process) or `poll_interval` (commits
/// of other replicas), until the client goes away. A read error ends the stream
/// with that error.
pub fn follow<T, R, Fut>(
    stream: &'static str,
    mut after: i64,
    committed: Arc<Notify>,
    poll_interval: Duration,
    read: R,
) -> EventStream<T>
where
    T: Send + 'static,
    R: Fn(i64, u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<(i64, T)>, Error>> + Send,
{
    let (sender, receiver) = mpsc::channel(EVENT_BATCH as usize);
    tokio::spawn(async move {
        loop {
            // Registered before reading, so a commit between the read and the
            // wait is not missed.
            let notified = committed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let events = match read(after, EVENT_BATCH).await {
                Ok(events) => events,
                Err(err) => {
                    let _ = sender.send(Err(err.into())).await;
                    return;
                }
            };
            let caught_up = (events.len() as u64) < EVENT_BATCH;
            for (sequence, event) in events {
                after = sequence;
                crate::metrics::outbox_position(stream, sequence);
                if sender.send(Ok(event)).await.is_err() {
                    return;
                }
            }
            if caught_up {
                tokio::select! {
                    () = &mut notified => {}
                    () = tokio::time::sleep(poll_interval) => {}
                    () = sender.closed() => return,
                }
            }
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))
}

/// A projection of another service's event stream into this service's own
/// tables: where it stands, how to open the stream after that, and how to
/// apply one event (once, however many replicas follow the same stream).
#[async_trait::async_trait]
pub trait StreamProjection: Send + Sync + 'static {
    type Event: Send + 'static;

    /// Sequence of the last event applied (0: none).
    async fn position(&self) -> Result<i64, Error>;

    /// The stream of events after sequence `after`.
    async fn open(&self, after: i64) -> Result<tonic::Streaming<Self::Event>, Error>;

    /// Applies one event; returns its sequence.
    async fn apply(&self, event: Self::Event) -> Result<i64, Error>;

    /// Applies `events`, in stream order: those that had arrived together
    /// (at most [`FOLLOW_BATCH`]); returns the last one's sequence. One by one
    /// unless a projection can do better, e.g. apply them in one transaction
    /// when the follower has fallen behind.
    async fn apply_batch(&self, events: Vec<Self::Event>) -> Result<i64, Error> {
        let mut last = 0;
        for event in events {
            last = self.apply(event).await?;
        }
        Ok(last)
    }
}

/// Events a follower applies together at most.
pub const FOLLOW_BATCH: usize = 256;

/// `first` with the events that arrived after it and can be read without
/// waiting (up to [`FOLLOW_BATCH`] in all): a follower that fell behind
/// catches up in batches. Also the stream's error, should it break among them.
fn with_arrived<E>(first: E, stream: &mut tonic::Streaming<E>) -> (Vec<E>, Option<tonic::Status>) {
    let mut batch = vec![first];
    while batch.len() < FOLLOW_BATCH {
        match stream.message().now_or_never() {
            Some(Ok(Some(event))) => batch.push(event),
            Some(Err(status)) => return (batch, Some(status)),
            Some(Ok(None)) | None => break,
        }
    }
    (batch, None)
}

/// A running [`follow_stream`]; stops when dropped.
pub struct FollowedStream {
    applied: tokio::sync::watch::Receiver<i64>,
    _task: BackgroundTask,
}

impl FollowedStream {
    /// Resolves once the event at `sequence` (or a later one) is applied.
    pub async fn wait_until_applied(&self, sequence: i64) -> Result<(), Error> {
        let mut applied = self.applied.clone();
        applied
            .wait_for(|position| *position >= sequence)
            .await
            .map(|_| ())
            .map_err(|_| Error::internal("the stream follower stopped"))
    }
}

/// Follows `projection`'s stream from its stored position, applying every
/// event; when the stream breaks (the other service restarting, a network
/// fault) it waits `reconnect_delay` and resumes from the stored position.
pub fn follow_stream<P: StreamProjection>(
    name: &'static str,
    consumer: &'static str,
    projection: Arc<P>,
    reconnect_delay: Duration,
) -> FollowedStream {
    let (applied, receiver) = tokio::sync::watch::channel(0);
    let advance = move |position: i64| {
        crate::metrics::stream_position(name, consumer, position);
        applied.send_if_modified(|seen| {
            let moved = position > *seen;
            *seen = (*seen).max(position);
            moved
        });
    };
    let task = BackgroundTask::spawn(async move {
        loop {
            let followed = async {
                let position = projection.position().await?;
                advance(position);
                let mut stream = projection.open(position).await?;
                let ended = |status: tonic::Status| {
                    let reason = if ended_by_drain(&status) {
                        "SHUTTING_DOWN"
                    } else if has_reason(&status, "CURSOR_EXPIRED") {
                        "CURSOR_EXPIRED"
                    } else {
                        "UNAVAILABLE"
                    };
                    Error::new(
                        crate::error::ErrorKind::Unavailable,
                        reason,
                        format!("the {name} stream ended"),
                    )
                    .with_source(status)
                };
                while let Some(event) = stream.message().await.map_err(ended)? {
                    let (batch, broken) = with_arrived(event, &mut stream);
                    advance(projection.apply_batch(batch).await?);
                    if let Some(status) = broken {
                        return Err(ended(status));
                    }
                }
                Ok::<(), Error>(())
            };
            let mut delay = reconnect_delay;
            match followed.await {
                Err(err) if err.reason == "SHUTTING_DOWN" => {
                    tracing::info!(
                        stream = name,
                        "event stream ended by its server's drain; resuming"
                    );
                }
                Err(err) if err.reason == "CURSOR_EXPIRED" => {
                    // Not transient: this projection missed events for good, and
                    // asking again every second changes nothing.
                    tracing::error!(
                        stream = name,
                        consumer,
                        error = %err,
                        "this follower was away longer than the stream's outbox retention (outbox.retention_days): the events it missed are gone; its projection needs rebuilding"
                    );
                    delay = delay.max(EXPIRED_RETRY_DELAY);
                }
                Err(err) => {
                    tracing::warn!(stream = name, error = %err, "event stream interrupted; resuming");
                }
                Ok(()) => {}
            }
            // Not hammering a peer that is down.
            tokio::time::sleep(delay).await;
        }
    });
    FollowedStream {
        applied: receiver,
        _task: task,
    }
}

/// The `after_cursor` of a watch request resuming after `position`.
pub fn cursor_after(position: i64) -> String {
    if position == 0 {
        String::new()
    } else {
        position.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_expired_only_when_the_events_after_it_were_pruned() {
        // Nothing pruned, or the cursor right before the oldest kept event.
        for (after, oldest) in [(0, None), (5, None), (5, Some(3)), (5, Some(6))] {
            assert!(ensure_kept(after, oldest).is_ok(), "{after} {oldest:?}");
        }
        // Events 6 and 7 are gone.
        let err = ensure_kept(5, Some(8)).err();
        assert_eq!(
            err.as_ref().map(|e| (e.kind, e.reason)),
            Some((crate::error::ErrorKind::OutOfRange, "CURSOR_EXPIRED"))
        );
        // From the beginning means from the oldest event kept.
        assert!(ensure_kept(0, Some(100)).is_ok());
    }

    #[test]
    fn retention_cuts_off_at_its_age_and_keeps_at_least_one_event() {
        let settings = OutboxSettings {
            retention_days: 2,
            retention_events: 0,
            prune_interval_secs: 60,
        };
        let retention = Retention::from_settings(&settings);
        assert_eq!(retention.min_events, 1);
        let now = Utc::now();
        assert_eq!(retention.cutoff(now), now - chrono::Duration::days(2));
    }

    #[test]
    fn a_watch_starts_after_a_cursor_or_now_but_not_both() {
        assert_eq!(watch_start("", false).ok(), Some(Some(0)));
        assert_eq!(watch_start("7", false).ok(), Some(Some(7)));
        assert_eq!(watch_start("", true).ok(), Some(None));
        let both = watch_start("7", true).err();
        assert_eq!(both.map(|e| e.reason), Some("INVALID_FIELD"));
    }

    #[test]
    fn cursors_are_non_negative_numbers_or_empty() {
        assert_eq!(parse_cursor("", "after_cursor").ok(), Some(0));
        assert_eq!(parse_cursor("42", "after_cursor").ok(), Some(42));
        for bad in ["-1", "x", "1.5"] {
            assert_eq!(
                parse_cursor(bad, "after_cursor").err().map(|e| e.reason),
                Some("CURSOR_INVALID")
            );
        }
    }
}
