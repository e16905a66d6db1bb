//! Protobuf ↔ domain. Parsing happens here, at the edge: every request field
//! is validated and named in errors before the domain sees it; views turn
//! domain values back into messages.

mod pages;
#[cfg(test)]
mod properties;
mod requests;
mod views;

use chrono::{DateTime, TimeZone, Utc};
use prost_types::Timestamp;
use roster_kit::{Error, Result, auth::actor};
use tonic::{Request, Status};

use crate::domain::Caller;

pub use requests::{
    audit_query, bans_query, clear_flags, flags_query, job_id, jobs_query, unban, user_ids,
};
pub use views::{
    audit_page, ban, ban_change, bans_page, cleared, delete_outcome, event, flag_change,
    flagged_by_me, flags_page, job, jobs_page, unbanned, unflagged,
};

/// Longest request id kept (the `request_id` column).
const MAX_REQUEST_ID_CHARS: usize = 128;

/// The caller and its `x-request-id` (set by the server when the client sent none).
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    let actor = actor(request)?;
    let request_id = request
        .metadata()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(MAX_REQUEST_ID_CHARS)
        .collect::<String>();
    Ok(Caller::new(actor, request_id))
}

pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A request's timestamp. `nanos` must be 0–999 999 999 as protobuf defines it
/// (chrono would read 1–2 billion as a leap second, which no view writes back).
pub fn time_from(field: &str, ts: &Timestamp) -> Result<DateTime<Utc>> {
    u32::try_from(ts.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)
        .and_then(|nanos| Utc.timestamp_opt(ts.seconds, nanos).single())
        .ok_or_else(|| Error::invalid_field(field, "is not a valid timestamp"))
}

/// A user id field (> 0).
pub fn user_id(raw: i64, field: &str) -> Result<i64> {
    crate::domain::fields::user_id(raw, field).map_err(|v| Error::invalid(vec![v]))
}

/// An event cursor; empty means the beginning.
pub fn cursor(raw: &str) -> Result<i64> {
    if raw.is_empty() {
        return Ok(0);
    }
    raw.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
        let mut err = Error::invalid_field(
            "after_cursor",
            "is not a cursor of the moderation event stream",
        );
        err.reason = crate::domain::reasons::CURSOR_INVALID;
        err
    })
}
