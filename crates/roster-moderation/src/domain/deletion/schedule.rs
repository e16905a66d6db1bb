//! How the runner paces itself: the retry schedule, the lease, and the
//! test-only pause point.
//!
//! Retries are not an in-memory loop (which a retry crate would give): the next
//! attempt's time is stored with the step, so it survives a restart and any
//! replica can make it. Only the schedule itself is computed here.

use std::time::Duration;

use roster_kit::{Error, Result};

use super::model::{DeletionStep, StepKind};

/// Exponential backoff: `initial`, doubling per failed attempt, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1 for the first failure).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1);
        let factor = 2u32.checked_pow(doublings).unwrap_or(u32::MAX);
        self.initial
            .checked_mul(factor)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

/// For tests only: the runner stops for good right after finishing a matching
/// step (so a test can kill the process between two steps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PausePoint {
    pub kind: StepKind,
    /// For NOTIFY_PARTICIPANT: only after this participant's step; `None` after
    /// the first participant step.
    pub service: Option<String>,
}

impl PausePoint {
    /// "TOMBSTONE_USER", "REMOVE_FLAGS", "NOTIFY_PARTICIPANT" or
    /// "NOTIFY_PARTICIPANT:<name>".
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let (kind, service) = match raw.split_once(':') {
            Some((kind, service)) => (kind, Some(service.to_owned())),
            None => (raw, None),
        };
        let kind = StepKind::parse(kind).ok_or_else(|| {
            Error::invalid_field(
                field,
                format!("{raw:?} names no deletion step (e.g. \"REVOKE_GRANTS\")"),
            )
        })?;
        if service.is_some() && kind != StepKind::NotifyParticipant {
            return Err(Error::invalid_field(
                field,
                "only NOTIFY_PARTICIPANT takes a participant name",
            ));
        }
        Ok(Self { kind, service })
    }

    pub fn matches(&self, step: &DeletionStep) -> bool {
        step.kind == self.kind && self.service.as_ref().is_none_or(|s| *s == step.service)
    }
}

/// How a [`DeletionRunner`](super::DeletionRunner) works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerSettings {
    /// Unique per runner (per process): whose lease a job is under.
    pub owner: String,
    /// How long a claim holds without renewal; renewed every third of it while
    /// a step runs. A replica that dies holds its job this long at most.
    pub lease: Duration,
    pub backoff: Backoff,
    pub pause_after: Option<PausePoint>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::deletion::model::StepState;

    #[test]
    fn backoff_doubles_from_initial_and_stops_at_max() {
        let backoff = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        let delays: Vec<u64> = (1..=9).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff.delay(0), Duration::from_secs(1));
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(60));
    }

    fn step(kind: StepKind, service: &str) -> DeletionStep {
        DeletionStep {
            position: 0,
            kind,
            service: service.into(),
            state: StepState::Succeeded,
            attempts: 1,
            last_error: None,
            next_attempt_at: None,
            started_at: None,
            completed_at: None,
            erased: Default::default(),
        }
    }

    #[test]
    fn pause_points_name_a_step_and_optionally_a_participant() {
        let revoke = PausePoint::parse("REVOKE_GRANTS", "f").unwrap_or_else(|e| panic!("{e}"));
        assert!(revoke.matches(&step(StepKind::RevokeGrants, "roles")));
        assert!(!revoke.matches(&step(StepKind::EraseFiles, "files")));

        let any = PausePoint::parse("NOTIFY_PARTICIPANT", "f").unwrap_or_else(|e| panic!("{e}"));
        assert!(any.matches(&step(StepKind::NotifyParticipant, "chat")));
        let feed =
            PausePoint::parse("NOTIFY_PARTICIPANT:feed", "f").unwrap_or_else(|e| panic!("{e}"));
        assert!(!feed.matches(&step(StepKind::NotifyParticipant, "chat")));
        assert!(feed.matches(&step(StepKind::NotifyParticipant, "feed")));

        assert!(PausePoint::parse("NAP", "f").is_err());
        assert!(PausePoint::parse("ERASE_FILES:chat", "f").is_err());
    }
}
