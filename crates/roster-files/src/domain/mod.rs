//! The file service's rules: upload validation, sniffing, avatar processing,
//! and keeping bytes and metadata in agreement. No transport or SQL types here.

pub mod avatar;
pub mod sniff;

use std::{future::Future, sync::Arc};

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, SubsecRound, Utc};
use futures::{Stream, StreamExt, stream::BoxStream};
use roster_kit::{
    Actor, Error, Result,
    authz::{PermissionChecker, Scope},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::blob::{BlobStore, PendingObjects};
use avatar::AvatarLimits;

/// Largest download chunk sent to clients.
pub const DOWNLOAD_CHUNK: usize = 64 * 1024;
const MAX_NAME_CHARS: usize = 255;

/// What an upload is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Attachment,
    Avatar,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Attachment => "attachment",
            Purpose::Avatar => "avatar",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "attachment" => Some(Purpose::Attachment),
            "avatar" => Some(Purpose::Avatar),
            _ => None,
        }
    }
}

/// A stored rendition of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    Original,
    #[serde(rename = "64")]
    Size64,
    #[serde(rename = "256")]
    Size256,
}

impl Variant {
    pub fn key_suffix(self) -> &'static str {
        match self {
            Variant::Original => "original",
            Variant::Size64 => "64",
            Variant::Size256 => "256",
        }
    }
}

/// Description of one derived rendition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantInfo {
    pub variant: Variant,
    pub content_type: String,
    pub size: u64,
    pub width: u32,
    pub height: u32,
}

/// A stored file's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub id: String,
    pub owner_user_id: i64,
    pub purpose: Purpose,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// 0 unless the file is a decoded image (an avatar).
    pub width: u32,
    pub height: u32,
    /// Lowercase hex SHA-256 of the stored bytes.
    pub sha256: String,
    /// Derived renditions, without the original.
    pub variants: Vec<VariantInfo>,
    pub created_at: DateTime<Utc>,
}

impl FileRecord {
    /// The rendition `variant`, described like the derived ones.
    pub fn rendition(&self, variant: Variant) -> Option<VariantInfo> {
        match variant {
            Variant::Original => Some(VariantInfo {
                variant,
                content_type: self.content_type.clone(),
                size: self.size,
                width: self.width,
                height: self.height,
            }),
            other => self.variants.iter().find(|v| v.variant == other).cloned(),
        }
    }

    fn stored_variants(&self) -> impl Iterator<Item = Variant> + '_ {
        std::iter::once(Variant::Original).chain(self.variants.iter().map(|v| v.variant))
    }
}

/// A validated upload header.
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub name: String,
    /// Normalised declared type; `None` when the client declared none.
    pub declared_content_type: Option<String>,
    pub size: u64,
    pub purpose: Purpose,
    pub owner_user_id: i64,
}

impl NewUpload {
    /// Validates the raw header fields, naming each offending field (`header.*`).
    pub fn parse(
        name: String,
        content_type: &str,
        size: u64,
        purpose: Option<Purpose>,
        owner_user_id: i64,
    ) -> Result<Self> {
        let mut violations = Vec::new();
        let name = name.trim().to_owned();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS {
            violations.push(roster_kit::FieldViolation::new(
                "header.name",
                format!("must be 1–{MAX_NAME_CHARS} characters"),
            ));
        } else if name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            violations.push(roster_kit::FieldViolation::new(
                "header.name",
                "must not contain control characters, '/' or '\\'",
            ));
        }
        let declared_content_type = sniff::normalise(content_type);
        if let Some(Err(err)) = declared_content_type
            .as_deref()
            .map(|declared| sniff::validate_declared(declared, "header.content_type"))
        {
            violations.extend(err.violations);
        }
        if size == 0 {
            violations.push(roster_kit::FieldViolation::new(
                "header.size",
                "must be at least 1",
            ));
        }
        let purpose = match purpose {
            Some(purpose) => Some(purpose),
            None => {
                violations.push(roster_kit::FieldViolation::new(
                    "header.purpose",
                    "must be ATTACHMENT or AVATAR",
                ));
                None
            }
        };
        match purpose {
            Some(purpose) if violations.is_empty() => Ok(Self {
                name,
                declared_content_type,
                size,
                purpose,
                owner_user_id,
            }),
            _ => Err(Error::invalid(violations)),
        }
    }
}

