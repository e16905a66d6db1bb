//! The migration that gave files a visibility, over rows written before it.

use roster_kit::testing::{Backend, TestDatabase};
use roster_migrations::{FilesMigrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Statement};

#[tokio::test]
async fn stored_avatars_become_public_and_attachments_private_on_sqlite() {
    files_get_their_purposes_default_visibility(Backend::Sqlite).await;
}

#[tokio::test]
async fn stored_avatars_become_public_and_attachments_private_on_postgres() {
    files_get_their_purposes_default_visibility(Backend::Postgres).await;
}

async fn files_get_their_purposes_default_visibility(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let db = sea_orm::Database::connect(&database.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The schema before visibility existed, with one file of each purpose.
    FilesMigrator::up(&db, Some(1))
        .await
        .unwrap_or_else(|e| panic!("first migration: {e}"));
    db.execute_unprepared(
        "INSERT INTO files (id, owner_user_id, purpose, name, content_type, size, width, height, sha256, variants, created_at) VALUES \
         ('a', 1, 'attachment', 'a', 'text/plain', 1, 0, 0, '', '[]', '2026-11-30 00:00:00+00:00'), \
         ('b', 1, 'avatar', 'b', 'image/png', 1, 1, 1, '', '[]', '2026-11-30 00:00:00+00:00')",
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    FilesMigrator::up(&db, None)
        .await
        .unwrap_or_else(|e| panic!("visibility migration: {e}"));
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id, visibility FROM files ORDER BY id",
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let visibility: Vec<(String, String)> = rows
        .iter()
        .map(|row| {
            (
                row.try_get_by_index(0).unwrap_or_else(|e| panic!("{e}")),
                row.try_get_by_index(1).unwrap_or_else(|e| panic!("{e}")),
            )
        })
        .collect();
    assert_eq!(
        visibility,
        [
            ("a".to_owned(), "private".to_owned()),
            ("b".to_owned(), "public".to_owned())
        ]
    );

    // And back down, for an operator who must roll back.
    FilesMigrator::down(&db, Some(1))
        .await
        .unwrap_or_else(|e| panic!("down: {e}"));
    let _ = db.close().await;
}
