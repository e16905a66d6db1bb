//! Grants of roles to users.

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use roster_kit::{Error, Result, authz::Scope, db};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, DbBackend, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Set, Statement,
};

use super::{
    Store, corrupt,
    entity::{role, role_event, role_grant},
    is_postgres,
    outbox::{append_event, append_events},
};
use crate::domain::{
    Grant, GrantOutcome, GrantRequest, Revoked, RoleEvent, UserGrantsRevoked,
    errors::{grant_not_found, role_not_found, version_conflict},
    matrix::BuiltInRole,
    ports::GrantRepository,
};

/// How a scope is stored: a kind, and an id that is empty for the network.
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

pub(super) fn grant_from_row(row: role_grant::Model) -> Result<Grant> {
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

/// Unexpired at `now`: no expiry, or one after `now`.
pub(super) fn active_at(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(role_grant::Column::ExpiresAtMs.is_null())
        .add(role_grant::Column::ExpiresAtMs.gt(now.timestamp_millis()))
}

fn grants_from_rows(rows: Vec<role_grant::Model>) -> Result<Vec<Grant>> {
    rows.into_iter().map(grant_from_row).collect()
}

/// The grant's row as written and whether it is new, in one statement: an
/// INSERT that regrants on conflict (PostgreSQL). Concurrent identical grants
/// both succeed, one creating and the other regranting. Written out because
/// whether the row is new is `xmax = 0` on the returned row, which sea-orm's
/// upsert cannot return.
async fn upsert_grant(
    txn: &DatabaseTransaction,
    request: &GrantRequest,
    granted_by: &str,
    now: DateTime<Utc>,
) -> Result<(role_grant::Model, bool)> {
    const UPSERT: &str = "INSERT INTO role_grants \
        (user_id, role_name, scope_kind, scope_id, granted_by, granted_at, expires_at_ms) \
        VALUES ($1, $2, $3, $4, $5, $6, $7) \
        ON CONFLICT (user_id, role_name, scope_kind, scope_id) DO UPDATE SET \
        granted_by = EXCLUDED.granted_by, granted_at = EXCLUDED.granted_at, \
        expires_at_ms = EXCLUDED.expires_at_ms \
        RETURNING *, (xmax = 0) AS created";
    let (kind, id) = scope_columns(&request.scope);
    let written = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            UPSERT,
            [
                request.user_id.into(),
                request.role.clone().into(),
                kind.into(),
                id.into(),
                granted_by.into(),
                now.into(),
                request.expires_at.map(|t| t.timestamp_millis()).into(),
            ],
        ))
        .await?
        .ok_or_else(|| Error::internal("an upsert returned no row"))?;
    let created: bool = written.try_get("", "created")?;
    Ok((role_grant::Model::from_query_result(&written, "")?, created))
}

/// The grant's row as written and whether it is new: the existing grant is
/// read, then updated, or a new one inserted.
async fn find_then_write_grant(
    txn: &DatabaseTransaction,
    request: &GrantRequest,
    granted_by: &str,
    now: DateTime<Utc>,
) -> Result<(role_grant::Model, bool)> {
    let (kind, id) = scope_columns(&request.scope);
    let existing = role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(request.user_id))
        .filter(role_grant::Column::RoleName.eq(&request.role))
        .filter(role_grant::Column::ScopeKind.eq(kind))
        .filter(role_grant::Column::ScopeId.eq(id))
        .one(txn)
        .await?;
    let expires_at_ms = request.expires_at.map(|t| t.timestamp_millis());
    Ok(match existing {
        Some(row) => {
            let mut regrant: role_grant::ActiveModel = row.into();
            regrant.granted_by = Set(granted_by.to_owned());
            regrant.granted_at = Set(now);
            regrant.expires_at_ms = Set(expires_at_ms);
            (regrant.update(txn).await?, false)
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
            .insert(txn)
            .await;
            match inserted {
                Ok(row) => (row, true),
                Err(err) if db::is_unique_violation(&err) => {
                    return Err(version_conflict(
                        "the same grant is being made concurrently; retry",
                    ));
                }
                Err(err) => return Err(err.into()),
            }
        }
    })
}

