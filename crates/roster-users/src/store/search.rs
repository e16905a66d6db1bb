//! Listing and searching users: filters, the keyword phases, keyset paging.
//! A keyword's matches are one range of the sort-key index per phase (see
//! `domain::collation`).

use async_trait::async_trait;
use chrono::Utc;
use roster_kit::Error;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    sea_query::SelectStatement,
};

use super::{UserStore, entity::user, mapping, rows};
use crate::domain::{
    User,
    collation::KeywordKey,
    ports::UserSearch,
    query::{Phase, Position, UserQuery, UserSort},
};

impl UserStore {
    /// The query [`UserSearch::query_phase`] runs (through
    /// [`roster_kit::db::query_planned_per_run`]), e.g. to EXPLAIN it; `None` when it
    /// runs none (a keyword of nothing but ignorable characters).
    pub fn query_statement(
        &self,
        query: &UserQuery,
        phase: Phase,
        after: Option<&Position>,
        limit: u64,
    ) -> Option<SelectStatement> {
        self.query_select(query, phase, after, limit)
            .map(QueryTrait::into_query)
    }

    fn query_select(
        &self,
        query: &UserQuery,
        phase: Phase,
        after: Option<&Position>,
        limit: u64,
    ) -> Option<sea_orm::Select<user::Entity>> {
        let keyword = match &query.keyword {
            // Nothing but ignorable characters matches nothing (the domain
            // refuses such keywords before asking).
            Some(keyword) => Some(self.collation.keyword(keyword)?),
            None => None,
        };
        Some(query_select(query, keyword.as_ref(), phase, after, limit))
    }
}

#[async_trait]
impl UserSearch for UserStore {
    async fn query_phase(
        &self,
        query: &UserQuery,
        phase: Phase,
        after: Option<&Position>,
        limit: u64,
    ) -> Result<Vec<User>, Error> {
        let Some(select) = self.query_statement(query, phase, after, limit) else {
            return Ok(Vec::new());
        };
        // Planned per run: the keyword's range may hold three names or millions.
        rows::search_rows(&self.db, &select)
            .await?
            .into_iter()
            .map(mapping::user_from_row)
            .collect()
    }
}

fn query_select(
    query: &UserQuery,
    keyword: Option<&KeywordKey>,
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
        // In force now: placed, not lifted, and not past its expiry.
        let in_force = Condition::all()
            .add(user::Column::IsGlobalBanned.eq(true))
            .add(
                Condition::any()
                    .add(user::Column::BanExpiresAtMs.is_null())
                    .add(user::Column::BanExpiresAtMs.gt(Utc::now().timestamp_millis())),
            );
        select = select.filter(if banned { in_force } else { in_force.not() });
    }
    match filter.is_flagged {
        Some(true) => select = select.filter(user::Column::FlagCount.gt(0)),
        Some(false) => select = select.filter(user::Column::FlagCount.eq(0)),
        None => {}
    }
    let range = match (phase, keyword) {
        (Phase::Exact, Some(keyword)) => Some(keyword.exact_range()),
        (Phase::Prefix, Some(keyword)) => Some(keyword.prefix_range()),
        _ => None,
    };
    if let Some((lower, upper)) = range {
        select = select
            .filter(user::Column::SortKey.gte(lower))
            .filter(user::Column::SortKey.lt(upper));
    }
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
