//! The tonic service `roster.v1.RoleService`: each handler authenticates the
//! caller, parses the request ([`convert`]), makes one domain call and returns
//! its view. The rules, authorisation included, live in the domain.

pub mod convert;
mod watch;

#[cfg(test)]
mod properties;

use std::{sync::Arc, time::Duration};

use roster_kit::{
    auth::actor,
    events::EventStream,
    idempotency::{IdempotencyLedger, IdempotentCall},
};
use roster_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::domain::{Roles, WatchStart};

/// The `roster.v1.RoleService` implementation; cheap to clone.
#[derive(Clone)]
pub struct RoleApi {
    roles: Arc<Roles>,
    poll_interval: Duration,
    idempotency: IdempotencyLedger,
}

impl RoleApi {
    /// `poll_interval`: how often watch streams look for other replicas'
    /// commits; `idempotency`: the ledger of keyed mutations.
    pub fn new(roles: Arc<Roles>, poll_interval: Duration, idempotency: IdempotencyLedger) -> Self {
        Self {
            roles,
            poll_interval,
            idempotency,
        }
    }

    pub fn roles(&self) -> &Arc<Roles> {
        &self.roles
    }
}

#[tonic::async_trait]
impl pb::role_service_server::RoleService for RoleApi {
    #[tracing::instrument(skip_all)]
    async fn list_permissions(
        &self,
        request: Request<pb::ListPermissionsRequest>,
    ) -> Result<Response<pb::ListPermissionsResponse>, Status> {
        actor(&request)?;
        Ok(Response::new(convert::catalogue()))
    }

    #[tracing::instrument(skip_all, fields(role = %request.get_ref().name))]
    async fn create_role(
        &self,
        request: Request<pb::CreateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let actor = actor(&request)?;
        let new = request.into_inner().try_into()?;
        let role = self.roles.create_role(&actor, new).await?;
        Ok(Response::new(convert::role(role)))
    }

    #[tracing::instrument(skip_all, fields(role = %request.get_ref().name))]
    async fn get_role(
        &self,
        request: Request<pb::GetRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        actor(&request)?;
        let role = self.roles.get_role(&request.get_ref().name).await?;
        Ok(Response::new(convert::role(role)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Result<Response<pb::ListRolesResponse>, Status> {
        actor(&request)?;
        let query = request.into_inner().try_into()?;
        let page = self.roles.list_roles(&query).await?;
        Ok(Response::new(convert::roles_page(page)))
    }

    #[tracing::instrument(skip_all, fields(role = %request.get_ref().name))]
    async fn update_role(
        &self,
        request: Request<pb::UpdateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let actor = actor(&request)?;
        let update = request.into_inner().try_into()?;
        let role = self.roles.update_role(&actor, update).await?;
        Ok(Response::new(convert::role(role)))
    }

    #[tracing::instrument(skip_all, fields(role = %request.get_ref().name, force = request.get_ref().force))]
    async fn delete_role(
        &self,
        request: Request<pb::DeleteRoleRequest>,
    ) -> Result<Response<pb::DeleteRoleResponse>, Status> {
        let actor = actor(&request)?;
        let pb::DeleteRoleRequest { name, force } = request.into_inner();
        let deleted = self.roles.delete_role(&actor, &name, force).await?;
        Ok(Response::new(pb::DeleteRoleResponse {
            revoked_grants: deleted.revoked_grants,
            event_cursor: deleted.event_seq.to_string(),
        }))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id, role = %request.get_ref().role))]
    async fn grant_role(
        &self,
        request: Request<pb::GrantRoleRequest>,
    ) -> Result<Response<pb::GrantRoleResponse>, Status> {
        let actor = actor(&request)?;
        let call = IdempotentCall::of_request("GrantRole", &request)?;
        let roles = self.roles.clone();
        let work = async move {
            let grant = request.into_inner().try_into()?;
            let outcome = roles.grant(&actor, grant).await?;
            Ok(pb::GrantRoleResponse {
                grant: Some(convert::grant(outcome.grant)),
                created: outcome.created,
                event_cursor: outcome.event_seq.to_string(),
            })
        };
        self.idempotency.once(call, work).await.map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id, role = %request.get_ref().role))]
    async fn revoke_role(
        &self,
        request: Request<pb::RevokeRoleRequest>,
    ) -> Result<Response<pb::RevokeRoleResponse>, Status> {
        let actor = actor(&request)?;
        let call = IdempotentCall::of_request("RevokeRole", &request)?;
        let roles = self.roles.clone();
        let work = async move {
            let revoke = request.into_inner().try_into()?;
            let revoked = roles.revoke(&actor, revoke).await?;
            Ok(pb::RevokeRoleResponse {
                grant: Some(convert::grant(revoked.grant)),
                event_cursor: revoked.event_seq.to_string(),
            })
        };
        self.idempotency.once(call, work).await.map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id, dry_run = request.get_ref().dry_run))]
    async fn revoke_user_grants(
        &self,
        request: Request<pb::RevokeUserGrantsRequest>,
    ) -> Result<Response<pb::RevokeUserGrantsResponse>, Status> {
        let actor = actor(&request)?;
        let revocation = request.into_inner().try_into()?;
        let revoked = self.roles.revoke_user_grants(&actor, revocation).await?;
        Ok(Response::new(convert::user_grants_revoked(revoked)))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn list_user_roles(
        &self,
        request: Request<pb::ListUserRolesRequest>,
    ) -> Result<Response<pb::ListUserRolesResponse>, Status> {
        actor(&request)?;
        let query = request.into_inner().try_into()?;
        let page = self.roles.list_user_grants(query).await?;
        Ok(Response::new(convert::user_grants_page(page)))
    }

    #[tracing::instrument(skip_all, fields(role = %request.get_ref().role))]
    async fn list_role_members(
        &self,
        request: Request<pb::ListRoleMembersRequest>,
    ) -> Result<Response<pb::ListRoleMembersResponse>, Status> {
        actor(&request)?;
        let query = request.into_inner().try_into()?;
        let page = self.roles.list_role_members(&query).await?;
        Ok(Response::new(convert::role_members_page(page)))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id, permission = %request.get_ref().permission))]
    async fn check_permission(
        &self,
        request: Request<pb::CheckPermissionRequest>,
    ) -> Result<Response<pb::CheckPermissionResponse>, Status> {
        actor(&request)?;
        let query = request.into_inner().try_into()?;
        let outcome = self.roles.check_one(query).await?;
        Ok(Response::new(convert::outcome(outcome)))
    }

    #[tracing::instrument(skip_all, fields(checks = request.get_ref().checks.len()))]
    async fn batch_check_permissions(
        &self,
        request: Request<pb::BatchCheckPermissionsRequest>,
    ) -> Result<Response<pb::BatchCheckPermissionsResponse>, Status> {
        actor(&request)?;
        let queries = convert::check_queries(request.into_inner())?;
        let outcomes = self.roles.check(&queries).await?;
        Ok(Response::new(pb::BatchCheckPermissionsResponse {
            results: outcomes.into_iter().map(convert::outcome).collect(),
        }))
    }

    type WatchRoleEventsStream = EventStream<pb::RoleEvent>;

    #[tracing::instrument(skip_all)]
    async fn watch_role_events(
        &self,
        request: Request<pb::WatchRoleEventsRequest>,
    ) -> Result<Response<Self::WatchRoleEventsStream>, Status> {
        let actor = actor(&request)?;
        let start: WatchStart = request.into_inner().try_into()?;
        let after = self.roles.watch_from(&actor, start).await?;
        watch::stream(self.roles.clone(), after, self.poll_interval)
    }
}
