//! `/v1/files`: upload, describe, list, link and delete files. Downloads are
//! in [`super::download`].

use axum::{
    Json,
    extract::{DefaultBodyLimit, Request, State},
    response::Response,
};
use http::StatusCode;
use roster_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    created, download,
    upload::{self, UploadForm, UploadParams},
    user_id,
};
use crate::{
    app::App,
    call::Call,
    error::ApiResult,
    extract::{JsonBody, Params, QueryParams},
    views::{
        files::{DownloadLink, File, FilePurpose},
        next_page,
    },
};

pub fn routes() -> OpenApiRouter<App> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(upload_file))
        // Uploads are streamed and limited by `max_upload_bytes`, not the JSON limit.
        .layer(DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .merge(uploads)
        .routes(routes!(download::download_file, delete_file))
        .routes(routes!(get_file))
        .routes(routes!(create_download_link))
        .routes(routes!(list_files))
}

/// Upload a file: the raw bytes (with their `Content-Type` and a
/// `Content-Length`), or a `multipart/form-data` form with a `file` part.
#[utoipa::path(post, path = "/v1/files", tag = "files", operation_id = "uploadFile",
    params(UploadParams),
    request_body(content(
        (String = "application/octet-stream"),
        (UploadForm = "multipart/form-data"))),
    responses((status = 201, description = "The stored file.", body = File,
        headers(("Location" = String, description = "Where to download it.")))))]
async fn upload_file(
    State(app): State<App>,
    call: Call,
    QueryParams(params): QueryParams<UploadParams>,
    request: Request,
) -> ApiResult<Response> {
    let file = upload::upload(&app, &call, params, FilePurpose::Attachment, request).await?;
    let location = format!("/v1/files/{}", file.id);
    Ok(created(&location, Json(File::from(file))))
}

/// A download link's token, for a caller without access of its own.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkParams {
    /// The `token` of a download link for this file.
    token: Option<String>,
}

/// Describe a file (public files need no token; private ones their owner, or a link's `token`).
#[utoipa::path(get, path = "/v1/files/{id}/metadata", tag = "files", operation_id = "getFile",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "The file id (a UUID).", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"), LinkParams),
    responses((status = 200, description = "The file's metadata.", body = File)))]
async fn get_file(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    QueryParams(link): QueryParams<LinkParams>,
) -> ApiResult<Json<File>> {
    let request = pb::GetFileRequest {
        file_id: id,
        link_token: link.token.unwrap_or_default(),
    };
    let file = app
        .files()
        .get_file(call.request(request))
        .await?
        .into_inner();
    Ok(Json(File::from(file)))
}

/// Delete a file and every stored rendition of it.
#[utoipa::path(delete, path = "/v1/files/{id}", tag = "files", operation_id = "deleteFile",
    params(("id" = String, Path, description = "The file id (a UUID).", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")),
    responses((status = 204, description = "The file is gone.")))]
async fn delete_file(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
) -> ApiResult<StatusCode> {
    let request = pb::DeleteFileRequest { file_id: id };
    app.files().delete_file(call.request(request)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How long a download link works.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewDownloadLink {
    /// 1–86400 seconds; 0 or absent: 300.
    #[serde(default)]
    pub ttl_seconds: u32,
}

/// Mint a short-lived link that reads one file without a token (owner, admins, services).
#[utoipa::path(post, path = "/v1/files/{id}/links", tag = "files", operation_id = "createDownloadLink",
    params(("id" = String, Path, description = "The file id (a UUID).", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")),
    request_body = NewDownloadLink,
    responses((status = 201, description = "The link.", body = DownloadLink)))]
async fn create_download_link(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    JsonBody(body): JsonBody<NewDownloadLink>,
) -> ApiResult<(StatusCode, Json<DownloadLink>)> {
    let request = pb::CreateDownloadLinkRequest {
        file_id: id,
        ttl_seconds: body.ttl_seconds,
    };
    let link = app
        .files()
        .create_download_link(call.request(request))
        .await?
        .into_inner();
    Ok((StatusCode::CREATED, Json(DownloadLink::from(link))))
}

/// Which of a user's files, and which page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListFilesParams {
    /// Only files of this purpose.
    #[param(inline)]
    purpose: Option<FilePurpose>,
    /// 1–100; 0 or absent means 20.
    #[param(maximum = 100)]
    page_size: Option<u32>,
    page_token: Option<String>,
}

/// One page of files.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilePage {
    pub files: Vec<File>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A user's files, newest first (another user's: only its public ones).
#[utoipa::path(get, path = "/v1/users/{id}/files", tag = "files", operation_id = "listFiles",
    params(("id" = String, Path, description = "A user id, or `me`.", pattern = r"^(me|[1-9][0-9]{0,17})$"), ListFilesParams),
    responses((status = 200, description = "One page of files.", body = FilePage)))]
async fn list_files(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    QueryParams(params): QueryParams<ListFilesParams>,
) -> ApiResult<Json<FilePage>> {
    let owner = user_id(&call, &id)?;
    let request = pb::ListFilesRequest {
        owner_user_id: owner,
        purpose: params
            .purpose
            .map_or(pb::FilePurpose::Unspecified, FilePurpose::to_proto)
            .into(),
        page_size: params.page_size.unwrap_or_default(),
        page_token: params.page_token.unwrap_or_default(),
    };
    let page = app
        .files()
        .list_files(call.request(request))
        .await?
        .into_inner();
    Ok(Json(FilePage {
        files: page.files.into_iter().map(File::from).collect(),
        next_page_token: next_page(page.next_page_token),
    }))
}
