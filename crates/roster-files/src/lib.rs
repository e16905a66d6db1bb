//! The Roster file service (`roster.v1.FileService`): uploads validated while
//! they stream (size limit, content sniffing), avatar images re-encoded without
//! metadata with 64 px and 256 px variants, private attachments readable by
//! their owner or through short-lived signed links, bytes in `object_store` (a
//! local directory or S3-compatible storage) and metadata in the service's own
//! tables.
//!
//! Rooms (README "Layout"): [`grpc`] (transport) → [`domain`] (rules, and the
//! ports they need) ← [`store`] (metadata and objects) and [`peers`] (the role
//! service). This file only joins them.

pub mod domain;
pub mod grpc;
pub mod peers;
pub mod settings;
pub mod store;

/// The upload helper for clients (tests, benchmarks).
pub use grpc::upload_client as client;

use std::{sync::Arc, time::Duration};

use roster_kit::{
    Result,
    events::{self, BackgroundTask},
    server::ServerBuilder,
    service::{RosterService, ServiceContext},
};
use roster_migrations::FilesMigrator;
use roster_proto::v1::file_service_server::FileServiceServer;

pub use grpc::FileApi;
pub use settings::{FilesSettings, S3Settings, StorageBackend, StorageSettings};

/// Calls Roster's other services make (with service tokens).
pub const SERVICE_METHODS: &[&str] = &[
    "/roster.v1.FileService/GetFile",
    "/roster.v1.FileService/DownloadFile",
    "/roster.v1.FileService/ListFiles",
    "/roster.v1.FileService/CreateDownloadLink",
    "/roster.v1.FileService/DeleteUserFiles",
];

/// Calls that need no token: public files and download links are read
/// without one. A valid token still names its caller there.
pub const PUBLIC_METHODS: &[&str] = &[
    "/roster.v1.FileService/GetFile",
    "/roster.v1.FileService/DownloadFile",
];

/// The running file service.
pub struct FileService {
    server: FileServiceServer<FileApi>,
    files: Arc<domain::Files>,
    orphan_grace: Duration,
}

impl FileService {
    /// Deletes stored objects without a file row older than
    /// `files.orphan_grace_secs` (also run every `files.orphan_sweep_interval_secs`).
    pub async fn sweep_orphans(&self) -> Result<domain::sweep::SweepReport> {
        self.files
            .sweep_orphans(self.orphan_grace, chrono::Utc::now())
            .await
    }
}

/// Runs the orphan sweep every `interval` until dropped.
fn sweep_periodically(
    files: Arc<domain::Files>,
    grace: Duration,
    interval: Duration,
) -> BackgroundTask {
    events::every(interval, move || {
        let files = files.clone();
        async move {
            if let Err(err) = files.sweep_orphans(grace, chrono::Utc::now()).await {
                tracing::warn!(error = %err, "the orphan sweep failed");
            }
        }
    })
}

impl RosterService for FileService {
    const NAME: &'static str = "files";
    type Settings = FilesSettings;

    /// Connects the database (migrating it when `auto_migrate`), opens the
    /// object storage, and asks the role service whether a caller may delete
    /// another user's files.
    async fn start(ctx: &ServiceContext, settings: &FilesSettings) -> Result<Self> {
        let connection = ctx
            .database::<FilesMigrator>(Self::NAME, &settings.database_url(&ctx.common.data_dir))
            .await?;
        let idempotency = ctx.idempotency_ledger(
            connection.clone(),
            roster_migrations::files::IDEMPOTENCY_TABLE,
        );
        let objects = store::open_store(&settings.storage, &ctx.common.data_dir)?;
        let files = domain::Files::new(
            Arc::new(store::SeaOrmFiles::new(connection)),
            Arc::new(store::ObjectStoreBlobs::new(
                objects,
                settings.storage.backend,
            )),
            Arc::new(peers::RolePermissions::new(
                ctx.permission_checker(Self::NAME)?,
            )),
            ctx.keys.clone(),
            domain::UploadLimits {
                max_bytes: settings.max_upload_bytes,
                avatar: domain::avatar::AvatarLimits {
                    max_width: settings.avatar_max_width,
                    max_height: settings.avatar_max_height,
                },
            },
        );
        let files = Arc::new(files);
        let orphan_grace = settings.orphan_grace();
        if settings.orphan_sweep_interval_secs > 0 {
            ctx.keep(sweep_periodically(
                files.clone(),
                orphan_grace,
                Duration::from_secs(settings.orphan_sweep_interval_secs),
            ));
        }
        let api = FileApi::new(files.clone(), &ctx.common.file_url_base(), idempotency);
        Ok(Self {
            server: FileServiceServer::new(api),
            files,
            orphan_grace,
        })
    }

    fn register(&self, server: &mut ServerBuilder) {
        server.add_service(self.server.clone());
        for method in SERVICE_METHODS {
            server.service_method(method);
        }
        for method in PUBLIC_METHODS {
            server.public_method(method);
        }
    }
}
