//! Layered configuration: compiled defaults → optional TOML file → `ROSTER_*`
//! environment variables (`__` separates nesting, e.g. `ROSTER_USERS__ALLOW_GUESTS=false`).

use std::{fmt, path::PathBuf};

use serde::{Deserialize, de::DeserializeOwned};

/// A configuration value that must never reach a log line or a debug print.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used, never to display it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// PostgreSQL connections one pool opens at most unless told otherwise
/// (`database_max_connections`). Every service of every replica has its own
/// pool, so this times the pools must stay under the server's
/// `max_connections` (100 by default): the all-in-one process holds four.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// Settings every service shares.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CommonSettings {
    /// Address the gRPC server listens on.
    pub listen: String,
    /// Address of the admin HTTP port: `/metrics` (Prometheus), `/livez`,
    /// `/readyz`. Empty: none.
    pub admin_listen: String,
    /// Where clients reach the HTTP gateway, e.g. `https://api.example.com`: the
    /// base of the URLs Roster hands out (a file's `url`, a user's display picture:
    /// `<public_url>/v1/files/<file_id>`).
    pub public_url: String,
    /// Directory for embedded-mode state: SQLite files, the local signing key, files.
    pub data_dir: PathBuf,
    /// Run pending migrations when a service starts.
    pub auto_migrate: bool,
    /// Per-request deadline enforced by the server, in milliseconds.
    pub request_timeout_ms: u64,
    /// On SIGTERM/SIGINT, how long calls in flight may take to finish before the
    /// process stops anyway, in milliseconds (keep it under Kubernetes'
    /// `terminationGracePeriodSeconds`).
    pub shutdown_drain_ms: u64,
    /// How often event streams and caches look for changes committed by other
    /// replicas when no notification woke them, in milliseconds: the mechanism
    /// on SQLite, the fallback on PostgreSQL (see `crate::wake`).
    pub event_poll_interval_ms: u64,
    /// PostgreSQL connections each service's pool opens at most. Every service
    /// of every replica has its own pool: keep their sum under the server's
    /// `max_connections`.
    pub database_max_connections: u32,
    pub log: LogSettings,
    pub auth: AuthSettings,
    /// Where the other services are reached, e.g. `http://roster-roles:50051`.
    pub endpoints: EndpointSettings,
    pub tls: TlsSettings,
    pub outbox: OutboxSettings,
    pub idempotency: IdempotencySettings,
}

/// Safe retries (`idempotency.*`): how long a service remembers a mutation's
/// `idempotency-key` and answer. A retry after that runs as a new call.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct IdempotencySettings {
    pub retention_hours: u32,
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        Self {
            retention_hours: 24,
        }
    }
}

/// How long each service's event log (its outbox) keeps its events
/// (`outbox.*`). An event is pruned once it is older than `retention_days`
/// and not among the newest `retention_events`. The retention is also how long
/// a follower of a stream (another service's projection, a product's consumer)
/// may stay away: resuming from a cursor whose next events were pruned is
/// refused with OUT_OF_RANGE / CURSOR_EXPIRED.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OutboxSettings {
    /// Events younger than this many days are kept (0: only the newest `retention_events`).
    pub retention_days: u32,
    /// The newest this many events are kept whatever their age (at least 1).
    pub retention_events: u64,
    /// How often each service prunes its outbox, in seconds (0: never); also
    /// once when it starts.
    pub prune_interval_secs: u64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            retention_days: 7,
            retention_events: 10_000,
            prune_interval_secs: 3600,
        }
    }
}

/// gRPC endpoints of the services. Empty means "in this process": the call
/// goes over loopback to this server, so the all-in-one mode and a split
/// deployment behave the same.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EndpointSettings {
    pub users: String,
    pub roles: String,
    pub files: String,
    pub moderation: String,
}

impl EndpointSettings {
    /// Fills every empty endpoint with `local` (this server's own address).
    pub fn resolved(&self, local: &str) -> Self {
        let pick = |configured: &str| {
            if configured.is_empty() {
                local.to_owned()
            } else {
                configured.to_owned()
            }
        };
        Self {
            users: pick(&self.users),
            roles: pick(&self.roles),
            files: pick(&self.files),
            moderation: pick(&self.moderation),
        }
    }
}

impl CommonSettings {
    /// The base of file URLs: `<public_url>/v1/files`.
    pub fn file_url_base(&self) -> String {
        format!("{}/v1/files", self.public_url.trim_end_matches('/'))
    }
}

