//! The Roster service chassis.
//!
//! Everything a Roster service needs besides its own domain code: layered
//! configuration, telemetry, database connections and migrations, caller
//! identity, the error type and its gRPC mapping, paging cursors, and the gRPC
//! server with health, reflection and the shared tower stack.

pub mod admin;
pub mod auth;
pub mod authz;
pub mod cache;
pub mod client;
pub mod config;
pub mod db;
pub mod durability;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod keys;
pub mod lifecycle;
pub mod metrics;
pub mod origin;
pub mod outbox;
pub mod paging;
pub mod server;
pub mod service;
pub mod session;
pub mod tasks;
pub mod telemetry;
pub mod wake;

pub use auth::{Actor, TokenKeys};
pub use error::{Error, FieldViolation, Result};

#[cfg(feature = "testing")]
pub mod testing;
