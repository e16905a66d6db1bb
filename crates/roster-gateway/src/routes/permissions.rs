//! `/v1/permissions`: the catalogue, and permission checks.

use axum::{Json, extract::State};
use roster_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::App,
    call::Call,
    error::ApiResult,
    extract::JsonBody,
    views::roles::{Permission, PermissionCheckResult, Scope},
};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_permissions))
        .routes(routes!(check_permission))
        .routes(routes!(batch_check_permissions))
}

/// The permission catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionCatalogue {
    pub permissions: Vec<Permission>,
}

/// The whole permission catalogue, grouped.
#[utoipa::path(get, path = "/v1/permissions", tag = "permissions", operation_id = "listPermissions",
    responses((status = 200, description = "Every permission.", body = PermissionCatalogue)))]
async fn list_permissions(
    State(app): State<App>,
    call: Call,
) -> ApiResult<Json<PermissionCatalogue>> {
    let catalogue = app
        .roles()
        .list_permissions(call.request(pb::ListPermissionsRequest {}))
        .await?
        .into_inner();
    Ok(Json(PermissionCatalogue {
        permissions: catalogue
            .permissions
            .into_iter()
            .map(Permission::from)
            .collect(),
    }))
}

/// Does a user hold a permission here?
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermissionCheck {
    pub user_id: i64,
    /// A catalogue name, e.g. "DELETE_MESSAGE".
    pub permission: String,
    /// Absent: network-wide.
    #[serde(default)]
    pub scope: Scope,
}

impl PermissionCheck {
    fn into_proto(self, field: &str) -> ApiResult<(i64, String, pb::Scope)> {
        Ok((self.user_id, self.permission, self.scope.to_proto(field)?))
    }
}

/// Whether a user holds a permission in a scope, and which grant gave it.
#[utoipa::path(post, path = "/v1/permissions:check", tag = "permissions", operation_id = "checkPermission",
    request_body = PermissionCheck,
    responses((status = 200, description = "The answer.", body = PermissionCheckResult)))]
async fn check_permission(
    State(app): State<App>,
    call: Call,
    JsonBody(check): JsonBody<PermissionCheck>,
) -> ApiResult<Json<PermissionCheckResult>> {
    let (user_id, permission, scope) = check.into_proto("scope")?;
    let request = pb::CheckPermissionRequest {
        user_id,
        permission,
        scope: Some(scope),
    };
    let answer = app
        .roles()
        .check_permission(call.request(request))
        .await?
        .into_inner();
    Ok(Json(PermissionCheckResult::from(answer)))
}

/// Up to 100 checks.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchPermissionChecks {
    pub checks: Vec<PermissionCheck>,
}

/// One answer per check, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchPermissionResults {
    pub results: Vec<PermissionCheckResult>,
}

/// Up to 100 permission checks in one call.
#[utoipa::path(post, path = "/v1/permissions:batchCheck", tag = "permissions",
    operation_id = "batchCheckPermissions",
    request_body = BatchPermissionChecks,
    responses((status = 200, description = "One answer per check.", body = BatchPermissionResults)))]
async fn batch_check_permissions(
    State(app): State<App>,
    call: Call,
    JsonBody(body): JsonBody<BatchPermissionChecks>,
) -> ApiResult<Json<BatchPermissionResults>> {
    let checks = body
        .checks
        .into_iter()
        .enumerate()
        .map(|(i, check)| {
            let (user_id, permission, scope) = check.into_proto(&format!("checks[{i}].scope"))?;
            Ok(pb::PermissionCheck {
                user_id,
                permission,
                scope: Some(scope),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let request = pb::BatchCheckPermissionsRequest { checks };
    let answers = app
        .roles()
        .batch_check_permissions(call.request(request))
        .await?
        .into_inner();
    Ok(Json(BatchPermissionResults {
        results: answers
            .results
            .into_iter()
            .map(PermissionCheckResult::from)
            .collect(),
    }))
}
