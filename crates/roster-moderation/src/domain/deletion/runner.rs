//! The deletion runner: claims due jobs (a lease in the job's row), runs their
//! steps in order, records each step's end, and on failure schedules the next
//! attempt with exponential backoff and lets go of the job, so any replica may
//! make that attempt. A replica that dies mid-step leaves its lease to expire;
//! the step (idempotent) is then run again by whoever claims the job.

use std::{future::Future, sync::Arc, time::Duration};

use roster_kit::{Error, Result, error::ErrorKind, events::BackgroundTask};
use tokio::sync::{Notify, watch};

use super::{
    model::{Counts, DeletionJob, DeletionStep, Lease, StepKind, StepOutcome, counts},
    schedule::RunnerSettings,
};
use crate::domain::{
    Clock, Moderation, clock,
    ports::{ModerationRepository, Peers},
    reasons,
};

/// How many due jobs one pass looks at.
const DUE_BATCH: u64 = 50;
/// Longest error text kept with a step.
const MAX_ERROR_CHARS: usize = 500;

fn lease_lost(lease: &Lease) -> Error {
    Error::new(
        ErrorKind::Aborted,
        reasons::LEASE_LOST,
        format!(
            "deletion job {} is no longer leased by {}",
            lease.job_id, lease.owner
        ),
    )
}

fn describe(err: &Error) -> String {
    err.to_string().chars().take(MAX_ERROR_CHARS).collect()
}

/// Runs deletion jobs; one per process.
pub struct DeletionRunner {
    repo: Arc<dyn ModerationRepository>,
    peers: Peers,
    clock: Arc<dyn Clock>,
    settings: RunnerSettings,
    wake: Arc<Notify>,
    /// (job id, step position) once paused at the test pause point.
    paused: watch::Sender<Option<(i64, i32)>>,
}

impl DeletionRunner {
    /// A runner for the jobs `moderation` creates (and any other replica's).
    pub fn new(moderation: &Moderation, settings: RunnerSettings) -> Self {
        Self {
            repo: moderation.repository().clone(),
            peers: moderation.peers().clone(),
            clock: moderation.clock().clone(),
            settings,
            wake: moderation.runner_wake(),
            paused: watch::Sender::new(None),
        }
    }

    pub fn owner(&self) -> &str {
        &self.settings.owner
    }

    /// Tests: resolves to (job id, step position) once the runner stopped at
    /// the configured pause point.
    pub async fn wait_until_paused(&self) -> Option<(i64, i32)> {
        let mut paused = self.paused.subscribe();
        paused.wait_for(Option::is_some).await.ok().and_then(|p| *p)
    }

    /// Runs due jobs until aborted: at once when this process creates a job,
    /// otherwise every `poll_interval` (retries, other replicas' jobs, jobs
    /// whose runner died).
    /// Stops when the returned task is dropped.
    pub fn spawn(self: Arc<Self>, poll_interval: Duration) -> BackgroundTask {
        BackgroundTask::spawn(async move {
            loop {
                let notified = self.wake.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if let Err(err) = self.run_due().await {
                    tracing::warn!(error = %err, "deletion runner pass failed");
                }
                tokio::select! {
                    () = &mut notified => {}
                    () = tokio::time::sleep(poll_interval) => {}
                }
            }
        })
    }

    /// One pass: claims and runs every job due now. Returns how many it ran.
    pub async fn run_due(&self) -> Result<usize> {
        let due = self
            .repo
            .due_deletion_jobs(self.clock.now(), DUE_BATCH)
            .await?;
        let mut ran = 0;
        for job_id in due {
            match self.run_job(job_id).await {
                Ok(true) => ran += 1,
                Ok(false) => {}
                Err(err) => tracing::warn!(job_id, error = %err, "deletion job failed to run"),
            }
        }
        Ok(ran)
    }

    /// Claims `job_id` and runs it until it completes, a step fails (the retry
    /// is scheduled) or the lease is lost. False when the job was not claimable
    /// (finished, not due, or leased by another runner).
    pub async fn run_job(&self, job_id: i64) -> Result<bool> {
        let now = self.clock.now();
        let until = clock::add(now, self.settings.lease);
        if !self
            .repo
            .claim_deletion_job(job_id, &self.settings.owner, now, until)
            .await?
        {
            return Ok(false);
        }
        let lease = Lease {
            job_id,
            owner: self.settings.owner.clone(),
        };
        match self.drive(&lease).await {
            Err(err) if err.reason == reasons::LEASE_LOST => {
                tracing::info!(job_id, "deletion job taken over by another runner");
                Ok(true)
            }
            other => other.map(|()| true),
        }
    }

