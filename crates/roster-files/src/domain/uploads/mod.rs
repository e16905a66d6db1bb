//! Uploads: the header is checked first ([`header`]), the bytes are counted as
//! they arrive ([`meter`]), the content is sniffed before anything is written,
//! and the metadata row goes in last, once every object it names is stored;
//! on any failure what was written is removed ([`pending`]).

pub mod header;
pub(crate) mod meter;
pub(crate) mod pending;

use bytes::{Bytes, BytesMut};
use chrono::{SubsecRound, Utc};
use futures::{Stream, StreamExt};
use roster_kit::{Actor, Error, Result};
use sha2::{Digest, Sha256};

pub use header::{NewUpload, RequestedVisibility};
use meter::Meter;
use pending::PendingObjects;

use super::{
    Files, access, avatar,
    sniff::{self, Sniffed},
    types::{FileId, FileRecord, ObjectKey, Purpose, Variant, VariantInfo},
};

/// The content of an upload, in the order it arrives.
pub trait Chunks: Stream<Item = Result<Bytes>> + Send + Unpin {}

impl<S: Stream<Item = Result<Bytes>> + Send + Unpin> Chunks for S {}

impl Files {
    /// Stores an upload whose content arrives as `chunks`, owned by whom
    /// `actor` may upload for. On any failure nothing is left behind: no row,
    /// no object.
    #[tracing::instrument(skip_all, fields(actor = %actor, purpose = upload.purpose.as_str(), size = upload.size))]
    pub async fn upload(
        &self,
        actor: &Actor,
        upload: NewUpload,
        chunks: impl Chunks,
    ) -> Result<FileRecord> {
        let owner = access::upload_owner(actor, upload.requested_owner, "header.owner_user_id")?;
        let meter = Meter::new(upload.size, self.limits.max_bytes)?;
        let id = FileId::generate();
        let mut pending = PendingObjects::new(self.objects.clone());
        let stored = match upload.purpose {
            Purpose::Avatar => {
                self.store_avatar(&id, meter, chunks, &mut pending, &upload)
                    .await
            }
            Purpose::Attachment => {
                self.store_attachment(&id, meter, chunks, &mut pending, &upload)
                    .await
            }
        };
        let record = match stored {
            Ok(stored) => stored.into_record(id, owner, &upload),
            Err(err) => {
                pending.discard().await;
                return Err(err);
            }
        };
        // The row goes in last: once it is visible, every object it names exists.
        match self.repo.insert(&record).await {
            Ok(()) => {
                pending.keep();
                Ok(record)
            }
            Err(err) => {
                pending.discard().await;
                Err(err)
            }
        }
    }

    /// Streams an attachment byte-exact into storage once its head has been
    /// sniffed, hashing it on the way.
    async fn store_attachment(
        &self,
        id: &FileId,
        mut meter: Meter,
        mut chunks: impl Chunks,
        pending: &mut PendingObjects,
        upload: &NewUpload,
    ) -> Result<Stored> {
        // Enough of the head to recognise the content before anything is written.
        let mut head = BytesMut::new();
        let mut ended = false;
        while head.len() < sniff::SNIFF_LEN {
            match chunks.next().await {
                Some(chunk) => {
                    let chunk = chunk?;
                    meter.accept(&chunk)?;
                    head.extend_from_slice(&chunk);
                }
                None => {
                    ended = true;
                    break;
                }
            }
        }
        let content_type = sniff::resolve(
            upload.declared_content_type.as_deref(),
            sniff::sniff(&head),
            "header.content_type",
        )?;
        if ended {
            meter.finish()?;
        }

        let key = ObjectKey::new(id.as_str(), Variant::Original);
        let mut hasher = Sha256::new();
        let mut write = self.objects.start_write(&key).await?;
        let streamed = async {
            let head = head.freeze();
            hasher.update(&head);
            write.write(head).await?;
            if !ended {
                while let Some(chunk) = chunks.next().await {
                    let chunk = chunk?;
                    meter.accept(&chunk)?;
                    hasher.update(&chunk);
                    write.write(chunk).await?;
                }
                meter.finish()?;
            }
            Ok::<_, Error>(())
        }
        .await;
        if let Err(err) = streamed {
            write.abort().await;
            return Err(err);
        }
        // Registered before finishing: a failure while completing still cleans up.
        pending.push(key);
        write.finish().await?;

        Ok(Stored {
            original: VariantInfo {
                variant: Variant::Original,
                content_type,
                size: meter.received(),
                width: 0,
                height: 0,
            },
            sha256: hex::encode(hasher.finalize()),
            variants: Vec::new(),
        })
    }

