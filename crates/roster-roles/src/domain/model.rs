//! The values the role service's rules speak: roles, grants and events, and
//! the parsed inputs and outcomes of its operations. They depend on nothing of
//! the domain's operations, so the ports and every capability can name them.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use roster_kit::authz::Scope;
use serde::{Deserialize, Serialize};

use super::matrix::BuiltInRole;

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

/// Input of CreateRole, already parsed.
#[derive(Debug, Clone)]
pub struct NewRole {
    pub name: String,
    pub description: String,
    pub permissions: BTreeSet<String>,
}

/// Input of UpdateRole, already parsed: `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct RoleUpdate {
    /// Which role; not validated (an unknown name is simply not found).
    pub name: String,
    pub description: Option<String>,
    pub permissions: Option<BTreeSet<String>>,
    pub expected_version: Option<i64>,
}

/// What DeleteRole did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleDeleted {
    /// Unexpired grants revoked by `force`.
    pub revoked_grants: i64,
    /// Sequence number of the ROLE_DELETED event.
    pub event_seq: i64,
}

/// A page of ListRoles: names after `after`, byte order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolesQuery {
    pub after: Option<String>,
    pub limit: u64,
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
    /// False when the user already held the role there (its expiry was replaced).
    pub created: bool,
    pub event_seq: i64,
}

/// Input of RevokeRole, already parsed.
#[derive(Debug, Clone)]
pub struct RevokeRequest {
    pub user_id: i64,
    pub role: String,
    pub scope: Scope,
}

/// What RevokeRole removed, and the sequence number of its event.
#[derive(Debug, Clone)]
pub struct Revoked {
    pub grant: Grant,
    pub event_seq: i64,
}

/// Input of RevokeUserGrants, already parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserGrantsRevocation {
    pub user_id: i64,
    /// Count what would be revoked, change nothing.
    pub dry_run: bool,
}

/// What RevokeUserGrants did (or would do, on a dry run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserGrantsRevoked {
    pub revoked_count: i64,
    /// The last ROLE_REVOKED event written; with none written (nothing to
    /// revoke, or a dry run), the newest event of the log.
    pub event_seq: i64,
}

/// A page of ListUserRoles: unexpired grants of a user with ids after `after_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserGrantsQuery {
    pub user_id: i64,
    pub after_id: i64,
    pub limit: u64,
}

/// A page of ListRoleMembers: unexpired grants of a role after (user id, grant id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMembersQuery {
    pub role: String,
    pub after: Option<(i64, i64)>,
    pub limit: u64,
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
    /// Who made the change and why.
    pub origin: roster_kit::origin::Origin,
}
