//! Reading a file: its metadata and its bytes, to whoever [`access::may_read`]
//! lets through.

use bytes::Bytes;
use futures::{StreamExt, stream::BoxStream};
use roster_kit::{Error, Result};

use super::{
    Files,
    access::{self, Caller},
    types::{FileId, FileRecord, ObjectKey, Variant, VariantInfo, not_found},
};

/// Largest download chunk sent to clients.
pub const DOWNLOAD_CHUNK: usize = 64 * 1024;

/// Which file a read is for, and the download link it presents, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRead {
    pub id: FileId,
    pub link_token: Option<String>,
}

/// A rendition being sent: its description, then its bytes in chunks of at
/// most [`DOWNLOAD_CHUNK`] bytes.
pub struct Download {
    pub info: VariantInfo,
    pub bytes: BoxStream<'static, Result<Bytes>>,
}

impl Files {
    /// A file's metadata, when `caller` may read it.
    pub async fn get(&self, caller: &Caller, read: &FileRead) -> Result<FileRecord> {
        let link = self.check_link(read.link_token.as_deref());
        match self.repo.get(read.id.as_str()).await? {
            Some(record) => {
                access::may_read(caller, &link, &record)?;
                Ok(record)
            }
            None => {
                access::may_learn_absence(caller, &link, read.id.as_str())?;
                Err(not_found(read.id.as_str()))
            }
        }
    }

    /// A rendition of a file, when `caller` may read it.
    pub async fn download(
        &self,
        caller: &Caller,
        read: &FileRead,
        variant: Variant,
    ) -> Result<Download> {
        let record = self.get(caller, read).await?;
        let info = record.rendition(variant).ok_or_else(|| {
            Error::not_found(
                "FILE_VARIANT_NOT_FOUND",
                format!("file {} has no {} variant", record.id, variant.key_suffix()),
            )
        })?;
        let stream = self
            .objects
            .read(&ObjectKey::new(&record.id, variant))
            .await?;
        Ok(Download {
            info,
            bytes: in_chunks(stream, DOWNLOAD_CHUNK),
        })
    }

    /// A file's metadata for a caller already allowed to act on it by other rules.
    pub(crate) async fn find(&self, id: &FileId) -> Result<FileRecord> {
        self.repo
            .get(id.as_str())
            .await?
            .ok_or_else(|| not_found(id.as_str()))
    }
}

/// The same bytes, in pieces of at most `max` bytes (storage reads come in
/// whatever sizes the backend likes).
fn in_chunks(
    stream: BoxStream<'static, Result<Bytes>>,
    max: usize,
) -> BoxStream<'static, Result<Bytes>> {
    stream
        .flat_map(move |chunk| {
            let pieces: Vec<Result<Bytes>> = match chunk {
                Ok(mut bytes) => {
                    let mut pieces = Vec::new();
                    while bytes.len() > max {
                        pieces.push(Ok(bytes.split_to(max)));
                    }
                    pieces.push(Ok(bytes));
                    pieces
                }
                Err(err) => vec![Err(err)],
            };
            futures::stream::iter(pieces)
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn chunking_keeps_every_byte_in_order_within_the_bound(
            reads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
            max in 1..100usize,
        ) {
            let stream = futures::stream::iter(reads.clone().into_iter().map(|r| Ok(Bytes::from(r)))).boxed();
            let pieces: Vec<Bytes> = futures::executor::block_on(
                in_chunks(stream, max).map(|piece| piece.unwrap_or_default()).collect(),
            );
            prop_assert!(pieces.iter().all(|p| p.len() <= max));
            prop_assert_eq!(pieces.concat(), reads.concat());
        }
    }
}
