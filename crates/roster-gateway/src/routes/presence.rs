//! `/v1/users/{id}/presence`: a user's presence and call status.

use axum::{Json, extract::State};
use roster_proto::v1 as pb;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::user_id;
use crate::{
    app::App,
    call::Call,
    error::ApiResult,
    extract::{JsonBody, Params},
    views::users::{CallStatus, UserPresence},
};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(get_presence, set_presence))
}

/// Read a user's presence.
#[utoipa::path(get, path = "/v1/users/{id}/presence", tag = "presence", operation_id = "getPresence",
    params(("id" = String, Path, description = "A user id, or `me`.", pattern = r"^(me|[1-9][0-9]{0,17})$")),
    responses((status = 200, description = "The user's presence.", body = UserPresence)))]
async fn get_presence(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
) -> ApiResult<Json<UserPresence>> {
    let id = user_id(&call, &id)?;
    let request = pb::GetUserRequest {
        user: Some(pb::get_user_request::User::Id(id)),
    };
    let user = app
        .users()
        .get_user(call.request(request))
        .await?
        .into_inner();
    Ok(Json(UserPresence::from(&user)))
}

/// A presence change; each member left out keeps its value (at least one is needed).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PresenceChange {
    /// Upper-case status word: 1–32 characters of A–Z, 0–9 and '_'.
    pub status: Option<String>,
    pub online: Option<bool>,
    pub call_status: Option<CallStatus>,
}

/// Set a user's presence (a user its own; another's as for profile changes).
#[utoipa::path(patch, path = "/v1/users/{id}/presence", tag = "presence", operation_id = "setPresence",
    params(("id" = String, Path, description = "A user id, or `me`.", pattern = r"^(me|[1-9][0-9]{0,17})$")),
    request_body = PresenceChange,
    responses((status = 200, description = "The user's presence now.", body = UserPresence)))]
async fn set_presence(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    JsonBody(change): JsonBody<PresenceChange>,
) -> ApiResult<Json<UserPresence>> {
    let id = user_id(&call, &id)?;
    let request = pb::SetPresenceRequest {
        user: Some(pb::UserRef {
            r#ref: Some(pb::user_ref::Ref::Id(id)),
        }),
        status: change.status,
        online: change.online,
        call_status: change.call_status.map(|c| c.to_proto().into()),
    };
    let user = app
        .users()
        .set_presence(call.request(request))
        .await?
        .into_inner();
    Ok(Json(UserPresence::from(&user)))
}
