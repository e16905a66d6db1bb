//! The one table from a machine-readable error reason to an HTTP status and a
//! six-digit error code.
//!
//! Codes follow the family of the seed platform APIs: `400000` is a bad request
//! (and, as there, "already deleted"), `4001xx` authentication, `4003xx`
//! refusals, `400400` "not found" (`4004xx` for the other missing things),
//! `4005xx` a state that forbids the call, `4009xx` conflicts, `400311` rate
//! limits, `5000xx` server faults. The reason names the exact cause; the code
//! groups causes a client handles alike. HTTP statuses follow the gRPC code of
//! each reason as `google.rpc.Code` maps it, made more precise where HTTP has a
//! status for the case (412 for a failed `If-Match`, 413 for a body too large,
//! 415 for an unsupported media type).

use http::StatusCode;
use tonic::Code;

/// How one reason is answered over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReasonEntry {
    pub reason: &'static str,
    pub status: StatusCode,
    pub code: u32,
    /// When it happens, for the API documentation.
    pub summary: &'static str,
}

const fn entry(reason: &'static str, status: u16, code: u32, summary: &'static str) -> ReasonEntry {
    let status = match StatusCode::from_u16(status) {
        Ok(status) => status,
        Err(_) => panic!("an invalid HTTP status in the reason table"),
    };
    ReasonEntry {
        reason,
        status,
        code,
        summary,
    }
}

