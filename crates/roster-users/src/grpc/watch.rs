//! `WatchUserEvents`: replays the outbox after a cursor, then follows it,
//! with the live presence changes (not in the outbox) in between.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use roster_kit::events::EventStream;
use roster_proto::v1 as pb;
use tokio::sync::{broadcast, mpsc};

use super::convert;
use crate::domain::{Directory, PresenceBatch};

pub type UserEventStream = EventStream<pb::UserEvent>;

/// Events sent but not yet taken by the client, at most.
const BUFFERED: usize = 256;

/// Streams events after `after` until the client goes away.
pub fn follow(
    directory: Arc<Directory>,
    file_url_base: Arc<str>,
    after: i64,
    poll_interval: Duration,
) -> UserEventStream {
    // Subscribed before the stream starts: nothing committed once it is open
    // is missed.
    let live = directory.presence_feed().subscribe();
    let committed = directory.committed();
    let base = file_url_base.clone();
    let kept = roster_kit::events::follow(
        "users",
        after,
        committed,
        poll_interval,
        move |after, limit| {
            let directory = directory.clone();
            let file_url_base = base.clone();
            async move {
                let events = directory.events_after(after, limit).await?;
                Ok(events
                    .iter()
                    .map(|event| (event.sequence, convert::event_view(event, &file_url_base)))
                    .collect())
            }
        },
    );
    with_live_presence(kept, live, after, file_url_base)
}

/// The kept events of `kept` in order, and each live presence change as it
/// commits, carrying the cursor of the last kept event sent before it.
fn with_live_presence(
    mut kept: UserEventStream,
    mut live: broadcast::Receiver<PresenceBatch>,
    after: i64,
    file_url_base: Arc<str>,
) -> UserEventStream {
    let (sender, receiver) = mpsc::channel(BUFFERED);
    tokio::spawn(async move {
        let mut cursor = after;
        let mut live_open = true;
        loop {
            tokio::select! {
                biased;
                () = sender.closed() => return,
                event = kept.next() => {
                    let Some(event) = event else { return };
                    if let Ok(event) = &event
                        && let Some(at) = event.meta.as_ref().and_then(|m| m.cursor.parse().ok())
                    {
                        cursor = at;
                    }
                    let failed = event.is_err();
                    if sender.send(event).await.is_err() || failed {
                        return;
                    }
                }
                batch = live.recv(), if live_open => match batch {
                    Ok(batch) => {
                        for change in batch.iter() {
                            let event = convert::live_presence_view(change, cursor, &file_url_base);
                            if sender.send(Ok(event)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        roster_kit::metrics::live_events_missed("users", missed);
                    }
                    Err(broadcast::error::RecvError::Closed) => live_open = false,
                },
            }
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))
}
