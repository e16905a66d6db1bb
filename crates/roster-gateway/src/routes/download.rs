//! `GET /v1/files/{id}`: a file's bytes, streamed from the file service's
//! `DownloadFile`, with the stored content type and length, a strong `ETag`
//! (the content's SHA-256; files never change), `Cache-Control`, single
//! `Range` requests and a `Content-Disposition` carrying the sanitised name.
//!
//! Who may read: the file service decides (public files, avatars among them,
//! need no token; private ones their owner, an admin, or a download link's
//! `token`). A file's bytes are served with `nosniff` and a sandboxing content
//! security policy, so an uploaded HTML page cannot run as this origin.

use axum::{
    body::Body,
    extract::State,
    response::{IntoResponse, Response},
};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use roster_proto::v1 as pb;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    app::App,
    call::Call,
    error::{ApiError, ApiResult},
    extract::{Params, QueryParams},
    views::{files::FileVariant, time},
};

/// Which rendition, and a download link's token.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadParams {
    /// Avatars: `64` or `256` for a sized variant; `original` (the default) otherwise.
    variant: Option<String>,
    /// The same as `variant` (`?size=64`).
    size: Option<String>,
    /// The `token` of a download link for this file.
    token: Option<String>,
}

/// Media types shown in place; anything else downloads as an attachment.
fn inline(content_type: &str) -> bool {
    ["image/", "audio/", "video/"]
        .iter()
        .any(|prefix| content_type.starts_with(prefix))
        || content_type == "application/pdf"
        || content_type == "text/plain"
}

/// `inline; filename="report.pdf"; filename*=UTF-8''r%C3%A9port.pdf`: an ASCII
/// fallback without quotes, backslashes or control characters, and the exact
/// name percent-encoded (RFC 6266).
fn content_disposition(name: &str, content_type: &str) -> HeaderValue {
    let kind = if inline(content_type) {
        "inline"
    } else {
        "attachment"
    };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}

/// A single byte range of a `length`-byte body: `Ok(None)` for none (or one
/// this server answers with the whole body: several ranges, other units),
/// `Err(())` for a range outside the body.
fn byte_range(raw: &str, length: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = raw.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().map_err(|_| ());
    let (start, end) = if first.is_empty() {
        let suffix = parse(last)?;
        if suffix == 0 {
            return Err(());
        }
        (length.saturating_sub(suffix), length - 1)
    } else {
        let start = parse(first)?;
        let end = if last.is_empty() {
            length - 1
        } else {
            parse(last)?.min(length - 1)
        };
        (start, end)
    };
    if start > end || start >= length {
        return Err(());
    }
    Ok(Some((start, end)))
}

fn http_date(time: chrono::DateTime<chrono::Utc>) -> Option<HeaderValue> {
    HeaderValue::from_str(&time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).ok()
}

/// The chunks of a download from byte `skip` on, `take` bytes long.
fn body(stream: tonic::Streaming<pb::DownloadFileResponse>, skip: u64, take: u64) -> Body {
    let chunks = futures::stream::unfold(
        (stream, skip, take),
        |(mut stream, mut skip, left)| async move {
            if left == 0 {
                return None;
            }
            loop {
                let bytes = match stream.message().await {
                    Ok(Some(pb::DownloadFileResponse {
                        part: Some(pb::download_file_response::Part::Chunk(chunk)),
                    })) => chunk,
                    // Nothing else follows the info message.
                    Ok(Some(_)) | Ok(None) => return None,
                    Err(status) => {
                        // The length is announced already: breaking off tells the client.
                        let error = std::io::Error::other(status.message().to_owned());
                        return Some((Err(error), (stream, 0, 0)));
                    }
                };
                let length = bytes.len() as u64;
                if skip >= length {
                    skip -= length;
                    continue;
                }
                let mut bytes = bytes.slice(usize::try_from(skip).unwrap_or(usize::MAX)..);
                bytes.truncate(usize::try_from(left).unwrap_or(usize::MAX));
                let left = left - bytes.len() as u64;
                return Some((Ok::<_, std::io::Error>(bytes), (stream, 0, left)));
            }
        },
    );
    Body::from_stream(chunks)
}

