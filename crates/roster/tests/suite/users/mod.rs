//! The user service over real gRPC, on SQLite and PostgreSQL.

mod auth;
mod batch;
mod create;
mod credentials;
mod events;
mod guests;
mod international;
mod jwks;
mod login;
mod login_limits;
mod presence;
mod properties;
mod query;
mod replicas;
mod search_plan;
mod split;
mod tokens;
mod update;
