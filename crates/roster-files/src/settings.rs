//! Settings of the file service (the `files` table of the configuration, e.g.
//! `ROSTER_FILES__MAX_UPLOAD_BYTES=20971520`, `ROSTER_FILES__STORAGE__BACKEND=s3`).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use roster_kit::{config::Secret, db};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct FilesSettings {
    /// `sqlite://…` or `postgres://…`; defaults to `<data_dir>/files.db`.
    pub database_url: Option<Secret>,
    /// Largest accepted upload, in bytes (10 MiB by default).
    pub max_upload_bytes: u64,
    /// Largest accepted avatar, in pixels; checked from the image header before decoding.
    pub avatar_max_width: u32,
    pub avatar_max_height: u32,
    /// Where the bytes go.
    pub storage: StorageSettings,
    /// Stored objects without a file row (left by an upload cut off between
    /// its bytes and its row) are deleted once this old, in seconds.
    pub orphan_grace_secs: u64,
    /// How often the orphan sweep runs, in seconds (0: never).
    pub orphan_sweep_interval_secs: u64,
}

impl FilesSettings {
    /// The configured URL, or the embedded SQLite file under `data_dir`.
    pub fn database_url(&self, data_dir: &Path) -> String {
        self.database_url
            .as_ref()
            .map(|s| s.expose().to_owned())
            .unwrap_or_else(|| db::default_sqlite_url(data_dir, "files"))
    }

    /// How old an object without a row must be before the sweep deletes it.
    pub fn orphan_grace(&self) -> Duration {
        Duration::from_secs(self.orphan_grace_secs)
    }
}

impl Default for FilesSettings {
    fn default() -> Self {
        Self {
            database_url: None,
            max_upload_bytes: 10 * 1024 * 1024,
            avatar_max_width: 4096,
            avatar_max_height: 4096,
            storage: StorageSettings::default(),
            orphan_grace_secs: 3600,
            orphan_sweep_interval_secs: 3600,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// A local directory (the embedded mode).
    #[default]
    Local,
    /// An S3-compatible object store.
    S3,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StorageSettings {
    /// `local` (default) or `s3`.
    pub backend: StorageBackend,
    /// Directory of the `local` backend; defaults to `<data_dir>/files`.
    pub local_dir: Option<PathBuf>,
    /// Settings of the `s3` backend.
    pub s3: S3Settings,
}

impl StorageSettings {
    /// The directory the `local` backend writes to.
    pub fn local_dir(&self, data_dir: &Path) -> PathBuf {
        self.local_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("files"))
    }
}

/// S3-compatible storage. Unset credentials and region fall back to the usual
/// `AWS_*` environment variables (and instance/pod credentials).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct S3Settings {
    /// Required with the `s3` backend; the bucket must exist.
    pub bucket: String,
    /// Endpoint of a non-AWS S3-compatible server, e.g. `http://minio:9000`.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    /// Allow a plain `http://` endpoint (test servers, in-cluster storage).
    pub allow_http: bool,
    /// Key prefix inside the bucket, e.g. `roster/`; none by default.
    pub prefix: Option<String>,
}
