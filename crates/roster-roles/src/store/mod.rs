//! Storage of custom roles, grants and role events (the outbox), through sea-orm.
//! Every change and its event are written in one transaction.

mod entity;

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};
use roster_kit::{Error, Result, authz::Scope, db, error::ErrorKind};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};

use crate::domain::{
    Grant, GrantOutcome, GrantRequest, NewRole, Role, RoleEvent, RolePatch, StoredEvent, reasons,
};
use entity::{role, role_event, role_grant};

/// Advisory lock key of this outbox (see `roster_kit::db::lock_outbox`).
const OUTBOX_LOCK_KEY: i64 = 0x726f_7374_6572_0002;

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::internal(format!("stored {what} is not valid"))
}

fn role_from_row(row: role::Model) -> Result<Role> {
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

fn scope_columns(scope: &Scope) -> (&'static str, &str) {
    match scope {
        Scope::Network => ("network", ""),
        Scope::Channel(id) => ("channel", id),
        Scope::Community(id) => ("community", id),
    }
}

fn millis_to_time(ms: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| corrupt("grant expiry"))
}

fn grant_from_row(row: role_grant::Model) -> Result<Grant> {
    let scope = match row.scope_kind.as_str() {
        "network" => Scope::Network,
        "channel" => Scope::Channel(row.scope_id),
        "community" => Scope::Community(row.scope_id),
        _ => return Err(corrupt(format_args!("scope of grant {}", row.id))),
    };
    Ok(Grant {
        id: row.id,
        user_id: row.user_id,
        role: row.role_name,
        scope,
        granted_by: row.granted_by,
        granted_at: row.granted_at,
        expires_at: row.expires_at_ms.map(millis_to_time).transpose()?,
    })
}

fn event_from_row(row: role_event::Model) -> Result<StoredEvent> {
    let event: RoleEvent = serde_json::from_str(&row.payload)
        .map_err(|_| corrupt(format_args!("role event {}", row.seq)))?;
    Ok(StoredEvent {
        seq: row.seq,
        occurred_at: row.occurred_at,
        event,
    })
}

/// Unexpired at `now`: no expiry, or one after `now`.
fn active_at(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(role_grant::Column::ExpiresAtMs.is_null())
        .add(role_grant::Column::ExpiresAtMs.gt(now.timestamp_millis()))
}

fn is_postgres(txn: &DatabaseTransaction) -> bool {
    txn.get_database_backend() == DbBackend::Postgres
}

