//! The audit log and the moderation event stream.

use axum::{Json, extract::State, response::Response};
use chrono::{DateTime, Utc};
use http::HeaderMap;
use roster_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::App,
    call::Call,
    error::ApiResult,
    events::{self, Pass, from_watch, last_event_id},
    extract::QueryParams,
    routes::events::sse,
    views::{
        moderation::{AuditEntry, ModerationEvent},
        next_page, timestamp,
    },
};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_audit_entries))
        .routes(routes!(moderation_events))
}

/// A kind of moderation action.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditAction {
    FlagUser,
    UnflagUser,
    ClearFlags,
    BanUser,
    UnbanUser,
    DeleteUser,
    GrantRole,
    RevokeRole,
}

/// Which entries, and which page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only actions on this user.
    target_user_id: Option<i64>,
    /// Only actions by this actor, e.g. "user:42".
    actor: Option<String>,
    #[param(inline)]
    action: Option<AuditAction>,
    /// Only entries at or after this time.
    start_time: Option<DateTime<Utc>>,
    /// Only entries before this time.
    end_time: Option<DateTime<Utc>>,
    /// 1–100; 0 or absent means 20.
    #[param(maximum = 100)]
    page_size: Option<u32>,
    page_token: Option<String>,
}

/// One page of audit entries.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// The audit log of moderation actions, newest first (BAN_USER).
#[utoipa::path(get, path = "/v1/audit-entries", tag = "moderation", operation_id = "listAuditEntries",
    params(AuditParams),
    responses((status = 200, description = "One page of entries.", body = AuditPage)))]
async fn list_audit_entries(
    State(app): State<App>,
    call: Call,
    QueryParams(params): QueryParams<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    use pb::AuditAction as A;
    let action = match params.action {
        None => A::Unspecified,
        Some(AuditAction::FlagUser) => A::FlagUser,
        Some(AuditAction::UnflagUser) => A::UnflagUser,
        Some(AuditAction::ClearFlags) => A::ClearFlags,
        Some(AuditAction::BanUser) => A::BanUser,
        Some(AuditAction::UnbanUser) => A::UnbanUser,
        Some(AuditAction::DeleteUser) => A::DeleteUser,
        Some(AuditAction::GrantRole) => A::GrantRole,
        Some(AuditAction::RevokeRole) => A::RevokeRole,
    };
    let request = pb::ListAuditEntriesRequest {
        target_user_id: params.target_user_id.unwrap_or_default(),
        actor: params.actor.unwrap_or_default(),
        action: action.into(),
        start_time: params.start_time.map(timestamp),
        end_time: params.end_time.map(timestamp),
        page_size: params.page_size.unwrap_or_default(),
        page_token: params.page_token.unwrap_or_default(),
    };
    let page = app
        .moderation()
        .list_audit_entries(call.request(request))
        .await?
        .into_inner();
    Ok(Json(AuditPage {
        entries: page.entries.into_iter().map(AuditEntry::from).collect(),
        next_page_token: next_page(page.next_page_token),
    }))
}

/// Every moderation change, as `WatchModerationEvents` streams it (admins).
#[utoipa::path(get, path = "/v1/events/moderation", tag = "events", operation_id = "watchModerationEvents",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event; none: from the beginning.")),
    responses((status = 200, description = "A stream of moderation events (data: ModerationEvent).",
        content_type = "text/event-stream", body = ModerationEvent)))]
async fn moderation_events(
    State(app): State<App>,
    call: Call,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let after = last_event_id(&headers)?;
    let request = pb::WatchModerationEventsRequest {
        after_cursor: after.map(|c| c.to_string()).unwrap_or_default(),
        from_now: false,
    };
    let stream = app
        .moderation()
        .watch_moderation_events(call.request(request))
        .await?
        .into_inner();
    Ok(sse(
        &app,
        from_watch(
            stream,
            |_| Pass::Send,
            |event| {
                let view = ModerationEvent::from(event);
                let name = view.kind.to_ascii_lowercase().replace('_', "-");
                let id = view.cursor.clone();
                events::event(&name, Some(&id), &view)
            },
        ),
    ))
}
