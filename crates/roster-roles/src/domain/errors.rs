//! The failures of this service's rules, built in one place so every layer
//! reports them alike (the reasons are listed in `roles.proto`).

use roster_kit::{Error, authz::Scope, error::ErrorKind};

/// Error reasons of this service (besides the common ones of `common.proto`).
pub mod reasons {
    pub const ROLE_NOT_FOUND: &str = "ROLE_NOT_FOUND";
    pub const ROLE_ALREADY_EXISTS: &str = "ROLE_ALREADY_EXISTS";
    pub const ROLE_BUILT_IN: &str = "ROLE_BUILT_IN";
    pub const ROLE_IN_USE: &str = "ROLE_IN_USE";
    pub const ROLE_NOT_ASSIGNABLE: &str = "ROLE_NOT_ASSIGNABLE";
    pub const GRANT_NOT_FOUND: &str = "GRANT_NOT_FOUND";
    pub const VERSION_CONFLICT: &str = "VERSION_CONFLICT";
    pub const CURSOR_INVALID: &str = "CURSOR_INVALID";
    pub const PAGE_TOKEN_INVALID: &str = "PAGE_TOKEN_INVALID";
}

pub fn role_not_found(name: &str) -> Error {
    Error::not_found(reasons::ROLE_NOT_FOUND, format!("no role named {name:?}"))
}

pub fn role_already_exists(message: impl Into<String>) -> Error {
    Error::new(
        ErrorKind::AlreadyExists,
        reasons::ROLE_ALREADY_EXISTS,
        message,
    )
}

/// Built-in roles cannot be `what` ("edited", "deleted").
pub fn built_in_refused(name: &str, what: &str) -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        reasons::ROLE_BUILT_IN,
        format!("{name} is a built-in role and cannot be {what}"),
    )
}

pub fn role_in_use(name: &str, grants: usize) -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        reasons::ROLE_IN_USE,
        format!(
            "role {name:?} is granted {grants} time(s); revoke the grants or delete with force"
        ),
    )
}

pub fn role_not_assignable(why: &str) -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        reasons::ROLE_NOT_ASSIGNABLE,
        why,
    )
}

pub fn grant_not_found(user_id: i64, role: &str, scope: &Scope) -> Error {
    Error::not_found(
        reasons::GRANT_NOT_FOUND,
        format!("user {user_id} does not hold {role} in {scope}"),
    )
}

/// Optimistic concurrency lost a race; the message says what to do.
pub fn version_conflict(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Aborted, reasons::VERSION_CONFLICT, message)
}
