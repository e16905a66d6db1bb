//! The gateway's table of the configuration: `[gateway]`.

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct GatewaySettings {
    /// Address the HTTP gateway listens on (its own port, next to the gRPC one).
    pub listen: String,
    /// Origins a browser may call the API from (CORS), e.g.
    /// `["https://app.example.com"]`; `["*"]` allows any origin. Empty: no CORS
    /// headers, so browsers refuse cross-origin calls. From the environment, a
    /// comma-separated list.
    #[serde(deserialize_with = "list")]
    pub cors_allowed_origins: Vec<String>,
    /// Largest JSON request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest upload body (files and display pictures), in bytes. The file
    /// service applies its own `files.max_upload_bytes` too.
    pub max_upload_bytes: u64,
    /// How long a call may take until its response starts, in milliseconds.
    /// Streamed bodies (downloads, event streams) are not cut once started.
    pub request_timeout_ms: u64,
    pub rate_limit: RateLimitSettings,
    /// How many recent user events the gateway keeps to resume event streams
    /// (`Last-Event-ID`) without asking the user service to replay.
    pub event_replay: usize,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            cors_allowed_origins: Vec::new(),
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 100 * 1024 * 1024,
            request_timeout_ms: 30_000,
            rate_limit: RateLimitSettings::default(),
            event_replay: 1000,
        }
    }
}

/// Requests per caller: a user session, an admin client, or (without a valid
/// token) a client address. Callers holding EXEMPT_FROM_RATE_LIMITS network-wide,
/// admins and services are not limited.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// Sustained rate per caller.
    pub requests_per_minute: u32,
    /// Requests a caller may make at once before the sustained rate applies.
    pub burst: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            requests_per_minute: 1200,
            burst: 200,
        }
    }
}

/// A list given as a TOML array or as one comma-separated string (environment).
fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Raw::deserialize(deserializer)? {
        Raw::One(joined) => joined
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Raw::Many(items) => items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_come_as_a_list_or_a_comma_separated_string() {
        let from_env: GatewaySettings = serde_json::from_str(
            r#"{"cors_allowed_origins": "https://a.example, https://b.example"}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            from_env.cors_allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        let from_file: GatewaySettings = serde_json::from_str(r#"{"cors_allowed_origins": ["*"]}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(from_file.cors_allowed_origins, ["*"]);
        assert_eq!(from_file.listen, "127.0.0.1:8080");
    }
}
