//! Schema migrations, one migrator per service: each service owns its tables
//! (and may live in its own database), so each keeps its own history table.

pub use sea_orm_migration::MigratorTrait;

mod event_origin;
pub mod files;
mod idempotency;
pub mod moderation;
mod outbox_turn;
pub mod roles;
pub mod users;

pub use files::FilesMigrator;
pub use moderation::ModerationMigrator;
pub use roles::RolesMigrator;
pub use users::UsersMigrator;

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// A text column compared byte-wise, so btree range scans and ORDER BY agree with
/// Rust's `str` ordering. SQLite's default BINARY collation already is; PostgreSQL
/// needs `COLLATE "C"` instead of the database's locale collation.
pub(crate) fn bytewise_text(column: impl IntoIden, backend: DbBackend) -> ColumnDef {
    let mut def = ColumnDef::new(column);
    def.text().not_null();
    if backend == DbBackend::Postgres {
        def.extra("COLLATE \"C\"");
    }
    def
}
