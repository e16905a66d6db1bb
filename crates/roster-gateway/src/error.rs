//! The one error body of every failure, mapped once: from a gRPC status (its
//! code and `ErrorInfo` reason, through [`crate::reasons`]) or from the
//! gateway's own refusals.

use std::{borrow::Cow, time::Duration};

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use utoipa::ToSchema;

use crate::reasons;

/// What every failed call answers, whatever failed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "status": "error",
    "code": 400400,
    "reason": "USER_NOT_FOUND",
    "message": "user 42 not found",
    "fields": []
}))]
pub struct ErrorBody {
    /// Always "error".
    pub status: &'static str,
    /// Six-digit error code (see the table in the API description).
    pub code: u32,
    /// Machine-readable reason, e.g. "USER_NOT_FOUND".
    pub reason: String,
    /// Human-readable explanation; names the offending fields.
    pub message: String,
    /// Each invalid field (camelCase paths), for INVALID_FIELD.
    pub fields: Vec<FieldError>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field, e.g. "displayName" or "checks[3].permission".
    pub field: String,
    pub description: String,
}

/// A failed call, ready to answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub reason: Cow<'static, str>,
    pub message: String,
    pub fields: Vec<FieldError>,
    /// When the caller may try again (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// An error of a reason in the table.
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        let (status, code) = match reasons::lookup(reason) {
            Some(entry) => (entry.status, entry.code),
            None => reasons::fallback(Code::Internal),
        };
        Self {
            status,
            code,
            reason: Cow::Borrowed(reason),
            message: message.into(),
            fields: Vec::new(),
            retry_after: None,
        }
    }

    /// INVALID_FIELD naming `field`.
    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        let field = field.into();
        let description = description.into();
        Self {
            fields: vec![FieldError {
                field: field.clone(),
                description: description.clone(),
            }],
            ..Self::new("INVALID_FIELD", format!("{field}: {description}"))
        }
    }

    /// The same error under another reason of the table (e.g. an invalid field
    /// that is a cursor: CURSOR_INVALID).
    pub fn with_reason(self, reason: &'static str) -> Self {
        let fresh = Self::new(reason, String::new());
        Self {
            status: fresh.status,
            code: fresh.code,
            reason: fresh.reason,
            ..self
        }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new("MALFORMED_REQUEST", message)
    }

    /// Renames the fields a service reported under a request wrapper (e.g.
    /// `patch.display_name`) to the paths of the HTTP body (`displayName`).
    pub fn strip_field_prefix(mut self, prefix: &str) -> Self {
        for field in &mut self.fields {
            if let Some(rest) = field.field.strip_prefix(prefix) {
                field.field = rest.to_owned();
            }
        }
        self
    }
}

/// `display_name` → `displayName`, segment by segment (`checks[3].permission` keeps its index).
pub fn camel_case_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut upper = false;
    for c in path.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        let details = status.get_error_details();
        let known = details
            .error_info()
            .map(|info| info.reason.clone())
            .filter(|reason| !reason.is_empty());
        let reason: Cow<'static, str> = match &known {
            Some(reason) => match reasons::lookup(reason) {
                Some(entry) => Cow::Borrowed(entry.reason),
                None => Cow::Owned(reason.clone()),
            },
            None => Cow::Borrowed(reasons::reason_of_code(status.code())),
        };
        let (http_status, code) = if status.code() == Code::DeadlineExceeded {
            reasons::DEADLINE
        } else {
            match reasons::lookup(&reason) {
                Some(entry) => (entry.status, entry.code),
                None => {
                    tracing::warn!(reason = %reason, code = ?status.code(), "an error reason the gateway does not know; answered by its gRPC code");
                    reasons::fallback(status.code())
                }
            }
        };
        let fields = details
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|violation| FieldError {
                        field: camel_case_path(&violation.field),
                        description: violation.description.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let message = if known.is_none() && http_status.is_server_error() {
            // A transport failure: its text is for the log, not the client.
            tracing::warn!(code = ?status.code(), message = status.message(), "a service call failed");
            match status.code() {
                Code::Unimplemented => "the service behind this route does not run here".to_owned(),
                Code::DeadlineExceeded => "the service did not answer in time".to_owned(),
                Code::Unavailable | Code::Cancelled => "the service is not reachable".to_owned(),
                _ => "internal error".to_owned(),
            }
        } else {
            status.message().to_owned()
        };
        Self {
            status: http_status,
            code,
            reason,
            message,
            fields,
            retry_after: details.retry_info().and_then(|retry| retry.retry_delay),
        }
    }
}

impl ApiError {
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            status: "error",
            code: self.code,
            reason: self.reason.to_string(),
            message: self.message.clone(),
            fields: self.fields.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(retry_after) = self.retry_after {
            // Whole seconds, rounded up: retrying early would only fail again.
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_become_camel_case() {
        assert_eq!(camel_case_path("patch.display_name"), "patch.displayName");
        assert_eq!(
            camel_case_path("checks[3].permission"),
            "checks[3].permission"
        );
        assert_eq!(camel_case_path("header.content_type"), "header.contentType");
    }

    #[test]
    fn a_transport_failure_hides_its_text() {
        let error = ApiError::from(Status::unavailable("tcp connect error: 10.0.0.7:50051"));
        assert_eq!(error.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.reason, "UNAVAILABLE");
        assert!(!error.message.contains("10.0.0.7"));
    }
}
