//! The role service's permission answers, through the chassis' cached
//! checker (which follows role events to drop stale answers).

use async_trait::async_trait;
use roster_kit::{
    Result,
    authz::{PermissionChecker, Scope},
};

use crate::domain::ports::Permissions;

/// [`Permissions`] asked of the role service.
#[derive(Debug)]
pub struct RolePermissions {
    checker: PermissionChecker,
}

impl RolePermissions {
    pub fn new(checker: PermissionChecker) -> Self {
        Self { checker }
    }
}

#[async_trait]
impl Permissions for RolePermissions {
    async fn holds(&self, user_id: i64, permission: &str) -> Result<bool> {
        self.checker
            .check(user_id, permission, &Scope::Network)
            .await
    }
}
