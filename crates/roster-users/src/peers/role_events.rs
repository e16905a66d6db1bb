//! Keeps each user's network roles (`User.roles`) in step with the role
//! service: follows `WatchRoleEvents` from the last applied event, and applies
//! each event once even when several replicas follow the same stream.

use std::{sync::Arc, time::Duration};

use roster_kit::{
    Error,
    client::PeerChannel,
    events::{FollowedStream, StreamProjection, cursor_after, follow_stream},
};
use roster_proto::v1::{self as pb, role_service_client::RoleServiceClient};

use crate::domain::{NetworkRole, RoleChange, ports::RoleProjection};

/// The running follower; stops when dropped.
pub struct RoleSync(FollowedStream);

impl RoleSync {
    pub fn start(
        projection: Arc<dyn RoleProjection>,
        channel: PeerChannel,
        reconnect_delay: Duration,
    ) -> Self {
        let follower = RoleEvents {
            projection,
            client: RoleServiceClient::new(channel),
        };
        Self(follow_stream(
            "roles",
            "users",
            Arc::new(follower),
            reconnect_delay,
        ))
    }

    /// Resolves once the role event at `cursor` (e.g. `GrantRoleResponse.event_cursor`)
    /// is reflected in users' roles.
    pub async fn wait_until_applied(&self, cursor: &str) -> Result<(), Error> {
        let sequence = cursor
            .parse()
            .map_err(|_| Error::invalid_field("cursor", "is not a role event cursor"))?;
        self.0.wait_until_applied(sequence).await
    }
}

struct RoleEvents {
    projection: Arc<dyn RoleProjection>,
    client: RoleServiceClient<PeerChannel>,
}

#[async_trait::async_trait]
impl StreamProjection for RoleEvents {
    type Event = pb::RoleEvent;

    async fn position(&self) -> Result<i64, Error> {
        self.projection.role_sync_position().await
    }

    async fn open(&self, after: i64) -> Result<tonic::Streaming<pb::RoleEvent>, Error> {
        Ok(self
            .client
            .clone()
            .watch_role_events(pb::WatchRoleEventsRequest {
                after_cursor: cursor_after(after),
                from_now: false,
            })
            .await
            .map_err(Error::internal)?
            .into_inner())
    }

    async fn apply(&self, event: pb::RoleEvent) -> Result<i64, Error> {
        let sequence = event_sequence(event.meta.as_ref())?;
        let (user_id, change) = network_role_change(&event);
        // The user's own event names who granted or revoked.
        let origin = roster_kit::origin::Origin::of_event(event.meta.as_ref());
        roster_kit::origin::scope(
            origin,
            self.projection
                .apply_role_event(sequence, user_id, change.as_ref()),
        )
        .await?;
        Ok(sequence)
    }

    /// Each network role change on its own (with the user's event); the runs
    /// of other events between them (most grants are scoped to a channel or a
    /// community) move the position in one statement each.
    async fn apply_batch(&self, events: Vec<pb::RoleEvent>) -> Result<i64, Error> {
        let mut passed = None;
        let mut last = 0;
        for event in events {
            let sequence = event_sequence(event.meta.as_ref())?;
            last = sequence;
            if network_role_change(&event).1.is_none() {
                passed = Some(sequence);
                continue;
            }
            if let Some(through) = passed.take() {
                self.projection.pass_role_events(through).await?;
            }
            self.apply(event).await?;
        }
        if let Some(through) = passed {
            self.projection.pass_role_events(through).await?;
        }
        Ok(last)
    }
}

/// The sequence number behind an event's cursor.
pub(super) fn event_sequence(meta: Option<&pb::EventMeta>) -> Result<i64, Error> {
    meta.and_then(|m| m.cursor.parse::<i64>().ok())
        .ok_or_else(|| Error::internal("an event without a numeric cursor"))
}

/// The user and change of a grant or revoke in the network scope; other
/// events change no user's network roles.
fn network_role_change(event: &pb::RoleEvent) -> (i64, Option<RoleChange>) {
    let Some(grant) = &event.grant else {
        return (0, None);
    };
    let network = matches!(
        grant.scope.as_ref().and_then(|s| s.scope.as_ref()),
        Some(pb::scope::Scope::Network(_))
    );
    if !network {
        return (grant.user_id, None);
    }
    let change = match event.kind() {
        pb::RoleEventKind::RoleGranted => Some(RoleChange::Granted(NetworkRole {
            role: grant.role.clone(),
            expires_at_ms: grant
                .expires_at
                .as_ref()
                .map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000),
        })),
        pb::RoleEventKind::RoleRevoked => Some(RoleChange::Revoked {
            role: grant.role.clone(),
        }),
        _ => None,
    };
    (grant.user_id, change)
}
