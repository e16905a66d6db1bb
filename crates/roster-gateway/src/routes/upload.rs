//! Uploads, streamed to the file service's client-streaming `UploadFile`: the
//! body is passed on chunk by chunk as the service takes it (HTTP/2 flow
//! control), so a 100 MiB upload never sits in the gateway's memory.
//!
//! A raw body (`Content-Type` the file's own, `Content-Length` required) goes
//! straight through. A `multipart/form-data` part has no length of its own, and
//! the service must be told the size first, so the part is spooled to an
//! anonymous temporary file (disk, not memory) and streamed from there.

use axum::{
    body::Body,
    extract::{FromRequest, Multipart, Request, multipart::Field},
};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{HeaderMap, header};
use roster_proto::v1 as pb;
use serde::Deserialize;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use utoipa::{IntoParams, ToSchema};

use crate::{
    app::App,
    call::Call,
    error::{ApiError, ApiResult},
    linger::Lingering,
    views::files::{FilePurpose, FileVisibility},
};

/// Largest chunk message sent to the file service (it accepts up to 1 MiB).
const CHUNK: usize = 256 * 1024;

/// What the upload is, besides its bytes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The file name, 1–255 characters (multipart: defaults to the part's file name).
    pub name: Option<String>,
    /// ATTACHMENT (the default) or AVATAR.
    #[param(inline)]
    pub purpose: Option<FilePurpose>,
    /// Default: PRIVATE for attachments, PUBLIC for avatars (which cannot be private).
    #[param(inline)]
    pub visibility: Option<FileVisibility>,
    /// Whose file; a user leaves it out (itself), admins must set it.
    pub owner_user_id: Option<i64>,
}

/// A multipart upload: the `file` part, and optionally the other fields as parts.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The content.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    name: Option<String>,
    purpose: Option<FilePurpose>,
    visibility: Option<FileVisibility>,
    owner_user_id: Option<i64>,
}

/// The declared media type, unless it declares nothing (`application/octet-stream`
/// says "some bytes": the service then sniffs the real type).
fn declared_type(raw: Option<&str>) -> String {
    match raw.map(str::trim) {
        None | Some("") => String::new(),
        Some(value) if value.starts_with("application/octet-stream") => String::new(),
        Some(value) => value.to_owned(),
    }
}

fn header_message(
    params: &UploadParams,
    purpose: FilePurpose,
    content_type: String,
    size: u64,
) -> pb::UploadFileHeader {
    pb::UploadFileHeader {
        name: params.name.clone().unwrap_or_default(),
        content_type,
        size,
        purpose: purpose.to_proto().into(),
        owner_user_id: params.owner_user_id.unwrap_or_default(),
        visibility: params
            .visibility
            .map_or(pb::FileVisibility::Unspecified, FileVisibility::to_proto)
            .into(),
    }
}

/// Sends `header`, then `body` in chunks, as one upload.
async fn stream_to_files<S, E>(
    app: &App,
    call: &Call,
    header: pb::UploadFileHeader,
    body: S,
) -> ApiResult<pb::File>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    use pb::upload_file_request::Part;
    let first = futures::stream::once(async move {
        pb::UploadFileRequest {
            part: Some(Part::Header(header)),
        }
    });
    // A broken body ends the stream early; the service then refuses the
    // upload as short (UPLOAD_SIZE_MISMATCH) and stores nothing.
    let chunks = body
        .take_while(|chunk| {
            if let Err(err) = chunk {
                tracing::debug!(error = %err, "an upload body broke off");
            }
            std::future::ready(chunk.is_ok())
        })
        .filter_map(|chunk| std::future::ready(chunk.ok()))
        .flat_map(|mut bytes: Bytes| {
            let mut pieces = Vec::with_capacity(bytes.len() / CHUNK + 1);
            while bytes.len() > CHUNK {
                pieces.push(bytes.split_to(CHUNK));
            }
            pieces.push(bytes);
            futures::stream::iter(pieces)
        })
        .filter(|bytes| std::future::ready(!bytes.is_empty()))
        .map(|bytes| pb::UploadFileRequest {
            part: Some(Part::Chunk(bytes)),
        });
    let response = app
        .files()
        .upload_file(call.request(first.chain(chunks)))
        .await
        .map_err(|status| ApiError::from(status).strip_field_prefix("header."))?;
    Ok(response.into_inner())
}