impl Default for CommonSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:50051".into(),
            public_url: "http://localhost:8080".into(),
            admin_listen: "127.0.0.1:9090".into(),
            data_dir: PathBuf::from("data"),
            auto_migrate: true,
            request_timeout_ms: 10_000,
            shutdown_drain_ms: 20_000,
            event_poll_interval_ms: 250,
            database_max_connections: DEFAULT_MAX_CONNECTIONS,
            log: LogSettings::default(),
            auth: AuthSettings::default(),
            endpoints: EndpointSettings::default(),
            tls: TlsSettings::default(),
            outbox: OutboxSettings::default(),
            idempotency: IdempotencySettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// `tracing` env-filter directives.
    pub filter: String,
    /// Emit JSON lines instead of human-readable text.
    pub json: bool,
    /// OTLP/gRPC collector endpoint (e.g. `http://otel-collector:4317`); no export when unset.
    pub otlp_endpoint: Option<String>,
    /// `service.name` reported to the collector.
    pub service_name: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            json: false,
            otlp_endpoint: None,
            service_name: "roster".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// JSON Web Key sets holding private keys: session keys (user and admin
    /// tokens) only where tokens are minted, service keys in every service.
    /// When this and `public_key_files` are both empty, keys are generated once
    /// under `<data_dir>/keys` (the embedded mode). See `roster keys`.
    pub private_key_files: Vec<PathBuf>,
    /// JSON Web Key sets of public keys to verify with (e.g. the session keys, in
    /// processes that do not mint user tokens).
    pub public_key_files: Vec<PathBuf>,
    /// `iss` claim written into and required from every token.
    pub issuer: String,
    /// Lifetime of user session tokens, in seconds (30 days by default).
    pub user_token_ttl_secs: u64,
    /// Lifetime of admin tokens printed by `roster token admin`, in seconds.
    pub admin_token_ttl_secs: u64,
    /// Lifetime of the tokens services call each other with, in seconds; each is
    /// renewed when a third of its lifetime is left.
    pub service_token_ttl_secs: u64,
    /// Services running apart from the user service cache a user session found
    /// valid for at most this long (ms). They forget it sooner, as soon as an
    /// event about the user arrives on `WatchUserEvents` (see `crate::session`);
    /// this is the bound only if that stream lags.
    pub session_cache_ms: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            private_key_files: Vec::new(),
            public_key_files: Vec::new(),
            issuer: "roster".into(),
            user_token_ttl_secs: 30 * 24 * 3600,
            admin_token_ttl_secs: 24 * 3600,
            service_token_ttl_secs: 300,
            session_cache_ms: 1000,
        }
    }
}

/// TLS for the gRPC listener and for the connections to other services (rustls).
/// Off when no certificate is configured.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TlsSettings {
    /// PEM certificate chain the server presents; TLS is on when set (with `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// PEM CA bundle: when set, the server requires client certificates signed by
    /// it (mutual TLS).
    pub client_ca_file: Option<PathBuf>,
    /// PEM CA bundle the clients trust for the other services' certificates
    /// (`https://` endpoints).
    pub ca_file: Option<PathBuf>,
    /// Name the clients expect in the other services' certificates, when it is
    /// not the endpoint's host (e.g. the loopback call of the all-in-one mode).
    pub server_name: Option<String>,
    /// PEM certificate and key the clients present (mutual TLS).
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
}

/// Longest lifetime `IssueUserToken` may give a session.
pub const MAX_USER_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

impl AuthSettings {
    /// The longest any token signed under these settings lives: how long a
    /// superseded key must keep verifying.
    pub fn longest_token_lifetime(&self) -> std::time::Duration {
        let configured = self
            .user_token_ttl_secs
            .max(self.admin_token_ttl_secs)
            .max(self.service_token_ttl_secs);
        std::time::Duration::from_secs(configured).max(MAX_USER_TOKEN_TTL)
    }
}

impl TlsSettings {
    pub fn server_enabled(&self) -> bool {
        self.cert_file.is_some()
    }
}

/// Loads `T` from its serde defaults, then `file` if given (it must exist), then
/// `ROSTER_*` environment variables.
pub fn load<T: DeserializeOwned>(file: Option<&std::path::Path>) -> Result<T, config::ConfigError> {
    let mut builder = config::Config::builder();
    if let Some(path) = file {
        builder = builder.add_source(config::File::from(path).required(true));
    }
    builder
        .add_source(
            config::Environment::with_prefix("ROSTER")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("auth.private_key_files")
                .with_list_parse_key("auth.public_key_files"),
        )
        .build()?
        .try_deserialize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(secret.expose(), "hunter2");
    }
}
