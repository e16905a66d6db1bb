//! The role service's rules: roles, grants, checks and who may change what.
//! No transport or SQL types here; the store speaks these types.

pub mod catalogue;
pub mod matrix;

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use chrono::{DateTime, Utc};
use roster_kit::{
    Actor, Error, FieldViolation, Result, authz::Scope, cache::Cache, error::ErrorKind,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::store::Store;
use catalogue::names::{
    ASSIGN_USER_ROLE, CREATE_ROLE, DELETE_ROLE, EDIT_ROLE, EXEMPT_FROM_MODERATION,
};
use matrix::BuiltInRole;

pub use catalogue::{CATALOGUE, PermissionGroup, PermissionInfo};

/// Error reasons of this service (besides the common ones of `common.proto`).
pub mod reasons {
    pub const ROLE_NOT_FOUND: &str = "ROLE_NOT_FOUND";
    pub const ROLE_ALREADY_EXISTS: &str = "ROLE_ALREADY_EXISTS";
    pub const ROLE_BUILT_IN: &str = "ROLE_BUILT_IN";
    pub const ROLE_IN_USE: &str = "ROLE_IN_USE";
    pub const ROLE_NOT_ASSIGNABLE: &str = "ROLE_NOT_ASSIGNABLE";
    pub const GRANT_NOT_FOUND: &str = "GRANT_NOT_FOUND";
    pub const VERSION_CONFLICT: &str = "VERSION_CONFLICT";
    pub const CURSOR_INVALID: &str = "CURSOR_INVALID";
}

pub const MAX_ROLE_NAME_CHARS: usize = 64;
pub const MAX_DESCRIPTION_CHARS: usize = 500;
pub const MAX_SCOPE_ID_CHARS: usize = 128;
pub const MAX_BATCH_CHECKS: usize = 100;

/// What time it is; injectable so expiry is testable without waiting.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A role, built-in or custom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub description: String,
    pub permissions: BTreeSet<String>,
    pub built_in: bool,
    pub assignable: bool,
    pub version: i64,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Role {
    pub fn built_in(role: BuiltInRole) -> Self {
        Self {
            name: role.name().to_owned(),
            description: role.description().to_owned(),
            permissions: role.permissions().iter().map(|p| (*p).to_owned()).collect(),
            built_in: true,
            assignable: role.assignable(),
            version: 1,
            created_at: None,
            updated_at: None,
        }
    }
}

/// A role held by a user in a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: i64,
    pub user_id: i64,
    pub role: String,
    pub scope: Scope,
    pub granted_by: String,
    pub granted_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Grant {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// A change, as written to the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RoleEvent {
    RoleCreated { role: Role },
    RoleUpdated { role: Role },
    RoleDeleted { role: Role, revoked_grants: i64 },
    RoleGranted { grant: Grant },
    RoleRevoked { grant: Grant },
}

impl RoleEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            RoleEvent::RoleCreated { .. } => "ROLE_CREATED",
            RoleEvent::RoleUpdated { .. } => "ROLE_UPDATED",
            RoleEvent::RoleDeleted { .. } => "ROLE_DELETED",
            RoleEvent::RoleGranted { .. } => "ROLE_GRANTED",
            RoleEvent::RoleRevoked { .. } => "ROLE_REVOKED",
        }
    }
}

/// An event with its outbox position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub event: RoleEvent,
}

/// Answer of a check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckOutcome {
    pub allowed: bool,
    pub granted_by: Option<Grant>,
    /// When allowed and every granting grant expires: the latest expiry.
    pub valid_until: Option<DateTime<Utc>>,
}

/// A check to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckQuery {
    pub user_id: i64,
    pub permission: String,
    pub scope: Scope,
}

/// Input of CreateRole, already parsed.
#[derive(Debug, Clone)]
pub struct NewRole {
    pub name: String,
    pub description: String,
    pub permissions: BTreeSet<String>,
}

/// Input of UpdateRole, already parsed: `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct RolePatch {
    pub description: Option<String>,
    pub permissions: Option<BTreeSet<String>>,
    pub expected_version: Option<i64>,
}

/// Input of GrantRole, already parsed.
#[derive(Debug, Clone)]
pub struct GrantRequest {
    pub user_id: i64,
    pub role: String,
    pub scope: Scope,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What GrantRole did.
#[derive(Debug, Clone)]
pub struct GrantOutcome {
    pub grant: Grant,
    pub created: bool,
    pub event_seq: i64,
}

/// Parsing helpers shared by the transport layer.
pub mod parse {
    use super::*;

    pub fn role_name(field: &str, name: &str) -> Result<String> {
        let ok_chars = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        let ok_start = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if name.is_empty() || name.chars().count() > MAX_ROLE_NAME_CHARS || !ok_chars || !ok_start {
            return Err(Error::invalid_field(
                field,
                format!(
                    "must be 1–{MAX_ROLE_NAME_CHARS} characters of a–z, 0–9, '-' and '_', starting with a letter or digit"
                ),
            ));
        }
        Ok(name.to_owned())
    }

