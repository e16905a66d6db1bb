//! The one error type of Roster's domain code and its single mapping to
//! `tonic::Status`.
//!
//! Unlike an enum per crate, one struct carrying a kind, a machine-readable
//! reason and field violations lets every service share the mapping while still
//! naming its own reasons; the reasons are listed in `common.proto`.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `google.rpc.ErrorInfo.domain` of every Roster error.
pub const ERROR_DOMAIN: &str = "roster.dev";

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    Aborted,
    FailedPrecondition,
    /// A position past what is kept (e.g. an event cursor older than the retention).
    OutOfRange,
    PermissionDenied,
    Unauthenticated,
    ResourceExhausted,
    DeadlineExceeded,
    Unavailable,
    Internal,
}

/// One invalid request field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request, e.g. `patch.display_name`.
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    /// Machine-readable reason, one of `roster.v1.ErrorReason` without its prefix.
    pub reason: &'static str,
    pub message: String,
    pub violations: Vec<FieldViolation>,
    /// When the caller may try again (a `google.rpc.RetryInfo` detail).
    pub retry_after: Option<std::time::Duration>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// The same answer for another caller of a shared operation (a batch that
    /// failed for all of its callers); the source stays with the original.
    pub fn for_another_caller(&self) -> Error {
        Error {
            kind: self.kind,
            reason: self.reason,
            message: self.message.clone(),
            violations: self.violations.clone(),
            retry_after: self.retry_after,
            source: None,
        }
    }

    pub fn new(kind: ErrorKind, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            reason,
            message: message.into(),
            violations: Vec::new(),
            retry_after: None,
            source: None,
        }
    }

    /// Too many attempts; `retry_after` says when the next one may succeed.
    pub fn rate_limited(
        reason: &'static str,
        message: impl Into<String>,
        retry_after: std::time::Duration,
    ) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(ErrorKind::ResourceExhausted, reason, message)
        }
    }

    /// Invalid input; the message names every offending field.
    pub fn invalid(violations: Vec<FieldViolation>) -> Self {
        let message = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            violations,
            ..Self::new(ErrorKind::InvalidArgument, "INVALID_FIELD", message)
        }
    }

    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::invalid(vec![FieldViolation::new(field, description)])
    }

    pub fn not_found(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, reason, message)
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, "PERMISSION_DENIED", message)
    }

    pub fn unauthenticated(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, reason, message)
    }

    /// An unexpected failure. The cause is logged when the error reaches the
    /// transport; the caller sees only a generic message.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(ErrorKind::Internal, "INTERNAL", "internal error")
        }
    }

    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.reason)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Whether a database error says the database could not be reached (or
/// dropped the connection, or is shutting down) rather than that the statement
/// was wrong: the call may be retried as it is.
fn is_transient(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx};
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        DbErr::Conn(_) => return true,
        _ => return false,
    };
    match sqlx.as_ref() {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // PostgreSQL: connection exceptions (08…), the server shutting down or
            // starting (57P01–57P03), too many connections (53300). SQLite: busy
            // and locked (5, 6 and their extended codes).
            code.starts_with("08")
                || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
                || matches!(code.parse::<i32>().map(|c| c & 0xff), Ok(5 | 6))
        }),
        _ => false,
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(err: sea_orm::DbErr) -> Self {
        if is_transient(&err) {
            Self::new(
                ErrorKind::Unavailable,
                "UNAVAILABLE",
                "the database could not be reached; retry the call",
            )
            .with_source(err)
        } else {
            Self::internal(err)
        }
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let code = match err.kind {
            ErrorKind::InvalidArgument => Code::InvalidArgument,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::AlreadyExists => Code::AlreadyExists,
            ErrorKind::Aborted => Code::Aborted,
            ErrorKind::FailedPrecondition => Code::FailedPrecondition,
            ErrorKind::OutOfRange => Code::OutOfRange,
            ErrorKind::PermissionDenied => Code::PermissionDenied,
            ErrorKind::Unauthenticated => Code::Unauthenticated,
            ErrorKind::ResourceExhausted => Code::ResourceExhausted,
            ErrorKind::DeadlineExceeded => Code::DeadlineExceeded,
            ErrorKind::Unavailable => Code::Unavailable,
            ErrorKind::Internal => Code::Internal,
        };
        // Server faults are logged where they surface, with their cause; a
        // dependency out of reach is worth a warning; a draining server's
        // "reconnect" is routine.
        match (err.kind, err.reason) {
            (ErrorKind::Internal, _) => tracing::error!(error = %err, "request failed"),
            (ErrorKind::Unavailable, "SHUTTING_DOWN") => {
                tracing::debug!(error = %err, "stream ended by the drain");
            }
            (ErrorKind::Unavailable, _) => tracing::warn!(error = %err, "request failed"),
            _ => {}
        }
        let mut details = ErrorDetails::with_error_info(
            err.reason,
            ERROR_DOMAIN,
            std::collections::HashMap::<String, String>::new(),
        );
        for violation in &err.violations {
            details.add_bad_request_violation(&violation.field, &violation.description);
        }
        if let Some(retry_after) = err.retry_after {
            details.set_retry_info(Some(retry_after));
        }
        Status::with_error_details(code, err.message, details)
    }
}

/// True when `err` is a unique-constraint violation (either backend).
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_maps_to_invalid_argument_with_reason_and_field() {
        let status = Status::from(Error::invalid_field("display_name", "too long"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("display_name"));
        let details = status.get_error_details();
        assert_eq!(
            details.error_info().map(|i| i.reason.as_str()),
            Some("INVALID_FIELD")
        );
        let violations = details
            .bad_request()
            .map(|b| b.field_violations.clone())
            .unwrap_or_default();
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "display_name");
    }

    #[test]
    fn rate_limits_carry_a_retry_hint() {
        let status = Status::from(Error::rate_limited(
            "LOGIN_RATE_LIMITED",
            "too many failed logins",
            std::time::Duration::from_secs(30),
        ));
        assert_eq!(status.code(), Code::ResourceExhausted);
        let details = status.get_error_details();
        assert_eq!(
            details.retry_info().and_then(|r| r.retry_delay),
            Some(std::time::Duration::from_secs(30))
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let status = Status::from(Error::internal("disk on fire"));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("disk"));
    }
}
