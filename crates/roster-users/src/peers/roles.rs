//! The role service, for what logins need to know about a user's grants.

use async_trait::async_trait;
use roster_kit::{Error, client::PeerChannel};
use roster_proto::v1::{self as pb, role_service_client::RoleServiceClient};

use crate::domain::ports::RoleGrants;

/// Asks the role service about grants (with this service's token).
#[derive(Clone)]
pub struct RoleLookup {
    client: RoleServiceClient<PeerChannel>,
}

impl RoleLookup {
    pub fn new(channel: PeerChannel) -> Self {
        Self {
            client: RoleServiceClient::new(channel),
        }
    }
}

#[async_trait]
impl RoleGrants for RoleLookup {
    async fn holds_any_grant(&self, user_id: i64) -> Result<bool, Error> {
        // One grant is enough to know; an unanswered question refuses the
        // login (the caller sees UNAVAILABLE) rather than assuming none.
        let page = self
            .client
            .clone()
            .list_user_roles(pb::ListUserRolesRequest {
                user_id,
                page_size: 1,
                page_token: String::new(),
            })
            .await
            .map_err(|status| super::unavailable("role", status))?
            .into_inner();
        Ok(!page.grants.is_empty())
    }
}
