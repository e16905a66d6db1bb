//! Roles, grants, scopes and permission checks as JSON.

use chrono::{DateTime, Utc};
use roster_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::time;
use crate::error::{ApiError, ApiResult};

/// The whole network as a scope: an empty object.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkScope {}

/// Where a grant applies or a check asks: at most one of `network` (`{}`),
/// `channelId`, `communityId`. Absent (or `{}`) in a check means the network.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkScope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community_id: Option<String>,
}

impl Scope {
    pub fn from_proto(scope: Option<pb::Scope>) -> Self {
        use pb::scope::Scope as S;
        match scope.and_then(|s| s.scope) {
            Some(S::ChannelId(id)) => Self {
                channel_id: Some(id),
                ..Self::default()
            },
            Some(S::CommunityId(id)) => Self {
                community_id: Some(id),
                ..Self::default()
            },
            Some(S::Network(_)) | None => Self {
                network: Some(NetworkScope {}),
                ..Self::default()
            },
        }
    }

    /// The proto scope; `field` names the scope in the request, for the error.
    pub fn to_proto(self, field: &str) -> ApiResult<pb::Scope> {
        use pb::scope::Scope as S;
        let scope = match (self.network, self.channel_id, self.community_id) {
            (None, None, None) => None,
            (Some(_), None, None) => Some(S::Network(pb::NetworkScope {})),
            (None, Some(id), None) => Some(S::ChannelId(id)),
            (None, None, Some(id)) => Some(S::CommunityId(id)),
            _ => {
                return Err(ApiError::invalid_field(
                    field,
                    "give at most one of network, channelId, communityId",
                ));
            }
        };
        Ok(pb::Scope { scope })
    }
}

/// A named set of catalogue permissions.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    pub built_in: bool,
    pub assignable: bool,
    /// Moves with every change; also the `ETag`, for `If-Match`.
    pub version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<pb::Role> for Role {
    fn from(role: pb::Role) -> Self {
        Self {
            name: role.name,
            description: role.description,
            permissions: role.permissions,
            built_in: role.built_in,
            assignable: role.assignable,
            version: role.version,
            created_at: time(role.created_at),
            updated_at: time(role.updated_at),
        }
    }
}

/// A role held by a user in a scope.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleGrant {
    pub user_id: i64,
    pub role: String,
    pub scope: Scope,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_at: Option<DateTime<Utc>>,
    /// Absent: never expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Who granted it, e.g. "user:42", "admin:platform".
    pub granted_by: String,
}

impl From<pb::RoleGrant> for RoleGrant {
    fn from(grant: pb::RoleGrant) -> Self {
        Self {
            user_id: grant.user_id,
            role: grant.role,
            scope: Scope::from_proto(grant.scope),
            granted_at: time(grant.granted_at),
            expires_at: time(grant.expires_at),
            granted_by: grant.granted_by,
        }
    }
}

/// What a permission acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PermissionGroup {
    Channel,
    User,
    UserFeed,
    Community,
    CommunityCategory,
    Network,
    Notification,
    Access,
    Exemption,
}

impl PermissionGroup {
    fn from_proto(raw: i32) -> Self {
        use pb::PermissionGroup as G;
        match G::try_from(raw) {
            Ok(G::User) => Self::User,
            Ok(G::UserFeed) => Self::UserFeed,
            Ok(G::Community) => Self::Community,
            Ok(G::CommunityCategory) => Self::CommunityCategory,
            Ok(G::Network) => Self::Network,
            Ok(G::Notification) => Self::Notification,
            Ok(G::Access) => Self::Access,
            Ok(G::Exemption) => Self::Exemption,
            _ => Self::Channel,
        }
    }
}

/// One permission of the catalogue.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    pub name: String,
    pub group: PermissionGroup,
    pub description: String,
    pub built_in_roles: Vec<String>,
}

impl From<pb::Permission> for Permission {
    fn from(permission: pb::Permission) -> Self {
        Self {
            name: permission.name,
            group: PermissionGroup::from_proto(permission.group),
            description: permission.description,
            built_in_roles: permission.built_in_roles,
        }
    }
}

/// The answer to one permission check.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionCheckResult {
    pub allowed: bool,
    /// When allowed: the grant that gives the permission.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_by: Option<RoleGrant>,
    /// When allowed: the answer holds at least until then, unless roles change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
}

impl From<pb::CheckPermissionResponse> for PermissionCheckResult {
    fn from(answer: pb::CheckPermissionResponse) -> Self {
        Self {
            allowed: answer.allowed,
            granted_by: answer.granted_by.map(Into::into),
            valid_until: time(answer.valid_until),
        }
    }
}

/// What changed in a role event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoleEventKind {
    RoleCreated,
    RoleUpdated,
    RoleDeleted,
    RoleGranted,
    RoleRevoked,
}

impl RoleEventKind {
    pub fn from_proto(raw: i32) -> Self {
        use pb::RoleEventKind as K;
        match K::try_from(raw) {
            Ok(K::RoleCreated) => Self::RoleCreated,
            Ok(K::RoleDeleted) => Self::RoleDeleted,
            Ok(K::RoleGranted) => Self::RoleGranted,
            Ok(K::RoleRevoked) => Self::RoleRevoked,
            _ => Self::RoleUpdated,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::RoleCreated => "role-created",
            Self::RoleUpdated => "role-updated",
            Self::RoleDeleted => "role-deleted",
            Self::RoleGranted => "role-granted",
            Self::RoleRevoked => "role-revoked",
        }
    }
}

/// One committed change of a role or grant.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleEvent {
    pub cursor: String,
    pub kind: RoleEventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<RoleGrant>,
    pub revoked_grants: i64,
}

impl From<pb::RoleEvent> for RoleEvent {
    fn from(event: pb::RoleEvent) -> Self {
        let meta = event.meta.unwrap_or_default();
        Self {
            cursor: meta.cursor,
            kind: RoleEventKind::from_proto(event.kind),
            occurred_at: time(meta.occurred_at),
            role: event.role.map(Into::into),
            grant: event.grant.map(Into::into),
            revoked_grants: event.revoked_grants,
        }
    }
}
