//! Settings of the moderation service (the `moderation` table of the
//! configuration).

use std::{path::Path, time::Duration};

use roster_kit::{Error, FieldViolation, Result, config::Secret, db};
use serde::Deserialize;

use crate::domain::deletion::{Backoff, PausePoint, RunnerSettings};

/// A product's service implementing `roster.v1.DeletionParticipant`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ParticipantSettings {
    /// Unique among participants: 1–64 characters of a–z, 0–9, '-' and '_'.
    /// Shown in deletion jobs and receipts.
    pub name: String,
    /// Where it is served, e.g. `http://chat-backend:50051`.
    pub endpoint: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ModerationSettings {
    /// `sqlite://…` or `postgres://…`; defaults to `<data_dir>/moderation.db`.
    pub database_url: Option<Secret>,
    /// Deletion participants, called in this order by every deletion job.
    pub participants: Vec<ParticipantSettings>,
    /// First wait before retrying a failed deletion step, in milliseconds;
    /// doubled per failed attempt.
    pub retry_initial_ms: u64,
    /// Longest wait between two attempts of a deletion step, in milliseconds.
    pub retry_max_ms: u64,
    /// How long a replica holds a deletion job without renewing its lease, in
    /// milliseconds: the longest a job waits after its replica died.
    pub lease_ms: u64,
    /// How often the deletion runner looks for due jobs (retries, jobs created
    /// or abandoned by other replicas), in milliseconds.
    pub runner_poll_ms: u64,
    /// FOR TESTS ONLY. A deletion step ("TOMBSTONE_USER", "REVOKE_GRANTS",
    /// "ERASE_FILES", "REMOVE_FLAGS", "NOTIFY_PARTICIPANT" or
    /// "NOTIFY_PARTICIPANT:<name>") after which the deletion runner stops and
    /// waits forever, so a test can kill the process between two steps and check
    /// that another process resumes the job. Never set it in production.
    pub test_pause_after_step: Option<String>,
}

impl Default for ModerationSettings {
    fn default() -> Self {
        Self {
            database_url: None,
            participants: Vec::new(),
            retry_initial_ms: 1_000,
            retry_max_ms: 300_000,
            lease_ms: 30_000,
            runner_poll_ms: 1_000,
            test_pause_after_step: None,
        }
    }
}

const MAX_PARTICIPANT_NAME_CHARS: usize = 64;

fn valid_participant_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_PARTICIPANT_NAME_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl ModerationSettings {
    /// The configured URL, or the embedded SQLite file under `data_dir`.
    pub fn database_url(&self, data_dir: &Path) -> String {
        self.database_url
            .as_ref()
            .map(|s| s.expose().to_owned())
            .unwrap_or_else(|| db::default_sqlite_url(data_dir, "moderation"))
    }

    /// Checks what the types cannot: participant names, durations, the pause point.
    pub fn validate(&self) -> Result<()> {
        let mut violations = Vec::new();
        for (i, participant) in self.participants.iter().enumerate() {
            if !valid_participant_name(&participant.name) {
                violations.push(FieldViolation::new(
                    format!("moderation.participants[{i}].name"),
                    format!(
                        "must be 1–{MAX_PARTICIPANT_NAME_CHARS} characters of a–z, 0–9, '-' and '_'"
                    ),
                ));
            }
            if self.participants[..i]
                .iter()
                .any(|p| p.name == participant.name)
            {
                violations.push(FieldViolation::new(
                    format!("moderation.participants[{i}].name"),
                    format!("{:?} is used by another participant", participant.name),
                ));
            }
            if participant.endpoint.is_empty() {
                violations.push(FieldViolation::new(
                    format!("moderation.participants[{i}].endpoint"),
                    "is required",
                ));
            }
        }
        if self.retry_initial_ms == 0 || self.retry_max_ms < self.retry_initial_ms {
            violations.push(FieldViolation::new(
                "moderation.retry_max_ms",
                "retry_initial_ms must be > 0 and retry_max_ms at least retry_initial_ms",
            ));
        }
        if self.lease_ms < 3 {
            violations.push(FieldViolation::new(
                "moderation.lease_ms",
                "must be at least 3",
            ));
        }
        if violations.is_empty() {
            self.pause_point().map(|_| ())
        } else {
            Err(Error::invalid(violations))
        }
    }

    fn pause_point(&self) -> Result<Option<PausePoint>> {
        self.test_pause_after_step
            .as_deref()
            .map(|raw| PausePoint::parse(raw, "moderation.test_pause_after_step"))
            .transpose()
    }

    /// The runner's settings, with `owner` naming this process (unique per
    /// process, e.g. `<host>-<uuid>`).
    pub fn runner(&self, owner: String) -> Result<RunnerSettings> {
        self.validate()?;
        Ok(RunnerSettings {
            owner,
            lease: Duration::from_millis(self.lease_ms),
            backoff: Backoff {
                initial: Duration::from_millis(self.retry_initial_ms),
                max: Duration::from_millis(self.retry_max_ms),
            },
            pause_after: self.pause_point()?,
        })
    }

    /// A runner owner name unique to this process: the host (`HOSTNAME`, a pod's
    /// name on Kubernetes) and a random suffix, e.g. `roster-7f9c-…`.
    pub fn new_runner_owner() -> String {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "moderation".to_owned());
        let host: String = host.chars().take(64).collect();
        format!("{host}-{}", uuid::Uuid::new_v4().simple())
    }

    pub fn runner_poll_interval(&self) -> Duration {
        Duration::from_millis(self.runner_poll_ms.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participant(name: &str) -> ParticipantSettings {
        ParticipantSettings {
            name: name.into(),
            endpoint: "http://chat:50051".into(),
        }
    }

    #[test]
    fn defaults_are_valid_and_embedded() {
        let settings = ModerationSettings::default();
        assert!(settings.validate().is_ok());
        assert!(
            settings
                .database_url(Path::new("data"))
                .ends_with("moderation.db?mode=rwc")
        );
        let runner = settings
            .runner("me".into())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(runner.backoff.initial, Duration::from_secs(1));
        assert_eq!(runner.pause_after, None);
    }

    #[test]
    fn participants_need_unique_valid_names_and_an_endpoint() {
        let settings = ModerationSettings {
            participants: vec![
                participant("chat"),
                participant("chat"),
                participant("Feed!"),
                ParticipantSettings {
                    name: "x".into(),
                    endpoint: String::new(),
                },
            ],
            ..ModerationSettings::default()
        };
        let fields: Vec<String> = settings
            .validate()
            .err()
            .map(|e| e.violations.into_iter().map(|v| v.field).collect())
            .unwrap_or_default();
        assert_eq!(
            fields,
            [
                "moderation.participants[1].name",
                "moderation.participants[2].name",
                "moderation.participants[3].endpoint"
            ]
        );
    }

    #[test]
    fn the_test_pause_point_must_name_a_step() {
        let settings = ModerationSettings {
            test_pause_after_step: Some("REVOKE_GRANTS".into()),
            ..ModerationSettings::default()
        };
        let runner = settings
            .runner("me".into())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(runner.pause_after.is_some());
        let wrong = ModerationSettings {
            test_pause_after_step: Some("LUNCH".into()),
            ..ModerationSettings::default()
        };
        assert!(wrong.validate().is_err());
    }
}
