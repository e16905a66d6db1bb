//! The moderation service's rules and the types they speak: flags, bans, user
//! deletion, the audit log and the moderation events. Nothing here knows gRPC
//! or SQL: [`ports`] holds the traits the store and the peers implement.

pub mod access;
pub mod audit;
pub mod bans;
pub mod clock;
pub mod deletion;
pub mod events;
pub mod fields;
pub mod flags;
pub mod ports;
pub mod reasons;
mod service;

use roster_kit::Actor;

pub use clock::{Clock, SystemClock};
pub use service::{Moderation, user_deleted};

/// Who is calling, and the call's `x-request-id` (for the audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub actor: Actor,
    pub request_id: String,
}

impl Caller {
    pub fn new(actor: Actor, request_id: impl Into<String>) -> Self {
        Self {
            actor,
            request_id: request_id.into(),
        }
    }

    /// The actor's display string, e.g. "user:42", "admin:platform".
    pub fn label(&self) -> String {
        self.actor.to_string()
    }
}

/// One page of a listing: the items, and whether more follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub more: bool,
}

impl<T> Page<T> {
    /// From `limit + 1` fetched rows: keeps `limit`, notes whether there were more.
    pub fn from_overfetch(mut rows: Vec<T>, limit: u64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        Self { items: rows, more }
    }
}
