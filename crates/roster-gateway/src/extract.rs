//! Request extractors whose refusals are the gateway's error body, naming the
//! offending field (`properties.team`, `pageSize`) rather than axum's plain text.

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use bytes::Bytes;
use http::{StatusCode, header, request::Parts};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// A JSON body (`application/json`, or any `application/*+json` such as
/// `application/merge-patch+json`).
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::new(
                "UNSUPPORTED_MEDIA_TYPE",
                "this call takes a JSON body: send `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| body_error(rejection.status()))?;
        parse_json(&bytes).map(Self)
    }
}

/// The refusal of a body that could not be read.
pub fn body_error(status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            "BODY_TOO_LARGE",
            "the request body is larger than this gateway accepts",
        )
    } else {
        ApiError::malformed("the request body could not be read")
    }
}

pub fn is_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|essence| {
            let essence = essence.trim().to_ascii_lowercase();
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Parses JSON, naming the field a wrong value sits at.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_data() {
            let field = if path == "." { "body".to_owned() } else { path };
            ApiError::invalid_field(field, inner.to_string())
        } else {
            ApiError::malformed(format!("the body is not valid JSON: {inner}"))
        }
    })
}

/// Query-string parameters.
pub struct QueryParams<T>(pub T);

impl<S, T> FromRequestParts<S> for QueryParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Self)
            .map_err(|err| {
                let field = err.path().to_string();
                let field = if field == "." {
                    "query".to_owned()
                } else {
                    field
                };
                ApiError::invalid_field(field, err.into_inner().to_string())
            })
    }
}

/// Path parameters, taken as text; handlers parse them with their own rules.
pub struct Params<T>(pub T);

impl<S, T> FromRequestParts<S> for Params<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|rejection| ApiError::invalid_field("path", rejection.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        display_name: Option<String>,
        #[allow(dead_code)]
        page_size: Option<u32>,
    }

    #[test]
    fn a_wrong_value_names_its_field_and_bad_syntax_is_malformed() {
        let err = parse_json::<Body>(br#"{"pageSize": "ten"}"#).err();
        assert_eq!(
            err.as_ref()
                .map(|e| (e.reason.as_ref(), e.fields[0].field.as_str())),
            Some(("INVALID_FIELD", "pageSize"))
        );
        let err = parse_json::<Body>(b"{\"pageSize\": ").err();
        assert_eq!(err.map(|e| e.reason), Some("MALFORMED_REQUEST".into()));
        let err = parse_json::<Body>(br#"{"colour": 1}"#).err();
        assert_eq!(err.map(|e| e.reason), Some("INVALID_FIELD".into()));
    }
}
