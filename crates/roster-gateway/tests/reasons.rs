//! Walks every error reason `common.proto` documents, with the gRPC code it
//! documents, through the gateway's one mapping: each is answered with the
//! table's HTTP status and six-digit code, a status consistent with its gRPC
//! code, and the error body; none panics or falls through to a default.

use axum::response::IntoResponse;
use http::StatusCode;
use roster_gateway::{error::ApiError, reasons};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

const COMMON: &str = include_str!("../../../proto/roster/v1/common.proto");

/// (reason, the gRPC codes its comment names), in enum order.
fn documented() -> Vec<(String, Vec<Code>)> {
    let mut found = Vec::new();
    let mut comment = Vec::new();
    for line in COMMON.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("//") {
            comment.push(text.trim().to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("ERROR_REASON_")
            && let Some((name, _)) = rest.split_once(' ')
            && name != "UNSPECIFIED"
        {
            // The code(s) open the comment: "NOT_FOUND: …", "DEADLINE_EXCEEDED / UNAVAILABLE: …".
            let first = comment
                .iter()
                .find(|line| line.contains(':'))
                .cloned()
                .unwrap_or_default();
            let head = first.split(':').next().unwrap_or_default();
            let codes = head.split('/').filter_map(|c| code(c.trim())).collect();
            found.push((name.to_owned(), codes));
        }
        comment.clear();
    }
    found
}

fn code(name: &str) -> Option<Code> {
    Some(match name {
        "INVALID_ARGUMENT" => Code::InvalidArgument,
        "UNAUTHENTICATED" => Code::Unauthenticated,
        "PERMISSION_DENIED" => Code::PermissionDenied,
        "NOT_FOUND" => Code::NotFound,
        "ALREADY_EXISTS" => Code::AlreadyExists,
        "ABORTED" => Code::Aborted,
        "FAILED_PRECONDITION" => Code::FailedPrecondition,
        "RESOURCE_EXHAUSTED" => Code::ResourceExhausted,
        "INTERNAL" => Code::Internal,
        "UNAVAILABLE" => Code::Unavailable,
        "DEADLINE_EXCEEDED" => Code::DeadlineExceeded,
        "OUT_OF_RANGE" => Code::OutOfRange,
        _ => return None,
    })
}

/// The HTTP statuses a gRPC code may be answered with: `google.rpc.Code`'s
/// mapping, and the more precise statuses HTTP has for some of its cases.
fn consistent(code: Code, status: StatusCode) -> bool {
    let allowed: &[u16] = match code {
        Code::InvalidArgument => &[400, 413, 415],
        // Idempotency keys answer as the IETF idempotency-key draft does: a key
        // reused for another request is 422, a change made without its kept
        // answer a conflict.
        Code::FailedPrecondition => &[400, 409, 422],
        // A cursor past what is kept: the events are gone.
        Code::OutOfRange => &[400, 410],
        Code::Unauthenticated => &[401],
        Code::PermissionDenied => &[403],
        Code::NotFound => &[404],
        Code::AlreadyExists => &[409],
        // An expected version that moved: If-Match failed.
        Code::Aborted => &[409, 412],
        Code::ResourceExhausted => &[429],
        Code::Internal => &[500],
        Code::Unavailable => &[503],
        Code::DeadlineExceeded => &[504],
        _ => &[],
    };
    allowed.contains(&status.as_u16())
}

async fn answer(status: Status) -> (StatusCode, http::HeaderMap, serde_json::Value) {
    let response = ApiError::from(status).into_response();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    (
        parts.status,
        parts.headers,
        serde_json::from_slice(&bytes).unwrap_or_default(),
    )
}

#[tokio::test]
async fn every_documented_reason_is_answered_by_the_table() {
    let documented = documented();
    assert!(
        documented.len() >= 45,
        "{} reasons read from common.proto",
        documented.len()
    );
    for (reason, codes) in documented {
        let entry = reasons::lookup(&reason)
            .unwrap_or_else(|| panic!("{reason} has no row in the gateway's error table"));
        assert!(
            !codes.is_empty(),
            "{reason}: its comment names no gRPC code"
        );
        for code in codes {
            let mut details = ErrorDetails::with_error_info(
                &reason,
                "roster.dev",
                std::collections::HashMap::<String, String>::new(),
            );
            details.add_bad_request_violation("patch.display_name", "too long");
            let (status, _, body) =
                answer(Status::with_error_details(code, "it failed", details)).await;
            let expected = if code == Code::DeadlineExceeded {
                reasons::DEADLINE.0
            } else {
                entry.status
            };
            assert_eq!(status, expected, "{reason} ({code:?})");
            assert!(
                consistent(code, status),
                "{reason}: {status} for gRPC {code:?}"
            );
            assert_eq!(body["status"], "error", "{reason}");
            assert_eq!(body["reason"], reason.as_str(), "{reason}");
            assert_eq!(
                body["code"].as_u64(),
                Some(u64::from(if code == Code::DeadlineExceeded {
                    reasons::DEADLINE.1
                } else {
                    entry.code
                }))
            );
            assert_eq!(body["message"], "it failed", "{reason}");
            assert_eq!(body["fields"][0]["field"], "patch.displayName", "{reason}");
        }
    }
}

#[tokio::test]
async fn retry_hints_become_retry_after_and_unknown_reasons_keep_their_kind() {
    let mut details = ErrorDetails::with_error_info(
        "LOGIN_RATE_LIMITED",
        "roster.dev",
        std::collections::HashMap::<String, String>::new(),
    );
    details.set_retry_info(Some(std::time::Duration::from_millis(2500)));
    let (status, headers, _) = answer(Status::with_error_details(
        Code::ResourceExhausted,
        "slow down",
        details,
    ))
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("3")
    );

    // A reason newer than this gateway: answered by its gRPC code, reason kept.
    let details = ErrorDetails::with_error_info(
        "SOMETHING_NEW",
        "roster.dev",
        std::collections::HashMap::<String, String>::new(),
    );
    let (status, _, body) =
        answer(Status::with_error_details(Code::NotFound, "gone", details)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        (&body["reason"], &body["code"]),
        (
            &serde_json::json!("SOMETHING_NEW"),
            &serde_json::json!(400_400)
        )
    );

    // A status without details (a transport failure): its text stays in the log.
    let (status, _, body) = answer(Status::internal("h2 protocol error: secret detail")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["reason"], "INTERNAL");
    assert!(
        !body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("secret")
    );
}
