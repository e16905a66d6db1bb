//! What every handler shares: the services' clients, the keys that name
//! callers, the link base and the user event hub.

use std::{
    ops::Deref,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use roster_kit::{
    Error, TokenKeys,
    authz::PermissionChecker,
    client::PeerChannel,
    service::{Peer, ServiceContext},
};
use roster_proto::v1::{
    file_service_client::FileServiceClient, moderation_service_client::ModerationServiceClient,
    role_service_client::RoleServiceClient, user_service_client::UserServiceClient,
};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::{
    call::{Call, HasVerifier, Verifier},
    events::hub::UserEventHub,
    settings::GatewaySettings,
    views::{Hrefs, users::Rights},
};

/// Cheap to clone: one per request.
#[derive(Clone)]
pub struct App(Arc<Shared>);

pub struct Shared {
    pub keys: Arc<TokenKeys>,
    /// Names callers from their tokens (shared with the middleware).
    pub verifier: Arc<Verifier>,
    pub settings: GatewaySettings,
    pub hrefs: Hrefs,
    /// Connections to the services for calls with the caller's own
    /// credentials (see [`crate::call::Call`]); calls take turns over them.
    channels: Pool,
    /// Cached permission answers (rate-limit exemptions, which moderation
    /// links a user's caller may follow), as the services' own checker.
    pub checker: PermissionChecker,
    /// The user service as the gateway itself (a service token), for what only
    /// services may call: following the user event stream for event streams.
    pub users_as_gateway: UserServiceClient<PeerChannel>,
    pub user_events: UserEventHub,
    /// Cancelled when the gateway shuts down: open event streams end then.
    pub stop: CancellationToken,
}

impl Deref for App {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl HasVerifier for App {
    fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

impl App {
    /// What the caller may do to users (for the links it is shown): every
    /// signed-in caller flags; BAN_USER and EDIT_USER (network-wide) moderate.
    /// An answer the role service cannot give shows fewer links, nothing else.
    pub async fn rights(&self, call: &Call) -> Rights {
        use roster_kit::{Actor, authz::Scope};
        match call.identity.actor() {
            Some(Actor::Admin { .. } | Actor::Service { .. }) => Rights {
                caller: None,
                flag: true,
                ban: true,
                delete: true,
            },
            Some(Actor::User { user_id, .. }) => {
                let holds = |permission: &'static str| async move {
                    self.checker
                        .check(*user_id, permission, &Scope::Network)
                        .await
                        .unwrap_or(false)
                };
                let (ban, delete) = tokio::join!(holds("BAN_USER"), holds("EDIT_USER"));
                Rights {
                    caller: Some(*user_id),
                    flag: true,
                    ban,
                    delete,
                }
            }
            None => Rights::default(),
        }
    }
}

/// Connections to each service: one HTTP/2 connection carries every call
/// multiplexed, but its one task frames them all; a few share the load.
const CONNECTIONS: usize = 4;

struct Pool {
    users: Vec<Channel>,
    roles: Vec<Channel>,
    files: Vec<Channel>,
    moderation: Vec<Channel>,
    next: AtomicUsize,
}

impl Pool {
    fn pick(&self, channels: &[Channel]) -> Channel {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        channels[turn % channels.len()].clone()
    }
}

impl App {
    /// The user service, with the caller's credentials.
    pub fn users(&self) -> UserServiceClient<Channel> {
        UserServiceClient::new(self.channels.pick(&self.channels.users))
    }

    pub fn roles(&self) -> RoleServiceClient<Channel> {
        RoleServiceClient::new(self.channels.pick(&self.channels.roles))
    }

    pub fn files(&self) -> FileServiceClient<Channel> {
        FileServiceClient::new(self.channels.pick(&self.channels.files))
    }

    pub fn moderation(&self) -> ModerationServiceClient<Channel> {
        ModerationServiceClient::new(self.channels.pick(&self.channels.moderation))
    }
}

/// The name the gateway calls the services with (service tokens).
pub const SERVICE_NAME: &str = "gateway";

impl App {
    pub fn connect(ctx: &ServiceContext, settings: &GatewaySettings) -> Result<Self, Error> {
        // Each service runs in this process or has its endpoint configured
        // (the chassis refuses a peer that is neither).
        for peer in [Peer::Files, Peer::Moderation] {
            ctx.peer_channel(peer, SERVICE_NAME)?;
        }
        let users_as_gateway = UserServiceClient::new(ctx.peer_channel(Peer::Users, SERVICE_NAME)?);
        let checker = ctx.permission_checker(SERVICE_NAME)?;
        let tls = roster_kit::client::client_tls(&ctx.common.tls)?;
        let channels = |endpoint: &str, field: &str| {
            (0..CONNECTIONS)
                .map(|_| roster_kit::client::lazy_channel(endpoint, field, tls.as_ref()))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self(Arc::new(Shared {
            keys: ctx.keys.clone(),
            verifier: Arc::new(Verifier::new(ctx.keys.clone())),
            settings: settings.clone(),
            hrefs: Hrefs::new(&ctx.common.public_url),
            channels: Pool {
                users: channels(&ctx.endpoints.users, "endpoints.users")?,
                roles: channels(&ctx.endpoints.roles, "endpoints.roles")?,
                files: channels(&ctx.endpoints.files, "endpoints.files")?,
                moderation: channels(&ctx.endpoints.moderation, "endpoints.moderation")?,
                next: AtomicUsize::new(0),
            },
            checker,
            user_events: UserEventHub::start(users_as_gateway.clone(), settings.event_replay),
            users_as_gateway,
            stop: CancellationToken::new(),
        })))
    }
}
