//! DeleteUser (and its dry run), GetDeletionJob, ListDeletionJobs.

use roster_kit::{Error, Result, error::ErrorKind};

use super::model::{
    Counts, DeleteOutcome, DeleteUserInput, DeletionJob, DeletionOptions, DeletionPreview,
    JobQuery, NewDeletionJob, PreviewEntry, StepKind, counts, plan_steps,
};
use crate::domain::{
    Caller, Moderation, Page,
    access::{self, permissions},
    audit::{AuditAction, AuditRecord},
    reasons,
};

fn already_deleted(user_id: i64) -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        reasons::USER_ALREADY_DELETED,
        format!("user {user_id} is already deleted"),
    )
}

fn one(name: &str, count: i64) -> Counts {
    Counts::from([(name.to_owned(), count)])
}

impl Moderation {
    /// DeleteUser: needs EDIT_USER; the user must exist and not be deleted or
    /// have a job. Creates the job (and wakes this process's runner), or answers
    /// a dry run.
    pub async fn delete_user(
        &self,
        caller: &Caller,
        input: DeleteUserInput,
    ) -> Result<DeleteOutcome> {
        self.require(caller, permissions::EDIT_USER).await?;
        let user_id = input.user_id;
        let user = self.existing_user(user_id).await?;
        if user.is_deleted || self.repo.deletion_job_of_user(user_id).await?.is_some() {
            return Err(already_deleted(user_id));
        }
        if let Some(caller_id) = access::user_to_check(&caller.actor) {
            let exempt = permissions::EXEMPT_FROM_MODERATION;
            let target_exempt = self.peers.roles.holds(user_id, exempt).await?;
            let caller_exempt = target_exempt && self.peers.roles.holds(caller_id, exempt).await?;
            access::may_delete(&caller.actor, user_id, target_exempt, caller_exempt)?;
        }
        if input.dry_run {
            return Ok(DeleteOutcome::Preview(
                self.preview(user_id, &input.options).await?,
            ));
        }
        let options = input.options;
        let audit = AuditRecord::new(
            caller,
            user_id,
            AuditAction::DeleteUser,
            input.reason.as_str(),
        )
        .detail("delete_all", options.delete_all)
        .detail("mark_messages_deleted", options.mark_messages_deleted)
        .detail("hard_delete_posts", options.hard_delete_posts)
        .detail("hard_delete_comments", options.hard_delete_comments);
        let job = NewDeletionJob {
            user_id,
            options,
            requested_by: caller.label(),
            reason: input.reason.as_str().to_owned(),
            request_id: caller.request_id.clone(),
            steps: plan_steps(&self.peers.participant_names()),
        };
        let job = self
            .repo
            .create_deletion_job(job, audit, self.now())
            .await?;
        self.runner_wake.notify_one();
        Ok(DeleteOutcome::Started(job))
    }

    /// What each step would erase, asking each service for counts.
    async fn preview(&self, user_id: i64, options: &DeletionOptions) -> Result<DeletionPreview> {
        let mut entries = Vec::new();
        for planned in plan_steps(&self.peers.participant_names()) {
            let would_erase = match planned.kind {
                StepKind::TombstoneUser => Some(self.peers.users.count_user_data(user_id).await?),
                StepKind::RevokeGrants => Some(one(
                    counts::ROLE_GRANTS,
                    self.peers.roles.count_grants(user_id).await?,
                )),
                StepKind::EraseFiles => Some(one(
                    counts::FILES,
                    self.peers.files.count_user_files(user_id).await?,
                )),
                StepKind::RemoveFlags => {
                    let tally = self.repo.flag_tally(user_id).await?;
                    Some(Counts::from([
                        (counts::FLAGS_BY_USER.to_owned(), tally.by_user),
                        (counts::FLAGS_AGAINST_USER.to_owned(), tally.against_user),
                    ]))
                }
                StepKind::NotifyParticipant => match self.peers.participant(&planned.service) {
                    Some(participant) => participant.preview(user_id, options).await?,
                    None => None,
                },
            };
            entries.push(PreviewEntry {
                step: planned.kind,
                service: planned.service,
                would_erase,
            });
        }
        Ok(DeletionPreview { user_id, entries })
    }

    /// GetDeletionJob: needs EDIT_USER.
    pub async fn deletion_job(&self, caller: &Caller, job_id: i64) -> Result<DeletionJob> {
        self.require(caller, permissions::EDIT_USER).await?;
        self.repo.deletion_job(job_id).await?.ok_or_else(|| {
            Error::not_found(
                reasons::DELETION_JOB_NOT_FOUND,
                format!("no deletion job with id {job_id}"),
            )
        })
    }

    /// ListDeletionJobs: needs EDIT_USER.
    pub async fn list_deletion_jobs(
        &self,
        caller: &Caller,
        query: &JobQuery,
    ) -> Result<Page<DeletionJob>> {
        self.require(caller, permissions::EDIT_USER).await?;
        let rows = self.repo.list_deletion_jobs(query).await?;
        Ok(Page::from_overfetch(rows, query.limit))
    }
}
