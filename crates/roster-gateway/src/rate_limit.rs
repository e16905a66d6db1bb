//! Requests per caller (GCRA, keyed by the caller): a user session by its user,
//! an admin client by its name, anyone without a valid token by its address.
//! Admins, services and users holding EXEMPT_FROM_RATE_LIMITS network-wide are
//! not limited (asked through the chassis' cached permission checker).
//!
//! Every limited answer carries `X-RateLimit-Limit` (the burst), `-Remaining`
//! and `-Reset` (seconds until the full burst is available again); a refused
//! one is 429 with `Retry-After`.

use std::{net::SocketAddr, num::NonZeroU32, sync::Arc, time::Duration};

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};
use http::{HeaderMap, HeaderValue};
use roster_kit::{
    Actor, Error,
    authz::{PermissionChecker, Scope},
    events::BackgroundTask,
};

use crate::{call::Verifier, error::ApiError, settings::RateLimitSettings};

type Limiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// The permission that lifts the limits.
pub const EXEMPTION: &str = "EXEMPT_FROM_RATE_LIMITS";

pub struct RateLimits {
    limiter: Arc<Limiter>,
    quota: Quota,
    verifier: Arc<Verifier>,
    checker: PermissionChecker,
    _forget_idle: BackgroundTask,
}

impl RateLimits {
    pub fn new(
        settings: &RateLimitSettings,
        verifier: Arc<Verifier>,
        checker: PermissionChecker,
    ) -> Result<Self, Error> {
        let per_minute = NonZeroU32::new(settings.requests_per_minute).ok_or_else(|| {
            Error::invalid_field(
                "gateway.rate_limit.requests_per_minute",
                "must be at least 1",
            )
        })?;
        let burst = NonZeroU32::new(settings.burst).ok_or_else(|| {
            Error::invalid_field("gateway.rate_limit.burst", "must be at least 1")
        })?;
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        let limiter =
            Arc::new(RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>());
        // Callers that went quiet are forgotten, so the table does not grow forever.
        let idle = limiter.clone();
        let forget_idle = roster_kit::events::every(Duration::from_secs(60), move || {
            idle.retain_recent();
            idle.shrink_to_fit();
            std::future::ready(())
        });
        Ok(Self {
            limiter,
            quota,
            verifier,
            checker,
            _forget_idle: forget_idle,
        })
    }

    async fn exempt(&self, actor: Option<&Actor>) -> bool {
        match actor {
            Some(Actor::Admin { .. } | Actor::Service { .. }) => true,
            Some(Actor::User { user_id, .. }) => self
                .checker
                .check(*user_id, EXEMPTION, &Scope::Network)
                .await
                .unwrap_or_else(|err| {
                    tracing::debug!(error = %err, "no exemption answer; limiting");
                    false
                }),
            None => false,
        }
    }

    /// Seconds until the caller's whole burst is back, given what is left.
    fn reset_after(&self, remaining: u32) -> u64 {
        let missing = self.quota.burst_size().get().saturating_sub(remaining);
        let nanos = self.quota.replenish_interval().as_nanos() * u128::from(missing);
        u64::try_from(nanos.div_ceil(1_000_000_000)).unwrap_or(u64::MAX)
    }

    fn headers(&self, headers: &mut HeaderMap, remaining: u32, reset: u64) {
        headers.insert(
            "x-ratelimit-limit",
            HeaderValue::from(self.quota.burst_size().get()),
        );
        headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
    }
}

/// The tower middleware: names the caller (for the handlers too), then limits it.
pub async fn limit(
    State(limits): State<Arc<RateLimits>>,
    mut request: Request,
    next: Next,
) -> Response {
    let identity = limits.verifier.identify(request.headers());
    let key = match identity.actor() {
        Some(actor) => actor.to_string(),
        None => {
            let address = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip().to_string())
                .unwrap_or_default();
            format!("address:{address}")
        }
    };
    let exempt = limits.exempt(identity.actor()).await;
    request.extensions_mut().insert(identity);
    if exempt {
        return next.run(request).await;
    }
    match limits.limiter.check_key(&key) {
        Ok(state) => {
            let remaining = state.remaining_burst_capacity();
            let mut response = next.run(request).await;
            limits.headers(
                response.headers_mut(),
                remaining,
                limits.reset_after(remaining),
            );
            response
        }
        Err(refused) => {
            let wait = refused.wait_time_from(limits.limiter.clock().now());
            let mut error = ApiError::new(
                "RATE_LIMITED",
                format!(
                    "too many requests; at most {} at once and {} per minute",
                    limits.quota.burst_size(),
                    60_000_000_000 / limits.quota.replenish_interval().as_nanos().max(1)
                ),
            );
            error.retry_after = Some(wait);
            let mut response = error.into_response();
            let reset = limits.reset_after(0).max(wait.as_secs());
            limits.headers(response.headers_mut(), 0, reset);
            response
        }
    }
}
