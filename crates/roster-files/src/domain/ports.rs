//! What the file service's rules need from outside, as traits the domain owns:
//! its metadata repository and its object storage (both implemented by
//! `store`), and the role service's answers (implemented by `peers`). Every
//! trait is object-safe and `Send + Sync`.

use std::collections::HashSet;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use roster_kit::Result;

use super::types::{FilePage, FileRecord, ObjectKey, Purpose, Visibility};

/// Which of a user's files a listing reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub owner_user_id: i64,
    /// Only files of this purpose; `None` for all.
    pub purpose: Option<Purpose>,
    /// Only files of this visibility; `None` for all.
    pub visibility: Option<Visibility>,
    /// Strictly before this listing position (newest first); `None` from the start.
    pub before: Option<i64>,
    pub limit: u64,
}

/// File metadata.
#[async_trait]
pub trait FileRepository: Send + Sync + 'static {
    /// Inserts the row of a fully stored file.
    async fn insert(&self, record: &FileRecord) -> Result<()>;

    async fn get(&self, id: &str) -> Result<Option<FileRecord>>;

    /// Files matching `query`, newest first, at most `query.limit`.
    async fn list(&self, query: &ListQuery) -> Result<FilePage>;

    /// How many files `owner_user_id` has.
    async fn count_owned(&self, owner_user_id: i64) -> Result<u64>;

    /// Deletes the rows of `ids`; returns how many existed.
    async fn delete(&self, ids: &[String]) -> Result<u64>;

    /// Those of `ids` that have a row.
    async fn existing(&self, ids: &[String]) -> Result<HashSet<String>>;
}

/// An object as the storage lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub key: ObjectKey,
    /// When it was last written.
    pub last_modified: DateTime<Utc>,
}

/// The bytes: one object per stored rendition.
#[async_trait]
pub trait ObjectStorage: Send + Sync + 'static {
    /// Writes a whole object at once.
    async fn put(&self, key: &ObjectKey, bytes: Bytes) -> Result<()>;

    /// Starts a streaming write; nothing is visible at `key` before
    /// [`ObjectWrite::finish`] succeeds.
    async fn start_write(&self, key: &ObjectKey) -> Result<Box<dyn ObjectWrite>>;

    /// The object's bytes as a stream.
    async fn read(&self, key: &ObjectKey) -> Result<BoxStream<'static, Result<Bytes>>>;

    /// Deletes objects; absent ones count as deleted.
    async fn delete(&self, keys: &[ObjectKey]) -> Result<()>;

    /// Every stored object named like the objects this service writes (others
    /// are not listed), in no particular order.
    fn list(&self) -> BoxStream<'static, Result<StoredObject>>;
}

/// An object being written part by part. Dropped unfinished (e.g. the call was
/// cancelled), it aborts by itself.
#[async_trait]
pub trait ObjectWrite: Send {
    async fn write(&mut self, bytes: Bytes) -> Result<()>;

    /// Makes the object visible.
    async fn finish(self: Box<Self>) -> Result<()>;

    /// Discards what was written; best effort.
    async fn abort(self: Box<Self>);
}

/// Permissions held in the role service.
#[async_trait]
pub trait Permissions: Send + Sync + 'static {
    /// Whether user `user_id` holds `permission` network-wide.
    async fn holds(&self, user_id: i64, permission: &str) -> Result<bool>;
}
