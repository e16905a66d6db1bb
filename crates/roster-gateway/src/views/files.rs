//! Files as JSON: metadata, variants, download links.

use chrono::{DateTime, Utc};
use roster_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::time;

/// What a file was uploaded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilePurpose {
    Attachment,
    Avatar,
}

impl FilePurpose {
    pub fn from_proto(raw: i32) -> Self {
        match pb::FilePurpose::try_from(raw) {
            Ok(pb::FilePurpose::Avatar) => Self::Avatar,
            _ => Self::Attachment,
        }
    }

    pub fn to_proto(self) -> pb::FilePurpose {
        match self {
            Self::Attachment => pb::FilePurpose::Attachment,
            Self::Avatar => pb::FilePurpose::Avatar,
        }
    }
}

/// Who may read a file: PRIVATE (owner, admins, services, download links) or
/// PUBLIC (anyone, without a token; every avatar).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FileVisibility {
    Private,
    Public,
}

impl FileVisibility {
    pub fn from_proto(raw: i32) -> Self {
        match pb::FileVisibility::try_from(raw) {
            Ok(pb::FileVisibility::Public) => Self::Public,
            _ => Self::Private,
        }
    }

    pub fn to_proto(self) -> pb::FileVisibility {
        match self {
            Self::Private => pb::FileVisibility::Private,
            Self::Public => pb::FileVisibility::Public,
        }
    }
}

/// A rendition of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum FileVariant {
    #[serde(rename = "ORIGINAL")]
    Original,
    /// Avatars only: longer side 64 px.
    #[serde(rename = "SIZE_64")]
    Size64,
    /// Avatars only: longer side 256 px.
    #[serde(rename = "SIZE_256")]
    Size256,
}

impl FileVariant {
    pub fn from_proto(raw: i32) -> Self {
        match pb::FileVariant::try_from(raw) {
            Ok(pb::FileVariant::Size64) => Self::Size64,
            Ok(pb::FileVariant::Size256) => Self::Size256,
            _ => Self::Original,
        }
    }

    pub fn to_proto(self) -> pb::FileVariant {
        match self {
            Self::Original => pb::FileVariant::Original,
            Self::Size64 => pb::FileVariant::Size64,
            Self::Size256 => pb::FileVariant::Size256,
        }
    }

    /// `?variant=` (and `?size=`) values: `64`, `256`, `original`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "" | "original" => Some(Self::Original),
            "64" | "size_64" => Some(Self::Size64),
            "256" | "size_256" => Some(Self::Size256),
            _ => None,
        }
    }

    /// What tells this rendition apart in an `ETag`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Original => "",
            Self::Size64 => "-64",
            Self::Size256 => "-256",
        }
    }
}

/// One rendition of a file.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileVariantInfo {
    pub variant: FileVariant,
    pub content_type: String,
    pub size: i64,
    pub width: u32,
    pub height: u32,
    pub url: String,
}

impl From<pb::FileVariantInfo> for FileVariantInfo {
    fn from(info: pb::FileVariantInfo) -> Self {
        Self {
            variant: FileVariant::from_proto(info.variant),
            content_type: info.content_type,
            size: info.size,
            width: info.width,
            height: info.height,
            url: info.url,
        }
    }
}

/// A stored file's metadata and where to fetch it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct File {
    /// A UUID.
    pub id: String,
    pub owner_user_id: i64,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub purpose: FilePurpose,
    pub visibility: FileVisibility,
    /// Pixel size of decoded images (avatars); 0 otherwise.
    pub width: u32,
    pub height: u32,
    /// Lowercase hex SHA-256 of the stored bytes.
    pub sha256: String,
    /// Avatars: the 64 and 256 px variants.
    pub variants: Vec<FileVariantInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// `GET` it for the bytes.
    pub url: String,
}

impl From<pb::File> for File {
    fn from(file: pb::File) -> Self {
        Self {
            id: file.id,
            owner_user_id: file.owner_user_id,
            name: file.name,
            content_type: file.content_type,
            size: file.size,
            purpose: FilePurpose::from_proto(file.purpose),
            visibility: FileVisibility::from_proto(file.visibility),
            width: file.width,
            height: file.height,
            sha256: file.sha256,
            variants: file.variants.into_iter().map(Into::into).collect(),
            created_at: time(file.created_at),
            url: file.url,
        }
    }
}

/// A signed link that reads one file without a token until it expires.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownloadLink {
    /// `<public_url>/v1/files/<id>?token=<token>`.
    pub url: String,
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<pb::CreateDownloadLinkResponse> for DownloadLink {
    fn from(link: pb::CreateDownloadLinkResponse) -> Self {
        Self {
            url: link.url,
            token: link.token,
            expires_at: time(link.expires_at),
        }
    }
}
