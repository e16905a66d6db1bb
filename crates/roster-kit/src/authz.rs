//! Permission checks for every service: "does the caller hold PERMISSION in
//! SCOPE?", answered by the role service and cached.
//!
//! [`PermissionChecker`] asks `roster.v1.RoleService/CheckPermission` over gRPC
//! with a service token, and keeps each answer in memory. The cache is kept
//! honest by following `WatchRoleEvents`:
//!
//! * a grant or revoke drops every cached answer about that user, a role change or
//!   deletion drops every cached answer;
//! * an answer fetched while an invalidation arrived is not stored;
//! * an allowed answer is kept no longer than the granting grant's expiry;
//! * while the event stream is not connected (start-up, role service restarting,
//!   network trouble) the cache is empty and unused: every check asks the role
//!   service. The channel uses HTTP/2 keep-alives (10 s interval, 5 s timeout), so
//!   a dead connection is noticed within about 15 s.
//!
//! Bound on staleness: a revoke committed on any replica of the role service takes
//! effect on every checker once the event reaches it — about a round trip on
//! PostgreSQL (commits notify every replica's streams: `crate::wake`), within the
//! role service's `event_poll_interval_ms` on SQLite — and in any case within
//! [`CheckerSettings::cache_ttl`] (30 s by default), the age limit of every cached
//! answer. A cached answer never queries anything.
//!
//! Admin and service actors are allowed everything without a check.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use roster_proto::v1 as pb;
use serde::{Deserialize, Serialize};

use crate::{
    auth::Actor,
    client::PeerChannel,
    error::{Error, ErrorKind},
};

/// Metadata key of `WatchRoleEvents` responses carrying the cursor the stream
/// starts after.
pub use crate::events::START_CURSOR_HEADER as WATCH_START_CURSOR_HEADER;

/// Where a permission is held or asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Scope {
    /// The whole network.
    Network,
    /// One channel, by id.
    Channel(String),
    /// One community, by id.
    Community(String),
}

impl Scope {
    /// Whether a grant in `self` applies to a check in `asked`: a network grant
    /// applies everywhere, a channel or community grant only in itself.
    pub fn covers(&self, asked: &Scope) -> bool {
        match self {
            Scope::Network => true,
            granted => granted == asked,
        }
    }

    pub fn to_proto(&self) -> pb::Scope {
        use pb::scope::Scope as S;
        pb::Scope {
            scope: Some(match self {
                Scope::Network => S::Network(pb::NetworkScope {}),
                Scope::Channel(id) => S::ChannelId(id.clone()),
                Scope::Community(id) => S::CommunityId(id.clone()),
            }),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Network => f.write_str("the network"),
            Scope::Channel(id) => write!(f, "channel {id}"),
            Scope::Community(id) => write!(f, "community {id}"),
        }
    }
}

/// Tuning of a [`PermissionChecker`].
#[derive(Debug, Clone)]
pub struct CheckerSettings {
    /// Age limit of a cached answer: the worst-case delay before a change is seen
    /// when the event stream silently stalls.
    pub cache_ttl: Duration,
    /// Cached answers kept at most; expired ones are dropped first, then all.
    pub max_entries: usize,
    /// Wait before reconnecting a broken event stream.
    pub reconnect_delay: Duration,
}

impl Default for CheckerSettings {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(30),
            max_entries: 100_000,
            reconnect_delay: Duration::from_secs(1),
        }
    }
}

type Client = pb::role_service_client::RoleServiceClient<PeerChannel>;

type Key = (i64, String, Scope);

struct Entry {
    allowed: bool,
    expires: Instant,
}

#[derive(Default)]
struct Cache {
    /// True while the event stream is connected; the cache is used only then.
    live: bool,
    /// Bumped by every invalidation, so an answer fetched across one is not stored.
    epoch: u64,
    entries: HashMap<Key, Entry>,
}

struct Shared {
    cache: Mutex<Cache>,
    /// Sequence number of the last event applied (or the stream's start position).
    seen: tokio::sync::watch::Sender<i64>,
    remote_checks: AtomicU64,
    settings: CheckerSettings,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_live(&self, live: bool) {
        let mut cache = self.lock();
        cache.live = live;
        cache.epoch += 1;
        cache.entries.clear();
    }

