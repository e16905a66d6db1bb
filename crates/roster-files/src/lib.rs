//! The Roster file service (`roster.v1.FileService`): uploads validated while
//! they stream (size limit, content sniffing), avatar images re-encoded without
//! metadata with 64 px and 256 px variants, bytes in `object_store` (a local
//! directory or S3-compatible storage) and metadata in the service's own tables.
//!
//! Layers: [`grpc`] (tonic handlers), [`domain`] (rules and image processing),
//! [`store`] (sea-orm) and [`blob`] (object storage).

pub mod blob;
pub mod client;
pub mod domain;
pub mod grpc;
pub mod settings;
pub mod store;

use std::{future::Future, sync::Arc, time::Duration};

use roster_kit::{
    Result, TokenKeys, authz::PermissionChecker, config::CommonSettings, db, server::ServerBuilder,
};
use roster_migrations::FilesMigrator;
use roster_proto::v1::file_service_server::FileServiceServer;
use tokio::net::TcpListener;

pub use grpc::FileApi;
pub use settings::{FilesSettings, S3Settings, StorageBackend, StorageSettings};

/// The tonic service to register on a server.
pub type FileServer = FileServiceServer<FileApi>;

/// Connects the database (migrating it when `common.auto_migrate`), opens the
/// storage, and returns the ready service.
/// `permissions` answers whether a caller may delete another user's files.
pub async fn build(
    settings: &FilesSettings,
    common: &CommonSettings,
    permissions: PermissionChecker,
) -> Result<FileServer> {
    let connection = db::connect(&settings.database_url(&common.data_dir)).await?;
    if common.auto_migrate {
        db::migrate::<FilesMigrator>(&connection).await?;
    }
    let store = blob::open_store(&settings.storage, &common.data_dir)?;
    let files = domain::Files::new(
        store::SeaOrmFiles::new(connection),
        blob::BlobStore::new(store),
        settings.max_upload_bytes,
        domain::avatar::AvatarLimits {
            max_width: settings.avatar_max_width,
            max_height: settings.avatar_max_height,
        },
        permissions,
    );
    Ok(FileServiceServer::new(FileApi::new(
        Arc::new(files),
        &settings.url_base,
    )))
}

/// Adds the service to a server being assembled (with the other services in
/// the all-in-one mode).
pub fn register(builder: &mut ServerBuilder, service: FileServer) {
    builder.add_service(service);
}

/// Builds the service and serves it alone on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
    keys: Arc<TokenKeys>,
    settings: &FilesSettings,
    common: &CommonSettings,
    permissions: PermissionChecker,
) -> Result<()> {
    let service = build(settings, common, permissions).await?;
    let mut builder = ServerBuilder::new(keys, Duration::from_millis(common.request_timeout_ms));
    register(&mut builder, service);
    builder.serve(listener, shutdown).await
}
