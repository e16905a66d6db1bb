//! `WatchUserEvents`: replays the outbox after a cursor, then follows it.

use std::{sync::Arc, time::Duration};

use roster_kit::{Error, events::EventStream};
use roster_proto::v1 as pb;

use super::convert;
use crate::domain::Directory;

pub type UserEventStream = EventStream<pb::UserEvent>;

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

/// Streams events after `after` until the client goes away.
pub fn follow(
    directory: Arc<Directory>,
    file_url_base: Arc<str>,
    after: i64,
    poll_interval: Duration,
) -> UserEventStream {
    let committed = directory.store().committed();
    roster_kit::events::follow(after, committed, poll_interval, move |after, limit| {
        let directory = directory.clone();
        let file_url_base = file_url_base.clone();
        async move {
            let events = directory.store().events_after(after, limit).await?;
            Ok(events
                .into_iter()
                .map(|event| {
                    let message = pb::UserEvent {
                        meta: Some(pb::EventMeta {
                            cursor: event.sequence.to_string(),
                            occurred_at: Some(convert::timestamp(event.occurred_at)),
                        }),
                        kind: convert::event_kind_to_proto(event.kind).into(),
                        user: Some(
                            convert::UserView {
                                user: &event.user,
                                file_url_base: &file_url_base,
                            }
                            .into(),
                        ),
                    };
                    (event.sequence, message)
                })
                .collect())
        }
    })
}