    pub fn description(field: &str, text: &str) -> Result<String> {
        if text.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(Error::invalid_field(
                field,
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        Ok(text.to_owned())
    }

    /// Catalogue names; duplicates collapse. Names every unknown entry.
    pub fn permissions(field: &str, names: &[String]) -> Result<BTreeSet<String>> {
        let violations: Vec<FieldViolation> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| catalogue::lookup(n).is_none())
            .map(|(i, n)| {
                FieldViolation::new(format!("{field}[{i}]"), format!("unknown permission {n:?}"))
            })
            .collect();
        if !violations.is_empty() {
            return Err(Error::invalid(violations));
        }
        Ok(names.iter().cloned().collect())
    }

    pub fn permission(field: &str, name: &str) -> Result<String> {
        match catalogue::lookup(name) {
            Some(p) => Ok(p.name.to_owned()),
            None => Err(Error::invalid_field(
                field,
                format!("unknown permission {name:?}"),
            )),
        }
    }

    pub fn scope_id(field: &str, id: &str) -> Result<String> {
        if id.is_empty()
            || id.chars().count() > MAX_SCOPE_ID_CHARS
            || id.chars().any(char::is_control)
        {
            return Err(Error::invalid_field(
                field,
                format!("must be 1–{MAX_SCOPE_ID_CHARS} characters without control characters"),
            ));
        }
        Ok(id.to_owned())
    }

    pub fn user_id(field: &str, id: i64) -> Result<i64> {
        if id <= 0 {
            return Err(Error::invalid_field(field, "must be a user id (positive)"));
        }
        Ok(id)
    }
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

fn role_not_found(name: &str) -> Error {
    Error::not_found(reasons::ROLE_NOT_FOUND, format!("no role named {name:?}"))
}

fn built_in_refused(name: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        reasons::ROLE_BUILT_IN,
        format!("{name} is a built-in role and cannot be {what}"),
    )
}

fn actor_label(actor: &Actor) -> String {
    actor.to_string()
}

/// Users whose grants are kept in memory per replica.
const CACHED_USERS: usize = 100_000;

/// What checks read, kept in memory per replica. Role changes are rare and
/// checks are the hot path, so any change simply empties both: at once for
/// changes committed here, within the poll interval for other replicas'
/// (see [`Roles::follow_remote_changes`]).
struct CheckCache {
    /// Every grant of a user not revoked, expired ones included (checks filter
    /// by time), so a cached list never depends on when it was read.
    grants: Cache<i64, Vec<Grant>>,
    /// Permissions of custom roles, by name.
    roles: Cache<String, BTreeSet<String>>,
    /// The newest event the cache is known to reflect; -1 before the first look.
    position: std::sync::atomic::AtomicI64,
}

impl CheckCache {
    fn clear(&self) {
        self.grants.clear();
        self.roles.clear();
    }

    /// Empties the cache unless it already reflects the event at `sequence`.
    /// Event streams call it before delivering events, so a consumer that reacts
    /// to an event by asking this replica gets an answer that includes it.
    fn reflect(&self, sequence: i64) {
        use std::sync::atomic::Ordering;
        if self.position.fetch_max(sequence, Ordering::SeqCst) < sequence {
            self.clear();
        }
    }
}

/// The role service's domain.
#[derive(Clone)]
pub struct Roles {
    store: Store,
    clock: Arc<dyn Clock>,
    changes: Arc<Notify>,
    cache: Arc<CheckCache>,
}

impl Roles {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            changes: Arc::new(Notify::new()),
            cache: Arc::new(CheckCache {
                grants: Cache::new(CACHED_USERS),
                roles: Cache::new(CACHED_USERS),
                position: std::sync::atomic::AtomicI64::new(-1),
            }),
        }
    }

