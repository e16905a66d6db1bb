use std::{sync::Arc, time::Duration};

use roster_kit::{Error, auth::actor, paging};
use roster_proto::v1::{self as pb, user_service_server::UserService};
use tonic::{Request, Response, Status};

use super::{convert, watch};
use crate::clients::FileLookup;
use crate::domain::{
    Avatar, Directory, LoginOutcome, LoginRequest, User, UserKey,
    fields::{self, DisplayName, UserName},
    query::UserQuery,
};

/// The tonic service; cheap to clone.
#[derive(Clone)]
pub struct UserApi {
    directory: Arc<Directory>,
    files: FileLookup,
    file_url_base: Arc<str>,
    poll_interval: Duration,
}

impl UserApi {
    pub fn new(
        directory: Arc<Directory>,
        files: FileLookup,
        file_url_base: &str,
        poll_interval: Duration,
    ) -> Self {
        Self {
            directory,
            files,
            file_url_base: file_url_base.into(),
            poll_interval,
        }
    }

    fn view(&self, user: &User) -> pb::User {
        convert::UserView {
            user,
            file_url_base: &self.file_url_base,
        }
        .into()
    }

    fn session(&self, outcome: LoginOutcome) -> (pb::User, String, prost_types::Timestamp) {
        (
            self.view(&outcome.user),
            outcome.token.token,
            convert::timestamp(outcome.token.expires_at),
        )
    }
}

fn invalid(violation: roster_kit::FieldViolation) -> Error {
    Error::invalid(vec![violation])
}

fn optional_display_name(raw: &str, field: &str) -> Result<Option<DisplayName>, Error> {
    if raw.is_empty() {
        return Ok(None);
    }
    DisplayName::parse(raw, field).map(Some).map_err(invalid)
}

