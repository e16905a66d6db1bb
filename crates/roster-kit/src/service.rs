//! What every Roster service is started with, and the shape every service
//! crate exposes: `start` from a [`ServiceContext`], then `register` on a
//! [`ServerBuilder`]. The `roster` binary, the tests and the benchmarks start
//! services only this way.

use std::{future::Future, sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tonic::transport::ClientTlsConfig;

use crate::{
    auth::TokenKeys,
    authz::{CheckerSettings, PermissionChecker},
    client::{PeerChannel, ServiceCredentials, client_tls, lazy_channel},
    config::{CommonSettings, EndpointSettings},
    db,
    error::Error,
    server::ServerBuilder,
    tasks::BackgroundTask,
};

/// How often connection pools are sampled for the metrics.
const POOL_SAMPLE_INTERVAL: Duration = Duration::from_secs(5);

/// A service another one calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Users,
    Roles,
    Files,
    Moderation,
}

impl Peer {
    /// The setting its endpoint comes from.
    pub fn setting(self) -> &'static str {
        match self {
            Peer::Users => "endpoints.users",
            Peer::Roles => "endpoints.roles",
            Peer::Files => "endpoints.files",
            Peer::Moderation => "endpoints.moderation",
        }
    }

    /// Its name in `roster serve NAME`.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Users => "users",
            Peer::Roles => "roles",
            Peer::Files => "files",
            Peer::Moderation => "moderation",
        }
    }

    fn endpoint(self, endpoints: &EndpointSettings) -> &str {
        match self {
            Peer::Users => &endpoints.users,
            Peer::Roles => &endpoints.roles,
            Peer::Files => &endpoints.files,
            Peer::Moderation => &endpoints.moderation,
        }
    }
}

/// Settings, keys and the ways to reach the other services, shared by every
/// service of one process.
pub struct ServiceContext {
    pub common: CommonSettings,
    pub keys: Arc<TokenKeys>,
    /// Every endpoint, the empty ones resolved to this process.
    pub endpoints: EndpointSettings,
    client_tls: Option<ClientTlsConfig>,
    /// The services of this process, when known: a peer outside them needs a
    /// configured endpoint.
    local: Option<Vec<Peer>>,
    /// Tasks that live as long as this context (e.g. pool samplers).
    background: std::sync::Mutex<Vec<BackgroundTask>>,
}