    /// Decodes an avatar whole, then stores it re-encoded with its variants.
    async fn store_avatar(
        &self,
        id: &FileId,
        mut meter: Meter,
        mut chunks: impl Chunks,
        pending: &mut PendingObjects,
        upload: &NewUpload,
    ) -> Result<Stored> {
        // Avatars are decoded whole; the meter bounds this buffer by the limit.
        let mut content = BytesMut::new();
        let mut checked_type = false;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            meter.accept(&chunk)?;
            content.extend_from_slice(&chunk);
            if !checked_type && content.len() >= sniff::SNIFF_LEN {
                // Refuse a lying or unsupported upload before reading the rest.
                check_avatar_type(upload, &content)?;
                checked_type = true;
            }
        }
        meter.finish()?;
        let sniffed = check_avatar_type(upload, &content)?;
        let (format, _) = avatar::avatar_format(sniffed)?;

        let limits = self.limits.avatar;
        let content = content.freeze();
        let renditions =
            tokio::task::spawn_blocking(move || avatar::process(&content, format, limits))
                .await
                .map_err(Error::internal)??;

        let mut stored = Stored::default();
        for rendition in renditions {
            let key = ObjectKey::new(id.as_str(), rendition.variant);
            pending.push(key.clone());
            let info = VariantInfo {
                variant: rendition.variant,
                content_type: rendition.content_type.to_owned(),
                size: rendition.bytes.len() as u64,
                width: rendition.width,
                height: rendition.height,
            };
            if rendition.variant == Variant::Original {
                stored.original = info;
                stored.sha256 = hex::encode(Sha256::digest(&rendition.bytes));
            } else {
                stored.variants.push(info);
            }
            self.objects.put(&key, rendition.bytes).await?;
        }
        Ok(stored)
    }
}

/// What was written for an upload.
#[derive(Debug)]
struct Stored {
    original: VariantInfo,
    sha256: String,
    variants: Vec<VariantInfo>,
}

impl Default for Stored {
    fn default() -> Self {
        Self {
            original: VariantInfo {
                variant: Variant::Original,
                content_type: String::new(),
                size: 0,
                width: 0,
                height: 0,
            },
            sha256: String::new(),
            variants: Vec::new(),
        }
    }
}

impl Stored {
    fn into_record(self, id: FileId, owner_user_id: i64, upload: &NewUpload) -> FileRecord {
        FileRecord {
            id: id.as_str().to_owned(),
            owner_user_id,
            purpose: upload.purpose,
            visibility: upload.visibility,
            name: upload.name.clone(),
            content_type: self.original.content_type,
            size: self.original.size,
            width: self.original.width,
            height: self.original.height,
            sha256: self.sha256,
            variants: self.variants,
            created_at: Utc::now().trunc_subsecs(6),
        }
    }
}

/// The sniffed type of an avatar upload, after checking it against the
/// declaration and the accepted image formats.
fn check_avatar_type(upload: &NewUpload, content: &[u8]) -> Result<Option<Sniffed>> {
    let sniffed = sniff::sniff(content);
    sniff::resolve(
        upload.declared_content_type.as_deref(),
        sniffed,
        "header.content_type",
    )?;
    avatar::avatar_format(sniffed)?;
    Ok(sniffed)
}