    fn apply(&self, event: &pb::RoleEvent) {
        use pb::RoleEventKind as K;
        let mut cache = self.lock();
        cache.epoch += 1;
        match K::try_from(event.kind) {
            Ok(K::RoleGranted | K::RoleRevoked) => {
                if let Some(grant) = &event.grant {
                    let user = grant.user_id;
                    cache.entries.retain(|(u, _, _), _| *u != user);
                } else {
                    cache.entries.clear();
                }
            }
            Ok(K::RoleCreated) => {}
            _ => cache.entries.clear(),
        }
    }
}

struct Inner {
    client: Client,
    shared: Arc<Shared>,
    watcher: tokio::task::AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

/// Requires permissions of callers; see the module documentation. Cheap to clone.
#[derive(Clone)]
pub struct PermissionChecker {
    inner: Arc<Inner>,
}

impl fmt::Debug for PermissionChecker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PermissionChecker")
            .field("settings", &self.inner.shared.settings)
            .finish_non_exhaustive()
    }
}

impl PermissionChecker {
    /// A checker asking the role service over `channel` (from
    /// `ServiceContext::peer_channel`, or a test's own). Starts following the
    /// event stream in the background; call it inside a Tokio runtime.
    pub fn new(channel: PeerChannel, settings: CheckerSettings) -> Result<Self, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::internal(
                "PermissionChecker::new needs a Tokio runtime",
            ));
        }
        let client = pb::role_service_client::RoleServiceClient::new(channel);
        let (seen, _) = tokio::sync::watch::channel(0);
        let shared = Arc::new(Shared {
            cache: Mutex::new(Cache::default()),
            seen,
            remote_checks: AtomicU64::new(0),
            settings,
        });
        let watcher = tokio::spawn(follow_events(client.clone(), shared.clone())).abort_handle();
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                shared,
                watcher,
            }),
        })
    }

    /// `Ok(())` when `actor` may use `permission` in `scope`; PERMISSION_DENIED
    /// (reason `PERMISSION_DENIED`) naming both otherwise. Admin and service actors
    /// always may.
    pub async fn require(
        &self,
        actor: &Actor,
        permission: &str,
        scope: Scope,
    ) -> Result<(), Error> {
        match actor {
            Actor::Admin { .. } | Actor::Service { .. } => Ok(()),
            Actor::User { user_id, .. } => {
                if self.check(*user_id, permission, &scope).await? {
                    Ok(())
                } else {
                    Err(Error::permission_denied(format!(
                        "permission {permission} is required in {scope}"
                    )))
                }
            }
        }
    }

    /// Whether user `user_id` holds `permission` in `scope`.
    pub async fn check(
        &self,
        user_id: i64,
        permission: &str,
        scope: &Scope,
    ) -> Result<bool, Error> {
        let shared = &self.inner.shared;
        let key: Key = (user_id, permission.to_owned(), scope.clone());
        let epoch = {
            let cache = shared.lock();
            if cache.live
                && let Some(entry) = cache.entries.get(&key)
                && entry.expires > Instant::now()
            {
                return Ok(entry.allowed);
            }
            cache.epoch
        };

        shared.remote_checks.fetch_add(1, Ordering::Relaxed);
        let answer = self
            .inner
            .client
            .clone()
            .check_permission(pb::CheckPermissionRequest {
                user_id,
                permission: permission.to_owned(),
                scope: Some(scope.to_proto()),
            })
            .await
            .map_err(status_to_error)?
            .into_inner();

        let mut ttl = shared.settings.cache_ttl;
        if let Some(until) = &answer.valid_until {
            let now = chrono::Utc::now();
            let until_ms = until.seconds.saturating_mul(1000) + i64::from(until.nanos / 1_000_000);
            let left_ms = until_ms.saturating_sub(now.timestamp_millis()).max(0);
            ttl = ttl.min(Duration::from_millis(u64::try_from(left_ms).unwrap_or(0)));
        }
        let mut cache = shared.lock();
        if cache.live && cache.epoch == epoch && !ttl.is_zero() {
            if cache.entries.len() >= shared.settings.max_entries {
                let now = Instant::now();
                cache.entries.retain(|_, e| e.expires > now);
                if cache.entries.len() >= shared.settings.max_entries {
                    cache.entries.clear();
                }
            }
            cache.entries.insert(
                key,
                Entry {
                    allowed: answer.allowed,
                    expires: Instant::now() + ttl,
                },
            );
        }
        Ok(answer.allowed)
    }

    /// Resolves once the checker has applied the role event at `cursor` (e.g. a
    /// `RevokeRoleResponse.event_cursor`) or a later one: from then on no cached
    /// answer predates that change.
    pub async fn wait_until_seen(&self, cursor: &str) -> Result<(), Error> {
        let target: i64 = cursor
            .parse()
            .map_err(|_| Error::invalid_field("cursor", "is not a role event cursor"))?;
        let mut seen = self.inner.shared.seen.subscribe();
        seen.wait_for(|position| *position >= target)
            .await
            .map(|_| ())
            .map_err(Error::internal)
    }

    /// Resolves once the event stream is connected (and the cache in use).
    pub async fn wait_until_live(&self) {
        let mut seen = self.inner.shared.seen.subscribe();
        loop {
            if self.is_live() {
                return;
            }
            if seen.changed().await.is_err() {
                return;
            }
        }
    }

    /// Whether the event stream is connected, so answers are cached.
    pub fn is_live(&self) -> bool {
        self.inner.shared.lock().live
    }

    /// How many checks went to the role service (cache misses) so far.
    pub fn remote_checks(&self) -> u64 {
        self.inner.shared.remote_checks.load(Ordering::Relaxed)
    }
}

