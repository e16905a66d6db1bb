//! Thin tonic handlers: authenticate, parse the request into domain values,
//! call the domain, encode the answer.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use roster_kit::{
    Actor, Error, Result,
    auth::actor,
    authz::{Scope, WATCH_START_CURSOR_HEADER},
    paging,
};
use roster_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::domain::{
    CheckOutcome, CheckQuery, Grant, GrantRequest, MAX_BATCH_CHECKS, NewRole, PermissionGroup,
    Role, RoleEvent, RolePatch, Roles, StoredEvent, catalogue::CATALOGUE, matrix::built_in_holders,
    parse, reasons,
};

/// The `roster.v1.RoleService` implementation.
#[derive(Clone)]
pub struct RoleApi {
    roles: Roles,
    poll_interval: Duration,
}

impl RoleApi {
    pub fn new(roles: Roles, poll_interval: Duration) -> Self {
        Self {
            roles,
            poll_interval,
        }
    }

    pub fn roles(&self) -> &Roles {
        &self.roles
    }
}

// ---- encoding ----------------------------------------------------------------

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

fn time_from(field: &str, ts: &prost_types::Timestamp) -> Result<DateTime<Utc>> {
    u32::try_from(ts.nanos)
        .ok()
        .and_then(|nanos| Utc.timestamp_opt(ts.seconds, nanos).single())
        .ok_or_else(|| Error::invalid_field(field, "is not a valid timestamp"))
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

fn role_to_proto(role: Role) -> pb::Role {
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

fn grant_to_proto(grant: Grant) -> pb::RoleGrant {
    pb::RoleGrant {
        user_id: grant.user_id,
        role: grant.role,
        scope: Some(grant.scope.to_proto()),
        granted_at: Some(timestamp(grant.granted_at)),
        expires_at: grant.expires_at.map(timestamp),
        granted_by: grant.granted_by,
    }
}

fn outcome_to_proto(outcome: CheckOutcome) -> pb::CheckPermissionResponse {
    pb::CheckPermissionResponse {
        allowed: outcome.allowed,
        granted_by: outcome.granted_by.map(grant_to_proto),
        valid_until: outcome.valid_until.map(timestamp),
    }
}

fn event_to_proto(stored: StoredEvent) -> pb::RoleEvent {
    use pb::RoleEventKind as K;
    let meta = Some(pb::EventMeta {
        cursor: stored.seq.to_string(),
        occurred_at: Some(timestamp(stored.occurred_at)),
    });
    let (kind, role, grant, revoked_grants) = match stored.event {
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
        role: role.map(role_to_proto),
        grant: grant.map(grant_to_proto),
        revoked_grants,
    }
}

// ---- decoding ----------------------------------------------------------------

/// An absent scope means the network, unless `required`.
fn scope_from(field: &str, scope: Option<pb::Scope>, required: bool) -> Result<Scope> {
    use pb::scope::Scope as S;
    match scope.and_then(|s| s.scope) {
        None if required => Err(Error::invalid_field(
            field,
            "is required: network, a channel_id or a community_id",
        )),
        None | Some(S::Network(_)) => Ok(Scope::Network),
        Some(S::ChannelId(id)) => Ok(Scope::Channel(parse::scope_id(
            &format!("{field}.channel_id"),
            &id,
        )?)),
        Some(S::CommunityId(id)) => Ok(Scope::Community(parse::scope_id(
            &format!("{field}.community_id"),
            &id,
        )?)),
    }
}

fn check_query(
    prefix: &str,
    user_id: i64,
    permission: &str,
    scope: Option<pb::Scope>,
) -> Result<CheckQuery> {
    Ok(CheckQuery {
        user_id: parse::user_id(&format!("{prefix}user_id"), user_id)?,
        permission: parse::permission(&format!("{prefix}permission"), permission)?,
        scope: scope_from(&format!("{prefix}scope"), scope, false)?,
    })
}

fn cursor_seq(cursor: &str) -> Result<i64> {
    cursor
        .parse::<i64>()
        .ok()
        .filter(|seq| *seq >= 0)
        .ok_or_else(|| {
            let mut err =
                Error::invalid_field("after_cursor", "is not a cursor of this event stream");
            err.reason = reasons::CURSOR_INVALID;
            err
        })
}

fn foreign_page_token() -> Error {
    let mut err = Error::invalid_field("page_token", "belongs to another query");
    err.reason = "PAGE_TOKEN_INVALID";
    err
}

#[derive(Clone, PartialEq, prost::Message)]
struct RolesPosition {
    #[prost(string, tag = "1")]
    after_name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct UserGrantsPosition {
    #[prost(int64, tag = "1")]
    user_id: i64,
    #[prost(int64, tag = "2")]
    after_id: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct MembersPosition {
    #[prost(string, tag = "1")]
    role: String,
    #[prost(int64, tag = "2")]
    user_id: i64,
    #[prost(int64, tag = "3")]
    after_id: i64,
}

fn refuse_users(actor: &Actor, call: &str) -> Result<()> {
    match actor {
        Actor::User { .. } => Err(Error::permission_denied(format!(
            "{call} is for admin and service callers"
        ))),
        _ => Ok(()),
    }
}

type EventStream = roster_kit::events::EventStream<pb::RoleEvent>;

#[tonic::async_trait]
impl pb::role_service_server::RoleService for RoleApi {
    #[tracing::instrument(skip_all)]
    async fn list_permissions(
        &self,
        request: Request<pb::ListPermissionsRequest>,
    ) -> Result<Response<pb::ListPermissionsResponse>, Status> {
        actor(&request)?;
        let permissions = CATALOGUE
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
            .collect();
        Ok(Response::new(pb::ListPermissionsResponse { permissions }))
    }

    #[tracing::instrument(skip_all, fields(role = %request.get_ref().name))]
    async fn create_role(
        &self,
        request: Request<pb::CreateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let actor = actor(&request)?;
        let req = request.into_inner();
        let new = NewRole {
            name: parse::role_name("name", &req.name)?,
            description: parse::description("description", &req.description)?,
            permissions: parse::permissions("permissions", &req.permissions)?,
        };
        let role = self.roles.create_role(&actor, new).await?;
        Ok(Response::new(role_to_proto(role)))
    }

    #[tracing::instrument(skip_all, fields(role = %request.get_ref().name))]
    async fn get_role(
        &self,
        request: Request<pb::GetRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        actor(&request)?;
        let role = self.roles.get_role(&request.get_ref().name).await?;
        Ok(Response::new(role_to_proto(role)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Result<Response<pb::ListRolesResponse>, Status> {
        actor(&request)?;
        let req = request.into_inner();
        let limit = paging::page_size(req.page_size, "page_size")?;
        let after =
            paging::decode::<RolesPosition>(&req.page_token, "page_token")?.map(|p| p.after_name);
        let (roles, more) = self.roles.list_roles(after.as_deref(), limit).await?;
        let next_page_token = match (more, roles.last()) {
            (true, Some(last)) => paging::encode(&RolesPosition {
                after_name: last.name.clone(),
            }),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListRolesResponse {
            roles: roles.into_iter().map(role_to_proto).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(role = %request.get_ref().name))]
    async fn update_role(
        &self,
        request: Request<pb::UpdateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let actor = actor(&request)?;
        let req = request.into_inner();
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(Error::invalid_field(
                "update_mask",
                "is required: \"description\" and/or \"permissions\"",
            )
            .into());
        }
        let mut patch = RolePatch {
            expected_version: (req.expected_version != 0).then_some(req.expected_version),
            ..RolePatch::default()
        };
        for path in &paths {
            match path.as_str() {
                "description" => {
                    patch.description = Some(parse::description("description", &req.description)?)
                }
                "permissions" => {
                    patch.permissions = Some(parse::permissions("permissions", &req.permissions)?)
                }
                other => {
                    return Err(Error::invalid_field(
                        "update_mask",
                        format!("unknown path {other:?}"),
                    )
                    .into());
                }
            }
        }
        let role = self.roles.update_role(&actor, &req.name, patch).await?;
        Ok(Response::new(role_to_proto(role)))
    }

    #[tracing::instrument(skip_all, fields(role = %request.get_ref().name, force = request.get_ref().force))]
    async fn delete_role(
        &self,
        request: Request<pb::DeleteRoleRequest>,
    ) -> Result<Response<pb::DeleteRoleResponse>, Status> {
        let actor = actor(&request)?;
        let req = request.into_inner();
        let (revoked_grants, seq) = self.roles.delete_role(&actor, &req.name, req.force).await?;
        Ok(Response::new(pb::DeleteRoleResponse {
            revoked_grants,
            event_cursor: seq.to_string(),
        }))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id, role = %request.get_ref().role))]
    async fn grant_role(
        &self,
        request: Request<pb::GrantRoleRequest>,
    ) -> Result<Response<pb::GrantRoleResponse>, Status> {
        let actor = actor(&request)?;
        let req = request.into_inner();
        let grant = GrantRequest {
            user_id: parse::user_id("user_id", req.user_id)?,
            role: req.role,
            scope: scope_from("scope", req.scope, true)?,
            expires_at: req
                .expires_at
                .as_ref()
                .map(|t| time_from("expires_at", t))
                .transpose()?,
        };
        let outcome = self.roles.grant(&actor, grant).await?;
        Ok(Response::new(pb::GrantRoleResponse {
            grant: Some(grant_to_proto(outcome.grant)),
            created: outcome.created,
            event_cursor: outcome.event_seq.to_string(),
        }))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id, role = %request.get_ref().role))]
    async fn revoke_role(
        &self,
        request: Request<pb::RevokeRoleRequest>,
    ) -> Result<Response<pb::RevokeRoleResponse>, Status> {
        let actor = actor(&request)?;
        let req = request.into_inner();
        let user_id = parse::user_id("user_id", req.user_id)?;
        let scope = scope_from("scope", req.scope, true)?;
        let (grant, seq) = self
            .roles
            .revoke(&actor, user_id, &req.role, &scope)
            .await?;
        Ok(Response::new(pb::RevokeRoleResponse {
            grant: Some(grant_to_proto(grant)),
            event_cursor: seq.to_string(),
        }))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn list_user_roles(
        &self,
        request: Request<pb::ListUserRolesRequest>,
    ) -> Result<Response<pb::ListUserRolesResponse>, Status> {
        actor(&request)?;
        let req = request.into_inner();
        let user_id = parse::user_id("user_id", req.user_id)?;
        let limit = paging::page_size(req.page_size, "page_size")?;
        let after_id = match paging::decode::<UserGrantsPosition>(&req.page_token, "page_token")? {
            Some(position) if position.user_id != user_id => {
                return Err(foreign_page_token().into());
            }
            Some(position) => position.after_id,
            None => 0,
        };
        let (grants, more) = self
            .roles
            .list_user_grants(user_id, after_id, limit)
            .await?;
        let next_page_token = match (more, grants.last()) {
            (true, Some(last)) => paging::encode(&UserGrantsPosition {
                user_id,
                after_id: last.id,
            }),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListUserRolesResponse {
            grants: grants.into_iter().map(grant_to_proto).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(role = %request.get_ref().role))]
    async fn list_role_members(
        &self,
        request: Request<pb::ListRoleMembersRequest>,
    ) -> Result<Response<pb::ListRoleMembersResponse>, Status> {
        actor(&request)?;
        let req = request.into_inner();
        let limit = paging::page_size(req.page_size, "page_size")?;
        let after = match paging::decode::<MembersPosition>(&req.page_token, "page_token")? {
            Some(position) if position.role != req.role => return Err(foreign_page_token().into()),
            Some(position) => Some((position.user_id, position.after_id)),
            None => None,
        };
        let (grants, more) = self
            .roles
            .list_role_members(&req.role, after, limit)
            .await?;
        let next_page_token = match (more, grants.last()) {
            (true, Some(last)) => paging::encode(&MembersPosition {
                role: req.role.clone(),
                user_id: last.user_id,
                after_id: last.id,
            }),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListRoleMembersResponse {
            grants: grants.into_iter().map(grant_to_proto).collect(),
            next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id, permission = %request.get_ref().permission))]
    async fn check_permission(
        &self,
        request: Request<pb::CheckPermissionRequest>,
    ) -> Result<Response<pb::CheckPermissionResponse>, Status> {
        actor(&request)?;
        let req = request.into_inner();
        let query = check_query("", req.user_id, &req.permission, req.scope)?;
        let outcome = self
            .roles
            .check(std::slice::from_ref(&query))
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        Ok(Response::new(outcome_to_proto(outcome)))
    }

    #[tracing::instrument(skip_all, fields(checks = request.get_ref().checks.len()))]
    async fn batch_check_permissions(
        &self,
        request: Request<pb::BatchCheckPermissionsRequest>,
    ) -> Result<Response<pb::BatchCheckPermissionsResponse>, Status> {
        actor(&request)?;
        let req = request.into_inner();
        if req.checks.is_empty() || req.checks.len() > MAX_BATCH_CHECKS {
            return Err(Error::invalid_field(
                "checks",
                format!("must hold 1–{MAX_BATCH_CHECKS} checks"),
            )
            .into());
        }
        let queries = req
            .checks
            .into_iter()
            .enumerate()
            .map(|(i, c)| check_query(&format!("checks[{i}]."), c.user_id, &c.permission, c.scope))
            .collect::<Result<Vec<_>>>()?;
        let results = self.roles.check(&queries).await?;
        Ok(Response::new(pb::BatchCheckPermissionsResponse {
            results: results.into_iter().map(outcome_to_proto).collect(),
        }))
    }

    type WatchRoleEventsStream = EventStream;

    #[tracing::instrument(skip_all)]
    async fn watch_role_events(
        &self,
        request: Request<pb::WatchRoleEventsRequest>,
    ) -> Result<Response<Self::WatchRoleEventsStream>, Status> {
        let actor = actor(&request)?;
        refuse_users(&actor, "WatchRoleEvents")?;
        let req = request.into_inner();
        let start = if req.from_now {
            if !req.after_cursor.is_empty() {
                return Err(Error::invalid_field(
                    "from_now",
                    "cannot be combined with after_cursor",
                )
                .into());
            }
            self.roles.last_event_seq().await?
        } else if req.after_cursor.is_empty() {
            0
        } else {
            cursor_seq(&req.after_cursor)?
        };
        let roles = self.roles.clone();
        let stream = roster_kit::events::follow(
            start,
            self.roles.changes().clone(),
            self.poll_interval,
            move |after, limit| {
                let roles = roles.clone();
                async move {
                    Ok(roles
                        .events_after(after, limit)
                        .await?
                        .into_iter()
                        .map(|event| (event.seq, event_to_proto(event)))
                        .collect())
                }
            },
        );
        let mut response = Response::new(stream);
        let value = start
            .to_string()
            .parse()
            .map_err(|_| Status::internal("cursor is not ASCII"))?;
        response
            .metadata_mut()
            .insert(WATCH_START_CURSOR_HEADER, value);
        Ok(response)
    }
}
