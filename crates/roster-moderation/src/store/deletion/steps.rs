//! The runner's transitions of a job. Each is guarded by the lease: the job row
//! is updated with `lease_owner = <owner>` as its condition first, so a runner
//! whose job was taken over changes nothing (ABORTED / LEASE_LOST), and on
//! PostgreSQL the job row stays locked until the transition commits.

use chrono::{DateTime, Utc};
use roster_kit::{Error, Result, error::ErrorKind};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, Set, sea_query::Expr,
};

use super::super::{
    append_event,
    entity::{deletion_job, deletion_step},
    flags::remove_flags_of,
    ms,
};
use crate::domain::{
    Clock,
    deletion::{Counts, JobState, Lease, StepOutcome, StepState, counts},
    events::ModerationEvent,
    reasons,
};

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

fn leased(lease: &Lease) -> Condition {
    Condition::all()
        .add(deletion_job::Column::Id.eq(lease.job_id))
        .add(deletion_job::Column::LeaseOwner.eq(lease.owner.as_str()))
}

/// Touches the job under `lease` (optionally marking it RUNNING) and returns
/// it; LEASE_LOST when the lease is not held.
async fn hold(
    db: &impl ConnectionTrait,
    lease: &Lease,
    now: DateTime<Utc>,
    running: bool,
) -> Result<deletion_job::Model> {
    let mut update = deletion_job::Entity::update_many()
        .col_expr(deletion_job::Column::UpdatedAtMs, Expr::value(ms(now)))
        .filter(leased(lease));
    if running {
        update = update.col_expr(
            deletion_job::Column::State,
            Expr::value(JobState::Running.as_str()),
        );
    }
    if update.exec(db).await?.rows_affected != 1 {
        return Err(lease_lost(lease));
    }
    deletion_job::Entity::find_by_id(lease.job_id)
        .one(db)
        .await?
        .ok_or_else(|| lease_lost(lease))
}

async fn step_row(
    db: &impl ConnectionTrait,
    job_id: i64,
    position: i32,
) -> Result<deletion_step::Model> {
    deletion_step::Entity::find_by_id((job_id, position))
        .one(db)
        .await?
        .ok_or_else(|| Error::internal(format!("deletion job {job_id} has no step {position}")))
}

