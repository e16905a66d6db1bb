//! Keeps each user's moderation state (`is_global_banned`, `ban_expires_at`,
//! `flag_count`) in step with the moderation service: follows
//! `WatchModerationEvents` from the last applied event, each event applied once.

use std::{sync::Arc, time::Duration};

use roster_kit::{
    Error,
    client::PeerChannel,
    events::{FollowedStream, StreamProjection, cursor_after, follow_stream},
};
use roster_proto::v1::{self as pb, moderation_service_client::ModerationServiceClient};

use super::role_events::event_sequence;
use crate::domain::{
    ModerationChange,
    ports::{Clock, ModerationProjection},
};

/// The running follower; stops when dropped.
pub struct ModerationSync(FollowedStream);

impl ModerationSync {
    pub fn start(
        projection: Arc<dyn ModerationProjection>,
        clock: Arc<dyn Clock>,
        channel: PeerChannel,
        reconnect_delay: Duration,
    ) -> Self {
        let follower = ModerationEvents {
            projection,
            clock,
            client: ModerationServiceClient::new(channel),
        };
        Self(follow_stream(
            "moderation",
            "users",
            Arc::new(follower),
            reconnect_delay,
        ))
    }

    /// Resolves once the moderation event at `cursor` (e.g. a `BanUserResponse`'s
    /// `event_cursor`) is reflected in the user's record.
    pub async fn wait_until_applied(&self, cursor: &str) -> Result<(), Error> {
        let sequence = cursor
            .parse()
            .map_err(|_| Error::invalid_field("cursor", "is not a moderation event cursor"))?;
        self.0.wait_until_applied(sequence).await
    }
}

struct ModerationEvents {
    projection: Arc<dyn ModerationProjection>,
    clock: Arc<dyn Clock>,
    client: ModerationServiceClient<PeerChannel>,
}

#[async_trait::async_trait]
impl StreamProjection for ModerationEvents {
    type Event = pb::ModerationEvent;

    async fn position(&self) -> Result<i64, Error> {
        self.projection.moderation_sync_position().await
    }

    async fn open(&self, after: i64) -> Result<tonic::Streaming<pb::ModerationEvent>, Error> {
        Ok(self
            .client
            .clone()
            .watch_moderation_events(pb::WatchModerationEventsRequest {
                after_cursor: cursor_after(after),
                from_now: false,
            })
            .await
            .map_err(Error::internal)?
            .into_inner())
    }

    async fn apply(&self, event: pb::ModerationEvent) -> Result<i64, Error> {
        let sequence = event_sequence(event.meta.as_ref())?;
        // The user's own event names who moderated, and why.
        let origin = roster_kit::origin::Origin::of_event(event.meta.as_ref());
        let change = moderation_change(&event);
        roster_kit::origin::scope(
            origin,
            self.projection.apply_moderation_event(
                sequence,
                event.user_id,
                change.as_ref(),
                self.clock.now(),
            ),
        )
        .await?;
        Ok(sequence)
    }
}

/// What an event changes on the user record; deletion events change nothing
/// here (the cascade's TombstoneUser call does).
fn moderation_change(event: &pb::ModerationEvent) -> Option<ModerationChange> {
    use pb::ModerationEventKind as Kind;
    match event.kind() {
        Kind::UserFlagged | Kind::UserUnflagged | Kind::FlagsCleared => {
            Some(ModerationChange::FlagCount(event.flag_count))
        }
        Kind::UserBanned => Some(ModerationChange::Banned {
            until_ms: event
                .ban
                .as_ref()
                .and_then(|ban| ban.expires_at.as_ref())
                .map(|t| t.seconds.saturating_mul(1000) + i64::from(t.nanos) / 1_000_000),
        }),
        Kind::UserUnbanned => Some(ModerationChange::Unbanned),
        Kind::UserDeletionStarted | Kind::UserDeleted | Kind::Unspecified => None,
    }
}
