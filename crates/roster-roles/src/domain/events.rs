//! The role event log (the outbox): what every change writes, how watchers read
//! it, and how this replica notices other replicas' commits.

use std::{sync::Arc, time::Duration};

use roster_kit::{Actor, Result, events::BackgroundTask};
use tokio::sync::Notify;

use super::{Roles, access::platform_only, checks::CheckCache, ports::Repository};

pub use super::model::{RoleEvent, StoredEvent};

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStart {
    /// Right after this sequence number (0: from the beginning).
    After(i64),
    /// After the newest event committed now.
    FromNow,
}

impl Roles {
    /// The sequence number a watch by `actor` starts after. Admin and service
    /// callers only.
    pub async fn watch_from(&self, actor: &Actor, start: WatchStart) -> Result<i64> {
        platform_only(actor, "WatchRoleEvents")?;
        match start {
            WatchStart::After(seq) => Ok(seq),
            WatchStart::FromNow => self.repository.last_event_seq().await,
        }
    }

    /// The next events after `seq`. The check cache is made to reflect them
    /// first, so a consumer that reacts to an event by asking this replica gets
    /// an answer that includes it.
    pub async fn events_after(&self, seq: i64, limit: u64) -> Result<Vec<StoredEvent>> {
        let events = self.repository.events_after(seq, limit).await?;
        if let Some(last) = events.last() {
            self.cache.reflect(last.seq);
        }
        Ok(events)
    }
}

/// Empties `cache` whenever another replica (or the `roster` binary) commits a
/// change, looking at the end of the outbox whenever `changes` wakes (this
/// process's commits, and on PostgreSQL every replica's: see
/// `roster_kit::wake`) and at least every `poll_interval`, until the returned
/// task is dropped.
pub(super) fn follow_remote_changes(
    repository: &Repository,
    cache: &Arc<CheckCache>,
    changes: &Arc<Notify>,
    poll_interval: Duration,
) -> BackgroundTask {
    let repository = repository.clone();
    let cache = cache.clone();
    let changes = changes.clone();
    BackgroundTask::spawn(async move {
        loop {
            // Registered before reading, so a commit during the read wakes the
            // next round.
            let woken = changes.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match repository.last_event_seq().await {
                Ok(last) => cache.reflect(last),
                Err(err) => {
                    // Unsure what changed: forget everything rather than serve stale answers.
                    tracing::warn!(error = %err, "reading the role event position failed");
                    cache.clear();
                }
            }
            tokio::select! {
                () = &mut woken => {}
                () = tokio::time::sleep(poll_interval) => {}
            }
        }
    })
}
