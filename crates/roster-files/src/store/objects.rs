//! The bytes: one object per stored rendition, behind `object_store` (a local
//! directory or S3-compatible storage).
//!
//! Keys are `<first two characters of the id>/<id>-<variant>`, so the local
//! backend spreads files over at most 256 directories and never leaves an empty
//! per-file directory behind.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use object_store::{
    ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart, aws::AmazonS3Builder,
    local::LocalFileSystem, path::Path as ObjectPath, prefix::PrefixStore,
};
use roster_kit::{Error, Result, error::ErrorKind};

use crate::{
    domain::{
        FileId, ObjectKey, Variant,
        ports::{ObjectStorage, ObjectWrite, StoredObject},
    },
    settings::{StorageBackend, StorageSettings},
};

/// Parts of a multipart upload to S3 are at least this large (S3's minimum
/// part size).
const S3_PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts of an upload to a local directory. A part is written once it is
/// full, while the rest of the upload still arrives: small parts keep the
/// writes going alongside the receiving (with S3's 5 MiB, a 1 MiB upload
/// would be written only after its last byte came). S3's minimum does not
/// apply to files.
const LOCAL_PART_SIZE: usize = 256 * 1024;
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

/// [`ObjectStorage`] over an `object_store` backend.
#[derive(Clone, Debug)]
pub struct ObjectStoreBlobs {
    store: Arc<dyn ObjectStore>,
    /// Bytes per part of a streamed write.
    part_size: usize,
}

impl ObjectStoreBlobs {
    /// Storage in `store`, a store of the `backend` kind ([`open_store`]).
    pub fn new(store: Arc<dyn ObjectStore>, backend: StorageBackend) -> Self {
        let part_size = match backend {
            StorageBackend::Local => LOCAL_PART_SIZE,
            StorageBackend::S3 => S3_PART_SIZE,
        };
        Self { store, part_size }
    }
}

/// Where one rendition of a file lives.
fn path(key: &ObjectKey) -> ObjectPath {
    let shard: String = key.file_id.chars().take(2).collect();
    ObjectPath::from(format!(
        "{shard}/{}-{}",
        key.file_id,
        key.variant.key_suffix()
    ))
}

/// The rendition stored at `location`, when [`path`] made it; anything else in
/// the store (another application's objects, a stray file) is not ours.
fn key_of(location: &ObjectPath) -> Option<ObjectKey> {
    let name = location.filename()?;
    let (id, suffix) = name.rsplit_once('-')?;
    let id = FileId::parse(id, "object key")
        .ok()
        .filter(|parsed| parsed.as_str() == id)?;
    let key = ObjectKey::new(id.as_str(), Variant::from_key_suffix(suffix)?);
    (path(&key) == *location).then_some(key)
}

#[async_trait]
impl ObjectStorage for ObjectStoreBlobs {
    async fn put(&self, key: &ObjectKey, bytes: Bytes) -> Result<()> {
        self.store
            .put(&path(key), PutPayload::from_bytes(bytes))
            .await
            .map(|_| ())
            .map_err(storage_error)
    }

    async fn start_write(&self, key: &ObjectKey) -> Result<Box<dyn ObjectWrite>> {
        let upload = self
            .store
            .put_multipart(&path(key))
            .await
            .map_err(storage_error)?;
        Ok(Box::new(StreamingWrite {
            writer: Some(WriteMultipart::new_with_chunk_size(upload, self.part_size)),
        }))
    }

    async fn read(&self, key: &ObjectKey) -> Result<BoxStream<'static, Result<Bytes>>> {
        let result = self.store.get(&path(key)).await.map_err(storage_error)?;
        Ok(result.into_stream().map_err(storage_error).boxed())
    }

    fn list(&self) -> BoxStream<'static, Result<StoredObject>> {
        self.store
            .list(None)
            .filter_map(|listed| async move {
                match listed {
                    Ok(meta) => key_of(&meta.location).map(|key| {
                        Ok(StoredObject {
                            key,
                            last_modified: meta.last_modified,
                        })
                    }),
                    Err(err) => Some(Err(storage_error(err))),
                }
            })
            .boxed()
    }

    async fn delete(&self, keys: &[ObjectKey]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        // One request per thousand keys on S3 (DeleteObjects); concurrent
        // removals on the local backend.
        let paths: Vec<object_store::Result<ObjectPath>> = keys.iter().map(path).map(Ok).collect();
        let mut deleted = self
            .store
            .delete_stream(futures::stream::iter(paths).boxed());
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => return Err(storage_error(err)),
            }
        }
        Ok(())
    }
}

/// An object being written part by part. Dropped unfinished (e.g. the call
/// was cancelled), it aborts the upload in the background.
struct StreamingWrite {
    writer: Option<WriteMultipart>,
}

impl StreamingWrite {
    fn writer(&mut self) -> Result<&mut WriteMultipart> {
        self.writer
            .as_mut()
            .ok_or_else(|| Error::internal("write after finish"))
    }
}

#[async_trait]
impl ObjectWrite for StreamingWrite {
    async fn write(&mut self, bytes: Bytes) -> Result<()> {
        let writer = self.writer()?;
        writer
            .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
            .await
            .map_err(storage_error)?;
        writer.put(bytes);
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<()> {
        match self.writer.take() {
            Some(writer) => writer.finish().await.map(|_| ()).map_err(storage_error),
            None => Err(Error::internal("finish after finish")),
        }
    }

    async fn abort(mut self: Box<Self>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_paths_map_back_to_the_keys_they_were_made_from() {
        let id = "6f9619ff-8b86-d011-b42d-00c04fc964ff";
        for variant in [Variant::Original, Variant::Size64, Variant::Size256] {
            let key = ObjectKey::new(id, variant);
            assert_eq!(key_of(&path(&key)), Some(key));
        }
        // Not ours: a wrong shard, an unknown variant, no UUID, upper case, nesting.
        for stray in [
            "zz/6f9619ff-8b86-d011-b42d-00c04fc964ff-original",
            "6f/6f9619ff-8b86-d011-b42d-00c04fc964ff-128",
            "no/not-a-uuid-original",
            "6F/6F9619FF-8B86-D011-B42D-00C04FC964FF-original",
            "x/6f/6f9619ff-8b86-d011-b42d-00c04fc964ff-original",
            "README",
        ] {
            assert_eq!(key_of(&ObjectPath::from(stray)), None, "{stray}");
        }
    }
}
