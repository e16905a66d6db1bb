//! Grants of a role to a user in a scope: granting and revoking (ASSIGN_USER_ROLE
//! in the scope, no escalation, protected targets), revoking all of a user's
//! grants (the deletion cascade), listings, and the operator's bootstrap.

use std::collections::BTreeSet;

use chrono::Utc;
use roster_kit::{Actor, Error, Result, authz::Scope};

use super::{
    Page, Roles,
    access::{actor_label, platform_only},
    catalogue::names::ASSIGN_USER_ROLE,
    errors::role_not_assignable,
    fields,
    matrix::BuiltInRole,
    ports::GrantRepository,
};

use super::model::Role;
pub use super::model::{
    Grant, GrantOutcome, GrantRequest, RevokeRequest, Revoked, RoleMembersQuery, UserGrantsQuery,
    UserGrantsRevocation, UserGrantsRevoked,
};

/// `member` is implicit and `global-admin` bootstrap-only: neither is granted.
fn assignable(role: &Role) -> Result<()> {
    if role.assignable {
        return Ok(());
    }
    Err(role_not_assignable(
        if role.name == BuiltInRole::GlobalAdmin.name() {
            "global-admin cannot be granted through the API; the operator bootstraps it with the roster binary"
        } else {
            "member is held implicitly by every user and is never granted"
        },
    ))
}

impl Roles {
    pub async fn grant(&self, actor: &Actor, request: GrantRequest) -> Result<GrantOutcome> {
        let now = self.now();
        if request.expires_at.is_some_and(|at| at <= now) {
            return Err(Error::invalid_field("expires_at", "must be in the future"));
        }
        let role = self.get_role(&request.role).await?;
        assignable(&role)?;
        let held = self
            .authorize(actor, ASSIGN_USER_ROLE, &request.scope, &role.permissions)
            .await?;
        self.protect_target(held.as_ref(), request.user_id, &request.scope)
            .await?;
        let outcome = self
            .repository
            .grant(&request, &actor_label(actor), now)
            .await?;
        self.committed();
        Ok(outcome)
    }

    pub async fn revoke(&self, actor: &Actor, request: RevokeRequest) -> Result<Revoked> {
        let RevokeRequest {
            user_id,
            role,
            scope,
        } = request;
        self.get_role(&role).await?;
        let held = self
            .authorize(actor, ASSIGN_USER_ROLE, &scope, &BTreeSet::new())
            .await?;
        self.protect_target(held.as_ref(), user_id, &scope).await?;
        let revoked = self
            .repository
            .revoke(user_id, &role, &scope, self.now())
            .await?;
        self.committed();
        Ok(revoked)
    }

    /// Every grant of a user, in every scope, expired ones too: the deletion
    /// cascade's step. Admin and service callers only. Idempotent.
    pub async fn revoke_user_grants(
        &self,
        actor: &Actor,
        request: UserGrantsRevocation,
    ) -> Result<UserGrantsRevoked> {
        platform_only(actor, "RevokeUserGrants")?;
        if request.dry_run {
            return Ok(UserGrantsRevoked {
                revoked_count: self.repository.count_user_grants(request.user_id).await?,
                event_seq: self.repository.last_event_seq().await?,
            });
        }
        let revoked = self
            .repository
            .revoke_user_grants(request.user_id, self.now())
            .await?;
        if revoked.revoked_count > 0 {
            self.committed();
        }
        Ok(revoked)
    }

    pub async fn list_user_grants(&self, query: UserGrantsQuery) -> Result<Page<Grant>> {
        let grants = self
            .repository
            .user_grants_page(query.user_id, query.after_id, query.limit + 1, self.now())
            .await?;
        Ok(Page::of(grants, query.limit))
    }

    /// Empty for `member`, which every user holds implicitly.
    pub async fn list_role_members(&self, query: &RoleMembersQuery) -> Result<Page<Grant>> {
        self.get_role(&query.role).await?;
        if query.role == BuiltInRole::Member.name() {
            return Ok(Page::of(Vec::new(), query.limit));
        }
        let grants = self
            .repository
            .role_grants_page(&query.role, query.after, query.limit + 1, self.now())
            .await?;
        Ok(Page::of(grants, query.limit))
    }
}

/// Grants `global-admin` network-wide to `user_id`, bypassing the API's refusal:
/// the operator's way to create the first administrator. Idempotent; emits a
/// ROLE_GRANTED event like any grant.
pub async fn bootstrap_global_admin(
    repository: &dyn GrantRepository,
    user_id: i64,
) -> Result<GrantOutcome> {
    let request = GrantRequest {
        user_id: fields::user_id("user_id", user_id)?,
        role: BuiltInRole::GlobalAdmin.name().to_owned(),
        scope: Scope::Network,
        expires_at: None,
    };
    repository.grant(&request, "bootstrap", Utc::now()).await
}