pub(super) async fn claim(
    db: &DatabaseConnection,
    job_id: i64,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool> {
    // One conditional UPDATE: of two claimers, the second re-evaluates the
    // condition on the row the first wrote (PostgreSQL) or runs after it
    // (SQLite), and finds the lease taken.
    let claimable = Condition::any()
        .add(deletion_job::Column::LeaseOwner.is_null())
        .add(deletion_job::Column::LeaseUntilMs.lte(ms(now)))
        .add(deletion_job::Column::LeaseOwner.eq(owner));
    let result = deletion_job::Entity::update_many()
        .col_expr(deletion_job::Column::LeaseOwner, Expr::value(owner))
        .col_expr(deletion_job::Column::LeaseUntilMs, Expr::value(ms(until)))
        .filter(deletion_job::Column::Id.eq(job_id))
        .filter(deletion_job::Column::State.ne(JobState::Completed.as_str()))
        .filter(deletion_job::Column::NextRunAtMs.lte(ms(now)))
        .filter(claimable)
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub(super) async fn renew(
    db: &DatabaseConnection,
    lease: &Lease,
    until: DateTime<Utc>,
) -> Result<bool> {
    let result = deletion_job::Entity::update_many()
        .col_expr(deletion_job::Column::LeaseUntilMs, Expr::value(ms(until)))
        .filter(leased(lease))
        .filter(deletion_job::Column::State.ne(JobState::Completed.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub(super) async fn start(
    db: &DatabaseConnection,
    lease: &Lease,
    position: i32,
    now: DateTime<Utc>,
) -> Result<deletion_step::Model> {
    let txn = roster_kit::db::begin_write(db).await?;
    hold(&txn, lease, now, true).await?;
    let row = step_row(&txn, lease.job_id, position).await?;
    let mut step: deletion_step::ActiveModel = row.clone().into();
    step.state = Set(StepState::Running.as_str().to_owned());
    step.attempts = Set(row.attempts.saturating_add(1));
    step.started_at_ms = Set(Some(row.started_at_ms.unwrap_or(ms(now))));
    step.next_attempt_at_ms = Set(None);
    let row = step.update(&txn).await?;
    txn.commit().await?;
    Ok(row)
}

/// Records the step's end inside `txn` (opened with the write lock); completes
/// the job when no step is left. Returns whether it completed.
pub(super) async fn finish(
    txn: &DatabaseTransaction,
    lease: &Lease,
    position: i32,
    outcome: StepOutcome,
    now: DateTime<Utc>,
) -> Result<bool> {
    let job = hold(txn, lease, now, true).await?;
    let mut step: deletion_step::ActiveModel = step_row(txn, lease.job_id, position).await?.into();
    let (state, erased, note) = match outcome {
        StepOutcome::Succeeded(erased) => (StepState::Succeeded, erased, None),
        StepOutcome::Skipped(why) => (StepState::Skipped, Counts::new(), Some(why)),
    };
    step.state = Set(state.as_str().to_owned());
    step.erased = Set(serde_json::to_string(&erased).map_err(Error::internal)?);
    step.last_error = Set(note);
    step.next_attempt_at_ms = Set(None);
    step.completed_at_ms = Set(Some(ms(now)));
    step.update(txn).await?;

    let unfinished = deletion_step::Entity::find()
        .filter(deletion_step::Column::JobId.eq(lease.job_id))
        .filter(
            deletion_step::Column::State
                .is_not_in([StepState::Succeeded.as_str(), StepState::Skipped.as_str()]),
        )
        .count(txn)
        .await?;
    if unfinished > 0 {
        return Ok(false);
    }
    deletion_job::Entity::update_many()
        .col_expr(
            deletion_job::Column::State,
            Expr::value(JobState::Completed.as_str()),
        )
        .col_expr(deletion_job::Column::CompletedAtMs, Expr::value(ms(now)))
        .col_expr(
            deletion_job::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            deletion_job::Column::LeaseUntilMs,
            Expr::value(Option::<i64>::None),
        )
        .filter(leased(lease))
        .exec(txn)
        .await?;
    let options = serde_json::from_str(&job.options).map_err(Error::internal)?;
    let event = ModerationEvent::UserDeleted {
        user_id: job.user_id,
        job_id: job.id,
        options,
    };
    append_event(txn, &job.requested_by, event, now).await?;
    Ok(true)
}

pub(super) async fn retry_later(
    db: &DatabaseConnection,
    lease: &Lease,
    position: i32,
    error: &str,
    retry_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    let txn = roster_kit::db::begin_write(db).await?;
    // Due again at the retry time, and free for any runner then.
    let released = deletion_job::Entity::update_many()
        .col_expr(deletion_job::Column::UpdatedAtMs, Expr::value(ms(now)))
        .col_expr(deletion_job::Column::NextRunAtMs, Expr::value(ms(retry_at)))
        .col_expr(
            deletion_job::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            deletion_job::Column::LeaseUntilMs,
            Expr::value(Option::<i64>::None),
        )
        .filter(leased(lease))
        .exec(&txn)
        .await?;
    if released.rows_affected != 1 {
        return Err(lease_lost(lease));
    }
    let mut step: deletion_step::ActiveModel = step_row(&txn, lease.job_id, position).await?.into();
    step.state = Set(StepState::Retrying.as_str().to_owned());
    step.last_error = Set(Some(error.to_owned()));
    step.next_attempt_at_ms = Set(Some(ms(retry_at)));
    step.update(&txn).await?;
    txn.commit().await?;
    Ok(())
}

pub(super) async fn remove_flags(
    txn: &DatabaseTransaction,
    lease: &Lease,
    position: i32,
    user_id: i64,
    clock: &dyn Clock,
) -> Result<bool> {
    let started = clock.now();
    let job = hold(txn, lease, started, true).await?;
    let (by_user, against_user) = remove_flags_of(txn, user_id, &job.requested_by, started).await?;
    let erased = Counts::from([
        (counts::FLAGS_BY_USER.to_owned(), by_user),
        (counts::FLAGS_AGAINST_USER.to_owned(), against_user),
    ]);
    let done = clock.now();
    finish(txn, lease, position, StepOutcome::Succeeded(erased), done).await
}
