//! Proto ↔ domain: requests parsed into domain values (INVALID_ARGUMENT naming
//! the field otherwise), domain values encoded as views, and the positions
//! behind page tokens.

use chrono::{DateTime, TimeZone, Utc};
use roster_kit::{Error, Result, authz::Scope, events::parse_cursor, paging};
use roster_proto::v1 as pb;

use crate::domain::{
    CheckOutcome, CheckQuery, Grant, GrantRequest, NewRole, Page, PermissionGroup, RevokeRequest,
    Role, RoleEvent, RoleMembersQuery, RoleUpdate, RolesQuery, StoredEvent, UserGrantsQuery,
    UserGrantsRevocation, UserGrantsRevoked, WatchStart,
    catalogue::CATALOGUE,
    fields::{self, MAX_BATCH_CHECKS},
    matrix::built_in_holders,
    reasons,
};

// ---- values ------------------------------------------------------------------

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A point in time; nanos must be 0–999 999 999 and the time representable.
pub fn time_from(field: &str, ts: &prost_types::Timestamp) -> Result<DateTime<Utc>> {
    u32::try_from(ts.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)
        .and_then(|nanos| Utc.timestamp_opt(ts.seconds, nanos).single())
        .ok_or_else(|| Error::invalid_field(field, "is not a valid timestamp"))
}

/// An absent scope means the network, unless `required`.
pub fn scope_from(field: &str, scope: Option<pb::Scope>, required: bool) -> Result<Scope> {
    use pb::scope::Scope as S;
    match scope.and_then(|s| s.scope) {
        None if required => Err(Error::invalid_field(
            field,
            "is required: network, a channel_id or a community_id",
        )),
        None | Some(S::Network(_)) => Ok(Scope::Network),
        Some(S::ChannelId(id)) => Ok(Scope::Channel(fields::scope_id(
            &format!("{field}.channel_id"),
            &id,
        )?)),
        Some(S::CommunityId(id)) => Ok(Scope::Community(fields::scope_id(
            &format!("{field}.community_id"),
            &id,
        )?)),
    }
}

fn group(group: PermissionGroup) -> pb::PermissionGroup {
    match group {
        PermissionGroup::Channel => pb::PermissionGroup::Channel,
        PermissionGroup::User => pb::PermissionGroup::User,
        PermissionGroup::UserFeed => pb::PermissionGroup::UserFeed,
        PermissionGroup::Community => pb::PermissionGroup::Community,
        PermissionGroup::CommunityCategory => pb::PermissionGroup::CommunityCategory,
        PermissionGroup::Network => pb::PermissionGroup::Network,
        PermissionGroup::Notification => pb::PermissionGroup::Notification,
        PermissionGroup::Access => pb::PermissionGroup::Access,
        PermissionGroup::Exemption => pb::PermissionGroup::Exemption,
    }
}

// ---- requests ----------------------------------------------------------------

impl TryFrom<pb::CreateRoleRequest> for NewRole {
    type Error = Error;

    fn try_from(req: pb::CreateRoleRequest) -> Result<Self> {
        Ok(Self {
            name: fields::role_name("name", &req.name)?,
            description: fields::description("description", &req.description)?,
            permissions: fields::permissions("permissions", &req.permissions)?,
        })
    }
}

impl TryFrom<pb::UpdateRoleRequest> for RoleUpdate {
    type Error = Error;

    /// Only the fields named in the (required) mask are parsed and changed.
    fn try_from(req: pb::UpdateRoleRequest) -> Result<Self> {
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(Error::invalid_field(
                "update_mask",
                "is required: \"description\" and/or \"permissions\"",
            ));
        }
        let mut update = Self {
            name: req.name,
            expected_version: (req.expected_version != 0).then_some(req.expected_version),
            ..Self::default()
        };
        for path in &paths {
            match path.as_str() {
                "description" => {
                    update.description = Some(fields::description("description", &req.description)?)
                }
                "permissions" => {
                    update.permissions = Some(fields::permissions("permissions", &req.permissions)?)
                }
                other => {
                    return Err(Error::invalid_field(
                        "update_mask",
                        format!("unknown path {other:?}"),
                    ));
                }
            }
        }
        Ok(update)
    }
}

impl TryFrom<pb::GrantRoleRequest> for GrantRequest {
    type Error = Error;

    fn try_from(req: pb::GrantRoleRequest) -> Result<Self> {
        Ok(Self {
            user_id: fields::user_id("user_id", req.user_id)?,
            role: req.role,
            scope: scope_from("scope", req.scope, true)?,
            expires_at: req
                .expires_at
                .as_ref()
                .map(|t| time_from("expires_at", t))
                .transpose()?,
        })
    }
}

impl TryFrom<pb::RevokeRoleRequest> for RevokeRequest {
    type Error = Error;

