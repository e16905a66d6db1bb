//! `/v1/users/{id}/display-picture`: describe, set (an uploaded image, or an
//! external picture) and remove a user's avatar.

use axum::{
    Json,
    extract::{DefaultBodyLimit, Request, State},
    response::Response,
};
use http::{HeaderMap, header};
use roster_proto::v1 as pb;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    upload::{self, UploadForm, UploadParams},
    user_id,
    users::{UserPatch, patch_user},
};
use crate::{
    app::App,
    call::Call,
    error::{ApiError, ApiResult},
    extract::{Params, is_json, parse_json},
    views::{
        files::FilePurpose,
        users::{Avatar, ExternalPicture, User, UserAvatar},
    },
};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(
            get_display_picture,
            set_display_picture,
            remove_display_picture
        ))
        // Pictures are streamed and limited by `max_upload_bytes`, not the JSON limit.
        .layer(DefaultBodyLimit::disable())
}

/// Describe a user's avatar: the uploaded file (with its variants) or the external picture.
#[utoipa::path(get, path = "/v1/users/{id}/display-picture", tag = "display-picture",
    operation_id = "getDisplayPicture",
    params(("id" = String, Path, description = "A user id, or `me`.", pattern = r"^(me|[1-9][0-9]{0,17})$")),
    responses((status = 200, description = "The avatar.", body = UserAvatar)))]
async fn get_display_picture(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
) -> ApiResult<Json<UserAvatar>> {
    let id = user_id(&call, &id)?;
    let request = pb::GetUserAvatarRequest {
        user: Some(pb::UserRef {
            r#ref: Some(pb::user_ref::Ref::Id(id)),
        }),
    };
    let avatar = app
        .users()
        .get_user_avatar(call.request(request))
        .await?
        .into_inner();
    Ok(Json(UserAvatar::from(avatar)))
}

/// Set a user's display picture: an image (raw bytes with its `Content-Type`,
/// or a `multipart/form-data` form with a `file` part) is uploaded as the
/// user's avatar; a JSON body describes an externally hosted picture.
#[utoipa::path(put, path = "/v1/users/{id}/display-picture", tag = "display-picture",
    operation_id = "setDisplayPicture",
    params(("id" = String, Path, description = "A user id, or `me`.", pattern = r"^(me|[1-9][0-9]{0,17})$"),
        ("If-Match" = Option<String>, Header, description = "The user's ETag (version) the change applies to.")),
    request_body(content(
        (String = "image/png"),
        (UploadForm = "multipart/form-data"),
        (ExternalPicture = "application/json"))),
    responses((status = 200, description = "The user with its new picture.", body = User,
        headers(("ETag" = String, description = "The user's new version.")))))]
async fn set_display_picture(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    headers: HeaderMap,
    request: Request,
) -> ApiResult<Response> {
    let id = user_id(&call, &id)?;
    let avatar = if is_json(&headers) {
        let bytes = axum::body::to_bytes(request.into_body(), app.settings.max_body_bytes)
            .await
            .map_err(|_| ApiError::new("BODY_TOO_LARGE", "the picture description is too large"))?;
        let picture: ExternalPicture = parse_json(&bytes)?;
        Avatar {
            file_id: None,
            external: Some(picture),
        }
    } else {
        if headers.get(header::CONTENT_TYPE).is_none() {
            return Err(ApiError::new(
                "UNSUPPORTED_MEDIA_TYPE",
                "send the image with its Content-Type, a multipart form, or a JSON picture description",
            ));
        }
        let params = UploadParams {
            name: Some("display-picture".into()),
            owner_user_id: Some(id),
            ..UploadParams::default()
        };
        let file = upload::upload(&app, &call, params, FilePurpose::Avatar, request).await?;
        Avatar {
            file_id: Some(file.id),
            external: None,
        }
    };
    let uploaded = avatar.file_id.clone();
    let patch = UserPatch {
        avatar: Some(Some(avatar)),
        ..UserPatch::default()
    };
    let changed = patch_user(&app, &call, id, &headers, patch).await;
    if let (true, Some(file_id)) = (changed.is_err(), uploaded) {
        // The picture was stored but not set (e.g. a stale If-Match): no orphan.
        let request = pb::DeleteFileRequest { file_id };
        if let Err(status) = app.files().delete_file(call.request(request)).await {
            tracing::warn!(%status, "an unused display picture could not be deleted");
        }
    }
    changed
}

/// Remove a user's display picture.
#[utoipa::path(delete, path = "/v1/users/{id}/display-picture", tag = "display-picture",
    operation_id = "removeDisplayPicture",
    params(("id" = String, Path, description = "A user id, or `me`.", pattern = r"^(me|[1-9][0-9]{0,17})$")),
    responses((status = 200, description = "The user without a picture.", body = User)))]
async fn remove_display_picture(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = user_id(&call, &id)?;
    let patch = UserPatch {
        avatar: Some(None),
        ..UserPatch::default()
    };
    patch_user(&app, &call, id, &headers, patch).await
}
