//! The user domain: the user record, its validation rules and the operations
//! on it, one module per capability. Nothing here knows about protobuf or SQL:
//! storage and the other services are reached through the traits of [`ports`].

mod access;
pub mod avatars;
pub mod collation;
mod directory;
pub mod events;
pub mod fields;
pub mod login;
pub mod moderation;
pub mod ports;
mod presence;
pub mod presence_feed;
mod presence_writer;
mod profiles;
pub mod properties;
pub mod query;
pub mod roles;
mod search;
pub mod sessions;
pub mod unicode;
mod user;

pub use directory::{Collaborators, Directory, MAX_BATCH_GET};
pub use events::{UserEvent, UserEventKind};
pub use login::{LoginOutcome, LoginPolicy, LoginRequest};
pub use moderation::{ModerationChange, Tombstone};
pub use presence_feed::{LivePresence, PresenceBatch, PresenceFeed};
pub use presence_writer::PresenceWrite;
pub use roles::{NetworkRole, RoleChange};
pub use sessions::{UserSessionCheck, session_refusal};
pub use user::{
    Avatar, CallStatus, DEFAULT_PRESENCE_STATUS, DELETED_DISPLAY_NAME, ExternalPicture, NewUser,
    Presence, PresenceChange, ProfilePatch, Properties, User, UserKey, UserType,
};
