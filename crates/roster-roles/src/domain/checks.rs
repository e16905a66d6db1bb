//! Permission checks: the pure rule ([`evaluate`], [`held_permissions`]) and the
//! per-replica cache of what checks read, emptied by every change.

use std::{
    collections::{BTreeSet, HashMap},
    sync::atomic::{AtomicI64, Ordering},
};

use chrono::{DateTime, Utc};
use roster_kit::{Result, authz::Scope, cache::Cache};

use super::{Roles, matrix::BuiltInRole, model::Grant};

/// A check to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckQuery {
    pub user_id: i64,
    pub permission: String,
    pub scope: Scope,
}

/// Answer of a check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckOutcome {
    pub allowed: bool,
    pub granted_by: Option<Grant>,
    /// When allowed and every granting grant expires: the latest expiry.
    pub valid_until: Option<DateTime<Utc>>,
}

/// The permissions of a role by name: built-in from the matrix, custom from `custom`.
fn role_permissions<'a>(
    role: &str,
    custom: &'a HashMap<String, BTreeSet<String>>,
) -> Option<Box<dyn Iterator<Item = &'a str> + 'a>> {
    if let Some(built_in) = BuiltInRole::from_name(role) {
        return Some(Box::new(built_in.permissions().iter().copied()));
    }
    custom
        .get(role)
        .map(|set| Box::new(set.iter().map(String::as_str)) as Box<dyn Iterator<Item = &'a str>>)
}

/// Whether `grants` (one user's) give `permission` in `scope` at `now`, and by which grant.
/// Pure: the whole check rule lives here.
pub fn evaluate(
    grants: &[Grant],
    custom_roles: &HashMap<String, BTreeSet<String>>,
    permission: &str,
    scope: &Scope,
    now: DateTime<Utc>,
) -> CheckOutcome {
    let mut granting: Vec<&Grant> = grants
        .iter()
        .filter(|g| g.is_active(now) && g.scope.covers(scope))
        .filter(|g| {
            role_permissions(&g.role, custom_roles)
                .is_some_and(|mut it| it.any(|p| p == permission))
        })
        .collect();
    if granting.is_empty() {
        return CheckOutcome::default();
    }
    // Longest-lasting first (never-expiring first of all), then the most specific
    // scope, then by role name for a stable answer.
    granting.sort_by(|a, b| {
        let lasting = |g: &Grant| g.expires_at.map_or(i64::MAX, |t| t.timestamp_millis());
        lasting(b)
            .cmp(&lasting(a))
            .then_with(|| (a.scope == Scope::Network).cmp(&(b.scope == Scope::Network)))
            .then_with(|| a.role.cmp(&b.role))
    });
    let valid_until = if granting.iter().any(|g| g.expires_at.is_none()) {
        None
    } else {
        granting.iter().filter_map(|g| g.expires_at).max()
    };
    CheckOutcome {
        allowed: true,
        granted_by: granting.first().map(|g| (*g).clone()),
        valid_until,
    }
}

/// Every permission `grants` give in `scope` at `now`.
pub fn held_permissions(
    grants: &[Grant],
    custom_roles: &HashMap<String, BTreeSet<String>>,
    scope: &Scope,
    now: DateTime<Utc>,
) -> BTreeSet<String> {
    grants
        .iter()
        .filter(|g| g.is_active(now) && g.scope.covers(scope))
        .filter_map(|g| role_permissions(&g.role, custom_roles))
        .flatten()
        .map(str::to_owned)
        .collect()
}

/// Users whose grants are kept in memory per replica.
const CACHED_USERS: usize = 100_000;

/// What checks read, kept in memory per replica. Role changes are rare and
/// checks are the hot path, so any change simply empties both: at once for
/// changes committed here, within the poll interval for other replicas'
/// (see `events::follow_remote_changes`).
pub(super) struct CheckCache {
    /// Every grant of a user not revoked, expired ones included (checks filter
    /// by time), so a cached list never depends on when it was read.
    grants: Cache<i64, Vec<Grant>>,
    /// Permissions of custom roles, by name.
    roles: Cache<String, BTreeSet<String>>,
    /// The newest event the cache is known to reflect; -1 before the first look.
    position: AtomicI64,
}

impl CheckCache {
    pub(super) fn new() -> Self {
        Self {
            grants: Cache::new("role_grants", CACHED_USERS),
            roles: Cache::new("custom_roles", CACHED_USERS),
            position: AtomicI64::new(-1),
        }
    }

    pub(super) fn clear(&self) {
        self.grants.clear();
        self.roles.clear();
    }

    /// Empties the cache unless it already reflects the event at `sequence`.
    /// Event streams call it before delivering events, so a consumer that reacts
    /// to an event by asking this replica gets an answer that includes it.
    pub(super) fn reflect(&self, sequence: i64) {
        if self.position.fetch_max(sequence, Ordering::SeqCst) < sequence {
            self.clear();
        }
    }
}

impl Roles {
    /// Checks at the clock's `now`, one answer per query, in order.
    pub async fn check(&self, queries: &[CheckQuery]) -> Result<Vec<CheckOutcome>> {
        self.check_at(queries, self.now()).await
    }

    pub async fn check_one(&self, query: CheckQuery) -> Result<CheckOutcome> {
        Ok(self
            .check(std::slice::from_ref(&query))
            .await?
            .into_iter()
            .next()
            .unwrap_or_default())
    }

    /// Checks at an explicit time.
    pub async fn check_at(
        &self,
        queries: &[CheckQuery],
        now: DateTime<Utc>,
    ) -> Result<Vec<CheckOutcome>> {
        let mut users: Vec<i64> = queries.iter().map(|q| q.user_id).collect();
        users.sort_unstable();
        users.dedup();
        let (grants, roles) = self.load_grants(&users, now).await?;
        Ok(queries
            .iter()
            .map(|q| {
                let user_grants = grants.get(&q.user_id).map_or(&[][..], Vec::as_slice);
                evaluate(user_grants, &roles, &q.permission, &q.scope, now)
            })
            .collect())
    }

    /// Permissions `user_id` holds in `scope` now.
    pub(super) async fn held(&self, user_id: i64, scope: &Scope) -> Result<BTreeSet<String>> {
        let now = self.now();
        let (grants, roles) = self.load_grants(&[user_id], now).await?;
        let user_grants = grants.get(&user_id).map_or(&[][..], Vec::as_slice);
        Ok(held_permissions(user_grants, &roles, scope, now))
    }

    /// Grants of `users` and the permissions of the custom roles their active ones name.
    async fn load_grants(
        &self,
        users: &[i64],
        now: DateTime<Utc>,
    ) -> Result<(HashMap<i64, Vec<Grant>>, HashMap<String, BTreeSet<String>>)> {
        let grants = self.user_grants(users).await?;
        let custom: BTreeSet<&str> = grants
            .values()
            .flatten()
            .filter(|g| g.is_active(now) && BuiltInRole::from_name(&g.role).is_none())
            .map(|g| g.role.as_str())
            .collect();
        let roles = self.custom_role_permissions(custom).await?;
        Ok((grants, roles))
    }

    /// Every unrevoked grant of each user, from the cache or in one query.
    async fn user_grants(&self, users: &[i64]) -> Result<HashMap<i64, Vec<Grant>>> {
        let mut by_user = HashMap::with_capacity(users.len());
        let mut missing = Vec::new();
        for user in users {
            match self.cache.grants.get(user) {
                Some(grants) => {
                    by_user.insert(*user, grants);
                }
                None => missing.push(*user),
            }
        }
        if missing.is_empty() {
            return Ok(by_user);
        }
        let epoch = self.cache.grants.epoch();
        let mut loaded: HashMap<i64, Vec<Grant>> =
            missing.iter().map(|user| (*user, Vec::new())).collect();
        for grant in self
            .repository
            .active_grants_of(&missing, DateTime::<Utc>::MIN_UTC)
            .await?
        {
            loaded.entry(grant.user_id).or_default().push(grant);
        }
        for (user, grants) in loaded {
            self.cache.grants.insert(user, grants.clone(), epoch);
            by_user.insert(user, grants);
        }
        Ok(by_user)
    }

    /// Permissions of the named custom roles, from the cache or in one query.
    async fn custom_role_permissions(
        &self,
        names: BTreeSet<&str>,
    ) -> Result<HashMap<String, BTreeSet<String>>> {
        let mut roles = HashMap::with_capacity(names.len());
        let mut missing = Vec::new();
        for name in names {
            match self.cache.roles.get(&name.to_owned()) {
                Some(permissions) => {
                    roles.insert(name.to_owned(), permissions);
                }
                None => missing.push(name.to_owned()),
            }
        }
        if missing.is_empty() {
            return Ok(roles);
        }
        let epoch = self.cache.roles.epoch();
        for role in self.repository.roles_named(&missing).await? {
            self.cache
                .roles
                .insert(role.name.clone(), role.permissions.clone(), epoch);
            roles.insert(role.name, role.permissions);
        }
        Ok(roles)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn grant(role: &str, scope: Scope, expires_at: Option<DateTime<Utc>>) -> Grant {
        Grant {
            id: 1,
            user_id: 7,
            role: role.into(),
            scope,
            granted_by: "admin:test".into(),
            granted_at: Utc::now(),
            expires_at,
        }
    }

    #[test]
    fn channel_grants_apply_only_in_their_channel_and_network_grants_everywhere() {
        let now = Utc::now();
        let custom = HashMap::new();
        let a = Scope::Channel("a".into());
        let b = Scope::Channel("b".into());
        let grants = [grant("channel-moderator", a.clone(), None)];
        assert!(evaluate(&grants, &custom, "BAN_CHANNEL_USER", &a, now).allowed);
        assert!(!evaluate(&grants, &custom, "BAN_CHANNEL_USER", &b, now).allowed);
        assert!(!evaluate(&grants, &custom, "BAN_CHANNEL_USER", &Scope::Network, now).allowed);
        let grants = [grant("channel-moderator", Scope::Network, None)];
        assert!(evaluate(&grants, &custom, "BAN_CHANNEL_USER", &b, now).allowed);
        assert!(
            evaluate(
                &grants,
                &custom,
                "BAN_CHANNEL_USER",
                &Scope::Community("c".into()),
                now
            )
            .allowed
        );
    }

    #[test]
    fn expired_grants_do_not_count_and_valid_until_is_the_latest_expiry() {
        let now = Utc::now();
        let custom = HashMap::new();
        let soon = now + Duration::hours(1);
        let later = now + Duration::hours(2);
        let grants = [
            grant("super-moderator", Scope::Network, Some(soon)),
            grant("channel-moderator", Scope::Network, Some(later)),
        ];
        let outcome = evaluate(&grants, &custom, "MUTE_CHANNEL", &Scope::Network, now);
        assert!(outcome.allowed);
        assert_eq!(outcome.valid_until, Some(later));
        assert_eq!(
            outcome.granted_by.map(|g| g.role),
            Some("channel-moderator".into())
        );
        let after = now + Duration::hours(3);
        assert!(!evaluate(&grants, &custom, "MUTE_CHANNEL", &Scope::Network, after).allowed);
    }

    #[test]
    fn custom_roles_grant_their_permissions_and_unknown_roles_nothing() {
        let now = Utc::now();
        let mut custom = HashMap::new();
        custom.insert(
            "helper".to_owned(),
            BTreeSet::from(["EDIT_MESSAGE".to_owned()]),
        );
        let grants = [
            grant("helper", Scope::Network, None),
            grant("gone", Scope::Network, None),
        ];
        assert!(evaluate(&grants, &custom, "EDIT_MESSAGE", &Scope::Network, now).allowed);
        assert!(!evaluate(&grants, &custom, "DELETE_MESSAGE", &Scope::Network, now).allowed);
    }
}
