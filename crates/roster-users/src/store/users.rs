//! User records: reads (through the per-replica cache) and writes, each write
//! with its outbox event in the same transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_kit::{Error, db, error::ErrorKind, origin};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, ExprTrait, QueryFilter, QuerySelect, QueryTrait, Set,
    UpdateMany, sea_query::Expr,
};

use super::{
    UserStore,
    entity::{user, user_event},
    mapping, rows,
};
use crate::domain::{
    CallStatus, DEFAULT_PRESENCE_STATUS, DELETED_DISPLAY_NAME, NewUser, PresenceWrite, User,
    UserEventKind, UserKey, fields::canonical_name, ports::UserRecords,
};

fn already_exists(message: String) -> Error {
    Error::new(ErrorKind::AlreadyExists, "USER_ALREADY_EXISTS", message)
}

impl UserStore {
    /// Users by id, cached ones from memory, the rest in one query.
    pub async fn find_by_ids(&self, ids: &[i64]) -> Result<Vec<User>, Error> {
        let mut found = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match self.cache.get(id) {
                Some(user) => found.push(user),
                None => missing.push(*id),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let epoch = self.cache.epoch();
        let loaded = self
            .rows(user::Entity::find().filter(user::Column::Id.is_in(missing)))
            .await?;
        for user in loaded {
            self.cache.insert(user.id, user.clone(), epoch);
            found.push(user);
        }
        Ok(found)
    }

    /// The user named exactly `name`, when both caches agree on it: the id
    /// the name cache remembers is cached under that same name. A user whose
    /// cached row was invalidated (renamed, deleted, changed on another
    /// replica) is read again by name.
    fn cached_by_name(&self, name: &str) -> Option<User> {
        let id = self.names.get(name)?;
        self.cache.get(&id).filter(|user| user.name == name)
    }

    pub(super) async fn rows(
        &self,
        select: sea_orm::Select<user::Entity>,
    ) -> Result<Vec<User>, Error> {
        rows::find_users(&self.db, select)
            .await?
            .into_iter()
            .map(mapping::user_from_row)
            .collect()
    }

    /// Creates many users at once (e.g. migrating from another platform), each
    /// with its `Created` event, in one transaction. Fails whole on a taken name.
    pub async fn import(&self, users: &[NewUser], now: DateTime<Utc>) -> Result<u64, Error> {
        if users.is_empty() {
            return Ok(0);
        }
        let rows = users
            .iter()
            .map(|new| self.new_user_row(new, None, now))
            .collect::<Result<Vec<_>, _>>()?;
        let txn = db::begin_write(&self.db).await?;
        let inserted = user::Entity::insert_many(rows)
            .exec_with_returning(&txn)
            .await
            .map_err(|err| {
                if db::is_unique_violation(&err) {
                    already_exists("an imported name is already taken".into())
                } else {
                    err.into()
                }
            })?;
        let count = inserted.len() as u64;
        db::before_append(&txn).await?;
        let origin = origin::current("users");
        let events = inserted
            .into_iter()
            .map(|row| {
                let user = mapping::user_from_row(row)?;
                Ok(user_event::ActiveModel {
                    seq: NotSet,
                    user_id: Set(user.id),
                    kind: Set(UserEventKind::Created.code()),
                    payload: Set(serde_json::to_string(&user).map_err(Error::internal)?),
                    occurred_at: Set(now),
                    actor: Set(origin::column(&origin.actor)),
                    request_id: Set(origin::column(&origin.request_id)),
                    trace_id: Set(origin::column(&origin.trace_id)),
                    reason: Set(origin::column(&origin.reason)),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        user_event::Entity::insert_many(events).exec(&txn).await?;
        self.commit(txn).await?;
        Ok(count)
    }

    /// Appends the event of the new or changed `row`, commits, and caches the
    /// user as committed.
    pub(super) async fn finish_change(
        &self,
        txn: DatabaseTransaction,
        row: user::Model,
        kind: UserEventKind,
        now: DateTime<Utc>,
    ) -> Result<User, Error> {
        let user = mapping::user_from_row(row)?;
        let sequence = self.append_event(&txn, kind, &user, now).await?;
        self.commit_cached(txn, &user, sequence).await?;
        Ok(user)
    }
}

/// Runs `update` (of the one user `id`) inside `txn` and returns the row as
/// changed, `None` when the update matched no row: in the same round trip
/// where the database returns rows from an UPDATE (PostgreSQL), by reading it
/// again otherwise.
pub(super) async fn update_returning(
    txn: &DatabaseTransaction,
    update: UpdateMany<user::Entity>,
    id: i64,
) -> Result<Option<user::Model>, Error> {
    if txn.support_returning() {
        let mut statement = update.into_query();
        statement.returning_all();
        let statement = txn.get_database_backend().build(&statement);
        return Ok(rows::select_users(txn, statement).await?.pop());
    }
    if update.exec(txn).await?.rows_affected == 0 {
        return Ok(None);
    }
    Ok(user::Entity::find_by_id(id).one(txn).await?)
}

#[async_trait]
impl UserRecords for UserStore {
    /// A user by id (from the cache when it holds one) or by name.
    async fn find(&self, key: &UserKey) -> Result<Option<User>, Error> {
        let epoch = self.cache.epoch();
        let user = match key {
            UserKey::Id(id) => {
                if let Some(user) = self.cache.get(id) {
                    return Ok(Some(user));
                }
                // Read (and cached) with the other misses of the moment.
                return self.loader.load(*id).await;
            }
            UserKey::Name(name) => {
                if let Some(user) = self.cached_by_name(name) {
                    return Ok(Some(user));
                }
                // An old name may share its canonical form with a newer one:
                // the exact name wins.
                let mut found = self
                    .rows(user::Entity::find().filter(name_matches([name.as_str()])))
                    .await?;
                let exact = found
                    .iter()
                    .position(|user| &user.name == name)
                    .unwrap_or(0);
                (exact < found.len()).then(|| found.swap_remove(exact))
            }
        };
        if let Some(user) = &user {
            self.cache.insert(user.id, user.clone(), epoch);
            // Only the exact name: the query above returns the user of that
            // exact name whenever one exists (names are unique), which is what
            // `cached_by_name` can check; a form that matched only canonically
            // could later lose to a user holding it exactly.
            if let UserKey::Name(name) = key
                && user.name == *name
            {
                self.names.insert(name.clone(), user.id, self.names.epoch());
            }
        }
        Ok(user)
    }

    async fn find_by_ids(&self, ids: &[i64]) -> Result<Vec<User>, Error> {
        UserStore::find_by_ids(self, ids).await
    }

    async fn find_by_names(&self, names: &[String]) -> Result<Vec<User>, Error> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        self.rows(user::Entity::find().filter(name_matches(names.iter().map(String::as_str))))
            .await
    }

    async fn insert(
        &self,
        new: &NewUser,
        guest_secret_hash: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<User, Error> {
        let row = self.new_user_row(new, guest_secret_hash, now)?;
        let txn = db::begin_write(&self.db).await?;
        let inserted = match row.insert(&txn).await {
            Ok(model) => model,
            Err(err) if db::is_unique_violation(&err) => {
                return Err(already_exists(format!(
                    "a user named {:?} already exists",
                    new.name.as_str()
                )));
            }
            Err(err) => return Err(err.into()),
        };
        self.finish_change(txn, inserted, UserEventKind::Created, now)
            .await
    }

    async fn save_profile(
        &self,
        changed: &User,
        expected_version: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, Error> {
        let avatar = mapping::AvatarColumns::from(&changed.avatar);
        let txn = db::begin_write(&self.db).await?;
        let update = user::Entity::update_many()
            .col_expr(
                user::Column::DisplayName,
                Expr::value(changed.display_name.clone()),
            )
            .col_expr(
                user::Column::SortKey,
                Expr::value(self.collation.sort_key(&changed.display_name)),
            )
            .col_expr(
                user::Column::SortKeyCollation,
                Expr::value(self.collation.fingerprint()),
            )
            .col_expr(
                user::Column::Description,
                Expr::value(changed.description.clone()),
            )
            .col_expr(
                user::Column::UserType,
                Expr::value(changed.user_type.as_str()),
            )
            .col_expr(user::Column::AvatarFileId, Expr::value(avatar.file_id))
            .col_expr(user::Column::AvatarUrl, Expr::value(avatar.url))
            .col_expr(user::Column::AvatarName, Expr::value(avatar.name))
            .col_expr(
                user::Column::AvatarContentType,
                Expr::value(avatar.content_type),
            )
            .col_expr(user::Column::AvatarSize, Expr::value(avatar.size))
            .col_expr(
                user::Column::Properties,
                Expr::value(mapping::properties_to_text(&changed.properties)?),
            )
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .col_expr(
                user::Column::Version,
                Expr::col(user::Column::Version).add(1),
            )
            .filter(user::Column::Id.eq(changed.id))
            .filter(user::Column::Version.eq(expected_version));
        let Some(row) = update_returning(&txn, update, changed.id).await? else {
            // The stored version moved on: whatever is cached for the user is
            // older than it (the change that moved it may still be caching
            // itself), so the caller's re-read goes to the database.
            self.cache.invalidate(&changed.id);
            return Ok(None);
        };
        self.finish_change(txn, row, UserEventKind::Updated, now)
            .await
            .map(Some)
    }

    async fn save_presences(
        &self,
        writes: &[PresenceWrite],
        now: DateTime<Utc>,
    ) -> Result<Vec<User>, Error> {
        self.write_presences(writes, now).await
    }

    async fn bump_token_generation(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, Error> {
        let txn = db::begin_write(&self.db).await?;
        let update = user::Entity::update_many()
            .col_expr(
                user::Column::TokenGeneration,
                Expr::col(user::Column::TokenGeneration).add(1),
            )
            .filter(user::Column::Id.eq(id));
        let Some(row) = update_returning(&txn, update, id).await? else {
            return Ok(None);
        };
        self.finish_change(txn, row, UserEventKind::TokensRevoked, now)
            .await
            .map(Some)
    }

    async fn tombstone(&self, id: i64, now: DateTime<Utc>) -> Result<Option<(User, bool)>, Error> {
        let txn = db::begin_write(&self.db).await?;
        let update = user::Entity::update_many()
            .col_expr(user::Column::DisplayName, Expr::value(DELETED_DISPLAY_NAME))
            .col_expr(
                user::Column::SortKey,
                Expr::value(self.collation.sort_key(DELETED_DISPLAY_NAME)),
            )
            .col_expr(
                user::Column::SortKeyCollation,
                Expr::value(self.collation.fingerprint()),
            )
            .col_expr(user::Column::Description, Expr::value(""))
            .col_expr(
                user::Column::AvatarFileId,
                Expr::value(Option::<String>::None),
            )
            .col_expr(user::Column::AvatarUrl, Expr::value(Option::<String>::None))
            .col_expr(
                user::Column::AvatarName,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                user::Column::AvatarContentType,
                Expr::value(Option::<String>::None),
            )
            .col_expr(user::Column::AvatarSize, Expr::value(Option::<i64>::None))
            .col_expr(user::Column::Properties, Expr::value("{}"))
            .col_expr(
                user::Column::PresenceStatus,
                Expr::value(DEFAULT_PRESENCE_STATUS),
            )
            .col_expr(user::Column::Online, Expr::value(false))
            .col_expr(
                user::Column::GuestSecretHash,
                Expr::value(Option::<String>::None),
            )
            .col_expr(user::Column::IsDeleted, Expr::value(true))
            .col_expr(
                user::Column::TokenGeneration,
                Expr::col(user::Column::TokenGeneration).add(1),
            )
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .col_expr(
                user::Column::Version,
                Expr::col(user::Column::Version).add(1),
            )
            .filter(user::Column::Id.eq(id))
            .filter(user::Column::IsDeleted.eq(false));
        let Some(row) = update_returning(&txn, update, id).await? else {
            drop(txn);
            // Already a tombstone, or no such user.
            return Ok(self.find(&UserKey::Id(id)).await?.map(|user| (user, false)));
        };
        self.finish_change(txn, row, UserEventKind::Deleted, now)
            .await
            .map(|user| Some((user, true)))
    }

    async fn guest_secret_hash(&self, id: i64) -> Result<Option<String>, Error> {
        Ok(user::Entity::find_by_id(id)
            .select_only()
            .column(user::Column::GuestSecretHash)
            .into_tuple::<Option<String>>()
            .one(&self.db)
            .await?
            .flatten())
    }
}

/// Rows whose name is one of `names`: equal in the canonical form, or, for an
/// old name without one, exactly.
fn name_matches<'a>(names: impl IntoIterator<Item = &'a str>) -> Condition {
    let names: Vec<&str> = names.into_iter().collect();
    Condition::any()
        .add(user::Column::CanonicalName.is_in(names.iter().map(|name| canonical_name(name))))
        .add(user::Column::Name.is_in(names.iter().map(|name| name.to_string())))
}

impl UserStore {
    fn new_user_row(
        &self,
        new: &NewUser,
        guest_secret_hash: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<user::ActiveModel, Error> {
        let display_name = new.display_name.as_str();
        Ok(user::ActiveModel {
            id: NotSet,
            name: Set(new.name.as_str().to_owned()),
            user_type: Set(new.user_type.as_str().to_owned()),
            display_name: Set(display_name.to_owned()),
            canonical_name: Set(Some(new.name.canonical())),
            sort_key: Set(self.collation.sort_key(display_name)),
            sort_key_collation: Set(self.collation.fingerprint()),
            description: Set(new.description.as_str().to_owned()),
            avatar_file_id: Set(None),
            avatar_url: Set(None),
            avatar_name: Set(None),
            avatar_content_type: Set(None),
            avatar_size: Set(None),
            is_guest: Set(new.is_guest),
            presence_status: Set(DEFAULT_PRESENCE_STATUS.to_owned()),
            online: Set(false),
            call_status: Set(CallStatus::Available.as_str().to_owned()),
            properties: Set(mapping::properties_to_text(&new.properties)?),
            created_at: Set(now),
            updated_at: Set(now),
            version: Set(1),
            is_global_banned: Set(false),
            ban_expires_at_ms: Set(None),
            flag_count: Set(0),
            is_deleted: Set(false),
            token_generation: Set(0),
            network_roles: Set("[]".to_owned()),
            guest_secret_hash: Set(guest_secret_hash),
        })
    }
}
