//! WatchRoleEvents: the outbox replayed from a position, then followed.

use std::{sync::Arc, time::Duration};

use roster_kit::events::{EventStream, START_CURSOR_HEADER, follow};
use roster_proto::v1 as pb;
use tonic::{Response, Status};

use super::convert;
use crate::domain::Roles;

/// The stream of events after `start`, with `start` in the response's metadata
/// so a caller can resume from there even if no event arrives.
pub fn stream(
    roles: Arc<Roles>,
    start: i64,
    poll_interval: Duration,
) -> Result<Response<EventStream<pb::RoleEvent>>, Status> {
    let changes = roles.changes().clone();
    let stream = follow(
        "roles",
        start,
        changes,
        poll_interval,
        move |after, limit| {
            let roles = roles.clone();
            async move {
                Ok(roles
                    .events_after(after, limit)
                    .await?
                    .into_iter()
                    .map(|event| (event.seq, convert::event(event)))
                    .collect())
            }
        },
    );
    let mut response = Response::new(stream);
    let value = start
        .to_string()
        .parse()
        .map_err(|_| Status::internal("cursor is not ASCII"))?;
    response.metadata_mut().insert(START_CURSOR_HEADER, value);
    Ok(response)
}
