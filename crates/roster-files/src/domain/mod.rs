//! The file service's rules, one module per capability: [`uploads`] (header
//! validation, size metering, attachment and avatar storage), [`downloads`]
//! (reading metadata and bytes), [`links`] (signed download links),
//! [`listing`], [`deletion`] (one file, or a user's all), and [`access`] (who
//! may do what), over the values of [`types`]. [`sniff`] recognises content
//! and [`avatar`] re-encodes pictures; [`sweep`] removes objects left without
//! a row. No transport or SQL types here: what the
//! rules need from outside is in [`ports`].

pub mod access;
pub mod avatar;
pub mod deletion;
pub mod downloads;
pub mod links;
pub mod listing;
pub mod ports;
pub mod sniff;
pub mod sweep;
pub mod types;
pub mod uploads;

use std::sync::Arc;

use roster_kit::TokenKeys;

pub use types::{
    FileId, FilePage, FileRecord, ObjectKey, Purpose, Variant, VariantInfo, Visibility,
};

use avatar::AvatarLimits;
use ports::{FileRepository, ObjectStorage, Permissions};

/// How large an upload may be.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    /// Largest accepted upload, in bytes.
    pub max_bytes: u64,
    /// Largest accepted avatar, in pixels.
    pub avatar: AvatarLimits,
}

/// The file service's operations.
pub struct Files {
    repo: Arc<dyn FileRepository>,
    objects: Arc<dyn ObjectStorage>,
    permissions: Arc<dyn Permissions>,
    /// Signs and verifies download links (the chassis' service keys).
    keys: Arc<TokenKeys>,
    limits: UploadLimits,
}

impl Files {
    pub fn new(
        repo: Arc<dyn FileRepository>,
        objects: Arc<dyn ObjectStorage>,
        permissions: Arc<dyn Permissions>,
        keys: Arc<TokenKeys>,
        limits: UploadLimits,
    ) -> Self {
        Self {
            repo,
            objects,
            permissions,
            keys,
            limits,
        }
    }
}