    fn try_from(req: pb::RevokeRoleRequest) -> Result<Self> {
        Ok(Self {
            user_id: fields::user_id("user_id", req.user_id)?,
            role: req.role,
            scope: scope_from("scope", req.scope, true)?,
        })
    }
}

impl TryFrom<pb::RevokeUserGrantsRequest> for UserGrantsRevocation {
    type Error = Error;

    fn try_from(req: pb::RevokeUserGrantsRequest) -> Result<Self> {
        Ok(Self {
            user_id: fields::user_id("user_id", req.user_id)?,
            dry_run: req.dry_run,
        })
    }
}

/// One check; `prefix` is its path in the request (`checks[3].`, or empty).
fn check_query(
    prefix: &str,
    user_id: i64,
    permission: &str,
    scope: Option<pb::Scope>,
) -> Result<CheckQuery> {
    Ok(CheckQuery {
        user_id: fields::user_id(&format!("{prefix}user_id"), user_id)?,
        permission: fields::permission(&format!("{prefix}permission"), permission)?,
        scope: scope_from(&format!("{prefix}scope"), scope, false)?,
    })
}

impl TryFrom<pb::CheckPermissionRequest> for CheckQuery {
    type Error = Error;

    fn try_from(req: pb::CheckPermissionRequest) -> Result<Self> {
        check_query("", req.user_id, &req.permission, req.scope)
    }
}

/// 1–100 checks, each valid; the first invalid one is named (`checks[3].permission`).
pub fn check_queries(req: pb::BatchCheckPermissionsRequest) -> Result<Vec<CheckQuery>> {
    if req.checks.is_empty() || req.checks.len() > MAX_BATCH_CHECKS {
        return Err(Error::invalid_field(
            "checks",
            format!("must hold 1–{MAX_BATCH_CHECKS} checks"),
        ));
    }
    req.checks
        .into_iter()
        .enumerate()
        .map(|(i, c)| check_query(&format!("checks[{i}]."), c.user_id, &c.permission, c.scope))
        .collect()
}

impl TryFrom<pb::WatchRoleEventsRequest> for WatchStart {
    type Error = Error;

    fn try_from(req: pb::WatchRoleEventsRequest) -> Result<Self> {
        if !req.from_now {
            return parse_cursor(&req.after_cursor, "after_cursor").map(WatchStart::After);
        }
        if !req.after_cursor.is_empty() {
            return Err(Error::invalid_field(
                "from_now",
                "cannot be combined with after_cursor",
            ));
        }
        Ok(WatchStart::FromNow)
    }
}

// ---- page positions ------------------------------------------------------------

/// Where the next page of ListRoles starts.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RolesPosition {
    #[prost(string, tag = "1")]
    pub after_name: String,
}

/// Where the next page of ListUserRoles starts; bound to its user.
#[derive(Clone, PartialEq, prost::Message)]
pub struct UserGrantsPosition {
    #[prost(int64, tag = "1")]
    pub user_id: i64,
    #[prost(int64, tag = "2")]
    pub after_id: i64,
}

/// Where the next page of ListRoleMembers starts; bound to its role.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MembersPosition {
    #[prost(string, tag = "1")]
    pub role: String,
    #[prost(int64, tag = "2")]
    pub user_id: i64,
    #[prost(int64, tag = "3")]
    pub after_id: i64,
}

/// A token of the same call made for another user or role.
fn foreign_page_token() -> Error {
    let mut err = Error::invalid_field("page_token", "belongs to another query");
    err.reason = reasons::PAGE_TOKEN_INVALID;
    err
}

impl TryFrom<pb::ListRolesRequest> for RolesQuery {
    type Error = Error;

    fn try_from(req: pb::ListRolesRequest) -> Result<Self> {
        Ok(Self {
            limit: paging::page_size(req.page_size, "page_size")?,
            after: paging::decode::<RolesPosition>(&req.page_token, "page_token")?
                .map(|p| p.after_name),
        })
    }
}

impl TryFrom<pb::ListUserRolesRequest> for UserGrantsQuery {
    type Error = Error;

    fn try_from(req: pb::ListUserRolesRequest) -> Result<Self> {
        let user_id = fields::user_id("user_id", req.user_id)?;
        let limit = paging::page_size(req.page_size, "page_size")?;
        let after_id = match paging::decode::<UserGrantsPosition>(&req.page_token, "page_token")? {
            Some(position) if position.user_id != user_id => return Err(foreign_page_token()),
            Some(position) => position.after_id,
            None => 0,
        };
        Ok(Self {
            user_id,
            after_id,
            limit,
        })
    }
}

impl TryFrom<pb::ListRoleMembersRequest> for RoleMembersQuery {
    type Error = Error;

