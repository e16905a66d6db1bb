//! Decoding user rows: each column's position is looked up once per result,
//! then every row is read by position straight from the driver's row.
//!
//! Written here rather than left to sea-orm's derived `FromQueryResult`,
//! which for every column of every row formats the column's name into a new
//! string, looks it up by name, and for every NULL formats an error that it
//! then discards: in a profile of QueryUsers (21 rows × 28 columns a page),
//! decoding fell from 8.2 % to 7.1 % of the process's CPU without them, the
//! rest being the driver's own decoding. The struct literal below names every
//! field, so a column added to the entity does not compile until it is read
//! here.

use chrono::{DateTime, Utc};
use roster_kit::Error;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, IdenStatic, Iterable, QueryResult, QueryTrait, Statement,
    sqlx::{self, Column as _, ColumnIndex, Decode, Row, Type},
};

use super::entity::user::{self, Column};

/// Runs `statement` (which selects whole user rows) and decodes its rows.
pub(super) async fn select_users(
    db: &impl ConnectionTrait,
    statement: Statement,
) -> Result<Vec<user::Model>, Error> {
    user_models(&db.query_all_raw(statement).await?)
}

/// Runs `select` (of whole user rows) and decodes its rows.
pub(super) async fn find_users(
    db: &impl ConnectionTrait,
    select: sea_orm::Select<user::Entity>,
) -> Result<Vec<user::Model>, Error> {
    let statement = db.get_database_backend().build(&select.into_query());
    select_users(db, statement).await
}

/// The rows of one result, each holding every column of `users`.
fn user_models(rows: &[QueryResult]) -> Result<Vec<user::Model>, Error> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    if first.try_as_pg_row().is_some() {
        decode(rows.iter().filter_map(QueryResult::try_as_pg_row))
    } else if first.try_as_sqlite_row().is_some() {
        decode(rows.iter().filter_map(QueryResult::try_as_sqlite_row))
    } else {
        Err(Error::internal("user rows from an unknown driver"))
    }
}

/// The planned-per-run rows of a search on `db`; see [`user_models`].
pub(super) async fn search_rows(
    db: &DatabaseConnection,
    select: &sea_orm::sea_query::SelectStatement,
) -> Result<Vec<user::Model>, Error> {
    user_models(&roster_kit::db::query_planned_per_run(db, select).await?)
}