/// Uploads the request: a raw body, or the `file` part of a multipart form.
pub async fn upload(
    app: &App,
    call: &Call,
    params: UploadParams,
    default_purpose: FilePurpose,
    request: Request,
) -> ApiResult<pb::File> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, app)
            .await
            .map_err(|rejection| ApiError::malformed(rejection.body_text()))?;
        upload_multipart(app, call, params, default_purpose, multipart).await
    } else {
        let (parts, body) = request.into_parts();
        upload_raw(app, call, params, default_purpose, &parts.headers, body).await
    }
}

async fn upload_raw(
    app: &App,
    call: &Call,
    params: UploadParams,
    default_purpose: FilePurpose,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<pb::File> {
    let size = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            ApiError::new(
                "LENGTH_REQUIRED",
                "send the file with a Content-Length (or as multipart/form-data)",
            )
        })?;
    check_size(app, size)?;
    let content_type = declared_type(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    let purpose = params.purpose.unwrap_or(default_purpose);
    let header = header_message(&params, purpose, content_type, size);
    let body = Lingering::new(body.into_data_stream(), size);
    stream_to_files(app, call, header, body).await
}

fn check_size(app: &App, size: u64) -> ApiResult<()> {
    if size > app.settings.max_upload_bytes {
        return Err(ApiError::new(
            "BODY_TOO_LARGE",
            format!(
                "the upload is {size} bytes; this gateway accepts at most {}",
                app.settings.max_upload_bytes
            ),
        ));
    }
    Ok(())
}

/// The `file` part, spooled to disk, and its declared name and type.
struct Spooled {
    file: tokio::fs::File,
    size: u64,
    name: Option<String>,
    content_type: String,
}

async fn spool(app: &App, field: &mut Field<'_>) -> ApiResult<Spooled> {
    let name = field.file_name().map(str::to_owned);
    let content_type = declared_type(field.content_type());
    let file = tempfile::tempfile().map_err(|err| {
        tracing::error!(error = %err, "no temporary file for a multipart upload");
        ApiError::new("INTERNAL", "internal error")
    })?;
    let mut file = tokio::fs::File::from_std(file);
    let mut size = 0u64;
    let io_error = |err: std::io::Error| {
        tracing::error!(error = %err, "spooling a multipart upload failed");
        ApiError::new("INTERNAL", "internal error")
    };
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|err| ApiError::malformed(err.body_text()))?
    {
        size += chunk.len() as u64;
        check_size(app, size)?;
        file.write_all(&chunk).await.map_err(io_error)?;
    }
    file.flush().await.map_err(io_error)?;
    file.seek(std::io::SeekFrom::Start(0))
        .await
        .map_err(io_error)?;
    Ok(Spooled {
        file,
        size,
        name,
        content_type,
    })
}

async fn upload_multipart(
    app: &App,
    call: &Call,
    mut params: UploadParams,
    default_purpose: FilePurpose,
    mut multipart: Multipart,
) -> ApiResult<pb::File> {
    let malformed =
        |err: axum::extract::multipart::MultipartError| ApiError::malformed(err.body_text());
    let mut spooled = None;
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        let field_name = field.name().unwrap_or_default().to_owned();
        if field_name == "file" {
            spooled = Some(spool(app, &mut field).await?);
            continue;
        }
        let text = field.text().await.map_err(malformed)?;
        match field_name.as_str() {
            "name" => params.name = Some(text),
            "purpose" => params.purpose = Some(form_value("purpose", &text)?),
            "visibility" => params.visibility = Some(form_value("visibility", &text)?),
            "ownerUserId" => {
                params.owner_user_id = Some(
                    text.trim()
                        .parse()
                        .map_err(|_| ApiError::invalid_field("ownerUserId", "is a user id"))?,
                );
            }
            other => {
                return Err(ApiError::invalid_field(
                    other,
                    "is not a field of an upload",
                ));
            }
        }
    }
    let Some(spooled) = spooled else {
        return Err(ApiError::invalid_field(
            "file",
            "the form has no `file` part",
        ));
    };
    if params.name.is_none() {
        params.name = spooled.name.clone();
    }
    let purpose = params.purpose.unwrap_or(default_purpose);
    let header = header_message(&params, purpose, spooled.content_type, spooled.size);
    let body = tokio_util::io::ReaderStream::with_capacity(spooled.file, CHUNK);
    stream_to_files(app, call, header, body).await
}

/// A form field's value as one of the enum values of the JSON API.
fn form_value<T: serde::de::DeserializeOwned>(field: &str, text: &str) -> ApiResult<T> {
    serde_json::from_value(serde_json::Value::String(text.trim().to_owned()))
        .map_err(|err| ApiError::invalid_field(field, err.to_string()))
}
