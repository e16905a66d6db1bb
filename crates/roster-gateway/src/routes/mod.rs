//! The routes, one module per resource group. Every handler is the same four
//! steps: extract the HTTP request, build the gRPC request, call the service
//! with the caller's own credentials, map the answer (or the error) back.

pub mod display_picture;
pub mod download;
pub mod events;
pub mod files;
pub mod grants;
pub mod moderation;
pub mod permissions;
pub mod presence;
pub mod roles;
pub mod sessions;
pub mod upload;
pub mod users;

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use utoipa_axum::router::OpenApiRouter;

use crate::{app::App, call::Call, error::ApiError, error::ApiResult};

/// Every documented route.
pub fn api() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .merge(users::routes())
        .merge(sessions::routes())
        .merge(presence::routes())
        .merge(display_picture::routes())
        .merge(roles::routes())
        .merge(grants::routes())
        .merge(permissions::routes())
        .merge(files::routes())
        .merge(events::routes())
        .merge(moderation::routes())
}

/// A user named in a path: a positive id, or `me` for the calling user.
pub fn user_id(call: &Call, raw: &str) -> ApiResult<i64> {
    if raw == "me" {
        return call.me();
    }
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::invalid_field("id", "is a user id (a positive number) or `me`"))
}

/// The version an `If-Match` header asks for (`"3"`; `*` or absent: any).
pub fn if_match(headers: &HeaderMap) -> ApiResult<i64> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(0);
    };
    let raw = value.to_str().unwrap_or_default().trim();
    if raw == "*" {
        return Ok(0);
    }
    raw.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .ok()
        .filter(|version| *version > 0)
        .ok_or_else(|| {
            ApiError::invalid_field(
                "If-Match",
                "is the resource's ETag (its version), e.g. \"3\"",
            )
        })
}

/// The strong `ETag` of a versioned resource.
pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// A JSON answer with its `ETag`.
pub fn tagged(status: StatusCode, version: i64, body: impl IntoResponse) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// `201 Created` with the new resource's `Location`.
pub fn created(location: &str, body: impl IntoResponse) -> Response {
    let mut response = (StatusCode::CREATED, body).into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_takes_a_version_or_any() {
        let mut headers = HeaderMap::new();
        assert_eq!(if_match(&headers).ok(), Some(0));
        for (raw, version) in [
            ("\"3\"", Some(3)),
            ("W/\"4\"", Some(4)),
            ("*", Some(0)),
            ("\"x\"", None),
        ] {
            headers.insert(header::IF_MATCH, HeaderValue::from_static(raw));
            assert_eq!(if_match(&headers).ok(), version, "{raw}");
        }
    }
}