impl ServiceContext {
    /// `local` is this process's own address as its services dial it (the
    /// loopback of the all-in-one mode).
    pub fn new(common: CommonSettings, keys: Arc<TokenKeys>, local: &str) -> Result<Self, Error> {
        Ok(Self {
            endpoints: common.endpoints.resolved(local),
            client_tls: client_tls(&common.tls)?,
            common,
            keys,
            local: None,
            background: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Says which services run in this process; a service that needs another
    /// one then refuses to start unless that one's endpoint is configured
    /// (rather than calling its own process, where the peer is missing).
    pub fn running(mut self, services: &[Peer]) -> Self {
        self.local = Some(services.to_vec());
        self
    }

    /// Credentials of `service` for its calls to the others: short-lived service
    /// tokens, renewed before they expire.
    pub fn credentials(&self, service: &str) -> Result<ServiceCredentials, Error> {
        ServiceCredentials::mint(
            self.keys.clone(),
            service,
            Duration::from_secs(self.common.auth.service_token_ttl_secs.max(30)),
        )
    }

    /// A lazily connecting channel to `peer`, calling as `service`.
    pub fn peer_channel(&self, peer: Peer, service: &str) -> Result<PeerChannel, Error> {
        let configured = !peer.endpoint(&self.common.endpoints).is_empty();
        if let Some(local) = &self.local
            && !configured
            && !local.contains(&peer)
        {
            return Err(Error::invalid_field(
                peer.setting(),
                format!(
                    "the {service} service needs the {} service: set {} (e.g. http://roster-{}:50051), or serve {} in this process",
                    peer.name(),
                    peer.setting(),
                    peer.name(),
                    peer.name()
                ),
            ));
        }
        self.channel_to(peer.endpoint(&self.endpoints), peer.setting(), service)
    }

    /// A lazily connecting channel to any `endpoint` (e.g. a product's deletion
    /// participant), calling as `service`; `setting` names where the endpoint
    /// was configured, for errors.
    pub fn channel_to(
        &self,
        endpoint: &str,
        setting: &str,
        service: &str,
    ) -> Result<PeerChannel, Error> {
        let channel = lazy_channel(endpoint, setting, self.client_tls.as_ref())?;
        Ok(tonic::service::interceptor::InterceptedService::new(
            channel,
            self.credentials(service)?,
        ))
    }

    /// Permission checks against the role service, cached, for `service`.
    pub fn permission_checker(&self, service: &str) -> Result<PermissionChecker, Error> {
        PermissionChecker::new(
            self.peer_channel(Peer::Roles, service)?,
            CheckerSettings::default(),
        )
    }

    /// Connects to `url`, applying `M`'s pending migrations when `auto_migrate`
    /// is on; its pool shows in the metrics as `database`.
    pub async fn database<M: MigratorTrait>(
        &self,
        database: &'static str,
        url: &str,
    ) -> Result<DatabaseConnection, Error> {
        let connection = db::connect_with(
            url,
            self.database_acquire_timeout(),
            self.common.database_max_connections,
        )
        .await?;
        if self.common.auto_migrate {
            db::migrate::<M>(&connection).await?;
        }
        self.keep(crate::metrics::watch_pool(
            database,
            &connection,
            POOL_SAMPLE_INTERVAL,
        ));
        Ok(connection)
    }

    /// The ledger of keyed calls in `table` of `connection`, pruned in the
    /// background as long as this context lives.
    pub fn idempotency_ledger(
        &self,
        connection: DatabaseConnection,
        table: &'static str,
    ) -> crate::idempotency::IdempotencyLedger {
        let ledger = crate::idempotency::IdempotencyLedger::new(
            connection,
            table,
            // Past its request timeout a call has been cut, so its claim lapsed.
            Duration::from_millis(self.common.request_timeout_ms.saturating_add(1000)),
            Duration::from_secs(u64::from(self.common.idempotency.retention_hours) * 3600),
        );
        self.keep(ledger.prune_task());
        ledger
    }

    /// How long a call waits for a database connection: nine tenths of its
    /// deadline, so a lost database answers UNAVAILABLE (retry) before the
    /// call would end DEADLINE_EXCEEDED.
    fn database_acquire_timeout(&self) -> Duration {
        Duration::from_millis((self.common.request_timeout_ms / 10 * 9).max(100))
    }

    /// Keeps `task` running as long as this context.
    pub fn keep(&self, task: BackgroundTask) {
        self.background
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(task);
    }

    /// How often followers look for commits of other replicas.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.common.event_poll_interval_ms.max(1))
    }
}

/// A Roster service: its crate's whole public face towards the suite.
pub trait RosterService: Sized + Send + Sync + 'static {
    /// Its name in `roster serve NAME` and in service tokens.
    const NAME: &'static str;
    /// Its table of the configuration.
    type Settings;

    /// Connects its database, its peers and its background followers.
    fn start(
        ctx: &ServiceContext,
        settings: &Self::Settings,
    ) -> impl Future<Output = Result<Self, Error>> + Send;

    /// Adds its gRPC services, public and service-callable methods and session
    /// checks to the server of this process.
    fn register(&self, server: &mut ServerBuilder);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(endpoints: EndpointSettings) -> ServiceContext {
        let common = CommonSettings {
            endpoints,
            ..CommonSettings::default()
        };
        ServiceContext::new(
            common,
            Arc::new(TokenKeys::generate("roster")),
            "http://127.0.0.1:1",
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn a_missing_peer_is_named_by_its_setting() {
        let alone = context(EndpointSettings::default()).running(&[Peer::Users]);
        let err = alone.peer_channel(Peer::Roles, "users").err();
        assert_eq!(
            err.as_ref().map(|e| e.violations[0].field.as_str()),
            Some("endpoints.roles")
        );
        assert!(alone.peer_channel(Peer::Users, "users").is_ok());

        let configured = context(EndpointSettings {
            roles: "http://roster-roles:50051".into(),
            ..EndpointSettings::default()
        })
        .running(&[Peer::Users]);
        assert!(configured.peer_channel(Peer::Roles, "users").is_ok());
        // Without `running`, every peer is this process (tests, embedded).
        assert!(
            context(EndpointSettings::default())
                .peer_channel(Peer::Roles, "users")
                .is_ok()
        );
    }
}
