//! How a deployment lets users log in (from the `users` settings).

use std::time::Duration;

use roster_kit::config::Secret;

use super::limits::FailureLimits;

/// How this deployment lets users log in.
#[derive(Debug, Clone)]
pub struct LoginPolicy {
    pub allow_guests: bool,
    /// A native login by name alone (development only).
    pub dev_logins: bool,
    /// The key of native login credentials; without it, native logins are refused.
    pub login_secret: Option<Secret>,
    /// How far ahead a credential may expire.
    pub credential_max_ttl: Duration,
    pub failure_limits: FailureLimits,
}
