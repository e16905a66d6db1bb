//! The user service over real gRPC, on SQLite and PostgreSQL.

mod auth;
mod batch;
mod create;
mod events;
mod login;
mod presence;
mod query;
mod replicas;
mod search_plan;
mod split;
mod tokens;
mod update;