/// Download a file's bytes (or an avatar's sized variant). Public files need no
/// token; private ones their owner's, an admin's, or a download link's `token`.
#[utoipa::path(get, path = "/v1/files/{id}", tag = "files", operation_id = "downloadFile",
    security((), ("bearer" = [])),
    params(("id" = String, Path, description = "The file id (a UUID).", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"), DownloadParams,
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`."),
        ("If-None-Match" = Option<String>, Header, description = "An ETag seen before: 304 when unchanged.")),
    responses(
        (status = 200, description = "The bytes.", content_type = "application/octet-stream", body = String,
            headers(("ETag" = String), ("Cache-Control" = String), ("Content-Disposition" = String), ("Accept-Ranges" = String))),
        (status = 206, description = "The requested range.", content_type = "application/octet-stream", body = String,
            headers(("Content-Range" = String), ("ETag" = String))),
        (status = 304, description = "Unchanged since the ETag in `If-None-Match`.")))]
pub async fn download_file(
    State(app): State<App>,
    call: Call,
    Params(id): Params<String>,
    QueryParams(params): QueryParams<DownloadParams>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (field, raw) = match (&params.variant, &params.size) {
        (Some(raw), _) => ("variant", raw.as_str()),
        (None, Some(raw)) => ("size", raw.as_str()),
        (None, None) => ("variant", ""),
    };
    let variant = FileVariant::parse(raw)
        .ok_or_else(|| ApiError::invalid_field(field, "is 64, 256 or original"))?;
    let link_token = params.token.unwrap_or_default();
    let describe = pb::GetFileRequest {
        file_id: id.clone(),
        link_token: link_token.clone(),
    };
    let fetch = pb::DownloadFileRequest {
        file_id: id,
        variant: variant.to_proto().into(),
        link_token: link_token.clone(),
    };
    let (mut describer, mut fetcher) = (app.files(), app.files());
    let (file, download) = tokio::join!(
        describer.get_file(call.request(describe)),
        fetcher.download_file(call.request(fetch)),
    );
    let file = file?.into_inner();
    let mut stream = download?.into_inner();
    let info = match stream.message().await? {
        Some(pb::DownloadFileResponse {
            part: Some(pb::download_file_response::Part::Info(info)),
        }) => info,
        _ => {
            return Err(ApiError::new(
                "INTERNAL",
                "the file service sent no file info",
            ));
        }
    };
    let length = u64::try_from(info.size).unwrap_or_default();
    let tag = format!("\"{}{}\"", file.sha256, variant.tag());
    let public = file.visibility == i32::from(pb::FileVisibility::Public) && link_token.is_empty();

    let mut response = Response::new(Body::empty());
    let out = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&tag) {
        out.insert(header::ETAG, value);
    }
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if public {
            "public, max-age=3600"
        } else {
            "private, no-cache"
        }),
    );
    if let Some(modified) = time(file.created_at).and_then(http_date) {
        out.insert(header::LAST_MODIFIED, modified);
    }
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));

    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|seen| seen.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    if unchanged {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(response);
    }
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&info.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    out.insert(
        header::CONTENT_DISPOSITION,
        content_disposition(&file.name, &info.content_type),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );

    // A range applies unless `If-Range` names another version.
    let range_applies = headers
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|wanted| wanted.trim() == tag);
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(raw) if range_applies => byte_range(raw, length),
        _ => Ok(None),
    };
    match range {
        Ok(None) => {
            out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            *response.body_mut() = body(stream, 0, length);
        }
        Ok(Some((start, end))) => {
            let take = end - start + 1;
            out.insert(header::CONTENT_LENGTH, HeaderValue::from(take));
            if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{end}/{length}")) {
                out.insert(header::CONTENT_RANGE, value);
            }
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            *response.body_mut() = body(stream, start, take);
        }
        Err(()) => {
            let mut refusal = ApiError::new(
                "RANGE_NOT_SATISFIABLE",
                format!("the file has {length} bytes"),
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{length}")) {
                refusal.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(refusal);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_single_and_inside_the_body() {
        assert_eq!(byte_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(byte_range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(byte_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(byte_range("bytes=95-200", 100), Ok(Some((95, 99))));
        assert_eq!(byte_range("bytes=-200", 100), Ok(Some((0, 99))));
        assert_eq!(byte_range("bytes=100-", 100), Err(()));
        assert_eq!(byte_range("bytes=9-2", 100), Err(()));
        assert_eq!(byte_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(byte_range("items=0-1", 100), Ok(None));
    }

    #[test]
    fn names_are_sanitised_for_the_header() {
        let value = content_disposition("r\u{e9}port \"final\".html", "text/html");
        assert_eq!(
            value.to_str().ok(),
            Some(
                "attachment; filename=\"r_port _final_.html\"; filename*=UTF-8''r%C3%A9port%20%22final%22%2Ehtml"
            )
        );
        let value = content_disposition("me.png", "image/png");
        assert!(value.to_str().unwrap_or_default().starts_with("inline;"));
    }
}
