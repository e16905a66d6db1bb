//! What the domain needs from outside: its repository (implemented by `store`,
//! one trait per capability) and the time. The role service calls no other
//! service, so it has no peer ports. Every trait is object-safe.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_kit::{Result, authz::Scope};

use super::model::{
    Grant, GrantOutcome, GrantRequest, NewRole, Revoked, Role, RoleDeleted, RoleUpdate,
    StoredEvent, UserGrantsRevoked,
};

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

/// The role service's tables. Every method that changes something writes the
/// change and its event(s) to the outbox in one transaction.
pub trait RoleRepository: CustomRoleRepository + GrantRepository + EventRepository {}

impl<T> RoleRepository for T where T: CustomRoleRepository + GrantRepository + EventRepository {}

/// Custom roles (built-in roles live in code, see `matrix`).
#[async_trait]
pub trait CustomRoleRepository: Send + Sync + 'static {
    async fn get_role(&self, name: &str) -> Result<Option<Role>>;

    /// The roles of `names` that exist, in no particular order.
    async fn roles_named(&self, names: &[String]) -> Result<Vec<Role>>;

    /// Up to `limit` roles named after `after`, in byte order of the name.
    async fn list_roles(&self, after: Option<&str>, limit: u64) -> Result<Vec<Role>>;

    /// ALREADY_EXISTS / ROLE_ALREADY_EXISTS when the name is taken. Emits ROLE_CREATED.
    async fn create_role(&self, new: &NewRole, now: DateTime<Utc>) -> Result<Role>;

    /// Applies the update if the role's version still matches what was read (and
    /// `expected_version`, when set): ABORTED / VERSION_CONFLICT otherwise.
    /// Emits ROLE_UPDATED.
    async fn update_role(&self, update: &RoleUpdate, now: DateTime<Utc>) -> Result<Role>;

    /// Deletes the role. With unexpired grants: ROLE_IN_USE unless `force`, which
    /// revokes them (a ROLE_REVOKED event each) before ROLE_DELETED.
    async fn delete_role(&self, name: &str, force: bool, now: DateTime<Utc>)
    -> Result<RoleDeleted>;
}

/// Grants of roles to users.
#[async_trait]
pub trait GrantRepository: Send + Sync + 'static {
    /// Grants, or re-grants with a new expiry; a custom role must exist.
    /// Emits ROLE_GRANTED.
    async fn grant(
        &self,
        request: &GrantRequest,
        granted_by: &str,
        now: DateTime<Utc>,
    ) -> Result<GrantOutcome>;

    /// Removes the grant of `role` to `user_id` in exactly `scope`: NOT_FOUND /
    /// GRANT_NOT_FOUND when there is none. Emits ROLE_REVOKED.
    async fn revoke(
        &self,
        user_id: i64,
        role: &str,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<Revoked>;

    /// Removes every grant of `user_id` (expired ones too) in one statement and
    /// emits one ROLE_REVOKED per grant, appended in one batch. With nothing to
    /// revoke, `event_seq` is the newest event's.
    async fn revoke_user_grants(
        &self,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<UserGrantsRevoked>;

    /// How many grants `user_id` holds, expired ones included.
    async fn count_user_grants(&self, user_id: i64) -> Result<i64>;

    /// The grants of `users` unexpired at `now` (every stored grant with
    /// `DateTime::MIN_UTC`).
    async fn active_grants_of(&self, users: &[i64], now: DateTime<Utc>) -> Result<Vec<Grant>>;

    /// Up to `limit` grants of `user_id` unexpired at `now`, with ids after `after_id`.
    async fn user_grants_page(
        &self,
        user_id: i64,
        after_id: i64,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>>;

    /// Up to `limit` grants of `role` unexpired at `now`, after (user id, grant id).
    async fn role_grants_page(
        &self,
        role: &str,
        after: Option<(i64, i64)>,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>>;
}

/// The outbox, read side.
#[async_trait]
pub trait EventRepository: Send + Sync + 'static {
    /// Up to `limit` events after sequence `seq`, oldest first.
    async fn events_after(&self, seq: i64, limit: u64) -> Result<Vec<StoredEvent>>;

    /// The newest event's sequence number; 0 for an empty log.
    async fn last_event_seq(&self) -> Result<i64>;
}

/// How the domain holds its repository.
pub type Repository = Arc<dyn RoleRepository>;