#[tonic::async_trait]
impl UserService for UserApi {
    #[tracing::instrument(skip_all, fields(name = %request.get_ref().name))]
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let actor = actor(&request)?;
        let new = request.into_inner().try_into()?;
        let user = self.directory.create(&actor, new).await?;
        Ok(Response::new(self.view(&user)))
    }

    #[tracing::instrument(skip_all, fields(name = %request.get_ref().name, guest = request.get_ref().guest))]
    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let request = request.into_inner();
        let name = if request.name.is_empty() && request.guest {
            None
        } else {
            Some(UserName::parse(&request.name, "name").map_err(invalid)?)
        };
        let outcome = self
            .directory
            .login(LoginRequest {
                name,
                display_name: optional_display_name(&request.display_name, "display_name")?,
                auth_token: request.auth_token,
                guest: request.guest,
            })
            .await?;
        let created = outcome.created;
        let (user, access_token, expires_at) = self.session(outcome);
        Ok(Response::new(pb::LoginResponse {
            user: Some(user),
            access_token,
            expires_at: Some(expires_at),
            created,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let actor = actor(&request)?;
        let key = match request.into_inner().user {
            Some(pb::get_user_request::User::Id(id)) => convert::key_from_id(id, "id")?,
            Some(pb::get_user_request::User::Name(name)) => convert::key_from_name(name, "name")?,
            None => return Err(Error::invalid_field("id", "give an id or a name").into()),
        };
        let user = self.directory.get(&actor, &key).await?;
        Ok(Response::new(self.view(&user)))
    }

    #[tracing::instrument(skip_all, fields(ids = request.get_ref().ids.len(), names = request.get_ref().names.len()))]
    async fn batch_get_users(
        &self,
        request: Request<pb::BatchGetUsersRequest>,
    ) -> Result<Response<pb::BatchGetUsersResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        for (index, id) in request.ids.iter().enumerate() {
            convert::key_from_id(*id, &format!("ids[{index}]"))?;
        }
        for (index, name) in request.names.iter().enumerate() {
            convert::key_from_name(name.clone(), &format!("names[{index}]"))?;
        }
        let results = self
            .directory
            .batch_get(&actor, &request.ids, &request.names)
            .await?
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
        let request = request.into_inner();
        let key = convert::user_key_from_ref(request.user, "user")?;
        let patch = convert::profile_patch(request.update_mask, request.patch)?;
        if request.expected_version < 0 {
            return Err(Error::invalid_field("expected_version", "must not be negative").into());
        }
        let expected_version = (request.expected_version > 0).then_some(request.expected_version);
        let user = self
            .directory
            .update(&actor, &key, &patch, expected_version)
            .await?;
        Ok(Response::new(self.view(&user)))
    }

    #[tracing::instrument(skip_all)]
    async fn get_user_avatar(
        &self,
        request: Request<pb::GetUserAvatarRequest>,
    ) -> Result<Response<pb::UserAvatar>, Status> {
        let actor = actor(&request)?;
        let key = convert::user_key_from_ref(request.into_inner().user, "user")?;
        let user = self.directory.get(&actor, &key).await?;
        let view = self.view(&user);
        // The file's metadata belongs to the file service; this call relays it.
        let source = match (&user.avatar, view.avatar.and_then(|a| a.source)) {
            (Some(Avatar::File(file_id)), _) => self
                .files
                .get(file_id)
                .await?
                .map(pb::user_avatar::Source::File),
            (_, Some(pb::avatar::Source::External(picture))) => {
                Some(pb::user_avatar::Source::External(picture))
            }
            _ => None,
        };
        let display_picture_url = view.display_picture_url;
        Ok(Response::new(pb::UserAvatar {
            source,
            display_picture_url,
        }))
    }

    #[tracing::instrument(skip_all, fields(keyword = %request.get_ref().keyword))]
    async fn query_users(
        &self,
        request: Request<pb::QueryUsersRequest>,
    ) -> Result<Response<pb::QueryUsersResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let mut query = UserQuery {
            keyword: fields::parse_keyword(&request.keyword, "keyword").map_err(invalid)?,
            sort: convert::user_sort(request.sort)?,
            filter: convert::user_filter(request.filter)?,
            limit: paging::page_size(request.page_size, "page_size")?,
            after: None,
        };
        query.resume_from(&request.page_token, "page_token")?;
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
        let request = request.into_inner();
        let change = convert::presence_change(&request)?;
        let key = match request.user {
            Some(user) => Some(convert::user_key_from_ref(Some(user), "user")?),
            None => None,
        };
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
        let request = request.into_inner();
        let name = UserName::parse(&request.name, "name").map_err(invalid)?;
        let display_name = optional_display_name(&request.display_name, "display_name")?;
        let ttl =
            (request.ttl_seconds > 0).then(|| Duration::from_secs(u64::from(request.ttl_seconds)));
        let outcome = self
            .directory
            .issue_token(&actor, name, display_name, ttl)
            .await?;
        let (user, access_token, expires_at) = self.session(outcome);
        Ok(Response::new(pb::IssueUserTokenResponse {
            user: Some(user),
            access_token,
            expires_at: Some(expires_at),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_user_tokens(
        &self,
        request: Request<pb::RevokeUserTokensRequest>,
    ) -> Result<Response<pb::RevokeUserTokensResponse>, Status> {
        let actor = actor(&request)?;
        let key: UserKey = convert::user_key_from_ref(request.into_inner().user, "user")?;
        self.directory.revoke_tokens(&actor, &key).await?;
        Ok(Response::new(pb::RevokeUserTokensResponse {}))
    }

    #[tracing::instrument(skip_all, fields(user_id = request.get_ref().user_id))]
    async fn check_session(
        &self,
        request: Request<pb::CheckSessionRequest>,
    ) -> Result<Response<pb::CheckSessionResponse>, Status> {
        let actor = actor(&request)?;
        let request = request.into_inner();
        let refusal = self
            .directory
            .check_session(&actor, request.user_id, request.generation)
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
        let after = watch::parse_cursor(&request.get_ref().after_cursor)?;
        Ok(Response::new(watch::follow(
            self.directory.clone(),
            self.file_url_base.clone(),
            after,
            self.poll_interval,
        )))
    }
}
