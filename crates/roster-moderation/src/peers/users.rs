//! The user service: who a user is, and its tombstone.

use async_trait::async_trait;
use roster_kit::{Result, client::PeerChannel};
use roster_proto::v1::{self as pb, user_service_client::UserServiceClient};
use tonic::Code;

use super::unavailable;
use crate::domain::{
    deletion::Counts,
    ports::{UserDirectory, UserSummary},
};

pub struct UserClient {
    client: UserServiceClient<PeerChannel>,
}

impl UserClient {
    pub fn new(channel: PeerChannel) -> Self {
        Self {
            client: UserServiceClient::new(channel),
        }
    }

    async fn tombstone(&self, user_id: i64, dry_run: bool) -> Result<pb::TombstoneUserResponse> {
        self.client
            .clone()
            .tombstone_user(pb::TombstoneUserRequest { user_id, dry_run })
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| unavailable("user service", status))
    }
}

#[async_trait]
impl UserDirectory for UserClient {
    async fn find_user(&self, user_id: i64) -> Result<Option<UserSummary>> {
        let request = pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(user_id)),
        };
        match self.client.clone().get_user(request).await {
            Ok(user) => {
                let user = user.into_inner();
                Ok(Some(UserSummary {
                    id: user.id,
                    name: user.name,
                    is_deleted: user.is_deleted,
                }))
            }
            // A malformed id names no user either.
            Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => {
                Ok(None)
            }
            Err(status) => Err(unavailable("user service", status)),
        }
    }

    async fn tombstone_user(&self, user_id: i64) -> Result<bool> {
        Ok(self.tombstone(user_id, false).await?.changed)
    }

    async fn count_user_data(&self, user_id: i64) -> Result<Counts> {
        Ok(self
            .tombstone(user_id, true)
            .await?
            .erased
            .into_iter()
            .collect())
    }
}