/// Whose files a caller may act on.
pub mod access {
    use super::*;

    /// The owner a call targets: a user targets itself (0 or its own id); admin
    /// and service callers must name one.
    pub fn target_owner(actor: &Actor, requested: i64, field: &str) -> Result<i64> {
        match actor {
            Actor::User { user_id, .. } => match requested {
                0 => Ok(*user_id),
                id if id == *user_id => Ok(id),
                _ => Err(Error::permission_denied(
                    "a user may only upload files it owns",
                )),
            },
            Actor::Admin { .. } | Actor::Service { .. } => {
                if requested > 0 {
                    Ok(requested)
                } else {
                    Err(Error::invalid_field(
                        field,
                        "is required for admin and service callers",
                    ))
                }
            }
        }
    }

    /// Owners, admins and services may delete a file without asking anyone.
    pub fn owns_or_privileged(actor: &Actor, file: &FileRecord) -> bool {
        match actor {
            Actor::User { user_id, .. } => *user_id == file.owner_user_id,
            Actor::Admin { .. } | Actor::Service { .. } => true,
        }
    }

    /// Only admins and services run the deletion cascade.
    pub fn is_privileged(actor: &Actor) -> bool {
        matches!(actor, Actor::Admin { .. } | Actor::Service { .. })
    }
}

/// A page of a user's files.
#[derive(Debug, Clone)]
pub struct FilePage {
    /// Each file with its listing position.
    pub files: Vec<(i64, FileRecord)>,
    pub has_more: bool,
}

/// Storage of file metadata.
pub trait FileRepository: Send + Sync + 'static {
    /// Inserts the row of a fully stored file.
    fn insert(&self, record: &FileRecord) -> impl Future<Output = Result<()>> + Send;
    fn get(&self, id: &str) -> impl Future<Output = Result<Option<FileRecord>>> + Send;
    /// Files of `owner`, newest first, strictly before position `before` when given.
    fn list(
        &self,
        owner: i64,
        purpose: Option<Purpose>,
        before: Option<i64>,
        limit: u64,
    ) -> impl Future<Output = Result<FilePage>> + Send;
    /// Deletes the row; false when it was already gone.
    fn delete(&self, id: &str) -> impl Future<Output = Result<bool>> + Send;
}

/// The file service's operations.
pub struct Files<R> {
    repo: R,
    blob: BlobStore,
    max_upload_bytes: u64,
    avatar_limits: AvatarLimits,
    permissions: PermissionChecker,
}

/// Catalogue names of the permissions this service asks for.
const EDIT_USER: &str = "EDIT_USER";
const EXEMPT_FROM_MODERATION: &str = "EXEMPT_FROM_MODERATION";

fn not_found(id: &str) -> Error {
    Error::not_found("FILE_NOT_FOUND", format!("no file with id {id}"))
}

fn too_large(max: u64) -> Error {
    let mut err = Error::invalid_field(
        "header.size",
        format!("the file exceeds the limit of {max} bytes"),
    );
    err.reason = "FILE_TOO_LARGE";
    err
}

fn size_mismatch(declared: u64, description: String) -> Error {
    let mut err = Error::invalid_field(
        "header.size",
        format!("{declared} bytes were declared but {description}"),
    );
    err.reason = "UPLOAD_SIZE_MISMATCH";
    err
}

/// Counts the bytes of an upload against its declared size and the limit.
struct Meter {
    declared: u64,
    max: u64,
    received: u64,
}

impl Meter {
    fn accept(&mut self, chunk: &[u8]) -> Result<()> {
        let received = self.received.saturating_add(chunk.len() as u64);
        if received > self.max {
            return Err(too_large(self.max));
        }
        if received > self.declared {
            return Err(size_mismatch(self.declared, "more were sent".into()));
        }
        self.received = received;
        Ok(())
    }

