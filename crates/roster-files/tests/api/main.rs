//! The file service over real gRPC, against SQLite and PostgreSQL, with a local
//! directory and with a real S3-compatible server (moto) as storage; one module
//! per capability.

mod helpers;

mod access;
mod avatars;
mod deletion;
mod listing;
mod migration;
mod s3;
mod uploads;

use roster_proto::v1::{FilePurpose, UploadFileHeader};

/// Upload message size used by the tests (the size the proto recommends).
pub const CHUNK: usize = 64 * 1024;

/// Runs each test body against SQLite and against PostgreSQL, with local storage.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(crate::helpers::TestApp::start(roster_kit::testing::Backend::Sqlite, crate::helpers::Storage::Local).await).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(crate::helpers::TestApp::start(roster_kit::testing::Backend::Postgres, crate::helpers::Storage::Local).await).await;
            }
        }
    )*};
}

/// Runs each test body with S3-compatible storage (a local moto server).
macro_rules! on_s3 {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn s3() {
                super::$name(crate::helpers::TestApp::start(roster_kit::testing::Backend::Sqlite, crate::helpers::Storage::S3).await).await;
            }
        }
    )*};
}

pub(crate) use {on_both_databases, on_s3};

pub fn header(
    name: &str,
    content_type: &str,
    size: usize,
    purpose: FilePurpose,
) -> UploadFileHeader {
    UploadFileHeader {
        name: name.into(),
        content_type: content_type.into(),
        size: size as u64,
        purpose: purpose as i32,
        ..Default::default()
    }
}

/// Deterministic non-trivial bytes that match no signature.
pub fn content(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x1234_5678;
    let mut bytes = b"plain text, then noise: ".to_vec();
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        bytes.push((state & 0xFF) as u8);
    }
    bytes.truncate(len);
    bytes
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
