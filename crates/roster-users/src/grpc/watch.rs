//! `WatchUserEvents`: replays the outbox after a cursor, then follows it.

use std::{sync::Arc, time::Duration};

use roster_kit::events::EventStream;
use roster_proto::v1 as pb;

use super::convert;
use crate::domain::Directory;

pub type UserEventStream = EventStream<pb::UserEvent>;

/// Streams events after `after` until the client goes away.
pub fn follow(
    directory: Arc<Directory>,
    file_url_base: Arc<str>,
    after: i64,
    poll_interval: Duration,
) -> UserEventStream {
    let committed = directory.committed();
    roster_kit::events::follow(
        "users",
        after,
        committed,
        poll_interval,
        move |after, limit| {
            let directory = directory.clone();
            let file_url_base = file_url_base.clone();
            async move {
                let events = directory.events_after(after, limit).await?;
                Ok(events
                    .iter()
                    .map(|event| (event.sequence, convert::event_view(event, &file_url_base)))
                    .collect())
            }
        },
    )
}
