//! The HTTP gateway over real HTTP against the real suite (`roster serve`'s
//! services and gateway, in process; one test drives the `roster` binary), on
//! SQLite and on PostgreSQL where storage matters.

mod console;
mod errors;
mod events;
mod files;
mod helpers;
mod limits;
mod memory;
mod moderation;
mod openapi;
mod profile;
mod roles;
mod sessions;
mod tour;
mod users;
