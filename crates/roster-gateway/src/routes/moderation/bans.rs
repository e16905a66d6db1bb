//! Global bans.

use axum::{Json, extract::State, response::Response};
use chrono::{DateTime, Utc};
use roster_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{flags::ReasonParams, ok_or_created};
use crate::{
    app::App,
    call::Call,
    error::ApiResult,
    extract::{JsonBody, Params, QueryParams},
    routes::user_id,
    views::{moderation::Ban, next_page, timestamp},
};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(get_ban, ban_user, unban_user))
        .routes(routes!(list_bans))
}

/// A user's ban: the current one, or the last (BAN_USER).
#[utoipa::path(get, path = "/v1/users/{id}/ban", tag = "moderation", operation_id = "getBan",
    params(("id" = String, Path, description = "The user's id.", pattern = r"^(me|[1-9][0-9]{0,17})$")),
    responses((status = 200, description = "The ban; `state` says whether it applies.", body = Ban)))]
async fn get_ban(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
) -> ApiResult<Json<Ban>> {
    let request = pb::GetBanRequest {
        user_id: user_id(&call, &id)?,
    };
    let ban = app
        .moderation()
        .get_ban(call.request(request))
        .await?
        .into_inner();
    Ok(Json(Ban::from(ban)))
}

/// A ban to place.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewBan {
    /// At most 500 characters.
    #[serde(default)]
    pub reason: String,
    /// Absent: permanent. Must be in the future.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The ban as stored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BanResult {
    pub ban: Ban,
    /// False when the user was banned already (reason and expiry replaced).
    pub created: bool,
    pub event_cursor: String,
}

/// Ban a user from the whole network (BAN_USER).
#[utoipa::path(put, path = "/v1/users/{id}/ban", tag = "moderation", operation_id = "banUser",
    params(("id" = String, Path, description = "The user's id.", pattern = r"^(me|[1-9][0-9]{0,17})$")),
    request_body = NewBan,
    responses(
        (status = 201, description = "A new ban.", body = BanResult),
        (status = 200, description = "The ban's reason and expiry replaced.", body = BanResult)))]
async fn ban_user(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    JsonBody(body): JsonBody<NewBan>,
) -> ApiResult<Response> {
    let request = pb::BanUserRequest {
        user_id: user_id(&call, &id)?,
        reason: body.reason,
        expires_at: body.expires_at.map(timestamp),
    };
    let banned = app
        .moderation()
        .ban_user(call.request(request))
        .await?
        .into_inner();
    let result = BanResult {
        ban: Ban::from(banned.ban.unwrap_or_default()),
        created: banned.created,
        event_cursor: banned.event_cursor,
    };
    Ok(ok_or_created(result.created, result))
}

/// The lifted ban.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnbanResult {
    pub ban: Ban,
    pub event_cursor: String,
}

/// Lift a user's active ban (BAN_USER).
#[utoipa::path(delete, path = "/v1/users/{id}/ban", tag = "moderation", operation_id = "unbanUser",
    params(("id" = String, Path, description = "The user's id.", pattern = r"^(me|[1-9][0-9]{0,17})$"), ReasonParams),
    responses((status = 200, description = "The ban, now LIFTED.", body = UnbanResult)))]
async fn unban_user(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    QueryParams(params): QueryParams<ReasonParams>,
) -> ApiResult<Json<UnbanResult>> {
    let request = pb::UnbanUserRequest {
        user_id: user_id(&call, &id)?,
        reason: params.reason.unwrap_or_default(),
    };
    let lifted = app
        .moderation()
        .unban_user(call.request(request))
        .await?
        .into_inner();
    Ok(Json(UnbanResult {
        ban: Ban::from(lifted.ban.unwrap_or_default()),
        event_cursor: lifted.event_cursor,
    }))
}

/// Which bans.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BanFilter {
    Active,
    Expired,
    Lifted,
    All,
}

/// Which bans, and which page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct BanParams {
    /// ACTIVE (the default), EXPIRED, LIFTED or ALL.
    #[param(inline)]
    filter: Option<BanFilter>,
    /// 1–100; 0 or absent means 20.
    #[param(maximum = 100)]
    page_size: Option<u32>,
    page_token: Option<String>,
}

/// One page of bans.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BanPage {
    pub bans: Vec<Ban>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// Bans, newest first (BAN_USER).
#[utoipa::path(get, path = "/v1/bans", tag = "moderation", operation_id = "listBans",
    params(BanParams),
    responses((status = 200, description = "One page of bans.", body = BanPage)))]
async fn list_bans(
    State(app): State<App>,
    call: Call,
    QueryParams(params): QueryParams<BanParams>,
) -> ApiResult<Json<BanPage>> {
    let filter = match params.filter {
        None => pb::BanFilter::Unspecified,
        Some(BanFilter::Active) => pb::BanFilter::Active,
        Some(BanFilter::Expired) => pb::BanFilter::Expired,
        Some(BanFilter::Lifted) => pb::BanFilter::Lifted,
        Some(BanFilter::All) => pb::BanFilter::All,
    };
    let request = pb::ListBansRequest {
        filter: filter.into(),
        page_size: params.page_size.unwrap_or_default(),
        page_token: params.page_token.unwrap_or_default(),
    };
    let page = app
        .moderation()
        .list_bans(call.request(request))
        .await?
        .into_inner();
    Ok(Json(BanPage {
        bans: page.bans.into_iter().map(Ban::from).collect(),
        next_page_token: next_page(page.next_page_token),
    }))
}
