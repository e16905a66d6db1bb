//! Presence changes as they commit, fanned out live.
//!
//! Presence is the one thing about a user that changes many times a minute,
//! and what matters about it is the state it is in now. So its changes are
//! not kept in the outbox: the user row holds the current state, and each
//! committed batch is published here, to this replica's watch streams, by the
//! replica that wrote it and (on PostgreSQL) by every other replica that heard
//! of it. A consumer that was not listening misses the changes of that time
//! and catches up by reading the users it shows (BatchGetUsers).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use roster_kit::origin::Origin;
use tokio::sync::broadcast;

use super::User;

/// Batches a slow watcher may fall behind by before it misses some.
const BATCHES_BEHIND: usize = 256;

/// One user's committed presence change.
#[derive(Debug, Clone)]
pub struct LivePresence {
    /// The user as it was right after the change.
    pub user: User,
    /// Who made the change (the last call folded into it).
    pub origin: Origin,
    /// When the change was committed.
    pub at: DateTime<Utc>,
}

/// The changes of one committed batch.
pub type PresenceBatch = Arc<Vec<LivePresence>>;

/// The live presence changes of this replica's users.
#[derive(Debug)]
pub struct PresenceFeed {
    sender: broadcast::Sender<PresenceBatch>,
}

impl Default for PresenceFeed {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(BATCHES_BEHIND).0,
        }
    }
}

impl PresenceFeed {
    /// Hands `batch` to every current subscriber; none is fine.
    pub fn publish(&self, batch: Vec<LivePresence>) {
        if !batch.is_empty() {
            let _ = self.sender.send(Arc::new(batch));
        }
    }

    /// The batches published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<PresenceBatch> {
        self.sender.subscribe()
    }
}
