//! Failed logins, counted per user name and per client address, so that
//! credentials and guest secrets cannot be guessed at speed.
//!
//! Hand-written rather than a rate-limiting crate: those (e.g. `governor`)
//! count every attempt as it is made, while this limit counts only attempts
//! that turn out to fail, and must be checked before the outcome is known.
//!
//! Counts are kept in memory by each replica: with N replicas behind a load
//! balancer an attacker gets up to N times the limit, still a few guesses a
//! minute rather than thousands a second.

use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    sync::Mutex,
    time::Duration,
};

use chrono::{DateTime, Utc};
use roster_kit::Error;

/// How many failures are allowed within `window` before logins are refused; 0
/// turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimits {
    pub per_name: u32,
    pub per_address: u32,
    pub window: Duration,
}

/// Subjects tracked at most. Past it, subjects without a failure in the window
/// are dropped first; if still too many (a flood of distinct names), all are
/// forgotten rather than letting memory grow without bound.
const MAX_SUBJECTS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Name(String),
    Address(IpAddr),
}

impl Subject {
    fn describe(&self) -> String {
        match self {
            Subject::Name(name) => format!("for the name {name:?}"),
            Subject::Address(address) => format!("from {address}"),
        }
    }
}

pub struct FailedLogins {
    limits: FailureLimits,
    /// Failure times within the window, oldest first, per subject.
    recent: Mutex<HashMap<Subject, VecDeque<DateTime<Utc>>>>,
}

impl FailedLogins {
    pub fn new(limits: FailureLimits) -> Self {
        Self {
            limits,
            recent: Mutex::new(HashMap::new()),
        }
    }

    fn subjects(&self, name: &str, address: Option<IpAddr>) -> Vec<(Subject, u32)> {
        let mut subjects = Vec::with_capacity(2);
        if self.limits.per_name > 0 {
            subjects.push((Subject::Name(name.to_owned()), self.limits.per_name));
        }
        if let Some(address) = address.filter(|_| self.limits.per_address > 0) {
            subjects.push((Subject::Address(address), self.limits.per_address));
        }
        subjects
    }

    fn window(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::from_std(self.limits.window).unwrap_or(chrono::TimeDelta::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Subject, VecDeque<DateTime<Utc>>>> {
        // Poisoning cannot leave the counts inconsistent; keep using them.
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Refuses with RESOURCE_EXHAUSTED / LOGIN_RATE_LIMITED while `name` or
    /// `address` has used up its failures, saying when the next attempt may
    /// be made (when the oldest failure leaves the window).
    pub fn check(
        &self,
        name: &str,
        address: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let window = self.window();
        let mut recent = self.lock();
        for (subject, limit) in self.subjects(name, address) {
            let Some(failures) = recent.get_mut(&subject) else {
                continue;
            };
            failures.retain(|at| now - *at < window);
            if failures.len() < limit as usize {
                continue;
            }
            let retry_at = failures.front().map_or(now, |oldest| *oldest + window);
            let retry_after = (retry_at - now)
                .to_std()
                .unwrap_or_default()
                .max(Duration::from_secs(1));
            return Err(Error::rate_limited(
                "LOGIN_RATE_LIMITED",
                format!(
                    "too many failed logins {}; try again in {} s",
                    subject.describe(),
                    retry_after.as_secs()
                ),
                retry_after,
            ));
        }
        Ok(())
    }

    /// Counts one failed login of `name` from `address`.
    pub fn record(&self, name: &str, address: Option<IpAddr>, now: DateTime<Utc>) {
        let window = self.window();
        let mut recent = self.lock();
        if recent.len() >= MAX_SUBJECTS {
            recent.retain(|_, failures| failures.back().is_some_and(|at| now - *at < window));
            if recent.len() >= MAX_SUBJECTS {
                recent.clear();
            }
        }
        for (subject, limit) in self.subjects(name, address) {
            let failures = recent.entry(subject).or_default();
            failures.retain(|at| now - *at < window);
            failures.push_back(now);
            // Only the newest `limit` failures decide when logins resume.
            while failures.len() > limit as usize {
                failures.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FailureLimits = FailureLimits {
        per_name: 3,
        per_address: 5,
        window: Duration::from_secs(300),
    };

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap_or_default()
    }

    fn address(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    fn retry_after(result: Result<(), Error>) -> Option<Duration> {
        let err = result.err()?;
        assert_eq!(err.reason, "LOGIN_RATE_LIMITED");
        err.retry_after
    }

    #[test]
    fn a_name_is_refused_after_its_failures_until_the_oldest_leaves_the_window() {
        let limiter = FailedLogins::new(LIMITS);
        for (second, last) in [(0, 1), (10, 2), (20, 3)] {
            assert!(limiter.check("jane", address(last), at(second)).is_ok());
            limiter.record("jane", address(last), at(second));
        }
        assert_eq!(
            retry_after(limiter.check("jane", address(4), at(30))),
            Some(Duration::from_secs(270))
        );
        // Another name from a fresh address is unaffected.
        assert!(limiter.check("john", address(5), at(30)).is_ok());
        // Once the first failure is 300 s old, one more attempt is allowed.
        assert!(limiter.check("jane", address(4), at(300)).is_ok());
    }

    #[test]
    fn an_address_is_refused_after_failures_across_names() {
        let limiter = FailedLogins::new(LIMITS);
        for n in 0..5 {
            limiter.record(&format!("user{n}"), address(1), at(n));
        }
        assert_eq!(
            retry_after(limiter.check("fresh", address(1), at(5))),
            Some(Duration::from_secs(295))
        );
        assert!(limiter.check("fresh", address(2), at(5)).is_ok());
        assert!(limiter.check("fresh", None, at(5)).is_ok());
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limiter = FailedLogins::new(FailureLimits {
            per_name: 0,
            per_address: 0,
            ..LIMITS
        });
        for n in 0..50 {
            limiter.record("jane", address(1), at(n));
        }
        assert!(limiter.check("jane", address(1), at(50)).is_ok());
    }
}