#[async_trait]
impl GrantRepository for Store {
    async fn grant(
        &self,
        request: &GrantRequest,
        granted_by: &str,
        now: DateTime<Utc>,
    ) -> Result<GrantOutcome> {
        let txn = db::begin_write(&self.db).await?;
        if BuiltInRole::from_name(&request.role).is_none() {
            let mut find = role::Entity::find().filter(role::Column::Name.eq(&request.role));
            if is_postgres(&txn) {
                // Keeps the role from being deleted until this grant commits.
                find = find.lock_shared();
            }
            find.one(&txn)
                .await?
                .ok_or_else(|| role_not_found(&request.role))?;
        }
        let (row, created) = if is_postgres(&txn) {
            upsert_grant(&txn, request, granted_by, now).await?
        } else {
            find_then_write_grant(&txn, request, granted_by, now).await?
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
        self.durability.commit(txn).await?;
        Ok(GrantOutcome {
            grant,
            created,
            event_seq,
        })
    }

    async fn revoke(
        &self,
        user_id: i64,
        role: &str,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<Revoked> {
        let (kind, id) = scope_columns(scope);
        let txn = db::begin_write(&self.db).await?;
        let row = role_grant::Entity::find()
            .filter(role_grant::Column::UserId.eq(user_id))
            .filter(role_grant::Column::RoleName.eq(role))
            .filter(role_grant::Column::ScopeKind.eq(kind))
            .filter(role_grant::Column::ScopeId.eq(id))
            .one(&txn)
            .await?
            .ok_or_else(|| grant_not_found(user_id, role, scope))?;
        role_grant::Entity::delete_by_id(row.id).exec(&txn).await?;
        let grant = grant_from_row(row)?;
        let event_seq = append_event(
            &txn,
            &RoleEvent::RoleRevoked {
                grant: grant.clone(),
            },
            now,
        )
        .await?;
        self.durability.commit(txn).await?;
        Ok(Revoked { grant, event_seq })
    }

    async fn revoke_user_grants(
        &self,
        user_id: i64,
        now: DateTime<Utc>,
    ) -> Result<UserGrantsRevoked> {
        let txn = db::begin_write(&self.db).await?;
        // One statement removes the grants and returns exactly what it removed,
        // so a grant made meanwhile is either revoked with an event or kept.
        let mut delete = role_grant::Entity::delete_many()
            .filter(role_grant::Column::UserId.eq(user_id))
            .into_query();
        delete.returning_all();
        let statement = txn.get_database_backend().build(&delete);
        let mut removed = grants_from_rows(
            role_grant::Model::find_by_statement(statement)
                .all(&txn)
                .await?,
        )?;
        removed.sort_by_key(|grant| grant.id);
        let revoked_count = i64::try_from(removed.len()).map_err(Error::internal)?;
        let events: Vec<RoleEvent> = removed
            .into_iter()
            .map(|grant| RoleEvent::RoleRevoked { grant })
            .collect();
        let event_seq = match append_events(&txn, &events, now).await? {
            Some(seq) => seq,
            None => db::newest_seq::<role_event::Entity>(&txn, role_event::Column::Seq).await?,
        };
        self.durability.commit(txn).await?;
        Ok(UserGrantsRevoked {
            revoked_count,
            event_seq,
        })
    }

    async fn count_user_grants(&self, user_id: i64) -> Result<i64> {
        let count = role_grant::Entity::find()
            .filter(role_grant::Column::UserId.eq(user_id))
            .count(&self.db)
            .await?;
        i64::try_from(count).map_err(Error::internal)
    }

    async fn active_grants_of(&self, users: &[i64], now: DateTime<Utc>) -> Result<Vec<Grant>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        grants_from_rows(
            role_grant::Entity::find()
                .filter(role_grant::Column::UserId.is_in(users.iter().copied()))
                .filter(active_at(now))
                .all(&self.db)
                .await?,
        )
    }

    async fn user_grants_page(
        &self,
        user_id: i64,
        after_id: i64,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>> {
        grants_from_rows(
            role_grant::Entity::find()
                .filter(role_grant::Column::UserId.eq(user_id))
                .filter(role_grant::Column::Id.gt(after_id))
                .filter(active_at(now))
                .order_by_asc(role_grant::Column::Id)
                .limit(limit)
                .all(&self.db)
                .await?,
        )
    }

    async fn role_grants_page(
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
        grants_from_rows(query.all(&self.db).await?)
    }
}
