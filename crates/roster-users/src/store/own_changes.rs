//! Users this replica changed and cached as committed, so that the cache
//! follower, reading the same change back from the outbox, keeps the entry
//! instead of invalidating it: a user written here is read back from memory,
//! not from the database (a profile edited twice in a row, say).
//!
//! The follower reads the outbox in sequence order, the order changes commit
//! in. An entry cached from the change at sequence `s` is exactly the user as
//! of `s`: the follower keeps it for `s` (and any older sequence still to
//! come) and invalidates it for anything newer. A change whose sequence the
//! follower has already passed is only invalidated, as it cannot tell whether
//! a newer one followed.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard},
};

use super::UserStore;
use crate::domain::User;

/// Changes at most this many users ahead of the follower are cached; past
/// that (a follower that has stopped), changes only invalidate.
const MAX_AHEAD: usize = 10_000;

/// User id → the outbox sequence of the change its cache entry holds, for
/// changes committed here that the follower has not read back yet.
#[derive(Default)]
pub(super) struct OwnChanges(Mutex<HashMap<i64, i64>>);

impl OwnChanges {
    /// Held while the cache and the follower's position change together.
    fn lock(&self) -> MutexGuard<'_, HashMap<i64, i64>> {
        // A panic while holding the lock leaves only a map behind; keep using it.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl UserStore {
    /// Caches `user` as committed by the change at outbox `sequence`, when no
    /// newer change of it is known; otherwise forgets it.
    pub(super) fn cache_committed(&self, user: &User, sequence: i64) {
        let mut ahead = self.own_changes.lock();
        let newer_cached = ahead.get(&user.id).is_some_and(|&cached| cached > sequence);
        if newer_cached {
            return;
        }
        if sequence <= *self.cache_position.borrow() || ahead.len() >= MAX_AHEAD {
            ahead.remove(&user.id);
            self.cache.invalidate(&user.id);
            return;
        }
        self.cache.replace(user.id, user.clone());
        ahead.insert(user.id, sequence);
    }

    /// Invalidates the users of outbox rows (sequence, user id), read in order
    /// right after sequence `after`, that are newer than what the cache
    /// reflects, except entries cached from that very change or a newer one.
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
            match ahead.get(&user_id) {
                Some(&cached) if cached > sequence => {}
                Some(&cached) if cached == sequence => {
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
        ahead.clear();
        self.cache.clear();
    }
}