/// Appends `event` to the outbox inside `txn`; returns its sequence number.
async fn append_event(
    txn: &DatabaseTransaction,
    event: &RoleEvent,
    now: DateTime<Utc>,
) -> Result<i64> {
    roster_kit::db::lock_outbox(txn, OUTBOX_LOCK_KEY).await?;
    let payload = serde_json::to_string(event).map_err(Error::internal)?;
    let row = role_event::ActiveModel {
        seq: NotSet,
        kind: Set(event.kind().to_owned()),
        payload: Set(payload),
        occurred_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok(row.seq)
}

fn role_not_found(name: &str) -> Error {
    Error::not_found(reasons::ROLE_NOT_FOUND, format!("no role named {name:?}"))
}

impl Store {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    // ---- roles -----------------------------------------------------------------

    pub async fn get_role(&self, name: &str) -> Result<Option<Role>> {
        role::Entity::find()
            .filter(role::Column::Name.eq(name))
            .one(&self.db)
            .await?
            .map(role_from_row)
            .transpose()
    }

    pub async fn roles_named(&self, names: &[String]) -> Result<Vec<Role>> {
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

    pub async fn list_roles(&self, after: Option<&str>, limit: u64) -> Result<Vec<Role>> {
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

    pub async fn create_role(&self, new: &NewRole, now: DateTime<Utc>) -> Result<Role> {
        let permissions = serde_json::to_string(&new.permissions).map_err(Error::internal)?;
        let txn = self.db.begin().await?;
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
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    reasons::ROLE_ALREADY_EXISTS,
                    format!("a role named {:?} exists", new.name),
                ));
            }
            Err(err) => return Err(err.into()),
        };
        let role = role_from_row(row)?;
        append_event(&txn, &RoleEvent::RoleCreated { role: role.clone() }, now).await?;
        txn.commit().await?;
        Ok(role)
    }

    pub async fn update_role(
        &self,
        name: &str,
        patch: &RolePatch,
        now: DateTime<Utc>,
    ) -> Result<Role> {
        let txn = self.db.begin().await?;
        let current = role::Entity::find()
            .filter(role::Column::Name.eq(name))
            .one(&txn)
            .await?
            .ok_or_else(|| role_not_found(name))?;
        let conflict = || {
            Error::new(
                ErrorKind::Aborted,
                reasons::VERSION_CONFLICT,
                format!("role {name:?} changed meanwhile; re-read it and retry"),
            )
        };
        if patch.expected_version.is_some_and(|v| v != current.version) {
            return Err(conflict());
        }
        let mut update = role::ActiveModel {
            version: Set(current.version + 1),
            updated_at: Set(now),
            ..Default::default()
        };
        if let Some(description) = &patch.description {
            update.description = Set(description.clone());
        }
        if let Some(permissions) = &patch.permissions {
            update.permissions = Set(serde_json::to_string(permissions).map_err(Error::internal)?);
        }
        // Optimistic: applies only if nobody changed the role since it was read.
        let result = role::Entity::update_many()
            .set(update)
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
        txn.commit().await?;
        Ok(role)
    }

    /// Returns (unexpired grants revoked, seq of the ROLE_DELETED event).
    pub async fn delete_role(
        &self,
        name: &str,
        force: bool,
        now: DateTime<Utc>,
    ) -> Result<(i64, i64)> {
        let txn = self.db.begin().await?;
        let mut find = role::Entity::find().filter(role::Column::Name.eq(name));
        if is_postgres(&txn) {
            // Serialises with grants of this role, which take a share lock on it.
            find = find.lock_exclusive();
        }
        let row = find.one(&txn).await?.ok_or_else(|| role_not_found(name))?;
        let role = role_from_row(row.clone())?;
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
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                reasons::ROLE_IN_USE,
                format!(
                    "role {name:?} is granted {} time(s); revoke the grants or delete with force",
                    active.len()
                ),
            ));
        }
        for grant in &active {
            append_event(
                &txn,
                &RoleEvent::RoleRevoked {
                    grant: grant.clone(),
                },
                now,
            )
            .await?;
        }
        role_grant::Entity::delete_many()
            .filter(role_grant::Column::RoleName.eq(name))
            .exec(&txn)
            .await?;
        role::Entity::delete_by_id(row.id).exec(&txn).await?;
        let revoked = i64::try_from(active.len()).map_err(Error::internal)?;
        let seq = append_event(
            &txn,
            &RoleEvent::RoleDeleted {
                role,
                revoked_grants: revoked,
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok((revoked, seq))
    }

    // ---- grants ----------------------------------------------------------------

    /// Grants (or re-grants with a new expiry) a role; custom roles must exist.
    pub async fn grant(
        &self,
        request: &GrantRequest,
        granted_by: &str,
        now: DateTime<Utc>,
    ) -> Result<GrantOutcome> {
        let txn = self.db.begin().await?;
        if crate::domain::matrix::BuiltInRole::from_name(&request.role).is_none() {
            let mut find = role::Entity::find().filter(role::Column::Name.eq(&request.role));
            if is_postgres(&txn) {
                find = find.lock_shared();
            }
            find.one(&txn)
                .await?
                .ok_or_else(|| role_not_found(&request.role))?;
        }
        let (kind, id) = scope_columns(&request.scope);
        let existing = role_grant::Entity::find()
            .filter(role_grant::Column::UserId.eq(request.user_id))
            .filter(role_grant::Column::RoleName.eq(&request.role))
            .filter(role_grant::Column::ScopeKind.eq(kind))
            .filter(role_grant::Column::ScopeId.eq(id))
            .one(&txn)
            .await?;
        let expires_at_ms = request.expires_at.map(|t| t.timestamp_millis());
        let (row, created) = match existing {
            Some(row) => {
                let mut active: role_grant::ActiveModel = row.into();
                active.granted_by = Set(granted_by.to_owned());
                active.granted_at = Set(now);
                active.expires_at_ms = Set(expires_at_ms);
                (active.update(&txn).await?, false)
            }
            None => {
                let inserted = role_grant::ActiveModel {
                    id: NotSet,
                    user_id: Set(request.user_id),
                    role_name: Set(request.role.clone()),
                    scope_kind: Set(kind.to_owned()),
                    scope_id: Set(id.to_owned()),
                    granted_by: Set(granted_by.to_owned()),
                    granted_at: Set(now),
                    expires_at_ms: Set(expires_at_ms),
                }
                .insert(&txn)
                .await;
                match inserted {
                    Ok(row) => (row, true),
                    Err(err) if db::is_unique_violation(&err) => {
                        return Err(Error::new(
                            ErrorKind::Aborted,
                            reasons::VERSION_CONFLICT,
                            "the same grant is being made concurrently; retry",
                        ));
                    }
                    Err(err) => return Err(err.into()),
                }
            }
        };
        let grant = grant_from_row(row)?;
        let event_seq = append_event(
            &txn,
            &RoleEvent::RoleGranted {
                grant: grant.clone(),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(GrantOutcome {
            grant,
            created,
            event_seq,
        })
    }

    /// Removes the grant of `role` to `user_id` in exactly `scope`; returns it and the event seq.
    pub async fn revoke(
        &self,
        user_id: i64,
        role: &str,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<(Grant, i64)> {
        let (kind, id) = scope_columns(scope);
        let txn = self.db.begin().await?;
        let row = role_grant::Entity::find()
            .filter(role_grant::Column::UserId.eq(user_id))
            .filter(role_grant::Column::RoleName.eq(role))
            .filter(role_grant::Column::ScopeKind.eq(kind))
            .filter(role_grant::Column::ScopeId.eq(id))
            .one(&txn)
            .await?
            .ok_or_else(|| {
                Error::not_found(
                    reasons::GRANT_NOT_FOUND,
                    format!("user {user_id} does not hold {role} in {scope}"),
                )
            })?;
        role_grant::Entity::delete_by_id(row.id).exec(&txn).await?;
        let grant = grant_from_row(row)?;
        let seq = append_event(
            &txn,
            &RoleEvent::RoleRevoked {
                grant: grant.clone(),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok((grant, seq))
    }

    pub async fn active_grants_of(&self, users: &[i64], now: DateTime<Utc>) -> Result<Vec<Grant>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        role_grant::Entity::find()
            .filter(role_grant::Column::UserId.is_in(users.iter().copied()))
            .filter(active_at(now))
            .all(&self.db)
            .await?
            .into_iter()
            .map(grant_from_row)
            .collect()
    }

    pub async fn user_grants_page(
        &self,
        user_id: i64,
        after_id: i64,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>> {
        role_grant::Entity::find()
            .filter(role_grant::Column::UserId.eq(user_id))
            .filter(role_grant::Column::Id.gt(after_id))
            .filter(active_at(now))
            .order_by_asc(role_grant::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(grant_from_row)
            .collect()
    }

    /// Grants of `role` after (user id, grant id), in that order.
    pub async fn role_grants_page(
        &self,
        role: &str,
        after: Option<(i64, i64)>,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>> {
        let mut query = role_grant::Entity::find()
            .filter(role_grant::Column::RoleName.eq(role))
            .filter(active_at(now))
            .order_by_asc(role_grant::Column::UserId)
            .order_by_asc(role_grant::Column::Id)
            .limit(limit);
        if let Some((user_id, id)) = after {
            query = query.filter(
                Condition::any()
                    .add(role_grant::Column::UserId.gt(user_id))
                    .add(
                        Condition::all()
                            .add(role_grant::Column::UserId.eq(user_id))
                            .add(role_grant::Column::Id.gt(id)),
                    ),
            );
        }
        query
            .all(&self.db)
            .await?
            .into_iter()
            .map(grant_from_row)
            .collect()
    }

    // ---- events ----------------------------------------------------------------

    pub async fn events_after(&self, seq: i64, limit: u64) -> Result<Vec<StoredEvent>> {
        role_event::Entity::find()
            .filter(role_event::Column::Seq.gt(seq))
            .order_by_asc(role_event::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(event_from_row)
            .collect()
    }

    pub async fn last_event_seq(&self) -> Result<i64> {
        Ok(role_event::Entity::find()
            .order_by_desc(role_event::Column::Seq)
            .one(&self.db)
            .await?
            .map_or(0, |row| row.seq))
    }
}
