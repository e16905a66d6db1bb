//! The bytes: one object per stored rendition, behind `object_store` (a local
//! directory or S3-compatible storage).
//!
//! Keys are `<first two characters of the id>/<id>-<variant>`, so the local
//! backend spreads files over at most 256 directories and never leaves an empty
//! per-file directory behind.

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use object_store::{
    ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart, aws::AmazonS3Builder,
    local::LocalFileSystem, path::Path as ObjectPath, prefix::PrefixStore,
};
use roster_kit::{Error, Result, error::ErrorKind};

use crate::{
    domain::Variant,
    settings::{StorageBackend, StorageSettings},
};

/// Parts of a multipart upload are at least this large (S3's minimum part size).
const PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts of one multipart upload in flight at once.
const MAX_PARTS_IN_FLIGHT: usize = 2;

/// Opens the configured object store. Public so operators' tools and tests can
/// look at exactly what the service stores.
pub fn open_store(
    settings: &StorageSettings,
    data_dir: &std::path::Path,
) -> Result<Arc<dyn ObjectStore>> {
    match settings.backend {
        StorageBackend::Local => {
            let dir = settings.local_dir(data_dir);
            std::fs::create_dir_all(&dir).map_err(Error::internal)?;
            let store = LocalFileSystem::new_with_prefix(&dir).map_err(Error::internal)?;
            Ok(Arc::new(store))
        }
        StorageBackend::S3 => {
            let s3 = &settings.s3;
            if s3.bucket.trim().is_empty() {
                return Err(Error::invalid_field(
                    "files.storage.s3.bucket",
                    "is required with the s3 backend",
                ));
            }
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(&s3.bucket)
                .with_allow_http(s3.allow_http);
            if let Some(endpoint) = &s3.endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            if let Some(region) = &s3.region {
                builder = builder.with_region(region);
            }
            if let Some(key) = &s3.access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = &s3.secret_access_key {
                builder = builder.with_secret_access_key(secret.expose());
            }
            let store = builder.build().map_err(Error::internal)?;
            match s3
                .prefix
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                Some(prefix) => Ok(Arc::new(PrefixStore::new(store, prefix))),
                None => Ok(Arc::new(store)),
            }
        }
    }
}

/// The file service's view of the object store.
#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
}

impl BlobStore {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// Where one rendition of a file lives.
    pub fn key(file_id: &str, variant: Variant) -> ObjectPath {
        let shard: String = file_id.chars().take(2).collect();
        ObjectPath::from(format!("{shard}/{file_id}-{}", variant.key_suffix()))
    }

    /// Writes a whole object at once.
    pub async fn put(&self, key: &ObjectPath, bytes: Bytes) -> Result<()> {
        self.store
            .put(key, PutPayload::from_bytes(bytes))
            .await
            .map(|_| ())
            .map_err(storage_error)
    }

    /// Starts a streaming write; nothing is visible at `key` before
    /// [`StreamingWrite::finish`] succeeds.
    pub async fn start_write(&self, key: &ObjectPath) -> Result<StreamingWrite> {
        let upload = self.store.put_multipart(key).await.map_err(storage_error)?;
        Ok(StreamingWrite {
            writer: Some(WriteMultipart::new_with_chunk_size(upload, PART_SIZE)),
        })
    }

    /// The object's bytes as a stream.
    pub async fn read(&self, key: &ObjectPath) -> Result<BoxStream<'static, Result<Bytes>>> {
        let result = self.store.get(key).await.map_err(storage_error)?;
        Ok(result.into_stream().map_err(storage_error).boxed())
    }

    /// Deletes an object; an absent one counts as deleted.
    pub async fn delete(&self, key: &ObjectPath) -> Result<()> {
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(storage_error(err)),
        }
    }
}

/// An object being written part by part. Dropped unfinished (e.g. the call
/// was cancelled), it aborts the upload in the background.
pub struct StreamingWrite {
    writer: Option<WriteMultipart>,
}

impl StreamingWrite {
    fn writer(&mut self) -> Result<&mut WriteMultipart> {
        self.writer
            .as_mut()
            .ok_or_else(|| Error::internal("write after finish"))
    }

    pub async fn write(&mut self, bytes: Bytes) -> Result<()> {
        let writer = self.writer()?;
        writer
            .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
            .await
            .map_err(storage_error)?;
        writer.put(bytes);
        Ok(())
    }

    pub async fn finish(mut self) -> Result<()> {
        match self.writer.take() {
            Some(writer) => writer.finish().await.map(|_| ()).map_err(storage_error),
            None => Err(Error::internal("finish after finish")),
        }
    }

    /// Discards what was written; best effort.
    pub async fn abort(mut self) {
        if let Some(writer) = self.writer.take() {
            abort(writer).await;
        }
    }
}

async fn abort(writer: WriteMultipart) {
    if let Err(err) = writer.abort().await {
        tracing::warn!(error = %err, "aborting a partial upload failed");
    }
}

impl Drop for StreamingWrite {
    fn drop(&mut self) {
        if let (Some(writer), Ok(runtime)) =
            (self.writer.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(abort(writer));
        }
    }
}

fn storage_error(err: object_store::Error) -> Error {
    match err {
        object_store::Error::NotFound { .. } => {
            Error::new(ErrorKind::Internal, "INTERNAL", "internal error").with_source(err)
        }
        other => Error::new(
            ErrorKind::Unavailable,
            "UNAVAILABLE",
            "the file storage did not answer",
        )
        .with_source(other),
    }
}

/// Objects written for an upload that has not been committed yet. Unless
/// [`PendingObjects::keep`] is called they are deleted: by
/// [`PendingObjects::discard`] on a failure, or from `Drop` when the upload is
/// cancelled (e.g. the call's deadline passed).
pub(crate) struct PendingObjects {
    blob: BlobStore,
    keys: Vec<ObjectPath>,
}

impl PendingObjects {
    pub(crate) fn new(blob: BlobStore) -> Self {
        Self {
            blob,
            keys: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, key: ObjectPath) {
        self.keys.push(key);
    }

    pub(crate) fn keep(mut self) {
        self.keys.clear();
    }

    pub(crate) async fn discard(mut self) {
        let keys = std::mem::take(&mut self.keys);
        delete_all(&self.blob, &keys).await;
    }
}

async fn delete_all(blob: &BlobStore, keys: &[ObjectPath]) {
    for key in keys {
        if let Err(err) = blob.delete(key).await {
            tracing::error!(error = %err, key = %key, "could not delete an object of a failed upload");
        }
    }
}

impl Drop for PendingObjects {
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        let keys = std::mem::take(&mut self.keys);
        let blob = self.blob.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { delete_all(&blob, &keys).await });
        } else {
            tracing::error!(
                count = keys.len(),
                "objects of a cancelled upload were left behind"
            );
        }
    }
}
