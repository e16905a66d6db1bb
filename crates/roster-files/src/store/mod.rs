//! Where the file service keeps things: file metadata in its own `files`
//! table through sea-orm ([`metadata`], tables in [`entity`]), and the bytes in
//! `object_store`, a local directory or S3-compatible storage ([`objects`]).
//! Each implements a port of `domain::ports`.

pub mod entity;
pub mod metadata;
pub mod objects;

pub use metadata::SeaOrmFiles;
pub use objects::{ObjectStoreBlobs, open_store};
