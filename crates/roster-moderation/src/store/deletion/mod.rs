//! Deletion jobs and their steps: creation (one job per user, by a unique
//! constraint), reads, and the runner's transitions (see [`steps`]).

mod steps;

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_kit::{Error, Result, error::ErrorKind};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, Set,
};

use super::{
    Store, append_event, corrupt,
    entity::{deletion_job, deletion_step},
    insert_audit, ms, opt_time, time,
};
use crate::domain::{
    Clock,
    audit::AuditRecord,
    deletion::{
        Counts, DeletionJob, DeletionOptions, DeletionStep, JobQuery, JobState, Lease,
        NewDeletionJob, StepKind, StepOutcome, StepState,
    },
    events::ModerationEvent,
    ports::DeletionRepository,
    reasons,
};

fn step_from_row(row: deletion_step::Model) -> Result<DeletionStep> {
    let what = || format_args!("step {} of deletion job {}", row.position, row.job_id).to_string();
    let erased: Counts = serde_json::from_str(&row.erased).map_err(|_| corrupt(what()))?;
    Ok(DeletionStep {
        position: row.position,
        kind: StepKind::parse(&row.kind).ok_or_else(|| corrupt(what()))?,
        state: StepState::parse(&row.state).ok_or_else(|| corrupt(what()))?,
        service: row.service,
        attempts: row.attempts,
        last_error: row.last_error,
        next_attempt_at: opt_time(row.next_attempt_at_ms)?,
        started_at: opt_time(row.started_at_ms)?,
        completed_at: opt_time(row.completed_at_ms)?,
        erased,
    })
}

fn job_from_rows(
    row: deletion_job::Model,
    steps: Vec<deletion_step::Model>,
) -> Result<DeletionJob> {
    let what = || format!("deletion job {}", row.id);
    let options: DeletionOptions =
        serde_json::from_str(&row.options).map_err(|_| corrupt(what()))?;
    Ok(DeletionJob {
        id: row.id,
        user_id: row.user_id,
        options,
        state: JobState::parse(&row.state).ok_or_else(|| corrupt(what()))?,
        requested_by: row.requested_by,
        reason: row.reason,
        request_id: row.request_id,
        created_at: time(row.created_at_ms)?,
        updated_at: time(row.updated_at_ms)?,
        completed_at: opt_time(row.completed_at_ms)?,
        lease_owner: row.lease_owner,
        lease_until: opt_time(row.lease_until_ms)?,
        steps: steps
            .into_iter()
            .map(step_from_row)
            .collect::<Result<_>>()?,
    })
}

/// The jobs `select` finds, with their steps, in `select`'s order.
async fn load_jobs(
    db: &impl ConnectionTrait,
    select: Select<deletion_job::Entity>,
) -> Result<Vec<DeletionJob>> {
    let rows = select.all(db).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut steps: HashMap<i64, Vec<deletion_step::Model>> = HashMap::new();
    for step in deletion_step::Entity::find()
        .filter(deletion_step::Column::JobId.is_in(rows.iter().map(|r| r.id)))
        .order_by_asc(deletion_step::Column::JobId)
        .order_by_asc(deletion_step::Column::Position)
        .all(db)
        .await?
    {
        steps.entry(step.job_id).or_default().push(step);
    }
    rows.into_iter()
        .map(|row| {
            let own = steps.remove(&row.id).unwrap_or_default();
            job_from_rows(row, own)
        })
        .collect()
}

async fn load_job(
    db: &impl ConnectionTrait,
    select: Select<deletion_job::Entity>,
) -> Result<Option<DeletionJob>> {
    Ok(load_jobs(db, select.limit(1)).await?.into_iter().next())
}

fn already_deleted(user_id: i64) -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        reasons::USER_ALREADY_DELETED,
        format!("user {user_id} is already deleted or being deleted"),
    )
}

