//! Role definitions: the built-in roles (from the matrix, read-only) and custom
//! roles (stored), read by anyone, changed by holders of CREATE_ROLE,
//! EDIT_ROLE and DELETE_ROLE network-wide.

use std::collections::BTreeSet;

use roster_kit::{Actor, Result, authz::Scope};

use super::{
    Page, Roles,
    catalogue::names::{CREATE_ROLE, DELETE_ROLE, EDIT_ROLE},
    errors::{built_in_refused, role_already_exists, role_not_found},
    matrix::BuiltInRole,
};

pub use super::model::{NewRole, Role, RoleDeleted, RoleUpdate, RolesQuery};

impl Roles {
    pub async fn get_role(&self, name: &str) -> Result<Role> {
        if let Some(built_in) = BuiltInRole::from_name(name) {
            return Ok(Role::built_in(built_in));
        }
        self.repository
            .get_role(name)
            .await?
            .ok_or_else(|| role_not_found(name))
    }

    /// Built-in and custom roles together, by name.
    pub async fn list_roles(&self, query: &RolesQuery) -> Result<Page<Role>> {
        let after = query.after.as_deref();
        let mut roles = self.repository.list_roles(after, query.limit + 1).await?;
        roles.extend(
            BuiltInRole::ALL
                .into_iter()
                .filter(|r| after.is_none_or(|a| r.name() > a))
                .map(Role::built_in),
        );
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Page::of(roles, query.limit))
    }

    pub async fn create_role(&self, actor: &Actor, new: NewRole) -> Result<Role> {
        self.authorize(actor, CREATE_ROLE, &Scope::Network, &new.permissions)
            .await?;
        if BuiltInRole::from_name(&new.name).is_some() {
            return Err(role_already_exists(format!(
                "{} is a built-in role",
                new.name
            )));
        }
        let role = self.repository.create_role(&new, self.now()).await?;
        self.committed();
        Ok(role)
    }

    /// A user may add to a role only permissions it holds itself network-wide.
    pub async fn update_role(&self, actor: &Actor, update: RoleUpdate) -> Result<Role> {
        if BuiltInRole::from_name(&update.name).is_some() {
            return Err(built_in_refused(&update.name, "edited"));
        }
        let current = self
            .repository
            .get_role(&update.name)
            .await?
            .ok_or_else(|| role_not_found(&update.name))?;
        let added: BTreeSet<String> = update
            .permissions
            .as_ref()
            .map(|p| p.difference(&current.permissions).cloned().collect())
            .unwrap_or_default();
        self.authorize(actor, EDIT_ROLE, &Scope::Network, &added)
            .await?;
        let role = self.repository.update_role(&update, self.now()).await?;
        self.committed();
        Ok(role)
    }

    /// Deletes a custom role. Refused while it has unexpired grants unless `force`,
    /// which revokes them in the same transaction.
    pub async fn delete_role(&self, actor: &Actor, name: &str, force: bool) -> Result<RoleDeleted> {
        if BuiltInRole::from_name(name).is_some() {
            return Err(built_in_refused(name, "deleted"));
        }
        self.authorize(actor, DELETE_ROLE, &Scope::Network, &BTreeSet::new())
            .await?;
        let deleted = self.repository.delete_role(name, force, self.now()).await?;
        self.committed();
        Ok(deleted)
    }
}
