//! Custom roles.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_kit::{Error, Result, db};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::{
    Store, corrupt,
    entity::{role, role_grant},
    grants::{active_at, grant_from_row},
    is_postgres,
    outbox::{append_event, append_events},
};
use crate::domain::{
    Grant, NewRole, Role, RoleDeleted, RoleEvent, RoleUpdate,
    errors::{role_already_exists, role_in_use, role_not_found, version_conflict},
    ports::CustomRoleRepository,
};

pub(super) fn role_from_row(row: role::Model) -> Result<Role> {
    let permissions: BTreeSet<String> = serde_json::from_str(&row.permissions)
        .map_err(|_| corrupt(format_args!("permissions of role {}", row.name)))?;
    Ok(Role {
        name: row.name,
        description: row.description,
        permissions,
        built_in: false,
        assignable: true,
        version: row.version,
        created_at: Some(row.created_at),
        updated_at: Some(row.updated_at),
    })
}

#[async_trait]
impl CustomRoleRepository for Store {
    async fn get_role(&self, name: &str) -> Result<Option<Role>> {
        role::Entity::find()
            .filter(role::Column::Name.eq(name))
            .one(&self.db)
            .await?
            .map(role_from_row)
            .transpose()
    }

    async fn roles_named(&self, names: &[String]) -> Result<Vec<Role>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        role::Entity::find()
            .filter(role::Column::Name.is_in(names.iter().cloned()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(role_from_row)
            .collect()
    }

    async fn list_roles(&self, after: Option<&str>, limit: u64) -> Result<Vec<Role>> {
        let mut query = role::Entity::find()
            .order_by_asc(role::Column::Name)
            .limit(limit);
        if let Some(after) = after {
            query = query.filter(role::Column::Name.gt(after));
        }
        query
            .all(&self.db)
            .await?
            .into_iter()
            .map(role_from_row)
            .collect()
    }

    async fn create_role(&self, new: &NewRole, now: DateTime<Utc>) -> Result<Role> {
        let permissions = serde_json::to_string(&new.permissions).map_err(Error::internal)?;
        let txn = db::begin_write(&self.db).await?;
        let inserted = role::ActiveModel {
            id: NotSet,
            name: Set(new.name.clone()),
            description: Set(new.description.clone()),
            permissions: Set(permissions),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await;
        let row = match inserted {
            Ok(row) => row,
            Err(err) if db::is_unique_violation(&err) => {
                return Err(role_already_exists(format!(
                    "a role named {:?} exists",
                    new.name
                )));
            }
            Err(err) => return Err(err.into()),
        };
        let role = role_from_row(row)?;
        append_event(&txn, &RoleEvent::RoleCreated { role: role.clone() }, now).await?;
        self.durability.commit(txn).await?;
        Ok(role)
    }

    async fn update_role(&self, update: &RoleUpdate, now: DateTime<Utc>) -> Result<Role> {
        let name = update.name.as_str();
        let txn = db::begin_write(&self.db).await?;
        let current = role::Entity::find()
            .filter(role::Column::Name.eq(name))
            .one(&txn)
            .await?
            .ok_or_else(|| role_not_found(name))?;
        let conflict = || {
            version_conflict(format!(
                "role {name:?} changed meanwhile; re-read it and retry"
            ))
        };
        if update
            .expected_version
            .is_some_and(|v| v != current.version)
        {
            return Err(conflict());
        }
        let mut changes = role::ActiveModel {
            version: Set(current.version + 1),
            updated_at: Set(now),
            ..Default::default()
        };
        if let Some(description) = &update.description {
            changes.description = Set(description.clone());
        }
        if let Some(permissions) = &update.permissions {
            changes.permissions = Set(serde_json::to_string(permissions).map_err(Error::internal)?);
        }
        // Optimistic: applies only if nobody changed the role since it was read.
        let result = role::Entity::update_many()
            .set(changes)
            .filter(role::Column::Id.eq(current.id))
            .filter(role::Column::Version.eq(current.version))
            .exec(&txn)
            .await?;
        if result.rows_affected != 1 {
            return Err(conflict());
        }
        let row = role::Entity::find_by_id(current.id)
            .one(&txn)
            .await?
            .ok_or_else(|| role_not_found(name))?;
        let role = role_from_row(row)?;
        append_event(&txn, &RoleEvent::RoleUpdated { role: role.clone() }, now).await?;
        self.durability.commit(txn).await?;
        Ok(role)
    }

    async fn delete_role(
        &self,
        name: &str,
        force: bool,
        now: DateTime<Utc>,
    ) -> Result<RoleDeleted> {
        let txn = db::begin_write(&self.db).await?;
        let mut find = role::Entity::find().filter(role::Column::Name.eq(name));
        if is_postgres(&txn) {
            // Serialises with grants of this role, which take a share lock on it.
            find = find.lock_exclusive();
        }
        let row = find.one(&txn).await?.ok_or_else(|| role_not_found(name))?;
        let id = row.id;
        let role = role_from_row(row)?;
        let active: Vec<Grant> = role_grant::Entity::find()
            .filter(role_grant::Column::RoleName.eq(name))
            .filter(active_at(now))
            .order_by_asc(role_grant::Column::Id)
            .all(&txn)
            .await?
            .into_iter()
            .map(grant_from_row)
            .collect::<Result<_>>()?;
        if !active.is_empty() && !force {
            return Err(role_in_use(name, active.len()));
        }
        let revoked_grants = i64::try_from(active.len()).map_err(Error::internal)?;
        let revocations: Vec<RoleEvent> = active
            .into_iter()
            .map(|grant| RoleEvent::RoleRevoked { grant })
            .collect();
        append_events(&txn, &revocations, now).await?;
        // Expired grants go too, without an event (their expiry already showed).
        role_grant::Entity::delete_many()
            .filter(role_grant::Column::RoleName.eq(name))
            .exec(&txn)
            .await?;
        role::Entity::delete_by_id(id).exec(&txn).await?;
        let event_seq = append_event(
            &txn,
            &RoleEvent::RoleDeleted {
                role,
                revoked_grants,
            },
            now,
        )
        .await?;
        self.durability.commit(txn).await?;
        Ok(RoleDeleted {
            revoked_grants,
            event_seq,
        })
    }
}
