//! The moderation events, as written to the outbox and streamed by
//! `WatchModerationEvents`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{bans::Ban, deletion::DeletionOptions, flags::Flag};

/// A change, as written to the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModerationEvent {
    /// A flag was raised or changed; `flag_count` is the user's new count.
    UserFlagged { flag: Flag, flag_count: i64 },
    /// A flag was removed; `flag_count` is the user's new count.
    UserUnflagged { flag: Flag, flag_count: i64 },
    /// Every flag against the user was removed (count 0).
    FlagsCleared { user_id: i64, removed: i64 },
    /// A ban was created or its reason/expiry changed.
    UserBanned { ban: Ban },
    /// A ban was lifted.
    UserUnbanned { ban: Ban },
    /// A deletion job was created.
    UserDeletionStarted {
        user_id: i64,
        job_id: i64,
        options: DeletionOptions,
    },
    /// A deletion job completed.
    UserDeleted {
        user_id: i64,
        job_id: i64,
        options: DeletionOptions,
    },
}

impl ModerationEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            ModerationEvent::UserFlagged { .. } => "USER_FLAGGED",
            ModerationEvent::UserUnflagged { .. } => "USER_UNFLAGGED",
            ModerationEvent::FlagsCleared { .. } => "FLAGS_CLEARED",
            ModerationEvent::UserBanned { .. } => "USER_BANNED",
            ModerationEvent::UserUnbanned { .. } => "USER_UNBANNED",
            ModerationEvent::UserDeletionStarted { .. } => "USER_DELETION_STARTED",
            ModerationEvent::UserDeleted { .. } => "USER_DELETED",
        }
    }

    /// The user the change is about.
    pub fn user_id(&self) -> i64 {
        match self {
            ModerationEvent::UserFlagged { flag, .. }
            | ModerationEvent::UserUnflagged { flag, .. } => flag.user_id,
            ModerationEvent::UserBanned { ban } | ModerationEvent::UserUnbanned { ban } => {
                ban.user_id
            }
            ModerationEvent::FlagsCleared { user_id, .. }
            | ModerationEvent::UserDeletionStarted { user_id, .. }
            | ModerationEvent::UserDeleted { user_id, .. } => *user_id,
        }
    }

    /// The user's flag count after the change, for flag events.
    pub fn flag_count(&self) -> Option<i64> {
        match self {
            ModerationEvent::UserFlagged { flag_count, .. }
            | ModerationEvent::UserUnflagged { flag_count, .. } => Some(*flag_count),
            ModerationEvent::FlagsCleared { .. } => Some(0),
            _ => None,
        }
    }
}

/// An event with who caused it and its outbox position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    /// Who made the change, e.g. "user:42".
    pub actor: String,
    pub event: ModerationEvent,
    /// Who made the change (as `actor`) and the request, trace and reason it came with.
    pub origin: roster_kit::origin::Origin,
}

impl super::Moderation {
    /// WatchModerationEvents: admin and service callers only.
    pub fn authorize_watch(&self, caller: &super::Caller) -> roster_kit::Result<()> {
        super::access::may_watch(&caller.actor)
    }

    /// The sequence a watch starting at `start` (`None`: now) starts after.
    pub async fn watch_after(&self, start: Option<i64>) -> roster_kit::Result<i64> {
        match start {
            Some(after) => Ok(after),
            None => self.repo.newest_event_seq().await,
        }
    }

    /// Events after sequence `after`, oldest first, at most `limit`.
    pub async fn events_after(
        &self,
        after: i64,
        limit: u64,
    ) -> roster_kit::Result<Vec<StoredEvent>> {
        self.repo.events_after(after, limit).await
    }

    /// Notified after every commit that appended events.
    pub fn event_changes(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.repo.changes()
    }
}
