//! The Roster suite: which services run in this process, and how they reach
//! the others. The `roster` binary and the suite's tests start it the same way.

pub mod relay;
pub mod settings;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use roster_files::FileService;
use roster_gateway::Gateway;
use roster_kit::{
    Error, TokenKeys,
    server::ServerBuilder,
    service::{Peer, RosterService, ServiceContext},
    session::RemoteSessionCheck,
};
use roster_moderation::ModerationService;
use roster_roles::RoleService;
use roster_users::UserService;
use tokio::net::TcpListener;

pub use settings::RosterSettings;

/// The services one process can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    Users,
    Roles,
    Files,
    Moderation,
    /// The HTTP gateway, on its own port (`gateway.listen`).
    Gateway,
}

/// Every gRPC service, on the one gRPC port.
pub const ALL_SERVICES: &[Service] = &[
    Service::Users,
    Service::Roles,
    Service::Files,
    Service::Moderation,
];

/// What `roster serve` runs when no service is named: every gRPC service and the gateway.
pub const DEFAULT_SERVICES: &[Service] = &[
    Service::Users,
    Service::Roles,
    Service::Files,
    Service::Moderation,
    Service::Gateway,
];

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Users => UserService::NAME,
            Service::Roles => RoleService::NAME,
            Service::Files => FileService::NAME,
            Service::Moderation => ModerationService::NAME,
            Service::Gateway => Gateway::NAME,
        }
    }
}

impl Service {
    /// As a peer of the others (the gateway is nobody's peer).
    fn peer(self) -> Option<Peer> {
        match self {
            Service::Users => Some(Peer::Users),
            Service::Roles => Some(Peer::Roles),
            Service::Files => Some(Peer::Files),
            Service::Moderation => Some(Peer::Moderation),
            Service::Gateway => None,
        }
    }
}

/// A context for what runs beside the services rather than in them (the
/// relay): its empty endpoints mean the server at `address`.
pub fn companion_context(
    settings: &RosterSettings,
    keys: Arc<TokenKeys>,
    address: SocketAddr,
) -> Result<ServiceContext, Error> {
    let common = &settings.common;
    let local = loopback_endpoint(address, common.tls.server_enabled());
    ServiceContext::new(common.clone(), keys, &local)
}

/// This server's own address as the other services in it should dial it.
fn loopback_endpoint(address: SocketAddr, tls: bool) -> String {
    let ip = if address.ip().is_unspecified() {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        address.ip()
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{}", SocketAddr::new(ip, address.port()))
}

/// A server with `services` added, ready to serve on `listener`.
pub struct Suite {
    server: ServerBuilder,
    /// The user service, when it runs here (tests wait on its role follower).
    pub users: Option<UserService>,
    /// The moderation service, when it runs here (tests wait on its deletion runner).
    pub moderation: Option<ModerationService>,
    /// Settings, keys and the tasks the services share (pool samplers).
    _context: ServiceContext,
    /// The HTTP gateway and its own listener, when it runs here.
    gateway: Option<(Gateway, TcpListener)>,
}

impl Suite {
    /// Starts `services` (connecting and, when configured, migrating their
    /// databases); endpoints left empty in the settings point at this listener.
    pub async fn start(
        settings: &RosterSettings,
        services: &[Service],
        keys: Arc<TokenKeys>,
        listener: &TcpListener,
    ) -> Result<Self, Error> {
        let common = &settings.common;
        let local = loopback_endpoint(
            listener.local_addr().map_err(Error::internal)?,
            common.tls.server_enabled(),
        );
        let running: Vec<Peer> = services.iter().filter_map(|s| s.peer()).collect();
        let ctx = ServiceContext::new(common.clone(), keys.clone(), &local)?.running(&running);
        let mut server = ServerBuilder::new(keys, Duration::from_millis(common.request_timeout_ms));
        server.tls(&common.tls)?;
        server.drain_deadline(Duration::from_millis(common.shutdown_drain_ms));
        let mut users = None;
        let mut moderation = None;
        let mut gateway = None;
        for service in services {
            match service {
                Service::Users => {
                    let service = UserService::start(&ctx, &settings.users).await?;
                    service.register(&mut server);
                    users = Some(service);
                }
                Service::Roles => {
                    RoleService::start(&ctx, &settings.roles)
                        .await?
                        .register(&mut server);
                }
                Service::Files => {
                    FileService::start(&ctx, &settings.files)
                        .await?
                        .register(&mut server);
                }
                Service::Moderation => {
                    let service = ModerationService::start(&ctx, &settings.moderation).await?;
                    service.register(&mut server);
                    moderation = Some(service);
                }
                Service::Gateway => {
                    let address = &settings.gateway.listen;
                    let http = TcpListener::bind(address).await.map_err(|err| {
                        Error::invalid_field(
                            "gateway.listen",
                            format!("listening on {address}: {err}"),
                        )
                    })?;
                    gateway = Some((Gateway::start(&ctx, &settings.gateway).await?, http));
                }
            }
        }
        if users.is_none() {
            // Apart from the user service, ask it whether user sessions still count.
            server.session_check(Arc::new(RemoteSessionCheck::new(
                ctx.peer_channel(Peer::Users, "session-check")?,
                Duration::from_millis(common.auth.session_cache_ms),
            )));
        }
        Ok(Self {
            server,
            users,
            moderation,
            _context: ctx,
            gateway,
        })
    }

    /// What the admin port's `/readyz` reports for this server.
    pub fn readiness(&mut self, readiness: roster_kit::admin::Readiness) {
        self.server.readiness(readiness);
    }

    /// Where the gateway listens, when it runs here (`gateway.listen` may ask
    /// for port 0).
    pub fn gateway_address(&self) -> Option<SocketAddr> {
        self.gateway
            .as_ref()
            .and_then(|(_, http)| http.local_addr().ok())
    }

    /// Serves gRPC on `listener` (and HTTP on the gateway's own, when it runs
    /// here) until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        use futures::FutureExt;
        let Some((gateway, http)) = self.gateway else {
            return self.server.serve(listener, shutdown).await;
        };
        let shutdown = shutdown.boxed().shared();
        let (grpc, http) = tokio::join!(
            self.server.serve(listener, shutdown.clone()),
            gateway.serve(http, shutdown),
        );
        grpc.and(http)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_without_names_runs_every_grpc_service_and_the_gateway() {
        let mut expected = ALL_SERVICES.to_vec();
        expected.push(Service::Gateway);
        assert_eq!(DEFAULT_SERVICES, expected.as_slice());
    }
}
