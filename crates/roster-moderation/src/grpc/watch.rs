//! `WatchModerationEvents`: replays the outbox after a cursor, then follows it.

use std::{sync::Arc, time::Duration};

use roster_kit::events::EventStream;
use roster_proto::v1 as pb;

use super::convert;
use crate::domain::Moderation;

pub type ModerationEventStream = EventStream<pb::ModerationEvent>;

/// Streams events after sequence `after` until the client goes away.
pub fn follow(
    moderation: Arc<Moderation>,
    after: i64,
    poll_interval: Duration,
) -> ModerationEventStream {
    let changes = moderation.event_changes();
    roster_kit::events::follow(
        "moderation",
        after,
        changes,
        poll_interval,
        move |after, limit| {
            let moderation = moderation.clone();
            async move {
                let events = moderation.events_after(after, limit).await?;
                let now = moderation.now();
                Ok(events
                    .into_iter()
                    .map(|event| (event.seq, convert::event(event, now)))
                    .collect())
            }
        },
    )
}
