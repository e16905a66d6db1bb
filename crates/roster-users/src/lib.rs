//! The Roster user service (`roster.v1.UserService`): profiles, presence,
//! search, login and session tokens, and the user event stream.
//!
//! Layers: [`grpc`] (transport) → [`domain`] (rules) → [`store`] (sea-orm).

pub mod clients;
pub mod domain;
pub mod grpc;
pub mod role_sync;
mod session;
pub mod settings;
pub mod store;

use std::{future::Future, sync::Arc, time::Duration};

use roster_kit::{
    Error, TokenKeys, authz::PermissionChecker, config::CommonSettings, db, server::ServerBuilder,
};
use roster_migrations::UsersMigrator;
use roster_proto::v1::user_service_server::UserServiceServer;
use tokio::net::TcpListener;

pub use clients::{FileLookup, RoleClient, role_client};
pub use domain::Directory;
pub use role_sync::RoleSync;
pub use session::UserSessionCheck;
pub use settings::UsersSettings;
pub use store::UserStore;

/// Calls that need no token.
pub const PUBLIC_METHODS: &[&str] = &["/roster.v1.UserService/Login"];

/// A ready user service: its directory and the store behind it.
pub struct UserService {
    pub directory: Arc<Directory>,
    pub store: UserStore,
    /// Keeps `User.roles` in step with the role service.
    pub role_sync: RoleSync,
    /// Invalidates cached users that other replicas change.
    cache_follower: tokio::task::AbortHandle,
    files: FileLookup,
    file_url_base: String,
    poll_interval: Duration,
}

/// What the user service needs from the other services.
pub struct Peers {
    /// Permission checks against the role service.
    pub permissions: PermissionChecker,
    /// The file service, for avatar files.
    pub files: FileLookup,
    /// The role service's event stream, for users' network roles.
    pub roles: RoleClient,
    /// The file service's URL base (`files.url_base`): a file avatar's display
    /// picture is `<base>/<file_id>`, the URL the file service gives that file.
    pub file_url_base: String,
}

impl Drop for UserService {
    fn drop(&mut self) {
        self.cache_follower.abort();
    }
}

impl UserService {
    /// Connects to the database (migrating it when `auto_migrate` is on).
    pub async fn start(
        settings: &UsersSettings,
        common: &CommonSettings,
        keys: Arc<TokenKeys>,
        peers: Peers,
    ) -> Result<Self, Error> {
        let connection = db::connect(&settings.database_url(&common.data_dir)).await?;
        if common.auto_migrate {
            db::migrate::<UsersMigrator>(&connection).await?;
        }
        let store = UserStore::new(connection);
        let directory = Directory::new(
            store.clone(),
            keys,
            settings.clone(),
            Duration::from_secs(common.auth.user_token_ttl_secs),
            domain::Collaborators {
                permissions: peers.permissions,
                avatar_files: Arc::new(peers.files.clone()),
            },
        )?;
        let role_sync = RoleSync::start(store.clone(), peers.roles, Duration::from_secs(1));
        let poll_interval = Duration::from_millis(common.event_poll_interval_ms);
        let cache_follower = store.follow_remote_changes(poll_interval).await?;
        Ok(Self {
            directory: Arc::new(directory),
            store,
            role_sync,
            cache_follower,
            files: peers.files,
            file_url_base: peers.file_url_base,
            poll_interval,
        })
    }

    /// Adds the service, its public methods and its session check to a server.
    pub fn register(&self, server: &mut ServerBuilder) {
        server.add_service(UserServiceServer::new(grpc::UserApi::new(
            self.directory.clone(),
            self.files.clone(),
            &self.file_url_base,
            self.poll_interval,
        )));
        for method in PUBLIC_METHODS {
            server.public_method(method);
        }
        server.session_check(Arc::new(UserSessionCheck::new(self.store.clone())));
    }
}

/// Runs the user service alone on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
    settings: &UsersSettings,
    common: &CommonSettings,
    keys: Arc<TokenKeys>,
    peers: Peers,
) -> Result<(), Error> {
    let service = UserService::start(settings, common, keys.clone(), peers).await?;
    let mut server = ServerBuilder::new(keys, Duration::from_millis(common.request_timeout_ms));
    service.register(&mut server);
    server.serve(listener, shutdown).await
}
