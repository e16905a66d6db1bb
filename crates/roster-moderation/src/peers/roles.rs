//! The role service: permission checks (cached, following role events) and
//! revoking every grant of a deleted user.

use async_trait::async_trait;
use roster_kit::{
    Result,
    authz::{PermissionChecker, Scope},
    client::PeerChannel,
};
use roster_proto::v1::{self as pb, role_service_client::RoleServiceClient};

use super::unavailable;
use crate::domain::ports::RoleGrants;

pub struct RoleClient {
    client: RoleServiceClient<PeerChannel>,
    permissions: PermissionChecker,
}

impl RoleClient {
    pub fn new(channel: PeerChannel, permissions: PermissionChecker) -> Self {
        Self {
            client: RoleServiceClient::new(channel),
            permissions,
        }
    }

    async fn revoke(&self, user_id: i64, dry_run: bool) -> Result<i64> {
        self.client
            .clone()
            .revoke_user_grants(pb::RevokeUserGrantsRequest { user_id, dry_run })
            .await
            .map(|response| response.into_inner().revoked_count)
            .map_err(|status| unavailable("role service", status))
    }
}

#[async_trait]
impl RoleGrants for RoleClient {
    async fn holds(&self, user_id: i64, permission: &str) -> Result<bool> {
        self.permissions
            .check(user_id, permission, &Scope::Network)
            .await
    }

    async fn revoke_all_grants(&self, user_id: i64) -> Result<i64> {
        self.revoke(user_id, false).await
    }

    async fn count_grants(&self, user_id: i64) -> Result<i64> {
        self.revoke(user_id, true).await
    }
}