    /// Empties the check cache whenever another replica (or the `roster`
    /// binary) commits a change, polling the outbox every `poll_interval`;
    /// stops when the last clone of these `Roles` is gone. Needs a Tokio runtime.
    pub fn follow_remote_changes(&self, poll_interval: std::time::Duration) {
        let store = self.store.clone();
        let cache = Arc::downgrade(&self.cache);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(poll_interval).await;
                let Some(cache) = cache.upgrade() else {
                    return;
                };
                match store.last_event_seq().await {
                    Ok(last) => cache.reflect(last),
                    Err(err) => {
                        tracing::warn!(error = %err, "reading the role event position failed");
                        cache.clear();
                    }
                }
            }
        });
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Woken after every change this process commits.
    pub fn changes(&self) -> &Arc<Notify> {
        &self.changes
    }

    fn committed(&self) {
        self.cache.clear();
        self.changes.notify_waiters();
    }

    // ---- reading -------------------------------------------------------------

    pub async fn get_role(&self, name: &str) -> Result<Role> {
        if let Some(built_in) = BuiltInRole::from_name(name) {
            return Ok(Role::built_in(built_in));
        }
        self.store
            .get_role(name)
            .await?
            .ok_or_else(|| role_not_found(name))
    }

    /// Roles with names after `after`, in byte order; the bool says whether more follow.
    pub async fn list_roles(&self, after: Option<&str>, limit: u64) -> Result<(Vec<Role>, bool)> {
        let mut roles = self.store.list_roles(after, limit + 1).await?;
        roles.extend(
            BuiltInRole::ALL
                .into_iter()
                .filter(|r| after.is_none_or(|a| r.name() > a))
                .map(Role::built_in),
        );
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        let more = roles.len() as u64 > limit;
        roles.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok((roles, more))
    }

    pub async fn list_user_grants(
        &self,
        user_id: i64,
        after_id: i64,
        limit: u64,
    ) -> Result<(Vec<Grant>, bool)> {
        let mut grants = self
            .store
            .user_grants_page(user_id, after_id, limit + 1, self.now())
            .await?;
        let more = grants.len() as u64 > limit;
        grants.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok((grants, more))
    }

    pub async fn list_role_members(
        &self,
        role: &str,
        after: Option<(i64, i64)>,
        limit: u64,
    ) -> Result<(Vec<Grant>, bool)> {
        self.get_role(role).await?;
        if role == BuiltInRole::Member.name() {
            return Ok((Vec::new(), false));
        }
        let mut grants = self
            .store
            .role_grants_page(role, after, limit + 1, self.now())
            .await?;
        let more = grants.len() as u64 > limit;
        grants.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok((grants, more))
    }

    // ---- checks --------------------------------------------------------------

    /// Active grants of `users` and the permissions of the custom roles they name.
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
            .store
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
        for role in self.store.roles_named(&missing).await? {
            self.cache
                .roles
                .insert(role.name.clone(), role.permissions.clone(), epoch);
            roles.insert(role.name, role.permissions);
        }
        Ok(roles)
    }

    /// Checks at an explicit time (the clock's `now` for the RPCs).
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

    pub async fn check(&self, queries: &[CheckQuery]) -> Result<Vec<CheckOutcome>> {
        self.check_at(queries, self.now()).await
    }

    /// Permissions `user_id` holds in `scope` now.
    async fn held(&self, user_id: i64, scope: &Scope) -> Result<BTreeSet<String>> {
        let now = self.now();
        let (grants, roles) = self.load_grants(&[user_id], now).await?;
        let user_grants = grants.get(&user_id).map_or(&[][..], Vec::as_slice);
        Ok(held_permissions(user_grants, &roles, scope, now))
    }

    // ---- authorisation of this service's own calls ------------------------------

    /// Admin and service actors may do everything; a user needs `permission` in
    /// `scope`, and may not hand out permissions it does not hold there (`granting`).
    async fn authorize(
        &self,
        actor: &Actor,
        permission: &str,
        scope: &Scope,
        granting: &BTreeSet<String>,
    ) -> Result<Option<BTreeSet<String>>> {
        let Actor::User { user_id, .. } = actor else {
            return Ok(None);
        };
        let held = self.held(*user_id, scope).await?;
        if !held.contains(permission) {
            return Err(Error::permission_denied(format!(
                "permission {permission} is required in {scope}"
            )));
        }
        let missing: Vec<&str> = granting
            .iter()
            .filter(|p| !held.contains(*p))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(Error::permission_denied(format!(
                "cannot hand out permissions you do not hold in {scope}: {}",
                missing.join(", ")
            )));
        }
        Ok(Some(held))
    }

    /// Users exempt from moderation in `scope` can have roles changed only by users
    /// exempt there too.
    async fn protect_target(
        &self,
        actor_held: Option<&BTreeSet<String>>,
        target: i64,
        scope: &Scope,
    ) -> Result<()> {
        let Some(actor_held) = actor_held else {
            return Ok(());
        };
        if actor_held.contains(EXEMPT_FROM_MODERATION) {
            return Ok(());
        }
        if self
            .held(target, scope)
            .await?
            .contains(EXEMPT_FROM_MODERATION)
        {
            return Err(Error::permission_denied(format!(
                "user {target} is exempt from moderation in {scope}; only a user holding {EXEMPT_FROM_MODERATION} there may change its roles"
            )));
        }
        Ok(())
    }

    // ---- changing roles --------------------------------------------------------

    pub async fn create_role(&self, actor: &Actor, new: NewRole) -> Result<Role> {
        self.authorize(actor, CREATE_ROLE, &Scope::Network, &new.permissions)
            .await?;
        if BuiltInRole::from_name(&new.name).is_some() {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                reasons::ROLE_ALREADY_EXISTS,
                format!("{} is a built-in role", new.name),
            ));
        }
        let role = self.store.create_role(&new, self.now()).await?;
        self.committed();
        Ok(role)
    }

    pub async fn update_role(&self, actor: &Actor, name: &str, patch: RolePatch) -> Result<Role> {
        if BuiltInRole::from_name(name).is_some() {
            return Err(built_in_refused(name, "edited"));
        }
        let current = self
            .store
            .get_role(name)
            .await?
            .ok_or_else(|| role_not_found(name))?;
        let added: BTreeSet<String> = patch
            .permissions
            .as_ref()
            .map(|p| p.difference(&current.permissions).cloned().collect())
            .unwrap_or_default();
        self.authorize(actor, EDIT_ROLE, &Scope::Network, &added)
            .await?;
        let role = self.store.update_role(name, &patch, self.now()).await?;
        self.committed();
        Ok(role)
    }

    /// Deletes a custom role. Refused while it has unexpired grants unless `force`,
    /// which revokes them in the same transaction. Returns (revoked grants, event seq).
    pub async fn delete_role(&self, actor: &Actor, name: &str, force: bool) -> Result<(i64, i64)> {
        if BuiltInRole::from_name(name).is_some() {
            return Err(built_in_refused(name, "deleted"));
        }
        self.authorize(actor, DELETE_ROLE, &Scope::Network, &BTreeSet::new())
            .await?;
        let outcome = self.store.delete_role(name, force, self.now()).await?;
        self.committed();
        Ok(outcome)
    }

    // ---- grants ----------------------------------------------------------------

    fn assignable(&self, role: &Role) -> Result<()> {
        if role.assignable {
            return Ok(());
        }
        let why = if role.name == BuiltInRole::GlobalAdmin.name() {
            "global-admin cannot be granted through the API; the operator bootstraps it with the roster binary"
        } else {
            "member is held implicitly by every user and is never granted"
        };
        Err(Error::new(
            ErrorKind::FailedPrecondition,
            reasons::ROLE_NOT_ASSIGNABLE,
            why,
        ))
    }

    pub async fn grant(&self, actor: &Actor, request: GrantRequest) -> Result<GrantOutcome> {
        let now = self.now();
        if request.expires_at.is_some_and(|at| at <= now) {
            return Err(Error::invalid_field("expires_at", "must be in the future"));
        }
        let role = self.get_role(&request.role).await?;
        self.assignable(&role)?;
        let held = self
            .authorize(actor, ASSIGN_USER_ROLE, &request.scope, &role.permissions)
            .await?;
        self.protect_target(held.as_ref(), request.user_id, &request.scope)
            .await?;
        let outcome = self.store.grant(&request, &actor_label(actor), now).await?;
        self.committed();
        Ok(outcome)
    }

    /// Removes a grant; returns it and the event seq.
    pub async fn revoke(
        &self,
        actor: &Actor,
        user_id: i64,
        role: &str,
        scope: &Scope,
    ) -> Result<(Grant, i64)> {
        self.get_role(role).await?;
        let held = self
            .authorize(actor, ASSIGN_USER_ROLE, scope, &BTreeSet::new())
            .await?;
        self.protect_target(held.as_ref(), user_id, scope).await?;
        let outcome = self.store.revoke(user_id, role, scope, self.now()).await?;
        self.committed();
        Ok(outcome)
    }

    // ---- events ----------------------------------------------------------------

    pub async fn events_after(&self, seq: i64, limit: u64) -> Result<Vec<StoredEvent>> {
        let events = self.store.events_after(seq, limit).await?;
        if let Some(last) = events.last() {
            self.cache.reflect(last.seq);
        }
        Ok(events)
    }

    pub async fn last_event_seq(&self) -> Result<i64> {
        self.store.last_event_seq().await
    }
}

/// Grants `global-admin` network-wide to `user_id`, bypassing the API's refusal:
/// the operator's way to create the first administrator. Idempotent; emits a
/// ROLE_GRANTED event like any grant.
pub async fn bootstrap_global_admin(store: &Store, user_id: i64) -> Result<GrantOutcome> {
    let user_id = parse::user_id("user_id", user_id)?;
    let request = GrantRequest {
        user_id,
        role: BuiltInRole::GlobalAdmin.name().to_owned(),
        scope: Scope::Network,
        expires_at: None,
    };
    store.grant(&request, "bootstrap", Utc::now()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

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

    #[test]
    fn role_names_are_validated() {
        assert!(parse::role_name("name", "helpers-2").is_ok());
        for bad in ["", "-x", "Upper", "has space", &"x".repeat(65)] {
            assert!(parse::role_name("name", bad).is_err(), "{bad}");
        }
    }
}
