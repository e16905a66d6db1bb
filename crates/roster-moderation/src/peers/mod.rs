//! What the moderation service needs from the other services, over gRPC:
//! the user service (lookups, the tombstone), the role service (permission
//! checks, revoking grants, and its event stream for the audit log), the file
//! service (erasing files) and the products' deletion participants.

mod files;
mod participants;
mod role_audit;
mod roles;
mod users;

pub use files::FileClient;
pub use participants::ParticipantClient;
pub use role_audit::follow_role_changes;
pub use roles::RoleClient;
pub use users::UserClient;

use roster_kit::{Error, error::ErrorKind};

/// A peer's failure as the domain sees it: the call may be retried.
fn unavailable(peer: &str, status: tonic::Status) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        "UNAVAILABLE",
        format!("the {peer} did not answer: {}", status.message()),
    )
    .with_source(status)
}
