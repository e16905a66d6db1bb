//! The role service's rules and the types they speak, one module per
//! capability: role definitions ([`roles`]), grants ([`grants`]), permission
//! checks and their cache ([`checks`]), who may change what ([`access`]), the
//! event log ([`events`]), request fields ([`fields`]), the permission
//! [`catalogue`] and the default [`matrix`]. No transport or SQL types here:
//! the store implements [`ports`], the transport speaks these types.

pub mod access;
pub mod catalogue;
pub mod checks;
pub mod errors;
pub mod events;
pub mod fields;
pub mod grants;
pub mod matrix;
pub mod model;
pub mod ports;
pub mod roles;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use roster_kit::events::BackgroundTask;
use tokio::sync::Notify;

pub use catalogue::{CATALOGUE, PermissionGroup, PermissionInfo};
pub use checks::{CheckOutcome, CheckQuery};
pub use errors::reasons;
pub use events::{RoleEvent, StoredEvent, WatchStart};
pub use grants::{
    Grant, GrantOutcome, GrantRequest, RevokeRequest, Revoked, RoleMembersQuery, UserGrantsQuery,
    UserGrantsRevocation, UserGrantsRevoked,
};
pub use ports::{Clock, Repository, RoleRepository, SystemClock};
pub use roles::{NewRole, Role, RoleDeleted, RoleUpdate, RolesQuery};

/// One page of a listing; `more` says whether another page follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub more: bool,
}

impl<T> Page<T> {
    /// `fetched` was read with `limit + 1`: the extra row only says that more follow.
    fn of(mut fetched: Vec<T>, limit: u64) -> Self {
        let more = fetched.len() as u64 > limit;
        fetched.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Self {
            items: fetched,
            more,
        }
    }
}

/// The role service's domain: every operation, over a repository and a clock.
/// Share it behind an `Arc`; dropping the last one stops its background follower.
pub struct Roles {
    repository: Repository,
    clock: Arc<dyn Clock>,
    /// Woken after every change this process commits (watch streams wait on it).
    changes: Arc<Notify>,
    cache: Arc<checks::CheckCache>,
    _remote_changes: BackgroundTask,
}

impl Roles {
    /// The domain over `repository`. Starts following commits of other replicas
    /// (woken by [`Roles::changes`], polling the outbox at least every
    /// `poll_interval`) to keep the check cache
    /// honest; call it inside a Tokio runtime.
    pub fn new(repository: Repository, clock: Arc<dyn Clock>, poll_interval: Duration) -> Self {
        let cache = Arc::new(checks::CheckCache::new());
        let changes = Arc::new(Notify::new());
        let remote_changes =
            events::follow_remote_changes(&repository, &cache, &changes, poll_interval);
        Self {
            repository,
            clock,
            changes,
            cache,
            _remote_changes: remote_changes,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Woken after every change this process commits; hand it to
    /// `Store::wake_on_remote_commits` to be woken by other replicas' too.
    pub fn changes(&self) -> &Arc<Notify> {
        &self.changes
    }

    /// After a commit: what checks read may have changed, and watchers may
    /// have something new.
    fn committed(&self) {
        self.cache.clear();
        self.changes.notify_waiters();
    }
}
