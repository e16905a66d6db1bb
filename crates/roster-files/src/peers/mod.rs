//! What the file service needs from the other services: permission answers
//! from the role service ([`roles`]).

pub mod roles;

pub use roles::RolePermissions;