/// Follows `WatchRoleEvents` forever, resuming after the last applied event.
async fn follow_events(mut client: Client, shared: Arc<Shared>) {
    let mut cursor: Option<String> = None;
    loop {
        let request = match &cursor {
            Some(after) => pb::WatchRoleEventsRequest {
                after_cursor: after.clone(),
                from_now: false,
            },
            None => pb::WatchRoleEventsRequest {
                after_cursor: String::new(),
                from_now: true,
            },
        };
        match client.watch_role_events(request).await {
            Ok(response) => {
                let start = response
                    .metadata()
                    .get(WATCH_START_CURSOR_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i64>().ok());
                let mut stream = response.into_inner();
                if let Some(start) = start {
                    cursor.get_or_insert_with(|| start.to_string());
                }
                shared.set_live(true);
                // Wakes `wait_until_live` and `wait_until_seen` callers.
                shared.seen.send_modify(|seen| {
                    if let Some(start) = start {
                        *seen = (*seen).max(start);
                    }
                });
                loop {
                    match stream.message().await {
                        Ok(Some(event)) => {
                            shared.apply(&event);
                            if let Some(meta) = &event.meta {
                                if let Ok(seq) = meta.cursor.parse::<i64>() {
                                    shared.seen.send_modify(|seen| *seen = (*seen).max(seq));
                                }
                                cursor = Some(meta.cursor.clone());
                            }
                        }
                        Ok(None) => break,
                        Err(status) if crate::events::ended_by_drain(&status) => {
                            tracing::info!(
                                "role event stream ended by its server's drain; reconnecting"
                            );
                            break;
                        }
                        Err(status) => {
                            tracing::warn!(error = %status, "role event stream broke; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(status) => {
                tracing::debug!(error = %status, "role event stream not available yet");
            }
        }
        shared.set_live(false);
        shared.seen.send_modify(|_| {});
        tokio::time::sleep(shared.settings.reconnect_delay).await;
    }
}

fn status_to_error(status: tonic::Status) -> Error {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => Error::new(
            ErrorKind::Unavailable,
            "UNAVAILABLE",
            "the role service did not answer",
        )
        .with_source(status),
        _ => Error::internal(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_grants_cover_every_scope_and_others_only_themselves() {
        let a = Scope::Channel("a".into());
        let b = Scope::Channel("b".into());
        let community_a = Scope::Community("a".into());
        assert!(Scope::Network.covers(&a));
        assert!(Scope::Network.covers(&Scope::Network));
        assert!(a.covers(&a));
        assert!(!a.covers(&b));
        assert!(!a.covers(&community_a));
        assert!(!a.covers(&Scope::Network));
    }
}
