//! Error reasons of this service (`google.rpc.ErrorInfo.reason`), besides the
//! common ones of `common.proto`. Each is documented in `moderation.proto`.

pub const USER_NOT_FOUND: &str = "USER_NOT_FOUND";
pub const USER_DELETED: &str = "USER_DELETED";
pub const USER_ALREADY_DELETED: &str = "USER_ALREADY_DELETED";
pub const TARGET_EXEMPT: &str = "TARGET_EXEMPT";
pub const FLAG_NOT_FOUND: &str = "FLAG_NOT_FOUND";
pub const BAN_NOT_FOUND: &str = "BAN_NOT_FOUND";
pub const DELETION_JOB_NOT_FOUND: &str = "DELETION_JOB_NOT_FOUND";
pub const CURSOR_INVALID: &str = "CURSOR_INVALID";
pub const PAGE_TOKEN_INVALID: &str = "PAGE_TOKEN_INVALID";

/// Internal only (never returned to a client): the runner no longer holds the
/// lease of the job it was working on; another replica took it over.
pub const LEASE_LOST: &str = "LEASE_LOST";
