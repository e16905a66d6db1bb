//! The audit log's view of role changes: follows the role service's event
//! stream from where it last stopped and records every grant and revoke once.

use std::{sync::Arc, time::Duration};

use roster_kit::{
    Error,
    client::PeerChannel,
    events::{FollowedStream, StreamProjection, cursor_after, follow_stream},
};
use roster_proto::v1::{self as pb, role_service_client::RoleServiceClient};

use crate::domain::{Moderation, audit::RoleChange};

/// Follows role events until the returned follower is dropped.
pub fn follow_role_changes(
    moderation: Arc<Moderation>,
    channel: PeerChannel,
    reconnect_delay: Duration,
) -> FollowedStream {
    let audit = RoleAudit {
        moderation,
        client: RoleServiceClient::new(channel),
    };
    follow_stream("roles", "moderation", Arc::new(audit), reconnect_delay)
}

struct RoleAudit {
    moderation: Arc<Moderation>,
    client: RoleServiceClient<PeerChannel>,
}

#[async_trait::async_trait]
impl StreamProjection for RoleAudit {
    type Event = pb::RoleEvent;

    async fn position(&self) -> Result<i64, Error> {
        self.moderation.role_stream_position().await
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
        self.apply_batch(vec![event]).await
    }

    /// The grants and revokes among `events` in one transaction.
    async fn apply_batch(&self, events: Vec<pb::RoleEvent>) -> Result<i64, Error> {
        let mut changes = Vec::new();
        let mut through = 0;
        for event in &events {
            let sequence = event
                .meta
                .as_ref()
                .and_then(|m| m.cursor.parse::<i64>().ok())
                .ok_or_else(|| Error::internal("a role event without a numeric cursor"))?;
            changes.extend(role_change(event, sequence));
            through = sequence;
        }
        // Other events are no moderation action: nothing to record for them.
        if !changes.is_empty() {
            self.moderation
                .record_role_changes(changes, through)
                .await?;
        }
        Ok(through)
    }
}

/// A grant or revoke, as the audit log records it; other events are not
/// moderation actions.
fn role_change(event: &pb::RoleEvent, cursor: i64) -> Option<RoleChange> {
    let granted = match event.kind() {
        pb::RoleEventKind::RoleGranted => true,
        pb::RoleEventKind::RoleRevoked => false,
        _ => return None,
    };
    let grant = event.grant.as_ref()?;
    let scope = match grant.scope.as_ref().and_then(|s| s.scope.as_ref()) {
        Some(pb::scope::Scope::ChannelId(id)) => format!("channel:{id}"),
        Some(pb::scope::Scope::CommunityId(id)) => format!("community:{id}"),
        _ => "network".to_owned(),
    };
    let occurred_at = event
        .meta
        .as_ref()
        .and_then(|meta| meta.occurred_at.as_ref())
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .unwrap_or_else(chrono::Utc::now);
    Some(RoleChange {
        granted,
        user_id: grant.user_id,
        role: grant.role.clone(),
        scope,
        actor: grant.granted_by.clone(),
        occurred_at,
        cursor,
    })
}
