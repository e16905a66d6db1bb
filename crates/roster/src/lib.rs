//! The Roster suite: which services run in this process, and how they reach
//! the others. The `roster` binary and the suite's tests start it the same way.

pub mod settings;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use roster_kit::{
    Error, TokenKeys,
    authz::{CheckerSettings, PermissionChecker},
    server::ServerBuilder,
    session::RemoteSessionCheck,
};
use roster_users::{FileLookup, Peers, UserService, role_client};
use tokio::net::TcpListener;

pub use settings::RosterSettings;

/// The services one process can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    Users,
    Roles,
    Files,
}

pub const ALL_SERVICES: &[Service] = &[Service::Users, Service::Roles, Service::Files];

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Users => "users",
            Service::Roles => "roles",
            Service::Files => "files",
        }
    }
}

/// Lifetime of the tokens services use to call each other; they are minted at
/// start from the shared signing key and never leave the process.
const SERVICE_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// This server's own address as the other services in it should dial it.
fn loopback_endpoint(address: SocketAddr) -> String {
    let ip = if address.ip().is_unspecified() {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        address.ip()
    };
    format!("http://{}", SocketAddr::new(ip, address.port()))
}

/// A server with `services` added, ready to serve on `listener`.
pub struct Suite {
    server: ServerBuilder,
    /// The user service, when it runs here (tests wait on its role follower).
    pub users: Option<UserService>,
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
        let local = loopback_endpoint(listener.local_addr().map_err(Error::internal)?);
        let endpoints = common.endpoints.resolved(&local);
        let mut server = ServerBuilder::new(
            keys.clone(),
            Duration::from_millis(common.request_timeout_ms),
        );
        let mut users = None;
        for service in services {
            let token = keys.issue_service(service.name(), SERVICE_TOKEN_TTL)?.token;
            match service {
                Service::Users => {
                    let peers = Peers {
                        permissions: PermissionChecker::new(
                            &endpoints.roles,
                            &token,
                            CheckerSettings::default(),
                        )?,
                        files: FileLookup::new(&endpoints.files, &token)?,
                        roles: role_client(&endpoints.roles, &token)?,
                        file_url_base: settings.files.url_base.clone(),
                    };
                    let service =
                        UserService::start(&settings.users, common, keys.clone(), peers).await?;
                    service.register(&mut server);
                    users = Some(service);
                }
                Service::Roles => {
                    server.add_service(roster_roles::build(&settings.roles, common).await?);
                }
                Service::Files => {
                    let permissions = PermissionChecker::new(
                        &endpoints.roles,
                        &token,
                        CheckerSettings::default(),
                    )?;
                    roster_files::register(
                        &mut server,
                        roster_files::build(&settings.files, common, permissions).await?,
                    );
                }
            }
        }
        if users.is_none() {
            // Apart from the user service, ask it whether user sessions still count.
            let token = keys
                .issue_service("session-check", SERVICE_TOKEN_TTL)?
                .token;
            server.session_check(Arc::new(RemoteSessionCheck::new(
                &endpoints.users,
                &token,
                Duration::from_millis(common.auth.session_cache_ms),
            )?));
        }
        Ok(Self { server, users })
    }

    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), Error> {
        self.server.serve(listener, shutdown).await
    }
}
