//! The Roster suite over real gRPC: every service as `roster serve` runs it,
//! on SQLite and on PostgreSQL.

mod authz;
mod helpers;
mod idempotency;
mod moderation;
mod notified;
mod users;