    async fn drive(&self, lease: &Lease) -> Result<()> {
        let job =
            self.repo.deletion_job(lease.job_id).await?.ok_or_else(|| {
                Error::internal(format!("deletion job {} vanished", lease.job_id))
            })?;
        for step in job.steps.iter().filter(|s| !s.state.is_finished()) {
            let started = self
                .repo
                .start_step(lease, step.position, self.clock.now())
                .await?;
            let attempt = self.with_heartbeat(lease, self.execute(&job, &started, lease));
            if let Err(err) = attempt.await {
                if err.reason == reasons::LEASE_LOST {
                    return Err(err);
                }
                let now = self.clock.now();
                let failures = u32::try_from(started.attempts).unwrap_or(1);
                let retry_at = clock::add(now, self.settings.backoff.delay(failures));
                tracing::warn!(
                    job_id = job.id,
                    step = started.kind.as_str(),
                    service = %started.service,
                    attempt = started.attempts,
                    %retry_at,
                    error = %err,
                    "deletion step failed; will retry"
                );
                self.repo
                    .retry_step_later(lease, step.position, &describe(&err), retry_at, now)
                    .await?;
                return Ok(());
            }
            tracing::info!(
                job_id = job.id,
                step = started.kind.as_str(),
                service = %started.service,
                "deletion step done"
            );
            if self
                .settings
                .pause_after
                .as_ref()
                .is_some_and(|p| p.matches(step))
            {
                tracing::warn!(
                    job_id = job.id,
                    step = step.kind.as_str(),
                    "paused for tests"
                );
                self.paused.send_replace(Some((job.id, step.position)));
                std::future::pending::<()>().await;
            }
        }
        Ok(())
    }

    /// Runs one step and records its end.
    async fn execute(&self, job: &DeletionJob, step: &DeletionStep, lease: &Lease) -> Result<()> {
        let user_id = job.user_id;
        let counted = |name: &str, count: i64| {
            StepOutcome::Succeeded(Counts::from([(name.to_owned(), count)]))
        };
        let outcome = match step.kind {
            StepKind::TombstoneUser => {
                let changed = self.peers.users.tombstone_user(user_id).await?;
                counted(counts::USER_RECORDS, i64::from(changed))
            }
            StepKind::RevokeGrants => counted(
                counts::ROLE_GRANTS,
                self.peers.roles.revoke_all_grants(user_id).await?,
            ),
            StepKind::EraseFiles => counted(
                counts::FILES,
                self.peers.files.erase_user_files(user_id).await?,
            ),
            StepKind::RemoveFlags => {
                // Removal and the step's record commit together.
                self.repo
                    .remove_flags_step(lease, step.position, user_id, self.clock.as_ref())
                    .await?;
                return Ok(());
            }
            StepKind::NotifyParticipant => match self.peers.participant(&step.service) {
                Some(participant) => StepOutcome::Succeeded(
                    participant
                        .delete_user_content(user_id, &job.options, job.id)
                        .await?,
                ),
                None => StepOutcome::Skipped(format!(
                    "participant {:?} is not configured any more",
                    step.service
                )),
            },
        };
        self.repo
            .finish_step(lease, step.position, outcome, self.clock.now())
            .await?;
        Ok(())
    }

    /// Runs `work` while renewing the lease every third of its duration; gives
    /// up on `work` (LEASE_LOST) if another runner took the job meanwhile.
    async fn with_heartbeat<T>(
        &self,
        lease: &Lease,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let beat = async {
            loop {
                tokio::time::sleep(self.settings.lease / 3).await;
                let until = clock::add(self.clock.now(), self.settings.lease);
                match self.repo.renew_lease(lease, until).await {
                    Ok(true) => {}
                    Ok(false) => return lease_lost(lease),
                    Err(err) => {
                        tracing::warn!(job_id = lease.job_id, error = %err, "lease renewal failed")
                    }
                }
            }
        };
        tokio::select! {
            result = work => result,
            err = beat => Err(err),
        }
    }
}
