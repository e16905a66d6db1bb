//! The user event stream: every committed change, in commit order.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use roster_kit::{Actor, Error};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::{Directory, User, access::require_privileged};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserEventKind {
    Created,
    Updated,
    PresenceChanged,
    TokensRevoked,
    /// A global ban placed or changed (projected from the moderation service).
    Banned,
    /// The global ban lifted.
    Unbanned,
    /// The user became a tombstone (the moderation service's deletion cascade).
    Deleted,
    /// The flag count changed (projected from the moderation service).
    FlagCountChanged,
}

impl UserEventKind {
    pub fn code(self) -> i16 {
        match self {
            UserEventKind::Created => 1,
            UserEventKind::Updated => 2,
            UserEventKind::PresenceChanged => 3,
            UserEventKind::TokensRevoked => 4,
            UserEventKind::Banned => 5,
            UserEventKind::Unbanned => 6,
            UserEventKind::Deleted => 7,
            UserEventKind::FlagCountChanged => 8,
        }
    }

    pub fn from_code(code: i16) -> Option<Self> {
        match code {
            1 => Some(UserEventKind::Created),
            2 => Some(UserEventKind::Updated),
            3 => Some(UserEventKind::PresenceChanged),
            4 => Some(UserEventKind::TokensRevoked),
            5 => Some(UserEventKind::Banned),
            6 => Some(UserEventKind::Unbanned),
            7 => Some(UserEventKind::Deleted),
            8 => Some(UserEventKind::FlagCountChanged),
            _ => None,
        }
    }
}

/// One committed change, as read back from the outbox.
#[derive(Debug, Clone)]
pub struct UserEvent {
    pub sequence: i64,
    pub kind: UserEventKind,
    pub user: User,
    pub occurred_at: DateTime<Utc>,
    /// Who made the change and why.
    pub origin: roster_kit::origin::Origin,
}

impl Directory {
    /// Watching every change is for admins and services.
    pub fn authorize_watch(&self, actor: &Actor) -> Result<(), Error> {
        require_privileged(actor, "watch user events")
    }

    /// Woken after every change this replica commits.
    pub fn committed(&self) -> Arc<Notify> {
        self.users.committed()
    }

    /// The sequence a watch starting at `start` (`None`: now) starts after.
    pub async fn watch_after(&self, start: Option<i64>) -> Result<i64, Error> {
        match start {
            Some(after) => Ok(after),
            None => self.users.newest_event_sequence().await,
        }
    }

    /// Presence changes as they commit (they are not in the outbox).
    pub fn presence_feed(&self) -> Arc<super::PresenceFeed> {
        self.users.presence_feed()
    }

    /// Up to `limit` events after sequence `after`, oldest first.
    pub async fn events_after(&self, after: i64, limit: u64) -> Result<Vec<UserEvent>, Error> {
        self.users.events_after(after, limit).await
    }
}
