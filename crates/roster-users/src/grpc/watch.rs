//! `WatchUserEvents`: replays the outbox after a cursor, then follows it.

use std::{pin::Pin, sync::Arc, time::Duration};

use futures::Stream;
use roster_kit::Error;
use roster_proto::v1 as pb;
use tokio::sync::mpsc;
use tonic::Status;

use super::convert;
use crate::domain::Directory;

pub type UserEventStream = Pin<Box<dyn Stream<Item = Result<pb::UserEvent, Status>> + Send>>;

const BATCH: u64 = 200;

/// Cursors are event sequence numbers; clients treat them as opaque.
pub fn parse_cursor(raw: &str) -> Result<i64, Error> {
    if raw.is_empty() {
        return Ok(0);
    }
    raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
        let mut err = Error::invalid_field("after_cursor", "is not a cursor from a UserEvent");
        err.reason = "CURSOR_INVALID";
        err
    })
}

/// Streams events after `after` until the client goes away. New commits in this
/// process wake the stream at once; commits by other replicas are picked up
/// within `poll_interval`.
pub fn follow(
    directory: Arc<Directory>,
    mut after: i64,
    poll_interval: Duration,
) -> UserEventStream {
    let (sender, receiver) = mpsc::channel(BATCH as usize);
    tokio::spawn(async move {
        let store = directory.store();
        let committed = store.committed();
        loop {
            // Registered before reading so a commit between the read and the
            // wait is not missed.
            let notified = committed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let events = match store.events_after(after, BATCH).await {
                Ok(events) => events,
                Err(err) => {
                    let _ = sender.send(Err(err.into())).await;
                    return;
                }
            };
            let caught_up = (events.len() as u64) < BATCH;
            for event in events {
                after = event.sequence;
                let message = pb::UserEvent {
                    meta: Some(pb::EventMeta {
                        cursor: event.sequence.to_string(),
                        occurred_at: Some(convert::timestamp(event.occurred_at)),
                    }),
                    kind: convert::event_kind_to_proto(event.kind).into(),
                    user: Some(
                        convert::UserView {
                            user: &event.user,
                            file_url_base: &directory.settings().file_url_base,
                        }
                        .into(),
                    ),
                };
                if sender.send(Ok(message)).await.is_err() {
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