/// Every reason the services send (common.proto's `ErrorReason`, moderation's
/// reasons) and every reason the gateway itself answers with.
pub const TABLE: &[ReasonEntry] = &[
    // Invalid input.
    entry(
        "INVALID_FIELD",
        400,
        400_000,
        "One or more fields are invalid; `fields` names each.",
    ),
    entry(
        "MALFORMED_REQUEST",
        400,
        400_001,
        "The body is not JSON, or not the JSON of this call (gateway).",
    ),
    entry(
        "PAGE_TOKEN_INVALID",
        400,
        400_002,
        "The page token is malformed or belongs to another query.",
    ),
    entry(
        "CURSOR_INVALID",
        400,
        400_003,
        "The event cursor (`Last-Event-ID`) is malformed.",
    ),
    entry(
        "AVATAR_FILE_INVALID",
        400,
        400_004,
        "The avatar file does not exist, is no avatar image, or belongs to another user.",
    ),
    entry(
        "UPLOAD_SIZE_MISMATCH",
        400,
        400_005,
        "The upload carried more or fewer bytes than declared.",
    ),
    entry(
        "CONTENT_TYPE_MISMATCH",
        400,
        400_006,
        "The declared content type disagrees with the bytes.",
    ),
    entry("IMAGE_INVALID", 400, 400_007, "The image does not decode."),
    entry(
        "IMAGE_TOO_LARGE",
        400,
        400_008,
        "The image's pixel dimensions exceed the configured bounds.",
    ),
    entry(
        "UNSUPPORTED_MEDIA_TYPE",
        415,
        400_009,
        "The content type is not accepted here (for this purpose, or for this call).",
    ),
    entry(
        "FILE_TOO_LARGE",
        413,
        400_010,
        "The upload exceeds `files.max_upload_bytes`.",
    ),
    entry(
        "BODY_TOO_LARGE",
        413,
        400_011,
        "The request body exceeds the gateway's limit (gateway).",
    ),
    entry(
        "LENGTH_REQUIRED",
        411,
        400_012,
        "A streamed upload needs a `Content-Length` (gateway).",
    ),
    entry(
        "RANGE_NOT_SATISFIABLE",
        416,
        400_013,
        "The `Range` lies outside the file (gateway).",
    ),
    entry(
        "CURSOR_EXPIRED",
        410,
        400_014,
        "The events after this cursor are no longer kept: re-read the state, then watch without `Last-Event-ID`.",
    ),
    // "Already deleted" is the seeds' 400000.
    entry(
        "USER_DELETED",
        400,
        400_000,
        "The user is deleted; deletion is final.",
    ),
    entry(
        "USER_ALREADY_DELETED",
        400,
        400_000,
        "The user is deleted or being deleted already.",
    ),
    // Authentication.
    entry(
        "TOKEN_MISSING",
        401,
        400_100,
        "No `Authorization: Bearer <token>` header.",
    ),
    entry(
        "TOKEN_INVALID",
        401,
        400_101,
        "The token is malformed, badly signed or from another issuer.",
    ),
    entry("TOKEN_EXPIRED", 401, 400_102, "The token has expired."),
    entry(
        "TOKEN_REVOKED",
        401,
        400_103,
        "The user's tokens were revoked after this one was issued.",
    ),
    entry(
        "AUTH_TOKEN_INVALID",
        401,
        400_104,
        "A native login without a valid credential.",
    ),
    entry(
        "AUTH_TOKEN_EXPIRED",
        401,
        400_105,
        "A login credential past its expiry.",
    ),
    entry(
        "GUEST_SECRET_INVALID",
        401,
        400_106,
        "Resuming a guest without its guest secret or a session of it.",
    ),
    // Refusals.
    entry(
        "PERMISSION_DENIED",
        403,
        400_301,
        "The caller may not make this call on this target.",
    ),
    entry("USER_BANNED", 403, 400_312, "The user is globally banned."),
    entry(
        "GUESTS_DISABLED",
        403,
        400_320,
        "Guest logins are off on this deployment.",
    ),
    entry(
        "LOGIN_CREDENTIAL_REQUIRED",
        403,
        400_321,
        "This user logs in only with a credential.",
    ),
    entry(
        "FILE_ACCESS_DENIED",
        403,
        400_322,
        "The caller may not read this private file.",
    ),
    entry(
        "FILE_LINK_INVALID",
        403,
        400_323,
        "The download link is malformed, expired or for another file.",
    ),
    entry(
        "TARGET_EXEMPT",
        403,
        400_324,
        "The target user is exempt from this moderation action.",
    ),
    // Missing things; a missing user is the seeds' 400400.
    entry(
        "USER_NOT_FOUND",
        404,
        400_400,
        "No user with this id or name.",
    ),
    entry("ROLE_NOT_FOUND", 404, 400_401, "No role with this name."),
    entry(
        "GRANT_NOT_FOUND",
        404,
        400_402,
        "The user does not hold this role in this scope.",
    ),
    entry("FILE_NOT_FOUND", 404, 400_403, "No file with this id."),
    entry(
        "FILE_VARIANT_NOT_FOUND",
        404,
        400_404,
        "The file has no such variant (only avatars have 64 and 256).",
    ),
    entry(
        "FLAG_NOT_FOUND",
        404,
        400_405,
        "The caller has no flag on this user.",
    ),
    entry(
        "BAN_NOT_FOUND",
        404,
        400_406,
        "The user has no (active) ban.",
    ),
    entry(
        "DELETION_JOB_NOT_FOUND",
        404,
        400_407,
        "No deletion job with this id.",
    ),
    entry("ROUTE_NOT_FOUND", 404, 400_410, "No such route (gateway)."),
    entry(
        "METHOD_NOT_ALLOWED",
        405,
        400_411,
        "The route does not answer this method; `Allow` lists those it does (gateway).",
    ),
    // States that forbid the call.
    entry(
        "ROLE_BUILT_IN",
        400,
        400_500,
        "Built-in roles cannot be changed or deleted.",
    ),
    entry(
        "ROLE_IN_USE",
        400,
        400_501,
        "The role is still granted; delete with `force=true`.",
    ),
    entry(
        "ROLE_NOT_ASSIGNABLE",
        400,
        400_502,
        "This role cannot be granted through the API.",
    ),
    entry(
        "LOGIN_NOT_CONFIGURED",
        400,
        400_503,
        "Native logins need `users.login_secret`, which is not configured.",
    ),
    // Conflicts.
    entry(
        "USER_ALREADY_EXISTS",
        409,
        400_900,
        "A user with this name exists.",
    ),
    entry(
        "ROLE_ALREADY_EXISTS",
        409,
        400_901,
        "A role with this name exists.",
    ),
    entry(
        "VERSION_CONFLICT",
        412,
        400_902,
        "`If-Match` (the expected version) no longer matches; re-read and retry.",
    ),
    entry(
        "UPLOAD_ABORTED",
        409,
        400_903,
        "The upload stream failed mid-way; nothing was stored.",
    ),
    // Safe retries (`Idempotency-Key`), with the statuses of the IETF
    // idempotency-key draft.
    entry(
        "IDEMPOTENCY_KEY_REUSED",
        422,
        400_904,
        "This `Idempotency-Key` was used for a different request; use a new key for a new request.",
    ),
    entry(
        "IDEMPOTENCY_KEY_IN_FLIGHT",
        409,
        400_905,
        "A request with this `Idempotency-Key` is still running; retry after `Retry-After` to get its answer.",
    ),
    entry(
        "IDEMPOTENT_ANSWER_LOST",
        409,
        400_906,
        "The request with this `Idempotency-Key` was applied but its answer was not kept; read the resource.",
    ),
    // Rate limits.
    entry(
        "RATE_LIMITED",
        429,
        400_311,
        "Too many requests from this caller; `Retry-After` says when to retry (gateway).",
    ),
    entry(
        "LOGIN_RATE_LIMITED",
        429,
        400_313,
        "Too many failed logins; `Retry-After` says when to retry.",
    ),
    // Server side.
    entry(
        "INTERNAL",
        500,
        500_000,
        "An unexpected failure; the server log has the details.",
    ),
    entry(
        "UNIMPLEMENTED",
        501,
        500_001,
        "The service behind this route does not run in this deployment.",
    ),
    entry(
        "UNAVAILABLE",
        503,
        500_003,
        "A service or the database did not answer; retry later.",
    ),
    entry(
        "DEADLINE_EXCEEDED",
        504,
        500_004,
        "The call did not finish within its deadline; retry later.",
    ),
    entry(
        "SHUTTING_DOWN",
        503,
        500_005,
        "The server is shutting down; reconnect (to another replica) and resume.",
    ),
];

