//! The `roster.v1.ModerationService` transport. Every handler: the caller →
//! the parsed request → one domain call → the view.

mod convert;
mod watch;

use std::{sync::Arc, time::Duration};

use roster_proto::v1::{self as pb, moderation_service_server::ModerationService};
use tonic::{Request, Response, Status};

use roster_kit::idempotency::{IdempotencyLedger, IdempotentCall};

use crate::domain::Moderation;
use convert::caller;

/// The tonic service; cheap to clone.
#[derive(Clone)]
pub struct ModerationApi {
    moderation: Arc<Moderation>,
    poll_interval: Duration,
    idempotency: IdempotencyLedger,
}

impl ModerationApi {
    /// `poll_interval`: how often event streams look for other replicas'
    /// commits; `idempotency`: the ledger of keyed mutations.
    pub fn new(
        moderation: Arc<Moderation>,
        poll_interval: Duration,
        idempotency: IdempotencyLedger,
    ) -> Self {
        Self {
            moderation,
            poll_interval,
            idempotency,
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
        let call = IdempotentCall::of_request("FlagUser", &request)?;
        let api = self.clone();
        let work = async move {
            let caller = caller(&request)?;
            let reason = match request.get_ref().reason() {
                pb::FlagReason::Unspecified => pb::FlagReason::Other,
                reason => reason,
            };
            roster_kit::origin::set_reason(reason.as_str_name());
            let input = request.into_inner().try_into()?;
            let change = api.moderation.flag_user(&caller, input).await?;
            Ok(convert::flag_change(change))
        };
        self.idempotency.once(call, work).await.map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn unflag_user(
        &self,
        request: Request<pb::UnflagUserRequest>,
    ) -> Reply<pb::UnflagUserResponse> {
        let call = IdempotentCall::of_request("UnflagUser", &request)?;
        let api = self.clone();
        let work = async move {
            let caller = caller(&request)?;
            let user_id = convert::user_id(request.get_ref().user_id, "user_id")?;
            let change = api.moderation.unflag_user(&caller, user_id).await?;
            Ok(convert::unflagged(change))
        };
        self.idempotency.once(call, work).await.map(Response::new)
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
        let call = IdempotentCall::of_request("ClearFlags", &request)?;
        let api = self.clone();
        let work = async move {
            let caller = caller(&request)?;
            roster_kit::origin::set_reason(&request.get_ref().reason);
            let (user_id, reason) = convert::clear_flags(request.into_inner())?;
            let cleared = api.moderation.clear_flags(&caller, user_id, reason).await?;
            Ok(convert::cleared(cleared))
        };
        self.idempotency.once(call, work).await.map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn ban_user(&self, request: Request<pb::BanUserRequest>) -> Reply<pb::BanUserResponse> {
        let call = IdempotentCall::of_request("BanUser", &request)?;
        let api = self.clone();
        let work = async move {
            let caller = caller(&request)?;
            roster_kit::origin::set_reason(&request.get_ref().reason);
            let input = request.into_inner().try_into()?;
            let change = api.moderation.ban_user(&caller, input).await?;
            Ok(convert::ban_change(change, api.moderation.now()))
        };
        self.idempotency.once(call, work).await.map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn unban_user(
        &self,
        request: Request<pb::UnbanUserRequest>,
    ) -> Reply<pb::UnbanUserResponse> {
        let call = IdempotentCall::of_request("UnbanUser", &request)?;
        let api = self.clone();
        let work = async move {
            let caller = caller(&request)?;
            roster_kit::origin::set_reason(&request.get_ref().reason);
            let (user_id, reason) = convert::unban(request.into_inner())?;
            let lifted = api.moderation.unban_user(&caller, user_id, reason).await?;
            Ok(convert::unbanned(lifted, api.moderation.now()))
        };
        self.idempotency.once(call, work).await.map(Response::new)
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
        let call = IdempotentCall::of_request("DeleteUser", &request)?;
        let api = self.clone();
        let work = async move {
            let caller = caller(&request)?;
            roster_kit::origin::set_reason(&request.get_ref().reason);
            let input = request.into_inner().try_into()?;
            let outcome = api.moderation.delete_user(&caller, input).await?;
            Ok(convert::delete_outcome(outcome))
        };
        self.idempotency.once(call, work).await.map(Response::new)
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
