//! The values the file service's rules speak: what a file is for, who may read
//! it, its renditions and its metadata.

use chrono::{DateTime, Utc};
use roster_kit::{Error, Result};
use serde::{Deserialize, Serialize};

/// A file's id: a UUID in canonical text form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileId(String);

impl FileId {
    /// Parses an id as clients pass it (surrounding spaces and upper case
    /// tolerated); anything but a UUID is invalid input naming `field`.
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        uuid::Uuid::parse_str(raw.trim())
            .map(|id| Self(id.to_string()))
            .map_err(|_| Error::invalid_field(field, "must be a file id returned by UploadFile"))
    }

    /// A fresh id for a new file.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for FileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

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

    /// Who may read a file of this purpose unless the upload asked otherwise:
    /// an avatar is a display picture, which must load anywhere; an attachment
    /// is its owner's business.
    pub fn default_visibility(self) -> Visibility {
        match self {
            Purpose::Attachment => Visibility::Private,
            Purpose::Avatar => Visibility::Public,
        }
    }
}

/// Who may read a file (see [`super::access`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Its owner, admins, services and the bearers of a link for it.
    Private,
    /// Anyone, without a token.
    Public,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Public => "public",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "private" => Some(Visibility::Private),
            "public" => Some(Visibility::Public),
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

    /// The variant whose [`Variant::key_suffix`] is `suffix`.
    pub fn from_key_suffix(suffix: &str) -> Option<Self> {
        [Variant::Original, Variant::Size64, Variant::Size256]
            .into_iter()
            .find(|variant| variant.key_suffix() == suffix)
    }
}

/// Where one rendition of a file is kept in the object storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey {
    pub file_id: String,
    pub variant: Variant,
}

impl ObjectKey {
    pub fn new(file_id: &str, variant: Variant) -> Self {
        Self {
            file_id: file_id.to_owned(),
            variant,
        }
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.file_id, self.variant.key_suffix())
    }
}

/// Description of one rendition.
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
    pub visibility: Visibility,
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

    /// Every object stored for this file: the original and each variant.
    pub fn object_keys(&self) -> impl Iterator<Item = ObjectKey> + '_ {
        std::iter::once(Variant::Original)
            .chain(self.variants.iter().map(|v| v.variant))
            .map(|variant| ObjectKey::new(&self.id, variant))
    }
}

/// A page of a user's files.
#[derive(Debug, Clone)]
pub struct FilePage {
    /// Each file with its listing position.
    pub files: Vec<(i64, FileRecord)>,
    pub has_more: bool,
}

pub(crate) fn not_found(id: &str) -> Error {
    Error::not_found("FILE_NOT_FOUND", format!("no file with id {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn file_ids_are_canonical_uuids() {
        let id = FileId::parse(" 6F9619FF-8B86-D011-B42D-00C04FC964FF ", "file_id")
            .map(|id| id.to_string())
            .ok();
        assert_eq!(id.as_deref(), Some("6f9619ff-8b86-d011-b42d-00c04fc964ff"));
        let err = FileId::parse("../etc/passwd", "file_id").err();
        assert_eq!(
            err.map(|e| (e.reason, e.violations[0].field.clone())),
            Some(("INVALID_FIELD", "file_id".to_owned()))
        );
    }

    proptest! {
        #[test]
        fn any_text_is_a_file_id_or_invalid_input_naming_the_field(raw in any::<String>()) {
            match FileId::parse(&raw, "file_id") {
                Ok(id) => {
                    // Whatever was accepted is canonical, so it is safe in a storage key.
                    prop_assert_eq!(id.as_str().len(), 36);
                    prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
                    prop_assert!(id.as_str().bytes().all(|b| !b.is_ascii_uppercase()));
                }
                Err(err) => {
                    prop_assert_eq!(err.reason, "INVALID_FIELD");
                    prop_assert_eq!(err.violations.len(), 1);
                    prop_assert_eq!(&err.violations[0].field, "file_id");
                }
            }
        }

        #[test]
        fn generated_ids_parse_back_to_themselves(_n in 0..32u8) {
            let id = FileId::generate();
            prop_assert_eq!(FileId::parse(id.as_str(), "f").ok(), Some(id));
        }

        #[test]
        fn stored_names_round_trip(purpose in prop_oneof![Just(Purpose::Attachment), Just(Purpose::Avatar)],
                                   visibility in prop_oneof![Just(Visibility::Private), Just(Visibility::Public)],
                                   other in "[a-z]{0,12}") {
            prop_assert_eq!(Purpose::parse(purpose.as_str()), Some(purpose));
            prop_assert_eq!(Visibility::parse(visibility.as_str()), Some(visibility));
            // Unknown stored names are never mistaken for a known one.
            if !["attachment", "avatar"].contains(&other.as_str()) {
                prop_assert_eq!(Purpose::parse(&other), None);
            }
            if !["private", "public"].contains(&other.as_str()) {
                prop_assert_eq!(Visibility::parse(&other), None);
            }
        }
    }
}
