//! The `roster.v1.ModerationService` transport. Every handler: the caller →
//! the parsed request → one domain call → the view.

mod convert;
mod watch;

use std::{sync::Arc, time::Duration};

use roster_proto::v1::{self as pb, moderation_service_server::ModerationService};
use tonic::{Request, Response, Status};

use crate::domain::Moderation;
use convert::caller;

/// The tonic service; cheap to clone.
#[derive(Clone)]
pub struct ModerationApi {
    moderation: Arc<Moderation>,
    poll_interval: Duration,
}

impl ModerationApi {
    /// `poll_interval`: how often event streams look for other replicas' commits.
    pub fn new(moderation: Arc<Moderation>, poll_interval: Duration) -> Self {
        Self {
            moderation,
            poll_interval,
        }
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ModerationService for ModerationApi {
    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn flag_user(
        &self,
        request: Request<pb::FlagUserRequest>,
    ) -> Reply<pb::FlagUserResponse> {
        let caller = caller(&request)?;
        let reason = match request.get_ref().reason() {
            pb::FlagReason::Unspecified => pb::FlagReason::Other,
            reason => reason,
        };
        roster_kit::origin::set_reason(reason.as_str_name());
        let input = request.into_inner().try_into()?;
        let change = self.moderation.flag_user(&caller, input).await?;
        Ok(Response::new(convert::flag_change(change)))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn unflag_user(
        &self,
        request: Request<pb::UnflagUserRequest>,
    ) -> Reply<pb::UnflagUserResponse> {
        let caller = caller(&request)?;
        let user_id = convert::user_id(request.get_ref().user_id, "user_id")?;
        let change = self.moderation.unflag_user(&caller, user_id).await?;
        Ok(Response::new(convert::unflagged(change)))
    }

    #[tracing::instrument(skip_all, fields(users = request.get_ref().user_ids.len()))]
    async fn is_flagged_by_me(
        &self,
        request: Request<pb::IsFlaggedByMeRequest>,
    ) -> Reply<pb::IsFlaggedByMeResponse> {
        let caller = caller(&request)?;
        let user_ids = convert::user_ids(request.get_ref())?;
        let answers = self.moderation.flagged_by_me(&caller, &user_ids).await?;
        Ok(Response::new(convert::flagged_by_me(answers)))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn list_flags(
        &self,
        request: Request<pb::ListFlagsRequest>,
    ) -> Reply<pb::ListFlagsResponse> {
        let caller = caller(&request)?;
        let query = convert::flags_query(request.into_inner())?;
        let (page, count) = self.moderation.list_flags(&caller, &query).await?;
        Ok(Response::new(convert::flags_page(&query, page, count)))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn clear_flags(
        &self,
        request: Request<pb::ClearFlagsRequest>,
    ) -> Reply<pb::ClearFlagsResponse> {
        let caller = caller(&request)?;
        roster_kit::origin::set_reason(&request.get_ref().reason);
        let (user_id, reason) = convert::clear_flags(request.into_inner())?;
        let cleared = self
            .moderation
            .clear_flags(&caller, user_id, reason)
            .await?;
        Ok(Response::new(convert::cleared(cleared)))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn ban_user(&self, request: Request<pb::BanUserRequest>) -> Reply<pb::BanUserResponse> {
        let caller = caller(&request)?;
        roster_kit::origin::set_reason(&request.get_ref().reason);
        let input = request.into_inner().try_into()?;
        let change = self.moderation.ban_user(&caller, input).await?;
        Ok(Response::new(convert::ban_change(
            change,
            self.moderation.now(),
        )))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn unban_user(
        &self,
        request: Request<pb::UnbanUserRequest>,
    ) -> Reply<pb::UnbanUserResponse> {
        let caller = caller(&request)?;
        roster_kit::origin::set_reason(&request.get_ref().reason);
        let (user_id, reason) = convert::unban(request.into_inner())?;
        let lifted = self.moderation.unban_user(&caller, user_id, reason).await?;
        Ok(Response::new(convert::unbanned(
            lifted,
            self.moderation.now(),
        )))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn get_ban(&self, request: Request<pb::GetBanRequest>) -> Reply<pb::Ban> {
        let caller = caller(&request)?;
        let user_id = convert::user_id(request.get_ref().user_id, "user_id")?;
        let ban = self.moderation.get_ban(&caller, user_id).await?;
        Ok(Response::new(convert::ban(&ban, self.moderation.now())))
    }

    #[tracing::instrument(skip_all, fields(filter = request.get_ref().filter))]
    async fn list_bans(
        &self,
        request: Request<pb::ListBansRequest>,
    ) -> Reply<pb::ListBansResponse> {
        let caller = caller(&request)?;
        let query = convert::bans_query(request.into_inner())?;
        let page = self.moderation.list_bans(&caller, &query).await?;
        Ok(Response::new(convert::bans_page(
            &query,
            page,
            self.moderation.now(),
        )))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id, dry_run = request.get_ref().dry_run))]
    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Reply<pb::DeleteUserResponse> {
        let caller = caller(&request)?;
        roster_kit::origin::set_reason(&request.get_ref().reason);
        let input = request.into_inner().try_into()?;
        let outcome = self.moderation.delete_user(&caller, input).await?;
        Ok(Response::new(convert::delete_outcome(outcome)))
    }

    #[tracing::instrument(skip_all, fields(job_id = request.get_ref().job_id))]
    async fn get_deletion_job(
        &self,
        request: Request<pb::GetDeletionJobRequest>,
    ) -> Reply<pb::DeletionJob> {
        let caller = caller(&request)?;
        let job_id = convert::job_id(request.get_ref())?;
        let job = self.moderation.deletion_job(&caller, job_id).await?;
        Ok(Response::new(convert::job(&job)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_deletion_jobs(
        &self,
        request: Request<pb::ListDeletionJobsRequest>,
    ) -> Reply<pb::ListDeletionJobsResponse> {
        let caller = caller(&request)?;
        let query = convert::jobs_query(request.into_inner())?;
        let page = self.moderation.list_deletion_jobs(&caller, &query).await?;
        Ok(Response::new(convert::jobs_page(&query, page)))
    }

    #[tracing::instrument(skip_all)]
    async fn list_audit_entries(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Reply<pb::ListAuditEntriesResponse> {
        let caller = caller(&request)?;
        let query = convert::audit_query(request.into_inner())?;
        let page = self.moderation.list_audit(&caller, &query).await?;
        Ok(Response::new(convert::audit_page(&query, page)))
    }

    type WatchModerationEventsStream = watch::ModerationEventStream;

    #[tracing::instrument(skip_all)]
    async fn watch_moderation_events(
        &self,
        request: Request<pb::WatchModerationEventsRequest>,
    ) -> Reply<Self::WatchModerationEventsStream> {
        let caller = caller(&request)?;
        let request = request.get_ref();
        let start = if request.from_now {
            roster_kit::events::watch_start(&request.after_cursor, true)?
        } else {
            Some(convert::cursor(&request.after_cursor)?)
        };
        self.moderation.authorize_watch(&caller)?;
        let after = self.moderation.watch_after(start).await?;
        Ok(roster_kit::events::with_start_cursor(
            Response::new(watch::follow(
                self.moderation.clone(),
                after,
                self.poll_interval,
            )),
            after,
        ))
    }
}