    fn finish(&self) -> Result<()> {
        if self.received < self.declared {
            return Err(size_mismatch(
                self.declared,
                format!("the stream ended after {}", self.received),
            ));
        }
        Ok(())
    }
}

impl<R: FileRepository> Files<R> {
    pub fn new(
        repo: R,
        blob: BlobStore,
        max_upload_bytes: u64,
        avatar_limits: AvatarLimits,
        permissions: PermissionChecker,
    ) -> Self {
        Self {
            repo,
            blob,
            max_upload_bytes,
            avatar_limits,
            permissions,
        }
    }

    /// Stores an upload whose content arrives as `chunks`. On any failure nothing
    /// is left behind: no row, no object.
    #[tracing::instrument(skip_all, fields(owner = upload.owner_user_id, purpose = upload.purpose.as_str(), size = upload.size))]
    pub async fn upload<S>(&self, upload: NewUpload, chunks: S) -> Result<FileRecord>
    where
        S: Stream<Item = Result<Bytes>> + Send + Unpin,
    {
        if upload.size > self.max_upload_bytes {
            return Err(too_large(self.max_upload_bytes));
        }
        let meter = Meter {
            declared: upload.size,
            max: self.max_upload_bytes,
            received: 0,
        };
        let id = uuid::Uuid::new_v4().to_string();
        let mut pending = PendingObjects::new(self.blob.clone());
        let stored = match upload.purpose {
            Purpose::Avatar => {
                self.store_avatar(&id, &upload, meter, chunks, &mut pending)
                    .await
            }
            Purpose::Attachment => {
                self.store_attachment(&id, &upload, meter, chunks, &mut pending)
                    .await
            }
        };
        let record = match stored {
            Ok(record) => record,
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

    async fn store_attachment<S>(
        &self,
        id: &str,
        upload: &NewUpload,
        mut meter: Meter,
        mut chunks: S,
        pending: &mut PendingObjects,
    ) -> Result<FileRecord>
    where
        S: Stream<Item = Result<Bytes>> + Send + Unpin,
    {
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

        let key = BlobStore::key(id, Variant::Original);
        let mut hasher = Sha256::new();
        let mut write = self.blob.start_write(&key).await?;
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

        Ok(FileRecord {
            id: id.to_owned(),
            owner_user_id: upload.owner_user_id,
            purpose: Purpose::Attachment,
            name: upload.name.clone(),
            content_type,
            size: meter.received,
            width: 0,
            height: 0,
            sha256: hex::encode(hasher.finalize()),
            variants: Vec::new(),
            created_at: Utc::now().trunc_subsecs(6),
        })
    }

    async fn store_avatar<S>(
        &self,
        id: &str,
        upload: &NewUpload,
        mut meter: Meter,
        mut chunks: S,
        pending: &mut PendingObjects,
    ) -> Result<FileRecord>
    where
        S: Stream<Item = Result<Bytes>> + Send + Unpin,
    {
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

        let limits = self.avatar_limits;
        let content = content.freeze();
        let renditions =
            tokio::task::spawn_blocking(move || avatar::process(&content, format, limits))
                .await
                .map_err(Error::internal)??;

        let mut record = FileRecord {
            id: id.to_owned(),
            owner_user_id: upload.owner_user_id,
            purpose: Purpose::Avatar,
            name: upload.name.clone(),
            content_type: String::new(),
            size: 0,
            width: 0,
            height: 0,
            sha256: String::new(),
            variants: Vec::new(),
            created_at: Utc::now().trunc_subsecs(6),
        };
        for rendition in renditions {
            let key = BlobStore::key(id, rendition.variant);
            pending.push(key.clone());
            let size = rendition.bytes.len() as u64;
            if rendition.variant == Variant::Original {
                record.content_type = rendition.content_type.to_owned();
                record.size = size;
                record.width = rendition.width;
                record.height = rendition.height;
                record.sha256 = hex::encode(Sha256::digest(&rendition.bytes));
            } else {
                record.variants.push(VariantInfo {
                    variant: rendition.variant,
                    content_type: rendition.content_type.to_owned(),
                    size,
                    width: rendition.width,
                    height: rendition.height,
                });
            }
            self.blob.put(&key, rendition.bytes).await?;
        }
        Ok(record)
    }

    pub async fn get(&self, id: &str) -> Result<FileRecord> {
        self.repo.get(id).await?.ok_or_else(|| not_found(id))
    }

    /// The rendition's description and its bytes, in chunks of at most
    /// [`DOWNLOAD_CHUNK`] bytes.
    pub async fn download(
        &self,
        id: &str,
        variant: Variant,
    ) -> Result<(VariantInfo, BoxStream<'static, Result<Bytes>>)> {
        let record = self.get(id).await?;
        let info = record.rendition(variant).ok_or_else(|| {
            Error::not_found(
                "FILE_VARIANT_NOT_FOUND",
                format!("file {id} has no {} variant", variant.key_suffix()),
            )
        })?;
        let stream = self.blob.read(&BlobStore::key(id, variant)).await?;
        let chunked = stream
            .flat_map(|chunk| {
                let pieces: Vec<Result<Bytes>> = match chunk {
                    Ok(mut bytes) => {
                        let mut pieces = Vec::new();
                        while bytes.len() > DOWNLOAD_CHUNK {
                            pieces.push(Ok(bytes.split_to(DOWNLOAD_CHUNK)));
                        }
                        pieces.push(Ok(bytes));
                        pieces
                    }
                    Err(err) => vec![Err(err)],
                };
                futures::stream::iter(pieces)
            })
            .boxed();
        Ok((info, chunked))
    }

    pub async fn list(
        &self,
        owner: i64,
        purpose: Option<Purpose>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<FilePage> {
        self.repo.list(owner, purpose, before, limit).await
    }

    /// Deletes a file the caller may delete: every object first, then the row,
    /// so a failure part-way leaves a row that a retry deletes, never an orphan.
    #[tracing::instrument(skip_all, fields(file_id = %id, actor = %actor))]
    pub async fn delete(&self, actor: &Actor, id: &str) -> Result<()> {
        let record = self.get(id).await?;
        if !access::owns_or_privileged(actor, &record) {
            self.require_moderation_of(actor, record.owner_user_id)
                .await?;
        }
        self.remove(&record).await?;
        Ok(())
    }

    /// Deleting another user's file edits that user: it needs EDIT_USER, and an
    /// owner exempt from moderation can be edited only by a caller exempt too.
    async fn require_moderation_of(&self, actor: &Actor, owner: i64) -> Result<()> {
        self.permissions
            .require(actor, EDIT_USER, Scope::Network)
            .await?;
        let owner_exempt = self
            .permissions
            .check(owner, EXEMPT_FROM_MODERATION, &Scope::Network)
            .await?;
        if owner_exempt {
            self.permissions
                .require(actor, EXEMPT_FROM_MODERATION, Scope::Network)
                .await?;
        }
        Ok(())
    }

    async fn remove(&self, record: &FileRecord) -> Result<bool> {
        for variant in record.stored_variants() {
            self.blob
                .delete(&BlobStore::key(&record.id, variant))
                .await?;
        }
        self.repo.delete(&record.id).await
    }

    /// Deletes every file of a user; returns how many this call deleted.
    #[tracing::instrument(skip_all, fields(user_id))]
    pub async fn delete_user_files(&self, user_id: i64) -> Result<u64> {
        let mut deleted = 0;
        loop {
            let page = self.repo.list(user_id, None, None, 100).await?;
            if page.files.is_empty() {
                return Ok(deleted);
            }
            for (_, record) in &page.files {
                if self.remove(record).await? {
                    deleted += 1;
                }
            }
        }
    }
}

/// The sniffed type of an avatar upload, after checking it against the
/// declaration and the accepted image formats.
fn check_avatar_type(upload: &NewUpload, content: &[u8]) -> Result<Option<sniff::Sniffed>> {
    let sniffed = sniff::sniff(content);
    sniff::resolve(
        upload.declared_content_type.as_deref(),
        sniffed,
        "header.content_type",
    )?;
    avatar::avatar_format(sniffed)?;
    Ok(sniffed)
}

/// Shared handle to the domain service.
pub type SharedFiles<R> = Arc<Files<R>>;
