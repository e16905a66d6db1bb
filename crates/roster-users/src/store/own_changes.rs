//! Users this replica changed and cached as committed, so that the cache
//! follower, reading the same change back from the outbox, keeps the entry
//! instead of invalidating it: a user written here is read back from memory,
//! not from the database (a profile edited twice in a row, say).
//!
//! The follower reads the outbox in sequence order, the order changes commit
//! in. A change is registered before it commits, with the sequence of its
//! event: the follower leaves that user's entry to the writer for that
//! sequence (and older ones), and invalidates it for anything newer. Once
//! committed, the writer caches the user as of its sequence, unless a newer
//! change arrived meanwhile; if the commit fails, or the call is dropped
//! before it finishes, the entry is invalidated.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard},
};

use roster_kit::Error;
use sea_orm::DatabaseTransaction;

use super::UserStore;
use crate::domain::User;

/// Changes at most this many users ahead of the follower are cached; past
/// that (a follower that has stopped), changes only invalidate.
const MAX_AHEAD: usize = 10_000;

/// Where a change made here stands, by the outbox sequence of its event.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Own {
    /// Committing; its writer will cache or invalidate the user.
    Committing(i64),
    /// Cached as of this sequence; the follower has not read it back yet.
    Cached(i64),
}

impl Own {
    fn sequence(self) -> i64 {
        match self {
            Own::Committing(sequence) | Own::Cached(sequence) => sequence,
        }
    }
}

/// User id → the newest change made here that the follower has not read
/// back yet.
#[derive(Default)]
pub(super) struct OwnChanges(Mutex<HashMap<i64, Own>>);

impl OwnChanges {
    /// Held while the cache and the follower's position change together.
    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Own>> {
        // A panic while holding the lock leaves only a map behind; keep using it.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A change being committed; dropped without [`Committing::cached`], it
/// invalidates its user.
struct Committing<'a> {
    store: &'a UserStore,
    user_id: i64,
    sequence: i64,
    done: bool,
}

impl Committing<'_> {
    /// The change committed: caches `user` as of it, unless a newer change is
    /// known.
    fn cached(mut self, user: &User) {
        self.done = true;
        let mut ahead = self.store.own_changes.lock();
        if ahead.get(&self.user_id) != Some(&Own::Committing(self.sequence)) {
            // A newer change is committing here (its writer caches it), or
            // one made elsewhere was read (the follower invalidated it).
            return;
        }
        self.store.cache.replace(self.user_id, user.clone());
        if self.sequence <= *self.store.cache_position.borrow() {
            // Already read back: nothing is left for the follower to keep.
            ahead.remove(&self.user_id);
        } else {
            ahead.insert(self.user_id, Own::Cached(self.sequence));
        }
    }
}

impl Drop for Committing<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut ahead = self.store.own_changes.lock();
        if ahead.get(&self.user_id) == Some(&Own::Committing(self.sequence)) {
            ahead.remove(&self.user_id);
        }
        self.store.cache.invalidate(&self.user_id);
    }
}

impl UserStore {
    /// Commits `txn`, which changed `user` and appended its event at outbox
    /// `sequence`, and caches the user as committed.
    pub(super) async fn commit_cached(
        &self,
        txn: DatabaseTransaction,
        user: &User,
        sequence: i64,
    ) -> Result<(), Error> {
        let committing = self.register(user.id, sequence);
        self.commit(txn).await?;
        if let Some(committing) = committing {
            committing.cached(user);
        } else {
            self.cache.invalidate(&user.id);
        }
        Ok(())
    }

    /// Registers a change about to commit; `None` when too many are ahead of
    /// the follower to keep track of.
    fn register(&self, user_id: i64, sequence: i64) -> Option<Committing<'_>> {
        let mut ahead = self.own_changes.lock();
        if ahead.len() >= MAX_AHEAD && !ahead.contains_key(&user_id) {
            return None;
        }
        // A later sequence means a later commit: keep the newest.
        if ahead
            .get(&user_id)
            .is_none_or(|own| own.sequence() < sequence)
        {
            ahead.insert(user_id, Own::Committing(sequence));
        }
        Some(Committing {
            store: self,
            user_id,
            sequence,
            done: false,
        })
    }

    /// Invalidates the users of outbox rows (sequence, user id), read in order
    /// right after sequence `after`, that are newer than what the cache
    /// reflects, except those changed here by that very change or a newer one.
    /// The cache's position moves past them only when the rows follow on from
    /// it (a stream resumed further on leaves a gap the poller covers).
    pub(super) fn reflect(&self, after: i64, changes: impl IntoIterator<Item = (i64, i64)>) {
        let mut ahead = self.own_changes.lock();
        let seen = *self.cache_position.borrow();
        let mut newest = seen;
        for (sequence, user_id) in changes {
            if sequence <= seen {
                continue;
            }
            match ahead.get(&user_id).copied() {
                // The entry is (or is about to be) as new as this change.
                Some(own) if own.sequence() > sequence => {}
                Some(Own::Committing(committing)) if committing == sequence => {}
                Some(Own::Cached(cached)) if cached == sequence => {
                    ahead.remove(&user_id);
                }
                _ => {
                    ahead.remove(&user_id);
                    self.cache.invalidate(&user_id);
                }
            }
            newest = std::cmp::max(newest, sequence);
        }
        if after <= seen {
            self.cache_position.send_if_modified(|position| {
                let moved = newest > *position;
                *position = std::cmp::max(*position, newest);
                moved
            });
        }
    }

    /// Forgets every cached user (not knowing what changed).
    pub(super) fn forget_cached(&self) {
        let mut ahead = self.own_changes.lock();
        ahead.retain(|_, own| matches!(own, Own::Committing(_)));
        self.cache.clear();
    }
}
