//! Deleting users: a durable job per user, with a receipt.

use axum::{Json, extract::State, response::Response};
use http::StatusCode;
use roster_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::App,
    call::Call,
    error::{ApiError, ApiResult},
    extract::{Params, QueryParams},
    routes::user_id,
    views::{
        moderation::{DeletionJob, DeletionOptions, DeletionPreview},
        next_page,
    },
};

/// The job routes; `DELETE /v1/users/{id}` is routed with the user's other
/// methods (`routes::users`).
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_deletion_jobs))
        .routes(routes!(get_deletion_job))
}

/// How to delete the user: what other systems erase, and whether only to preview.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DeleteUserParams {
    /// Change nothing; answer what would be erased.
    dry_run: Option<bool>,
    /// For the job and the audit log; at most 500 characters.
    reason: Option<String>,
    /// Erase all personal data in other systems; implies the three below.
    delete_all: Option<bool>,
    /// Delete the channels the user created and the messages it sent.
    mark_messages_deleted: Option<bool>,
    /// Delete the user's posts with everything under them.
    hard_delete_posts: Option<bool>,
    /// Delete the user's comments and reactions.
    hard_delete_comments: Option<bool>,
}

/// The deletion job, or (a dry run) what it would erase.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDeletion {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<DeletionJob>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<DeletionPreview>,
}

/// Delete a user, hard and final (EDIT_USER): a durable job erases it from
/// every service, then tells the products' deletion participants.
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "moderation", operation_id = "deleteUser",
    params(("id" = String, Path, description = "A user id.", pattern = r"^[1-9][0-9]{0,17}$"), DeleteUserParams),
    responses(
        (status = 202, description = "The deletion job, running.", body = UserDeletion),
        (status = 200, description = "A dry run: what would be erased.", body = UserDeletion)))]
pub async fn delete_user(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    QueryParams(params): QueryParams<DeleteUserParams>,
) -> ApiResult<Response> {
    let options = DeletionOptions {
        delete_all: params.delete_all.unwrap_or_default(),
        mark_messages_deleted: params.mark_messages_deleted.unwrap_or_default(),
        hard_delete_posts: params.hard_delete_posts.unwrap_or_default(),
        hard_delete_comments: params.hard_delete_comments.unwrap_or_default(),
    };
    let dry_run = params.dry_run.unwrap_or_default();
    let request = pb::DeleteUserRequest {
        user_id: user_id(&call, &id)?,
        options: Some(options.to_proto()),
        dry_run,
        reason: params.reason.unwrap_or_default(),
    };
    let deletion = app
        .moderation()
        .delete_user(call.request(request))
        .await?
        .into_inner();
    let body = UserDeletion {
        job: deletion.job.map(DeletionJob::from),
        preview: deletion.preview.map(DeletionPreview::from),
    };
    let status = if dry_run {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok(axum::response::IntoResponse::into_response((
        status,
        Json(body),
    )))
}

/// A deletion job's state.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeletionJobState {
    Pending,
    Running,
    Completed,
}

/// Which jobs, and which page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DeletionJobParams {
    #[param(inline)]
    state: Option<DeletionJobState>,
    /// Only the job of this user.
    user_id: Option<i64>,
    /// 1–100; 0 or absent means 20.
    #[param(maximum = 100)]
    page_size: Option<u32>,
    page_token: Option<String>,
}

/// One page of deletion jobs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletionJobPage {
    pub jobs: Vec<DeletionJob>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// Deletion jobs, newest first (EDIT_USER).
#[utoipa::path(get, path = "/v1/deletion-jobs", tag = "moderation", operation_id = "listDeletionJobs",
    params(DeletionJobParams),
    responses((status = 200, description = "One page of jobs.", body = DeletionJobPage)))]
async fn list_deletion_jobs(
    State(app): State<App>,
    call: Call,
    QueryParams(params): QueryParams<DeletionJobParams>,
) -> ApiResult<Json<DeletionJobPage>> {
    let state = match params.state {
        None => pb::DeletionJobState::Unspecified,
        Some(DeletionJobState::Pending) => pb::DeletionJobState::Pending,
        Some(DeletionJobState::Running) => pb::DeletionJobState::Running,
        Some(DeletionJobState::Completed) => pb::DeletionJobState::Completed,
    };
    let request = pb::ListDeletionJobsRequest {
        state: state.into(),
        user_id: params.user_id.unwrap_or_default(),
        page_size: params.page_size.unwrap_or_default(),
        page_token: params.page_token.unwrap_or_default(),
    };
    let page = app
        .moderation()
        .list_deletion_jobs(call.request(request))
        .await?
        .into_inner();
    Ok(Json(DeletionJobPage {
        jobs: page.jobs.into_iter().map(DeletionJob::from).collect(),
        next_page_token: next_page(page.next_page_token),
    }))
}

/// A deletion job: its steps and the receipt (EDIT_USER).
#[utoipa::path(get, path = "/v1/deletion-jobs/{id}", tag = "moderation", operation_id = "getDeletionJob",
    params(("id" = i64, Path, description = "The job's id.")),
    responses((status = 200, description = "The job.", body = DeletionJob)))]
async fn get_deletion_job(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
) -> ApiResult<Json<DeletionJob>> {
    let job_id =
        id.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
            ApiError::invalid_field("id", "is a deletion job id (a positive number)")
        })?;
    let request = pb::GetDeletionJobRequest { job_id };
    let job = app
        .moderation()
        .get_deletion_job(call.request(request))
        .await?
        .into_inner();
    Ok(Json(DeletionJob::from(job)))
}
