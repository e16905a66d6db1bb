//! The `roster.v1.UserService` transport. Each handler: the caller, the parsed
//! request ([`convert`]), one directory call, the view.

mod convert;
mod watch;

use std::{sync::Arc, time::Duration};

use roster_kit::{
    auth::{actor, optional_actor},
    idempotency::{IdempotencyLedger, IdempotentCall},
};
use roster_proto::v1::{self as pb, user_service_server::UserService};
use tonic::{Request, Response, Status};

pub use convert::struct_from_json;

use crate::domain::{Directory, User};

/// The tonic service; cheap to clone.
#[derive(Clone)]
pub struct UserApi {
    directory: Arc<Directory>,
    file_url_base: Arc<str>,
    poll_interval: Duration,
    idempotency: IdempotencyLedger,
}

impl UserApi {
    pub fn new(
        directory: Arc<Directory>,
        file_url_base: &str,
        poll_interval: Duration,
        idempotency: IdempotencyLedger,
    ) -> Self {
        Self {
            directory,
            file_url_base: file_url_base.into(),
            poll_interval,
            idempotency,
        }
    }

    fn view(&self, user: &User) -> pb::User {
        convert::UserView {
            user,
            file_url_base: &self.file_url_base,
        }
        .into()
    }
}

#[tonic::async_trait]
impl UserService for UserApi {
    #[tracing::instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let actor = actor(&request)?;
        let call = IdempotentCall::of("CreateUser", &actor, request.metadata(), request.get_ref())?;
        let api = self.clone();
        let work = async move {
            let new = request.into_inner().try_into()?;
            let user = api.directory.create(&actor, new).await?;
            Ok(api.view(&user))
        };
        self.idempotency.once(call, work).await.map(Response::new)
    }

    #[tracing::instrument(skip_all, fields(name = %request.get_ref().name, guest = request.get_ref().guest))]
    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let (caller, address) = (optional_actor(&request), request.remote_addr());
        let login = convert::login_request(request.into_inner(), caller, address.map(|a| a.ip()))?;
        let outcome = self.directory.login(login).await?;
        let user = self.view(&outcome.user);
        Ok(Response::new(convert::login_response(outcome, user)))
    }

    #[tracing::instrument(skip_all)]
    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let actor = actor(&request)?;
        let key = convert::get_user_key(request.into_inner())?;
        let user = self.directory.get(&actor, &key).await?;
        Ok(Response::new(self.view(&user)))
    }

    #[tracing::instrument(skip_all, fields(ids = request.get_ref().ids.len(), names = request.get_ref().names.len()))]
    async fn batch_get_users(
        &self,
        request: Request<pb::BatchGetUsersRequest>,
    ) -> Result<Response<pb::BatchGetUsersResponse>, Status> {
        let actor = actor(&request)?;
        let (ids, names) = convert::batch_keys(request.into_inner())?;
        let found = self.directory.batch_get(&actor, &ids, &names).await?;
        let results = found
            .into_iter()
            .map(|(key, user)| pb::BatchGetUsersResult {
                requested: Some(convert::key_to_ref(&key)),
                not_found: user.is_none(),
                user: user.as_ref().map(|u| self.view(u)),
            })
            .collect();
        Ok(Response::new(pb::BatchGetUsersResponse { results }))
    }

    #[tracing::instrument(skip_all)]
    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let actor = actor(&request)?;
        let call = IdempotentCall::of("UpdateUser", &actor, request.metadata(), request.get_ref())?;
        let api = self.clone();
        let work = async move {
            let (key, patch, expected_version) = convert::update_request(request.into_inner())?;
            let user = api
                .directory
                .update(&actor, &key, &patch, expected_version)
                .await?;
            Ok(api.view(&user))
        };
        self.idempotency.once(call, work).await.map(Response::new)
    }

    #[tracing::instrument(skip_all)]
    async fn get_user_avatar(
        &self,
        request: Request<pb::GetUserAvatarRequest>,
    ) -> Result<Response<pb::UserAvatar>, Status> {
        let actor = actor(&request)?;
        let key = convert::user_key_from_ref(request.into_inner().user, "user")?;
        let (user, avatar) = self.directory.avatar(&actor, &key).await?;
        Ok(Response::new(convert::avatar_view(
            &self.view(&user),
            &avatar,
        )?))
    }

    #[tracing::instrument(skip_all, fields(keyword = %request.get_ref().keyword))]
    async fn query_users(
        &self,
        request: Request<pb::QueryUsersRequest>,
    ) -> Result<Response<pb::QueryUsersResponse>, Status> {
        let actor = actor(&request)?;
        let query = convert::user_query(request.into_inner())?;
        let (users, next) = self.directory.query(&actor, &query).await?;
        Ok(Response::new(pb::QueryUsersResponse {
            users: users.iter().map(|u| self.view(u)).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn set_presence(
        &self,
        request: Request<pb::SetPresenceRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let actor = actor(&request)?;
        let (key, change) = convert::presence_request(request.into_inner())?;
        let user = self
            .directory
            .set_presence(&actor, key.as_ref(), &change)
            .await?;
        Ok(Response::new(self.view(&user)))
    }

    #[tracing::instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn issue_user_token(
        &self,
        request: Request<pb::IssueUserTokenRequest>,
    ) -> Result<Response<pb::IssueUserTokenResponse>, Status> {
        let actor = actor(&request)?;
        let (name, display_name, ttl) = convert::issue_token_request(request.get_ref())?;
        let outcome = self
            .directory
            .issue_token(&actor, name, display_name, ttl)
            .await?;
        let user = self.view(&outcome.user);
        Ok(Response::new(convert::issue_token_response(outcome, user)))
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_user_tokens(
        &self,
        request: Request<pb::RevokeUserTokensRequest>,
    ) -> Result<Response<pb::RevokeUserTokensResponse>, Status> {
        let actor = actor(&request)?;
        let key = convert::user_key_from_ref(request.into_inner().user, "user")?;
        self.directory.revoke_tokens(&actor, &key).await?;
        Ok(Response::new(pb::RevokeUserTokensResponse {}))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn check_session(
        &self,
        request: Request<pb::CheckSessionRequest>,
    ) -> Result<Response<pb::CheckSessionResponse>, Status> {
        let actor = actor(&request)?;
        let pb::CheckSessionRequest {
            user_id,
            generation,
        } = request.into_inner();
        let refusal = self
            .directory
            .check_session(&actor, user_id, generation)
            .await?;
        Ok(Response::new(pb::CheckSessionResponse {
            valid: refusal.is_none(),
            reason: refusal.unwrap_or_default().to_owned(),
        }))
    }

    type WatchUserEventsStream = watch::UserEventStream;

    #[tracing::instrument(skip_all, fields(after = %request.get_ref().after_cursor))]
    async fn watch_user_events(
        &self,
        request: Request<pb::WatchUserEventsRequest>,
    ) -> Result<Response<Self::WatchUserEventsStream>, Status> {
        let actor = actor(&request)?;
        self.directory.authorize_watch(&actor)?;
        let start = convert::watch_cursor(request.get_ref())?;
        let after = self.directory.watch_after(start).await?;
        Ok(roster_kit::events::with_start_cursor(
            Response::new(watch::follow(
                self.directory.clone(),
                self.file_url_base.clone(),
                after,
                self.poll_interval,
            )),
            after,
        ))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id, dry_run = request.get_ref().dry_run))]
    async fn tombstone_user(
        &self,
        request: Request<pb::TombstoneUserRequest>,
    ) -> Result<Response<pb::TombstoneUserResponse>, Status> {
        let actor = actor(&request)?;
        let pb::TombstoneUserRequest { user_id, dry_run } = request.into_inner();
        let user_id = convert::user_id(user_id, "user_id")?;
        let done = self.directory.tombstone(&actor, user_id, dry_run).await?;
        Ok(Response::new(pb::TombstoneUserResponse {
            changed: done.changed,
            erased: done.erased.into_iter().collect(),
        }))
    }

    /// Public: the keys are public, and products fetch them before they hold any token.
    #[tracing::instrument(skip_all)]
    async fn get_jwks(
        &self,
        _request: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::GetJwksResponse>, Status> {
        let keys = self.directory.session_keys();
        Ok(Response::new(convert::jwks_view(&keys)?))
    }
}
