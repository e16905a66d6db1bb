//! `/v1/users/{id}/roles`: a user's role grants, granting and revoking.

use axum::{Json, extract::State, response::Response};
use chrono::{DateTime, Utc};
use http::StatusCode;
use roster_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    roles::{GrantPage, PageParams},
    user_id,
};
use crate::{
    app::App,
    call::Call,
    error::ApiResult,
    extract::{JsonBody, Params, QueryParams},
    views::{
        next_page,
        roles::{RoleGrant, Scope},
        timestamp,
    },
};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_user_roles, grant_role))
        .routes(routes!(revoke_role))
}

/// A user's unexpired grants, oldest first.
#[utoipa::path(get, path = "/v1/users/{id}/roles", tag = "grants", operation_id = "listUserRoles",
    params(("id" = String, Path, description = "A user id, or `me`.", pattern = r"^(me|[1-9][0-9]{0,17})$"), PageParams),
    responses((status = 200, description = "One page of the user's grants.", body = GrantPage)))]
async fn list_user_roles(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    QueryParams(page): QueryParams<PageParams>,
) -> ApiResult<Json<GrantPage>> {
    let request = pb::ListUserRolesRequest {
        user_id: user_id(&call, &id)?,
        page_size: page.page_size.unwrap_or_default(),
        page_token: page.page_token.unwrap_or_default(),
    };
    let page = app
        .roles()
        .list_user_roles(call.request(request))
        .await?
        .into_inner();
    Ok(Json(GrantPage {
        grants: page.grants.into_iter().map(RoleGrant::from).collect(),
        next_page_token: next_page(page.next_page_token),
    }))
}

/// A role to grant, where, and until when.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewGrant {
    pub role: String,
    /// Required: `{"network": {}}`, `{"channelId": "…"}` or `{"communityId": "…"}`.
    #[serde(default)]
    pub scope: Scope,
    /// Optional; must be in the future.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The grant as stored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantResult {
    pub grant: RoleGrant,
    /// False when the user already held the role there (its expiry was replaced).
    pub created: bool,
    pub event_cursor: String,
}

/// Grant a role to a user in a scope (needs ASSIGN_USER_ROLE there).
#[utoipa::path(post, path = "/v1/users/{id}/roles", tag = "grants", operation_id = "grantRole",
    params(("id" = String, Path, description = "A user id, or `me`.", pattern = r"^(me|[1-9][0-9]{0,17})$")),
    request_body = NewGrant,
    responses(
        (status = 201, description = "A new grant.", body = GrantResult),
        (status = 200, description = "The grant existed; its expiry was replaced.", body = GrantResult)))]
async fn grant_role(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    JsonBody(body): JsonBody<NewGrant>,
) -> ApiResult<Response> {
    let request = pb::GrantRoleRequest {
        user_id: user_id(&call, &id)?,
        role: body.role,
        scope: Some(body.scope.to_proto("scope")?),
        expires_at: body.expires_at.map(timestamp),
    };
    let granted = app
        .roles()
        .grant_role(call.request(request))
        .await?
        .into_inner();
    let status = if granted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = GrantResult {
        grant: granted
            .grant
            .map(RoleGrant::from)
            .unwrap_or_else(|| RoleGrant::from(pb::RoleGrant::default())),
        created: granted.created,
        event_cursor: granted.event_cursor,
    };
    Ok(axum::response::IntoResponse::into_response((
        status,
        Json(body),
    )))
}

/// The scope of the grant to revoke; neither means the network.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ScopeParams {
    channel_id: Option<String>,
    community_id: Option<String>,
}

/// The revoked grant.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokeResult {
    pub grant: RoleGrant,
    pub event_cursor: String,
}

/// Revoke a user's grant of a role in exactly one scope.
#[utoipa::path(delete, path = "/v1/users/{id}/roles/{role}", tag = "grants", operation_id = "revokeRole",
    params(("id" = String, Path, description = "A user id, or `me`.", pattern = r"^(me|[1-9][0-9]{0,17})$"),
        ("role" = String, Path, description = "The role's name."), ScopeParams),
    responses((status = 200, description = "The removed grant.", body = RevokeResult)))]
async fn revoke_role(
    State(app): State<App>,
    call: Call,
    Params((id, role)): Params<(String, String)>,
    QueryParams(scope): QueryParams<ScopeParams>,
) -> ApiResult<Json<RevokeResult>> {
    let network = scope.channel_id.is_none() && scope.community_id.is_none();
    let scope = Scope {
        network: network.then(Default::default),
        channel_id: scope.channel_id,
        community_id: scope.community_id,
    };
    let request = pb::RevokeRoleRequest {
        user_id: user_id(&call, &id)?,
        role,
        scope: Some(scope.to_proto("scope")?),
    };
    let revoked = app
        .roles()
        .revoke_role(call.request(request))
        .await?
        .into_inner();
    Ok(Json(RevokeResult {
        grant: RoleGrant::from(revoked.grant.unwrap_or_default()),
        event_cursor: revoked.event_cursor,
    }))
}
