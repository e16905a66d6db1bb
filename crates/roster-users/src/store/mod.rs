//! Storage of users and their change events (the outbox), through sea-orm.
//! Every change and its event are written in one transaction.

mod entity;
mod mapping;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use roster_kit::{Error, cache::Cache, db, error::ErrorKind};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, Condition, DatabaseConnection,
    DatabaseTransaction, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    Set, TransactionTrait, sea_query::Expr,
};
use tokio::sync::Notify;

use crate::domain::{
    CallStatus, DEFAULT_PRESENCE_STATUS, NewUser, Presence, RoleChange, User, UserEvent,
    UserEventKind, UserKey,
    query::{Phase, Position, UserQuery, UserSort},
    sort_key::{
        display_name_search_key, display_name_sort_key, keyword_fully_expanded, prefix_upper_bound,
        sort_key_prefixes,
    },
};
use entity::{user, user_event, user_role_sync};

/// The single row of `user_role_sync`.
const ROLE_SYNC_ROW: i16 = 1;

/// Advisory lock key of this outbox (see `db::lock_outbox`).
const OUTBOX_LOCK_KEY: i64 = 0x726f_7374_6572_0001;

/// Users kept in memory per replica (see `UserStore::find`).
const CACHED_USERS: usize = 100_000;

#[derive(Clone)]
pub struct UserStore {
    db: DatabaseConnection,
    committed: Arc<Notify>,
    /// Users by id. Changes made here invalidate their entry when they commit;
    /// changes made by other replicas are invalidated by `follow_remote_changes`.
    cache: Arc<Cache<i64, User>>,
    /// Last outbox sequence whose change this replica's cache reflects.
    cache_position: Arc<tokio::sync::watch::Sender<i64>>,
}

