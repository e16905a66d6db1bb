//! `/v1/roles`: the built-in and custom roles, and who holds them.

use axum::{Json, extract::State, response::Response};
use http::{HeaderMap, StatusCode};
use roster_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{created, if_match, tagged};
use crate::{
    app::App,
    call::Call,
    error::ApiResult,
    extract::{JsonBody, Params, QueryParams},
    views::{
        next_page,
        roles::{Role, RoleGrant},
    },
};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
        .routes(routes!(list_role_members))
}

/// A page of a listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1–100; 0 or absent means 20.
    #[param(maximum = 100)]
    pub page_size: Option<u32>,
    /// `nextPageToken` of the previous page.
    pub page_token: Option<String>,
}

/// One page of roles, by name.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolePage {
    pub roles: Vec<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// List every role, built-in and custom.
#[utoipa::path(get, path = "/v1/roles", tag = "roles", operation_id = "listRoles",
    params(PageParams),
    responses((status = 200, description = "One page of roles.", body = RolePage)))]
async fn list_roles(
    State(app): State<App>,
    call: Call,
    QueryParams(page): QueryParams<PageParams>,
) -> ApiResult<Json<RolePage>> {
    let request = pb::ListRolesRequest {
        page_size: page.page_size.unwrap_or_default(),
        page_token: page.page_token.unwrap_or_default(),
    };
    let page = app
        .roles()
        .list_roles(call.request(request))
        .await?
        .into_inner();
    Ok(Json(RolePage {
        roles: page.roles.into_iter().map(Role::from).collect(),
        next_page_token: next_page(page.next_page_token),
    }))
}

/// A new custom role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRole {
    /// 1–64 characters of a–z, 0–9, '-' and '_'.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Catalogue permission names (see `GET /v1/permissions`).
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// Create a custom role (needs CREATE_ROLE).
#[utoipa::path(post, path = "/v1/roles", tag = "roles", operation_id = "createRole",
    request_body = CreateRole,
    responses((status = 201, description = "The new role.", body = Role,
        headers(("Location" = String), ("ETag" = String)))))]
async fn create_role(
    State(app): State<App>,
    call: Call,
    JsonBody(body): JsonBody<CreateRole>,
) -> ApiResult<Response> {
    let request = pb::CreateRoleRequest {
        name: body.name,
        description: body.description,
        permissions: body.permissions,
    };
    let role = app
        .roles()
        .create_role(call.request(request))
        .await?
        .into_inner();
    let location = format!("/v1/roles/{}", role.name);
    let version = role.version;
    let mut response = created(&location, Json(Role::from(role)));
    response
        .headers_mut()
        .insert(http::header::ETAG, super::etag(version));
    Ok(response)
}

/// Read a role.
#[utoipa::path(get, path = "/v1/roles/{name}", tag = "roles", operation_id = "getRole",
    params(("name" = String, Path, description = "The role's name.")),
    responses((status = 200, description = "The role.", body = Role, headers(("ETag" = String)))))]
async fn get_role(
    State(app): State<App>,
    call: Call,
    Params(name): Params<String>,
) -> ApiResult<Response> {
    let role = app
        .roles()
        .get_role(call.request(pb::GetRoleRequest { name }))
        .await?
        .into_inner();
    Ok(tagged(StatusCode::OK, role.version, Json(Role::from(role))))
}

/// A merge patch of a custom role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolePatch {
    /// At most 500 characters.
    pub description: Option<String>,
    /// The complete new permission set.
    pub permissions: Option<Vec<String>>,
}

/// Change a custom role's description and/or permissions (needs EDIT_ROLE).
#[utoipa::path(patch, path = "/v1/roles/{name}", tag = "roles", operation_id = "updateRole",
    params(("name" = String, Path, description = "The role's name."),
        ("If-Match" = Option<String>, Header, description = "The ETag (version) the change applies to.")),
    request_body(content = RolePatch, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The changed role.", body = Role, headers(("ETag" = String)))))]
async fn update_role(
    State(app): State<App>,
    call: Call,
    Params(name): Params<String>,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<RolePatch>,
) -> ApiResult<Response> {
    let mut paths = Vec::new();
    if patch.description.is_some() {
        paths.push("description".to_owned());
    }
    if patch.permissions.is_some() {
        paths.push("permissions".to_owned());
    }
    let request = pb::UpdateRoleRequest {
        name,
        update_mask: Some(prost_types::FieldMask { paths }),
        description: patch.description.unwrap_or_default(),
        permissions: patch.permissions.unwrap_or_default(),
        expected_version: if_match(&headers)?,
    };
    let role = app
        .roles()
        .update_role(call.request(request))
        .await?
        .into_inner();
    Ok(tagged(StatusCode::OK, role.version, Json(Role::from(role))))
}

/// Whether to revoke the role's grants too.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteRoleParams {
    /// Also revoke every grant of the role (otherwise a granted role is not deleted).
    force: Option<bool>,
}

/// What deleting a role did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleDeleted {
    pub revoked_grants: i64,
    /// Cursor of the ROLE_DELETED event.
    pub event_cursor: String,
}

/// Delete a custom role (needs DELETE_ROLE).
#[utoipa::path(delete, path = "/v1/roles/{name}", tag = "roles", operation_id = "deleteRole",
    params(("name" = String, Path, description = "The role's name."), DeleteRoleParams),
    responses((status = 200, description = "The role is gone.", body = RoleDeleted)))]
async fn delete_role(
    State(app): State<App>,
    call: Call,
    Params(name): Params<String>,
    QueryParams(params): QueryParams<DeleteRoleParams>,
) -> ApiResult<Json<RoleDeleted>> {
    let request = pb::DeleteRoleRequest {
        name,
        force: params.force.unwrap_or_default(),
    };
    let deleted = app
        .roles()
        .delete_role(call.request(request))
        .await?
        .into_inner();
    Ok(Json(RoleDeleted {
        revoked_grants: deleted.revoked_grants,
        event_cursor: deleted.event_cursor,
    }))
}

/// One page of grants.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantPage {
    pub grants: Vec<RoleGrant>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// Who holds a role: its unexpired grants, by user id.
#[utoipa::path(get, path = "/v1/roles/{name}/members", tag = "roles", operation_id = "listRoleMembers",
    params(("name" = String, Path, description = "The role's name."), PageParams),
    responses((status = 200, description = "One page of the role's grants.", body = GrantPage)))]
async fn list_role_members(
    State(app): State<App>,
    call: Call,
    Params(name): Params<String>,
    QueryParams(page): QueryParams<PageParams>,
) -> ApiResult<Json<GrantPage>> {
    let request = pb::ListRoleMembersRequest {
        role: name,
        page_size: page.page_size.unwrap_or_default(),
        page_token: page.page_token.unwrap_or_default(),
    };
    let page = app
        .roles()
        .list_role_members(call.request(request))
        .await?
        .into_inner();
    Ok(Json(GrantPage {
        grants: page.grants.into_iter().map(RoleGrant::from).collect(),
        next_page_token: next_page(page.next_page_token),
    }))
}