    fn try_from(req: pb::ListRoleMembersRequest) -> Result<Self> {
        let limit = paging::page_size(req.page_size, "page_size")?;
        let after = match paging::decode::<MembersPosition>(&req.page_token, "page_token")? {
            Some(position) if position.role != req.role => return Err(foreign_page_token()),
            Some(position) => Some((position.user_id, position.after_id)),
            None => None,
        };
        Ok(Self {
            role: req.role,
            after,
            limit,
        })
    }
}

/// The token of the page after `page`, from its last item; empty on the last page.
fn next_page_token<T>(page: &Page<T>, position: impl FnOnce(&T) -> String) -> String {
    match (page.more, page.items.last()) {
        (true, Some(last)) => position(last),
        _ => String::new(),
    }
}

// ---- views ---------------------------------------------------------------------

pub fn catalogue() -> pb::ListPermissionsResponse {
    pb::ListPermissionsResponse {
        permissions: CATALOGUE
            .iter()
            .map(|p| pb::Permission {
                name: p.name.to_owned(),
                group: group(p.group).into(),
                description: p.description.to_owned(),
                built_in_roles: built_in_holders(p.name)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            })
            .collect(),
    }
}

pub fn role(role: Role) -> pb::Role {
    pb::Role {
        name: role.name,
        description: role.description,
        permissions: role.permissions.into_iter().collect(),
        built_in: role.built_in,
        assignable: role.assignable,
        version: role.version,
        created_at: role.created_at.map(timestamp),
        updated_at: role.updated_at.map(timestamp),
    }
}

pub fn grant(grant: Grant) -> pb::RoleGrant {
    pb::RoleGrant {
        user_id: grant.user_id,
        role: grant.role,
        scope: Some(grant.scope.to_proto()),
        granted_at: Some(timestamp(grant.granted_at)),
        expires_at: grant.expires_at.map(timestamp),
        granted_by: grant.granted_by,
    }
}

pub fn outcome(outcome: CheckOutcome) -> pb::CheckPermissionResponse {
    pb::CheckPermissionResponse {
        allowed: outcome.allowed,
        granted_by: outcome.granted_by.map(grant),
        valid_until: outcome.valid_until.map(timestamp),
    }
}

pub fn roles_page(page: Page<Role>) -> pb::ListRolesResponse {
    let next_page_token = next_page_token(&page, |last| {
        paging::encode(&RolesPosition {
            after_name: last.name.clone(),
        })
    });
    pb::ListRolesResponse {
        roles: page.items.into_iter().map(role).collect(),
        next_page_token,
    }
}

pub fn user_grants_page(page: Page<Grant>) -> pb::ListUserRolesResponse {
    let next_page_token = next_page_token(&page, |last| {
        paging::encode(&UserGrantsPosition {
            user_id: last.user_id,
            after_id: last.id,
        })
    });
    pb::ListUserRolesResponse {
        grants: page.items.into_iter().map(grant).collect(),
        next_page_token,
    }
}

pub fn role_members_page(page: Page<Grant>) -> pb::ListRoleMembersResponse {
    let next_page_token = next_page_token(&page, |last| {
        paging::encode(&MembersPosition {
            role: last.role.clone(),
            user_id: last.user_id,
            after_id: last.id,
        })
    });
    pb::ListRoleMembersResponse {
        grants: page.items.into_iter().map(grant).collect(),
        next_page_token,
    }
}

pub fn user_grants_revoked(revoked: UserGrantsRevoked) -> pb::RevokeUserGrantsResponse {
    pb::RevokeUserGrantsResponse {
        revoked_count: revoked.revoked_count,
        event_cursor: revoked.event_seq.to_string(),
    }
}

pub fn event(stored: StoredEvent) -> pb::RoleEvent {
    use pb::RoleEventKind as K;
    let meta = Some(
        stored
            .origin
            .meta(stored.seq, timestamp(stored.occurred_at)),
    );
    let (kind, changed_role, changed_grant, revoked_grants) = match stored.event {
        RoleEvent::RoleCreated { role } => (K::RoleCreated, Some(role), None, 0),
        RoleEvent::RoleUpdated { role } => (K::RoleUpdated, Some(role), None, 0),
        RoleEvent::RoleDeleted {
            role,
            revoked_grants,
        } => (K::RoleDeleted, Some(role), None, revoked_grants),
        RoleEvent::RoleGranted { grant } => (K::RoleGranted, None, Some(grant), 0),
        RoleEvent::RoleRevoked { grant } => (K::RoleRevoked, None, Some(grant), 0),
    };
    pb::RoleEvent {
        meta,
        kind: kind.into(),
        role: changed_role.map(role),
        grant: changed_grant.map(grant),
        revoked_grants,
    }
}