impl UserStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            committed: Arc::new(Notify::new()),
            cache: Arc::new(Cache::new(CACHED_USERS)),
            cache_position: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }

    /// Resolves once this replica's cache reflects every change up to outbox
    /// sequence `sequence` (e.g. a `UserEvent` cursor from another replica).
    pub async fn wait_until_cache_reflects(&self, sequence: i64) {
        let mut position = self.cache_position.subscribe();
        let _ = position.wait_for(|seen| *seen >= sequence).await;
    }

    /// Invalidates cached users changed by other replicas (their outbox rows),
    /// every `poll_interval`, until the returned task is aborted. A replica may
    /// therefore serve another replica's change up to `poll_interval` late; its
    /// own changes it serves at once.
    pub async fn follow_remote_changes(
        &self,
        poll_interval: std::time::Duration,
    ) -> Result<tokio::task::AbortHandle, Error> {
        let seen = self.last_event_sequence().await?;
        self.cache_position.send_replace(seen);
        let store = self.clone();
        Ok(tokio::spawn(async move {
            loop {
                tokio::time::sleep(poll_interval).await;
                let seen = *store.cache_position.borrow();
                match store.changed_users_after(seen, 1000).await {
                    Ok(changes) => store.reflect(seen, changes),
                    Err(err) => {
                        // Not knowing what changed, forget everything.
                        tracing::warn!(error = %err, "reading user changes failed");
                        store.cache.clear();
                    }
                }
            }
        })
        .abort_handle())
    }

    /// Invalidates the users of outbox rows (sequence, user id), read in order
    /// right after sequence `after`, that are newer than what the cache
    /// reflects. The cache's position moves past them only when the rows follow
    /// on from it (a stream resumed further on leaves a gap the poller covers).
    fn reflect(&self, after: i64, changes: impl IntoIterator<Item = (i64, i64)>) {
        let seen = *self.cache_position.borrow();
        let mut newest = seen;
        for (sequence, user_id) in changes {
            if sequence > seen {
                self.cache.invalidate(&user_id);
                newest = std::cmp::max(newest, sequence);
            }
        }
        if after <= seen {
            self.cache_position.send_if_modified(|position| {
                let moved = newest > *position;
                *position = std::cmp::max(*position, newest);
                moved
            });
        }
    }

    async fn last_event_sequence(&self) -> Result<i64, Error> {
        Ok(user_event::Entity::find()
            .select_only()
            .column(user_event::Column::Seq)
            .order_by_desc(user_event::Column::Seq)
            .into_tuple::<i64>()
            .one(&self.db)
            .await?
            .unwrap_or(0))
    }

    async fn changed_users_after(&self, after: i64, limit: u64) -> Result<Vec<(i64, i64)>, Error> {
        Ok(user_event::Entity::find()
            .select_only()
            .column(user_event::Column::Seq)
            .column(user_event::Column::UserId)
            .filter(user_event::Column::Seq.gt(after))
            .order_by_asc(user_event::Column::Seq)
            .limit(limit)
            .into_tuple::<(i64, i64)>()
            .all(&self.db)
            .await?)
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Woken after every committed change made through this store.
    pub fn committed(&self) -> Arc<Notify> {
        self.committed.clone()
    }

    pub async fn insert(&self, new: &NewUser, now: DateTime<Utc>) -> Result<User, Error> {
        let row = new_user_row(new, now)?;
        let txn = self.db.begin().await?;
        let inserted = match row.insert(&txn).await {
            Ok(model) => model,
            Err(err) if db::is_unique_violation(&err) => {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    "USER_ALREADY_EXISTS",
                    format!("a user named {:?} already exists", new.name.as_str()),
                ));
            }
            Err(err) => return Err(err.into()),
        };
        let user = mapping::user_from_row(inserted)?;
        self.append_event(&txn, UserEventKind::Created, &user, now)
            .await?;
        self.commit(txn).await?;
        Ok(user)
    }

    /// A user by id (from the cache when it holds one) or by name.
    pub async fn find(&self, key: &UserKey) -> Result<Option<User>, Error> {
        let select = match key {
            UserKey::Id(id) => {
                if let Some(user) = self.cache.get(id) {
                    return Ok(Some(user));
                }
                user::Entity::find_by_id(*id)
            }
            UserKey::Name(name) => {
                user::Entity::find().filter(user::Column::Name.eq(name.as_str()))
            }
        };
        let epoch = self.cache.epoch();
        let user = select
            .one(&self.db)
            .await?
            .map(mapping::user_from_row)
            .transpose()?;
        if let Some(user) = &user {
            self.cache.insert(user.id, user.clone(), epoch);
        }
        Ok(user)
    }

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

    pub async fn find_by_names(&self, names: &[String]) -> Result<Vec<User>, Error> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        self.rows(user::Entity::find().filter(user::Column::Name.is_in(names.iter().cloned())))
            .await
    }

    async fn rows(&self, select: sea_orm::Select<user::Entity>) -> Result<Vec<User>, Error> {
        select
            .all(&self.db)
            .await?
            .into_iter()
            .map(mapping::user_from_row)
            .collect()
    }

    /// Writes the profile fields of `changed` if the stored version is still
    /// `expected_version`, bumping the version. `None` when it is not.
    pub async fn save_profile(
        &self,
        changed: &User,
        expected_version: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, Error> {
        let avatar = mapping::AvatarColumns::from(&changed.avatar);
        let txn = self.db.begin().await?;
        let result = user::Entity::update_many()
            .col_expr(
                user::Column::DisplayName,
                Expr::value(changed.display_name.clone()),
            )
            .col_expr(
                user::Column::SortKey,
                Expr::value(display_name_sort_key(&changed.display_name)),
            )
            .col_expr(
                user::Column::SearchKey,
                Expr::value(display_name_search_key(&changed.display_name)),
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
            .filter(user::Column::Version.eq(expected_version))
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            return Ok(None);
        }
        self.finish_change(txn, changed.id, UserEventKind::Updated, now)
            .await
            .map(Some)
    }

    /// Presence is not a profile edit: version and `updated_at` stay.
    pub async fn save_presence(
        &self,
        id: i64,
        presence: &Presence,
        call_status: CallStatus,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, Error> {
        let txn = self.db.begin().await?;
        let result = user::Entity::update_many()
            .col_expr(
                user::Column::PresenceStatus,
                Expr::value(presence.status.clone()),
            )
            .col_expr(user::Column::Online, Expr::value(presence.online))
            .col_expr(user::Column::CallStatus, Expr::value(call_status.as_str()))
            .filter(user::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            return Ok(None);
        }
        self.finish_change(txn, id, UserEventKind::PresenceChanged, now)
            .await
            .map(Some)
    }

    /// Invalidates every token issued so far.
    pub async fn bump_token_generation(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, Error> {
        let txn = self.db.begin().await?;
        let result = user::Entity::update_many()
            .col_expr(
                user::Column::TokenGeneration,
                Expr::col(user::Column::TokenGeneration).add(1),
            )
            .filter(user::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            return Ok(None);
        }
        self.finish_change(txn, id, UserEventKind::TokensRevoked, now)
            .await
            .map(Some)
    }

    /// Re-reads the changed row inside the transaction, appends its event, commits.
    async fn finish_change(
        &self,
        txn: DatabaseTransaction,
        id: i64,
        kind: UserEventKind,
        now: DateTime<Utc>,
    ) -> Result<User, Error> {
        let row = user::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| {
                Error::internal(format!("user {id} vanished inside its own transaction"))
            })?;
        let user = mapping::user_from_row(row)?;
        self.append_event(&txn, kind, &user, now).await?;
        self.commit(txn).await?;
        self.cache.invalidate(&id);
        Ok(user)
    }

    async fn append_event(
        &self,
        txn: &DatabaseTransaction,
        kind: UserEventKind,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        db::lock_outbox(txn, OUTBOX_LOCK_KEY).await?;
        user_event::ActiveModel {
            seq: NotSet,
            user_id: Set(user.id),
            kind: Set(kind.code()),
            payload: Set(serde_json::to_string(user).map_err(Error::internal)?),
            occurred_at: Set(now),
        }
        .insert(txn)
        .await?;
        Ok(())
    }

    async fn commit(&self, txn: DatabaseTransaction) -> Result<(), Error> {
        txn.commit().await?;
        self.committed.notify_waiters();
        Ok(())
    }

    /// Creates many users at once (e.g. migrating from another platform), each
    /// with its `Created` event, in one transaction. Fails whole on a taken name.
    pub async fn import(&self, users: &[NewUser], now: DateTime<Utc>) -> Result<u64, Error> {
        if users.is_empty() {
            return Ok(0);
        }
        let rows = users
            .iter()
            .map(|new| new_user_row(new, now))
            .collect::<Result<Vec<_>, _>>()?;
        let txn = self.db.begin().await?;
        let inserted = user::Entity::insert_many(rows)
            .exec_with_returning(&txn)
            .await
            .map_err(|err| {
                if db::is_unique_violation(&err) {
                    Error::new(
                        ErrorKind::AlreadyExists,
                        "USER_ALREADY_EXISTS",
                        "an imported name is already taken",
                    )
                } else {
                    err.into()
                }
            })?;
        let count = inserted.len() as u64;
        db::lock_outbox(&txn, OUTBOX_LOCK_KEY).await?;
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
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        user_event::Entity::insert_many(events).exec(&txn).await?;
        self.commit(txn).await?;
        Ok(count)
    }

    /// One phase of a query page, in the query's order, after `after`.
    pub async fn query(
        &self,
        query: &UserQuery,
        phase: Phase,
        after: Option<&Position>,
        limit: u64,
    ) -> Result<Vec<User>, Error> {
        if !(phase == Phase::Prefix && query.sort == UserSort::DisplayName) {
            return self.rows(query_select(query, phase, after, limit)).await;
        }
        // Walk the aA–zZ index range by range, in order (see `sort_key_prefixes`).
        let mut found = Vec::new();
        for range in keyword_sort_ranges(query) {
            if after.is_some_and(|a| range.upper <= a.sort_key) {
                continue;
            }
            let remaining = limit - found.len() as u64;
            let select = range.restrict(query_select(query, phase, after, remaining));
            found.extend(self.rows(select).await?);
            if found.len() as u64 >= limit {
                break;
            }
        }
        Ok(found)
    }

    /// The SQL [`UserStore::query`] runs, e.g. to EXPLAIN it.
    pub fn query_statement(
        &self,
        query: &UserQuery,
        phase: Phase,
        after: Option<&Position>,
        limit: u64,
    ) -> sea_orm::Statement {
        let mut select = query_select(query, phase, after, limit);
        if phase == Phase::Prefix
            && query.sort == UserSort::DisplayName
            && let Some(range) = keyword_sort_ranges(query).into_iter().next()
        {
            select = range.restrict(select);
        }
        select.build(self.db.get_database_backend())
    }

    /// Sequence of the last role event applied to the users' network roles.
    pub async fn role_sync_position(&self) -> Result<i64, Error> {
        Ok(user_role_sync::Entity::find_by_id(ROLE_SYNC_ROW)
            .one(&self.db)
            .await?
            .map_or(0, |row| row.last_sequence))
    }

    /// Applies role event `sequence` (when it has not been applied yet: several
    /// replicas may follow the same stream) to `user_id`'s network roles.
    /// `change` is `None` for events that concern no user's network roles; they
    /// only move the position. Returns whether this call applied the event.
    pub async fn apply_role_event(
        &self,
        sequence: i64,
        user_id: i64,
        change: Option<&RoleChange>,
    ) -> Result<bool, Error> {
        let txn = self.db.begin().await?;
        let claimed = user_role_sync::Entity::update_many()
            .col_expr(user_role_sync::Column::LastSequence, Expr::value(sequence))
            .filter(user_role_sync::Column::Id.eq(ROLE_SYNC_ROW))
            .filter(user_role_sync::Column::LastSequence.lt(sequence))
            .exec(&txn)
            .await?;
        if claimed.rows_affected == 0 {
            // Another replica applied it; what this replica cached is stale now.
            self.cache.invalidate(&user_id);
            return Ok(false);
        }
        if let Some(change) = change
            && let Some(row) = user::Entity::find_by_id(user_id).one(&txn).await?
        {
            let mut user = mapping::user_from_row(row)?;
            change.apply(&mut user.network_roles);
            user::Entity::update_many()
                .col_expr(
                    user::Column::NetworkRoles,
                    Expr::value(
                        serde_json::to_string(&user.network_roles).map_err(Error::internal)?,
                    ),
                )
                .filter(user::Column::Id.eq(user_id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        self.cache.invalidate(&user_id);
        Ok(true)
    }

    /// Up to `limit` events committed after sequence `after`, oldest first.
    /// Streams call it before delivering, so a consumer that reacts to an event
    /// by reading the user from this replica reads the change.
    pub async fn events_after(&self, after: i64, limit: u64) -> Result<Vec<UserEvent>, Error> {
        let events = user_event::Entity::find()
            .filter(user_event::Column::Seq.gt(after))
            .order_by_asc(user_event::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(mapping::event_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.reflect(after, events.iter().map(|e| (e.sequence, e.user.id)));
        Ok(events)
    }
}

/// The sort keys of display names that start with one case variant of the
/// keyword, excluding the name that is exactly that variant (the exact phase
/// returns it).
struct KeywordRange {
    prefix: String,
    upper: String,
}

impl KeywordRange {
    fn restrict(&self, select: sea_orm::Select<user::Entity>) -> sea_orm::Select<user::Entity> {
        select
            .filter(user::Column::SortKey.gt(self.prefix.clone()))
            .filter(user::Column::SortKey.lt(self.upper.clone()))
    }
}

/// The keyword's case-variant ranges, in sort order (see `sort_key_prefixes`).
fn keyword_sort_ranges(query: &UserQuery) -> Vec<KeywordRange> {
    sort_key_prefixes(query.keyword.as_deref().unwrap_or_default())
        .into_iter()
        .map(|prefix| KeywordRange {
            upper: prefix_upper_bound(&prefix),
            prefix,
        })
        .collect()
}

fn new_user_row(new: &NewUser, now: DateTime<Utc>) -> Result<user::ActiveModel, Error> {
    let display_name = new.display_name.as_str();
    Ok(user::ActiveModel {
        id: NotSet,
        name: Set(new.name.as_str().to_owned()),
        user_type: Set(new.user_type.as_str().to_owned()),
        display_name: Set(display_name.to_owned()),
        sort_key: Set(display_name_sort_key(display_name)),
        search_key: Set(display_name_search_key(display_name)),
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
        flag_count: Set(0),
        is_deleted: Set(false),
        token_generation: Set(0),
        network_roles: Set("[]".to_owned()),
    })
}

fn query_select(
    query: &UserQuery,
    phase: Phase,
    after: Option<&Position>,
    limit: u64,
) -> sea_orm::Select<user::Entity> {
    let mut select = user::Entity::find();
    let filter = &query.filter;
    if let Some(user_type) = filter.user_type {
        select = select.filter(user::Column::UserType.eq(user_type.as_str()));
    }
    if let Some(is_guest) = filter.is_guest {
        select = select.filter(user::Column::IsGuest.eq(is_guest));
    }
    if let Some(is_deleted) = filter.is_deleted {
        select = select.filter(user::Column::IsDeleted.eq(is_deleted));
    }
    if let Some(banned) = filter.is_global_banned {
        select = select.filter(user::Column::IsGlobalBanned.eq(banned));
    }
    match filter.is_flagged {
        Some(true) => select = select.filter(user::Column::FlagCount.gt(0)),
        Some(false) => select = select.filter(user::Column::FlagCount.eq(0)),
        None => {}
    }
    let keyword = query.keyword.clone().unwrap_or_default();
    select = match phase {
        Phase::All => select,
        Phase::Exact => select.filter(user::Column::SearchKey.eq(keyword)),
        // Sorted by display name, the keyword's sort-key ranges select the
        // matches (see `UserStore::query`); the search key is needed only for the
        // characters they do not expand. A query on sort keys alone leaves the
        // planner one sensible index.
        Phase::Prefix
            if query.sort == UserSort::DisplayName && keyword_fully_expanded(&keyword) =>
        {
            select
        }
        Phase::Prefix => select
            .filter(user::Column::SearchKey.gt(keyword.clone()))
            .filter(user::Column::SearchKey.lt(prefix_upper_bound(&keyword))),
    };
    select = match query.sort {
        UserSort::DisplayName => {
            if let Some(after) = after {
                select = select.filter(
                    Condition::any()
                        .add(user::Column::SortKey.gt(after.sort_key.clone()))
                        .add(
                            Condition::all()
                                .add(user::Column::SortKey.eq(after.sort_key.clone()))
                                .add(user::Column::Id.gt(after.id)),
                        ),
                );
            }
            if phase == Phase::Exact {
                // Constant under the equality, but it tells the planner that the
                // (search_key, sort_key, id) index yields this order as it is.
                select = select.order_by_asc(user::Column::SearchKey);
            }
            select
                .order_by_asc(user::Column::SortKey)
                .order_by_asc(user::Column::Id)
        }
        UserSort::FirstCreated => {
            if let Some(after) = after {
                select = select.filter(user::Column::Id.gt(after.id));
            }
            select.order_by_asc(user::Column::Id)
        }
        UserSort::LastCreated => {
            if let Some(after) = after {
                select = select.filter(user::Column::Id.lt(after.id));
            }
            select.order_by_desc(user::Column::Id)
        }
    };
    select.limit(limit)
}