fn decode<'a, R>(rows: impl Iterator<Item = &'a R>) -> Result<Vec<user::Model>, Error>
where
    R: Row + 'a,
    usize: ColumnIndex<R>,
    for<'n> &'n str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let mut rows = rows.peekable();
    let Some(first) = rows.peek() else {
        return Ok(Vec::new());
    };
    let mut positions = vec![0; Column::iter().count()];
    for column in Column::iter() {
        positions[column as usize] = first
            .try_column(column.as_str())
            .map_err(Error::internal)?
            .ordinal();
    }
    let at = |column: Column| positions[column as usize];
    rows.map(|row| {
        Ok(user::Model {
            id: row.try_get(at(Column::Id))?,
            name: row.try_get(at(Column::Name))?,
            canonical_name: row.try_get(at(Column::CanonicalName))?,
            user_type: row.try_get(at(Column::UserType))?,
            display_name: row.try_get(at(Column::DisplayName))?,
            sort_key: row.try_get(at(Column::SortKey))?,
            sort_key_collation: row.try_get(at(Column::SortKeyCollation))?,
            description: row.try_get(at(Column::Description))?,
            avatar_file_id: row.try_get(at(Column::AvatarFileId))?,
            avatar_url: row.try_get(at(Column::AvatarUrl))?,
            avatar_name: row.try_get(at(Column::AvatarName))?,
            avatar_content_type: row.try_get(at(Column::AvatarContentType))?,
            avatar_size: row.try_get(at(Column::AvatarSize))?,
            is_guest: row.try_get(at(Column::IsGuest))?,
            presence_status: row.try_get(at(Column::PresenceStatus))?,
            online: row.try_get(at(Column::Online))?,
            call_status: row.try_get(at(Column::CallStatus))?,
            properties: row.try_get(at(Column::Properties))?,
            created_at: row.try_get(at(Column::CreatedAt))?,
            updated_at: row.try_get(at(Column::UpdatedAt))?,
            version: row.try_get(at(Column::Version))?,
            is_global_banned: row.try_get(at(Column::IsGlobalBanned))?,
            flag_count: row.try_get(at(Column::FlagCount))?,
            is_deleted: row.try_get(at(Column::IsDeleted))?,
            token_generation: row.try_get(at(Column::TokenGeneration))?,
            network_roles: row.try_get(at(Column::NetworkRoles))?,
            guest_secret_hash: row.try_get(at(Column::GuestSecretHash))?,
            ban_expires_at_ms: row.try_get(at(Column::BanExpiresAtMs))?,
        })
    })
    .collect::<Result<_, sqlx::Error>>()
    .map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use roster_kit::{
        db,
        testing::{Backend, TestDatabase},
    };
    use roster_migrations::UsersMigrator;
    use sea_orm::{
        ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QueryTrait, Set,
    };

    /// A user whose every column holds a value no other column holds, so a
    /// column read from the wrong position shows.
    fn distinct_user(id: i64) -> user::ActiveModel {
        let at = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 123_456_000).unwrap();
        user::ActiveModel {
            id: Set(id),
            name: Set(format!("name-{id}")),
            canonical_name: Set(Some(format!("canonical-{id}"))),
            user_type: Set("BOT".into()),
            display_name: Set("Dïsplay 'quoted' \\ name".into()),
            sort_key: Set("0a1b2c".into()),
            sort_key_collation: Set(7),
            description: Set("line one\nline two".into()),
            avatar_file_id: Set(Some("file-id".into())),
            avatar_url: Set(Some("https://example.com/a.png".into())),
            avatar_name: Set(Some("a.png".into())),
            avatar_content_type: Set(Some("image/png".into())),
            avatar_size: Set(Some(11)),
            is_guest: Set(true),
            presence_status: Set("AWAY".into()),
            online: Set(true),
            call_status: Set("IN_CALL".into()),
            properties: Set(r#"{"team":"blue"}"#.into()),
            created_at: Set(at(1)),
            updated_at: Set(at(2)),
            version: Set(13),
            is_global_banned: Set(true),
            flag_count: Set(17),
            is_deleted: Set(false),
            token_generation: Set(19),
            network_roles: Set(r#"["network-moderator"]"#.into()),
            guest_secret_hash: Set(Some("ab".repeat(32))),
            ban_expires_at_ms: Set(Some(23)),
        }
    }

    /// The same with every nullable column NULL and the booleans flipped.
    fn sparse_user(id: i64) -> user::ActiveModel {
        let mut user = distinct_user(id);
        user.canonical_name = Set(None);
        user.avatar_file_id = Set(None);
        user.avatar_url = Set(None);
        user.avatar_name = Set(None);
        user.avatar_content_type = Set(None);
        user.avatar_size = Set(None);
        user.guest_secret_hash = Set(None);
        user.ban_expires_at_ms = Set(None);
        user.is_guest = Set(false);
        user.online = Set(false);
        user.is_global_banned = Set(false);
        user.is_deleted = Set(true);
        user
    }

    async fn rows_read_by_position_equal_what_sea_orm_derives(backend: Backend) {
        let database = TestDatabase::new(backend).await;
        let connection = db::connect(&database.url).await.unwrap();
        db::migrate::<UsersMigrator>(&connection).await.unwrap();
        for user in [distinct_user(41), sparse_user(42)] {
            user.insert(&connection).await.unwrap();
        }
        let select = user::Entity::find()
            .filter(user::Column::Id.is_in([41, 42]))
            .order_by_asc(user::Column::Id);
        let derived = select.clone().all(&connection).await.unwrap();
        assert_eq!(derived.len(), 2);
        assert_ne!(derived[0], derived[1]);

        let statement = connection
            .get_database_backend()
            .build(&select.clone().into_query());
        assert_eq!(select_users(&connection, statement).await.unwrap(), derived);
        // On PostgreSQL the search's rows arrive as text (simple protocol).
        assert_eq!(
            search_rows(&connection, &select.into_query())
                .await
                .unwrap(),
            derived
        );
        // Columns in another order are found by name.
        let reversed = format!(
            "SELECT {} FROM users WHERE id IN (41, 42) ORDER BY id",
            Column::iter()
                .rev()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let statement = Statement::from_string(connection.get_database_backend(), reversed);
        assert_eq!(select_users(&connection, statement).await.unwrap(), derived);
    }

    #[tokio::test]
    async fn rows_read_by_position_equal_what_sea_orm_derives_on_sqlite() {
        rows_read_by_position_equal_what_sea_orm_derives(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn rows_read_by_position_equal_what_sea_orm_derives_on_postgres() {
        rows_read_by_position_equal_what_sea_orm_derives(Backend::Postgres).await;
    }
}