#[async_trait]
impl DeletionRepository for Store {
    async fn create_deletion_job(
        &self,
        new: NewDeletionJob,
        audit: AuditRecord,
        now: DateTime<Utc>,
    ) -> Result<DeletionJob> {
        let options = serde_json::to_string(&new.options).map_err(Error::internal)?;
        let txn = self.begin_write().await?;
        let inserted = deletion_job::ActiveModel {
            id: NotSet,
            user_id: Set(new.user_id),
            options: Set(options),
            state: Set(JobState::Pending.as_str().to_owned()),
            requested_by: Set(new.requested_by.clone()),
            reason: Set(new.reason.clone()),
            request_id: Set(new.request_id.clone()),
            created_at_ms: Set(ms(now)),
            updated_at_ms: Set(ms(now)),
            completed_at_ms: Set(None),
            next_run_at_ms: Set(ms(now)),
            lease_owner: Set(None),
            lease_until_ms: Set(None),
        }
        .insert(&txn)
        .await;
        let job = match inserted {
            Ok(job) => job,
            Err(err) if roster_kit::db::is_unique_violation(&err) => {
                return Err(already_deleted(new.user_id));
            }
            Err(err) => return Err(err.into()),
        };
        let mut steps = Vec::with_capacity(new.steps.len());
        for (position, planned) in new.steps.iter().enumerate() {
            let step = deletion_step::ActiveModel {
                job_id: Set(job.id),
                position: Set(i32::try_from(position).map_err(Error::internal)?),
                kind: Set(planned.kind.as_str().to_owned()),
                service: Set(planned.service.clone()),
                state: Set(StepState::Pending.as_str().to_owned()),
                attempts: Set(0),
                last_error: Set(None),
                next_attempt_at_ms: Set(None),
                started_at_ms: Set(None),
                completed_at_ms: Set(None),
                erased: Set("{}".to_owned()),
            }
            .insert(&txn)
            .await?;
            steps.push(step);
        }
        let event = ModerationEvent::UserDeletionStarted {
            user_id: new.user_id,
            job_id: job.id,
            options: new.options,
        };
        append_event(&txn, &audit.actor, event, now).await?;
        insert_audit(&txn, &audit.detail("job_id", job.id), now).await?;
        self.commit(txn, true).await?;
        job_from_rows(job, steps)
    }

    async fn deletion_job(&self, job_id: i64) -> Result<Option<DeletionJob>> {
        load_job(&self.db, deletion_job::Entity::find_by_id(job_id)).await
    }

    async fn deletion_job_of_user(&self, user_id: i64) -> Result<Option<DeletionJob>> {
        let select = deletion_job::Entity::find().filter(deletion_job::Column::UserId.eq(user_id));
        load_job(&self.db, select).await
    }

    async fn list_deletion_jobs(&self, query: &JobQuery) -> Result<Vec<DeletionJob>> {
        let mut select = deletion_job::Entity::find()
            .order_by_desc(deletion_job::Column::Id)
            .limit(query.limit + 1);
        if let Some(state) = query.state {
            select = select.filter(deletion_job::Column::State.eq(state.as_str()));
        }
        if let Some(user_id) = query.user_id {
            select = select.filter(deletion_job::Column::UserId.eq(user_id));
        }
        if let Some(before) = query.before_id {
            select = select.filter(deletion_job::Column::Id.lt(before));
        }
        load_jobs(&self.db, select).await
    }

    async fn due_deletion_jobs(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<i64>> {
        Ok(deletion_job::Entity::find()
            .select_only()
            .column(deletion_job::Column::Id)
            .filter(deletion_job::Column::State.ne(JobState::Completed.as_str()))
            .filter(deletion_job::Column::NextRunAtMs.lte(ms(now)))
            .filter(
                Condition::any()
                    .add(deletion_job::Column::LeaseOwner.is_null())
                    .add(deletion_job::Column::LeaseUntilMs.lte(ms(now))),
            )
            .order_by_asc(deletion_job::Column::NextRunAtMs)
            .order_by_asc(deletion_job::Column::Id)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?)
    }

    async fn claim_deletion_job(
        &self,
        job_id: i64,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        steps::claim(&self.db, job_id, owner, now, until).await
    }

    async fn renew_lease(&self, lease: &Lease, until: DateTime<Utc>) -> Result<bool> {
        steps::renew(&self.db, lease, until).await
    }

    async fn start_step(
        &self,
        lease: &Lease,
        position: i32,
        now: DateTime<Utc>,
    ) -> Result<DeletionStep> {
        step_from_row(steps::start(&self.db, lease, position, now).await?)
    }

    async fn finish_step(
        &self,
        lease: &Lease,
        position: i32,
        outcome: StepOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let txn = self.begin_write().await?;
        let completed = steps::finish(&txn, lease, position, outcome, now).await?;
        self.commit(txn, completed).await?;
        Ok(completed)
    }

    async fn retry_step_later(
        &self,
        lease: &Lease,
        position: i32,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        steps::retry_later(&self.db, lease, position, error, retry_at, now).await
    }

    async fn remove_flags_step(
        &self,
        lease: &Lease,
        position: i32,
        user_id: i64,
        clock: &dyn Clock,
    ) -> Result<bool> {
        let txn = self.begin_write().await?;
        let completed = steps::remove_flags(&txn, lease, position, user_id, clock).await?;
        self.commit(txn, true).await?;
        Ok(completed)
    }
}
