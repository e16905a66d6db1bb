//! Flags: users report users to the moderators.

use axum::{Json, extract::State, response::Response};
use roster_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::ok_or_created;
use crate::{
    app::App,
    call::Call,
    error::ApiResult,
    extract::{JsonBody, Params, QueryParams},
    routes::{roles::PageParams, user_id},
    views::{
        moderation::{Flag, FlagReason},
        next_page,
    },
};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(flag_user, unflag_user))
        .routes(routes!(flagged_by_me))
        .routes(routes!(list_flags, clear_flags))
}

/// Why the caller flags the user.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewFlag {
    /// Absent: OTHER.
    pub reason: Option<FlagReason>,
    /// At most 1000 characters.
    #[serde(default)]
    pub note: String,
}

/// The caller's flag as stored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlagResult {
    pub flag: Flag,
    /// False when the caller had flagged the user before (reason and note replaced).
    pub created: bool,
    pub flag_count: i64,
    pub event_cursor: String,
}

/// Flag a user: report it to the moderators (any caller; one flag per flagger).
#[utoipa::path(put, path = "/v1/users/{id}/flags/me", tag = "moderation", operation_id = "flagUser",
    params(("id" = String, Path, description = "The flagged user's id.", pattern = r"^(me|[1-9][0-9]{0,17})$")),
    request_body = NewFlag,
    responses(
        (status = 201, description = "A new flag.", body = FlagResult),
        (status = 200, description = "The caller's flag, its reason and note replaced.", body = FlagResult)))]
async fn flag_user(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    JsonBody(body): JsonBody<NewFlag>,
) -> ApiResult<Response> {
    let request = pb::FlagUserRequest {
        user_id: user_id(&call, &id)?,
        reason: body
            .reason
            .map_or(pb::FlagReason::Unspecified, FlagReason::to_proto)
            .into(),
        note: body.note,
    };
    let flagged = app
        .moderation()
        .flag_user(call.request(request))
        .await?
        .into_inner();
    let result = FlagResult {
        flag: Flag::from(flagged.flag.unwrap_or_default()),
        created: flagged.created,
        flag_count: flagged.flag_count,
        event_cursor: flagged.event_cursor,
    };
    Ok(ok_or_created(result.created, result))
}

/// The withdrawn flag.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnflagResult {
    pub flag: Flag,
    pub flag_count: i64,
    pub event_cursor: String,
}

/// Withdraw the caller's flag on a user.
#[utoipa::path(delete, path = "/v1/users/{id}/flags/me", tag = "moderation", operation_id = "unflagUser",
    params(("id" = String, Path, description = "The flagged user's id.", pattern = r"^(me|[1-9][0-9]{0,17})$")),
    responses((status = 200, description = "The removed flag.", body = UnflagResult)))]
async fn unflag_user(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
) -> ApiResult<Json<UnflagResult>> {
    let request = pb::UnflagUserRequest {
        user_id: user_id(&call, &id)?,
    };
    let removed = app
        .moderation()
        .unflag_user(call.request(request))
        .await?
        .into_inner();
    Ok(Json(UnflagResult {
        flag: Flag::from(removed.flag.unwrap_or_default()),
        flag_count: removed.flag_count,
        event_cursor: removed.event_cursor,
    }))
}

/// Up to 100 user ids.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlaggedByMeQuestion {
    pub user_ids: Vec<i64>,
}

/// Whether the caller flagged one user.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlaggedByMe {
    pub user_id: i64,
    pub flagged: bool,
}

/// One answer per asked id, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlaggedByMeAnswer {
    pub results: Vec<FlaggedByMe>,
}

/// Which of these users the caller has flagged.
#[utoipa::path(post, path = "/v1/users:flaggedByMe", tag = "moderation", operation_id = "isFlaggedByMe",
    request_body = FlaggedByMeQuestion,
    responses((status = 200, description = "One answer per id.", body = FlaggedByMeAnswer)))]
async fn flagged_by_me(
    State(app): State<App>,
    call: Call,
    JsonBody(body): JsonBody<FlaggedByMeQuestion>,
) -> ApiResult<Json<FlaggedByMeAnswer>> {
    let request = pb::IsFlaggedByMeRequest {
        user_ids: body.user_ids,
    };
    let answer = app
        .moderation()
        .is_flagged_by_me(call.request(request))
        .await?
        .into_inner();
    Ok(Json(FlaggedByMeAnswer {
        results: answer
            .results
            .into_iter()
            .map(|r| FlaggedByMe {
                user_id: r.user_id,
                flagged: r.flagged,
            })
            .collect(),
    }))
}

/// One page of the flags against a user.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlagPage {
    pub flags: Vec<Flag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    pub flag_count: i64,
}

/// The flags raised against a user, newest first (BAN_USER).
#[utoipa::path(get, path = "/v1/users/{id}/flags", tag = "moderation", operation_id = "listFlags",
    params(("id" = String, Path, description = "The flagged user's id.", pattern = r"^(me|[1-9][0-9]{0,17})$"), PageParams),
    responses((status = 200, description = "One page of flags.", body = FlagPage)))]
async fn list_flags(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    QueryParams(page): QueryParams<PageParams>,
) -> ApiResult<Json<FlagPage>> {
    let request = pb::ListFlagsRequest {
        user_id: user_id(&call, &id)?,
        page_size: page.page_size.unwrap_or_default(),
        page_token: page.page_token.unwrap_or_default(),
    };
    let page = app
        .moderation()
        .list_flags(call.request(request))
        .await?
        .into_inner();
    Ok(Json(FlagPage {
        flags: page.flags.into_iter().map(Flag::from).collect(),
        next_page_token: next_page(page.next_page_token),
        flag_count: page.flag_count,
    }))
}

/// Why, for the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReasonParams {
    /// At most 500 characters.
    pub reason: Option<String>,
}

/// What clearing the flags removed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlagsCleared {
    pub removed_count: i64,
    /// Empty when nothing was removed.
    pub event_cursor: String,
}

/// Dismiss every flag against a user (BAN_USER).
#[utoipa::path(delete, path = "/v1/users/{id}/flags", tag = "moderation", operation_id = "clearFlags",
    params(("id" = String, Path, description = "The flagged user's id.", pattern = r"^(me|[1-9][0-9]{0,17})$"), ReasonParams),
    responses((status = 200, description = "What was removed.", body = FlagsCleared)))]
async fn clear_flags(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    QueryParams(params): QueryParams<ReasonParams>,
) -> ApiResult<Json<FlagsCleared>> {
    let request = pb::ClearFlagsRequest {
        user_id: user_id(&call, &id)?,
        reason: params.reason.unwrap_or_default(),
    };
    let cleared = app
        .moderation()
        .clear_flags(call.request(request))
        .await?
        .into_inner();
    Ok(Json(FlagsCleared {
        removed_count: cleared.removed_count,
        event_cursor: cleared.event_cursor,
    }))
}