/// Code and status of any call that ran out of time (gRPC DEADLINE_EXCEEDED),
/// whatever reason it names: the timeout, not the reason, decides.
pub const DEADLINE: (StatusCode, u32) = (StatusCode::GATEWAY_TIMEOUT, 500_004);

pub fn lookup(reason: &str) -> Option<&'static ReasonEntry> {
    TABLE.iter().find(|entry| entry.reason == reason)
}

/// The reason given to a status that carries no `ErrorInfo` (a transport
/// failure, or a peer that is no Roster service), from its gRPC code.
pub fn reason_of_code(code: Code) -> &'static str {
    match code {
        Code::InvalidArgument | Code::OutOfRange | Code::FailedPrecondition => "INVALID_FIELD",
        Code::Unauthenticated => "TOKEN_INVALID",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::Aborted => "ABORTED",
        Code::ResourceExhausted => "RATE_LIMITED",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::Unavailable | Code::Cancelled => "UNAVAILABLE",
        Code::Ok | Code::Unknown | Code::Internal | Code::DataLoss => "INTERNAL",
    }
}

/// HTTP status and code of a reason the table does not know (a service newer
/// than this gateway): taken from the gRPC code, so the answer stays right in kind.
pub fn fallback(code: Code) -> (StatusCode, u32) {
    match code {
        Code::InvalidArgument | Code::OutOfRange | Code::FailedPrecondition => {
            (StatusCode::BAD_REQUEST, 400_000)
        }
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, 400_100),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, 400_301),
        Code::NotFound => (StatusCode::NOT_FOUND, 400_400),
        Code::AlreadyExists | Code::Aborted => (StatusCode::CONFLICT, 400_900),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, 400_311),
        Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, 500_001),
        Code::Unavailable | Code::Cancelled => (StatusCode::SERVICE_UNAVAILABLE, 500_003),
        Code::DeadlineExceeded => DEADLINE,
        Code::Ok | Code::Unknown | Code::Internal | Code::DataLoss => {
            (StatusCode::INTERNAL_SERVER_ERROR, 500_000)
        }
    }
}

/// The table as Markdown, for the OpenAPI document's description.
pub fn markdown_table() -> String {
    let mut out = String::from("| reason | HTTP | code | when |\n|---|---|---|---|\n");
    for entry in TABLE {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            entry.reason,
            entry.status.as_u16(),
            entry.code,
            entry.summary
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_listed_once_with_a_six_digit_code() {
        for (i, entry) in TABLE.iter().enumerate() {
            assert!(
                (100_000..1_000_000).contains(&entry.code),
                "{} has code {}",
                entry.reason,
                entry.code
            );
            assert!(
                TABLE[i + 1..]
                    .iter()
                    .all(|other| other.reason != entry.reason),
                "{} is listed twice",
                entry.reason
            );
            assert!(entry.status.is_client_error() || entry.status.is_server_error());
            // The code's family says whether the client or the server failed.
            assert_eq!(
                entry.code >= 500_000,
                entry.status.is_server_error(),
                "{}",
                entry.reason
            );
        }
    }

    #[test]
    fn the_seed_codes_are_kept() {
        assert_eq!(lookup("USER_NOT_FOUND").map(|e| e.code), Some(400_400));
        assert_eq!(
            lookup("USER_ALREADY_DELETED").map(|e| e.code),
            Some(400_000)
        );
        assert_eq!(lookup("USER_DELETED").map(|e| e.code), Some(400_000));
    }

    #[test]
    fn a_status_without_a_known_reason_is_answered_by_its_code() {
        for code in [
            Code::Ok,
            Code::Cancelled,
            Code::Unknown,
            Code::InvalidArgument,
            Code::DeadlineExceeded,
            Code::NotFound,
            Code::AlreadyExists,
            Code::PermissionDenied,
            Code::ResourceExhausted,
            Code::FailedPrecondition,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unimplemented,
            Code::Internal,
            Code::Unavailable,
            Code::DataLoss,
            Code::Unauthenticated,
        ] {
            let (status, number) = fallback(code);
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code:?}"
            );
            assert_eq!(number >= 500_000, status.is_server_error(), "{code:?}");
            // Where the code's reason is in the table, both agree.
            if let Some(entry) = lookup(reason_of_code(code))
                && code != Code::Cancelled
            {
                assert_eq!(entry.status, status, "{code:?}");
            }
        }
    }
}
