//! A small read-through cache kept correct by invalidation.
//!
//! Written here rather than taken from a crate because correctness hinges on
//! one detail the usual caches leave to the caller: a value read from the
//! database *before* a change commits must not be cached *after* that change
//! invalidated it. Every invalidation bumps an epoch; a loader notes the epoch
//! before reading and its value is kept only if no invalidation happened since.
//! The entries themselves live in `hashlink`'s LRU map.

use std::{borrow::Borrow, hash::Hash, sync::Mutex};

use hashlink::LruCache;

pub struct Cache<K, V> {
    inner: Mutex<Inner<K, V>>,
    /// Its `cache` label in the hit/miss metric.
    name: &'static str,
}

struct Inner<K, V> {
    entries: LruCache<K, V>,
    epoch: u64,
}

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    /// Holds at most `capacity` entries; when full, the least recently read
    /// one makes room, so a hot set that fits stays while colder reads pass
    /// through.
    pub fn new(name: &'static str, capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: LruCache::new(capacity.max(1)),
                epoch: 0,
            }),
            name,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        // A panic while holding the lock leaves only a map behind; keep using it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The value under `key`, which may be a borrowed form of it (`&str` for
    /// `String` keys: no allocation per lookup).
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let found = self.lock().entries.get(key).cloned();
        crate::metrics::cache_lookup(self.name, found.is_some());
        found
    }

    /// Note this before loading a value, and pass it to [`Cache::insert`].
    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Caches a loaded `value` unless something was invalidated since
    /// `epoch`. An entry already there stays: it was loaded no earlier than
    /// this one, or [`Cache::refresh`]ed with a value known to be newer.
    pub fn insert(&self, key: K, value: V, epoch: u64) {
        let mut inner = self.lock();
        if inner.epoch != epoch || inner.entries.contains_key(&key) {
            return;
        }
        inner.entries.insert(key, value);
    }

    /// Replaces the entry of `key` with `value`, a value the caller knows to
    /// be current (it just committed it, or read it after being told of the
    /// commit), when nothing was invalidated since `epoch`, noted before that
    /// commit. Otherwise forgets `key`: the invalidation may be about a change
    /// newer than `value`. Unlike invalidating, refreshing leaves the epoch,
    /// so loads running meanwhile still cache what they read.
    pub fn refresh(&self, key: K, value: V, epoch: u64) {
        let mut inner = self.lock();
        if inner.epoch != epoch {
            inner.entries.remove(&key);
            return;
        }
        inner.entries.insert(key, value);
    }

    /// Caches `value`, known to be current (its change just committed), in
    /// place of any entry of `key`, and bumps the epoch as invalidating does:
    /// a load that started before the change must not cache what it read.
    pub fn replace(&self, key: K, value: V) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.entries.insert(key, value);
    }

    pub fn invalidate(&self, key: &K) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.entries.remove(key);
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hot_set_that_fits_stays_while_colder_entries_pass_through() {
        let cache = Cache::new("test", 10);
        for hot in 0..5 {
            cache.insert(hot, hot, cache.epoch());
        }
        for cold in 100..1000 {
            for hot in 0..5 {
                assert_eq!(cache.get(&hot), Some(hot), "hot entry {hot} was evicted");
            }
            cache.insert(cold, cold, cache.epoch());
        }
        // The least recently read of the cold ones made room for the next.
        assert_eq!(cache.get(&100), None);
        assert_eq!(cache.get(&999), Some(999));
    }

    #[test]
    fn a_load_that_raced_an_invalidation_is_not_cached() {
        let cache = Cache::new("test", 10);
        let epoch = cache.epoch();
        cache.invalidate(&1);
        cache.insert(1, "stale", epoch);
        assert_eq!(cache.get(&1), None);
        let epoch = cache.epoch();
        cache.insert(1, "fresh", epoch);
        assert_eq!(cache.get(&1), Some("fresh"));
        cache.clear();
        assert_eq!(cache.get(&1), None);
    }

    #[test]
    fn a_refresh_replaces_unless_an_invalidation_came_between() {
        let cache = Cache::new("test", 10);
        let before_load = cache.epoch();
        let before_commit = cache.epoch();
        cache.refresh(1, "committed", before_commit);
        // A load that read the row before the commit does not undo it.
        cache.insert(1, "read before the commit", before_load);
        assert_eq!(cache.get(&1), Some("committed"));
        // A change invalidated after the commit noted its epoch: the refresh
        // may be older than that change, so the entry goes.
        let before_commit = cache.epoch();
        cache.invalidate(&2);
        cache.refresh(1, "older than the invalidated change", before_commit);
        assert_eq!(cache.get(&1), None);
    }

    #[test]
    fn a_full_cache_makes_room_and_keeps_the_newest() {
        let cache = Cache::new("test", 20);
        for key in 0..21 {
            let epoch = cache.epoch();
            cache.insert(key, key, epoch);
        }
        assert_eq!(cache.get(&0), None, "the oldest made room for the newest");
        let kept = (1..21).filter(|key| cache.get(key).is_some()).count();
        assert_eq!(kept, 20);
    }
}
