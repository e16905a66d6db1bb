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

/// Settings every service shares.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CommonSettings {
    /// Address the gRPC server listens on.
    pub listen: String,
    /// Directory for embedded-mode state: SQLite files, the local signing key, files.
    pub data_dir: PathBuf,
    /// Run pending migrations when a service starts.
    pub auto_migrate: bool,
    /// Per-request deadline enforced by the server, in milliseconds.
    pub request_timeout_ms: u64,
    /// How often event streams look for changes committed by other replicas, in milliseconds.
    pub event_poll_interval_ms: u64,
    pub log: LogSettings,
    pub auth: AuthSettings,
    /// Where the other services are reached, e.g. `http://roster-roles:50051`.
    pub endpoints: EndpointSettings,
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
        }
    }
}

impl Default for CommonSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:50051".into(),
            data_dir: PathBuf::from("data"),
            auto_migrate: true,
            request_timeout_ms: 10_000,
            event_poll_interval_ms: 250,
            log: LogSettings::default(),
            auth: AuthSettings::default(),
            endpoints: EndpointSettings::default(),
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
    /// HMAC key for tokens (≥ 32 bytes). When unset, a random key is generated once
    /// and kept in `<data_dir>/signing.key` — fine for one machine, not for replicas.
    pub signing_key: Option<Secret>,
    /// `iss` claim written into and required from every token.
    pub issuer: String,
    /// Lifetime of user session tokens, in seconds (30 days by default).
    pub user_token_ttl_secs: u64,
    /// Lifetime of admin tokens printed by `roster token admin`, in seconds.
    pub admin_token_ttl_secs: u64,
    /// Services running apart from the user service cache a user session found
    /// valid for this long (ms): the delay before they see a revoke or a ban.
    pub session_cache_ms: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            signing_key: None,
            issuer: "roster".into(),
            user_token_ttl_secs: 30 * 24 * 3600,
            admin_token_ttl_secs: 24 * 3600,
            session_cache_ms: 1000,
        }
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
                .try_parsing(true),
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
