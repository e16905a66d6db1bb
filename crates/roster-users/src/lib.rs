//! The Roster user service (`roster.v1.UserService`): profiles, presence,
//! search, login and session tokens, and the user event stream.
//!
//! Rooms (README "Layout"): [`grpc`] (transport) and [`store`] (sea-orm) and
//! [`peers`] (the other services) depend on [`domain`] (rules, and the ports
//! the others implement); this file joins them.

pub mod domain;
pub mod grpc;
pub mod peers;
pub mod settings;
pub mod store;

use std::{sync::Arc, time::Duration};

use roster_kit::idempotency::IdempotencyLedger;
use roster_kit::{
    Error,
    server::ServerBuilder,
    service::{Peer, RosterService, ServiceContext},
};
use roster_migrations::UsersMigrator;
use roster_proto::v1::user_service_server::UserServiceServer;

pub use domain::Directory;
pub use peers::{ModerationSync, RoleSync};
pub use settings::UsersSettings;
pub use store::UserStore;

/// Calls that need no token.
pub const PUBLIC_METHODS: &[&str] = &[
    "/roster.v1.UserService/Login",
    "/roster.v1.UserService/GetJwks",
];

/// Calls Roster's other services make (with service tokens).
pub const SERVICE_METHODS: &[&str] = &[
    "/roster.v1.UserService/CheckSession",
    "/roster.v1.UserService/GetUser",
    "/roster.v1.UserService/BatchGetUsers",
    "/roster.v1.UserService/WatchUserEvents",
    "/roster.v1.UserService/TombstoneUser",
];

/// How long the followers of the role and moderation streams wait before
/// reconnecting a broken stream.
const PEER_STREAM_RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// A ready user service: its directory and the store behind it.
pub struct UserService {
    pub directory: Arc<Directory>,
    pub store: UserStore,
    /// Keeps `User.roles` in step with the role service.
    pub role_sync: RoleSync,
    /// Keeps bans and flag counts in step with the moderation service.
    pub moderation_sync: ModerationSync,
    /// Invalidates cached users that other replicas change.
    cache_follower: tokio::task::AbortHandle,
    file_url_base: String,
    poll_interval: Duration,
    idempotency: IdempotencyLedger,
}

impl Drop for UserService {
    fn drop(&mut self) {
        self.cache_follower.abort();
    }
}

impl RosterService for UserService {
    const NAME: &'static str = "users";
    type Settings = UsersSettings;

    async fn start(ctx: &ServiceContext, settings: &UsersSettings) -> Result<Self, Error> {
        let common = &ctx.common;
        let login = settings.login_policy()?;
        if login.dev_logins {
            tracing::warn!(
                "users.dev_logins is on: any user name without a role logs in without a credential; never in production"
            );
        } else if login.login_secret.is_none() {
            tracing::info!(
                "users.login_secret is not set: native logins are refused; sessions come from IssueUserToken"
            );
        }
        let connection = ctx
            .database::<UsersMigrator>(Self::NAME, &settings.database_url(&common.data_dir))
            .await?;
        let collation = Arc::new(settings.collation()?);
        let idempotency = ctx.idempotency_ledger(
            connection.clone(),
            roster_migrations::users::IDEMPOTENCY_TABLE,
        );
        let store = UserStore::new(connection, collation.clone(), settings.cached_users);
        let rekeyed = store.rekey().await?;
        if rekeyed != store::RekeyReport::default() {
            tracing::info!(
                locale = collation.locale(),
                rekeyed = rekeyed.rekeyed,
                named = rekeyed.named,
                twins = rekeyed.twins,
                "display names re-keyed for the collation in force"
            );
        }
        let repository = Arc::new(store.clone());
        let directory = Directory::new(
            repository.clone(),
            ctx.keys.clone(),
            login,
            Duration::from_secs(common.auth.user_token_ttl_secs),
            collation,
            domain::Collaborators {
                permissions: ctx.permission_checker(Self::NAME)?,
                avatar_files: Arc::new(peers::FileLookup::new(
                    ctx.peer_channel(Peer::Files, Self::NAME)?,
                )),
                role_grants: Arc::new(peers::RoleLookup::new(
                    ctx.peer_channel(Peer::Roles, Self::NAME)?,
                )),
                clock: Arc::new(domain::ports::SystemClock),
            },
        );
        let role_sync = RoleSync::start(
            repository.clone(),
            ctx.peer_channel(Peer::Roles, Self::NAME)?,
            PEER_STREAM_RECONNECT_DELAY,
        );
        let moderation_sync = ModerationSync::start(
            repository,
            Arc::new(domain::ports::SystemClock),
            ctx.peer_channel(Peer::Moderation, Self::NAME)?,
            PEER_STREAM_RECONNECT_DELAY,
        );
        let poll_interval = ctx.poll_interval();
        let cache_follower = store.follow_remote_changes(poll_interval).await?;
        ctx.keep(store.wake_on_remote_commits());
        ctx.keep(store.follow_remote_presence());
        ctx.keep(roster_kit::events::prune_outbox(
            Self::NAME,
            Arc::new(store.clone()),
            &common.outbox,
        ));
        Ok(Self {
            directory: Arc::new(directory),
            store,
            role_sync,
            moderation_sync,
            cache_follower,
            file_url_base: common.file_url_base(),
            poll_interval,
            idempotency,
        })
    }

    fn register(&self, server: &mut ServerBuilder) {
        server.add_service(UserServiceServer::new(grpc::UserApi::new(
            self.directory.clone(),
            &self.file_url_base,
            self.poll_interval,
            self.idempotency.clone(),
        )));
        for method in PUBLIC_METHODS {
            server.public_method(method);
        }
        for method in SERVICE_METHODS {
            server.service_method(method);
        }
        server.session_check(Arc::new(domain::UserSessionCheck::new(
            Arc::new(self.store.clone()),
            Arc::new(domain::ports::SystemClock),
        )));
    }
}
