//! What the user service needs from the other services, over gRPC: the file
//! service (avatar files), the role service (grants, for login checks), the
//! role event stream (users' network roles) and the moderation event stream
//! (bans, flag counts). Each implements a domain port.

mod files;
mod moderation_events;
mod role_events;
mod roles;

pub use files::FileLookup;
pub use moderation_events::ModerationSync;
pub use role_events::RoleSync;
pub use roles::RoleLookup;

use roster_kit::{Error, error::ErrorKind};

/// A peer that did not answer: the caller may retry.
fn unavailable(service: &str, status: tonic::Status) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        "UNAVAILABLE",
        format!("the {service} service did not answer"),
    )
    .with_source(status)
}
