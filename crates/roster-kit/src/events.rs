//! Following a service's event log (its outbox) as a gRPC server stream.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use futures::Stream;
use tokio::sync::{Notify, mpsc};
use tonic::Status;

use crate::error::Error;

/// A server-streaming response of events.
pub type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// How many events one read fetches.
pub const EVENT_BATCH: u64 = 100;

/// Streams the log after sequence `after`: `read(after, limit)` returns the next
/// events with their sequence numbers, oldest first. Replays in batches, then
/// waits for `committed` (a commit in this process) or `poll_interval` (commits
/// of other replicas), until the client goes away. A read error ends the stream
/// with that error.
pub fn follow<T, R, Fut>(
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
