//! Moderation over `roster.v1.ModerationService`: flags, global bans, user
//! deletion (a durable job with a receipt), the audit log and its event stream.
//!
//! | route | RPC |
//! |---|---|
//! | `PUT`, `DELETE /v1/users/{id}/flags/me` | FlagUser, UnflagUser (the caller's own flag) |
//! | `POST /v1/users:flaggedByMe` | IsFlaggedByMe |
//! | `GET`, `DELETE /v1/users/{id}/flags` | ListFlags, ClearFlags |
//! | `GET`, `PUT`, `DELETE /v1/users/{id}/ban`, `GET /v1/bans` | GetBan, BanUser, UnbanUser, ListBans |
//! | `DELETE /v1/users/{id}` (`?dryRun=true` previews) | DeleteUser |
//! | `GET /v1/deletion-jobs`, `GET /v1/deletion-jobs/{id}` | ListDeletionJobs, GetDeletionJob |
//! | `GET /v1/audit-entries` | ListAuditEntries |
//! | `GET /v1/events/moderation` (server-sent events, admins) | WatchModerationEvents |

mod audit;
mod bans;
mod deletion;
mod flags;

use axum::{Json, response::Response};
use http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;

use crate::app::App;

pub use deletion::{__path_delete_user, delete_user};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .merge(flags::routes())
        .merge(bans::routes())
        .merge(deletion::routes())
        .merge(audit::routes())
}

/// 201 for something new, 200 for something changed.
fn ok_or_created(created: bool, body: impl Serialize) -> Response {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    axum::response::IntoResponse::into_response((status, Json(body)))
}
