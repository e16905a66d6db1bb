use sea_orm_migration::{prelude::*, schema::*};

use crate::bytewise_text;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Custom roles only: the built-in roles live in code, so their permissions
/// follow the release without any data migration.
#[derive(DeriveIden)]
enum Roles {
    Table,
    Id,
    Name,
    Description,
    Permissions,
    Version,
    CreatedAt,
    UpdatedAt,
}

/// A role (built-in or custom, by name) held by a user in a scope.
#[derive(DeriveIden)]
enum RoleGrants {
    Table,
    Id,
    UserId,
    RoleName,
    ScopeKind,
    ScopeId,
    GrantedBy,
    GrantedAt,
    ExpiresAtMs,
}

#[derive(DeriveIden)]
enum RoleEvents {
    Table,
    Seq,
    Kind,
    Payload,
    OccurredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table(Roles::Table)
                    .col(big_pk_auto(Roles::Id))
                    // Listed in byte order of the name.
                    .col(bytewise_text(Roles::Name, backend).unique_key())
                    .col(text(Roles::Description))
                    // JSON array of permission names.
                    .col(text(Roles::Permissions))
                    .col(big_integer(Roles::Version))
                    .col(timestamp_with_time_zone(Roles::CreatedAt))
                    .col(timestamp_with_time_zone(Roles::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RoleGrants::Table)
                    .col(big_pk_auto(RoleGrants::Id))
                    .col(big_integer(RoleGrants::UserId))
                    .col(string_len(RoleGrants::RoleName, 64))
                    // "network", "channel" or "community"; the id is empty for network.
                    .col(string_len(RoleGrants::ScopeKind, 16))
                    .col(string_len(RoleGrants::ScopeId, 128))
                    .col(text(RoleGrants::GrantedBy))
                    .col(timestamp_with_time_zone(RoleGrants::GrantedAt))
                    // Milliseconds since the Unix epoch, so `expires_at_ms > now`
                    // compares numbers on both backends.
                    .col(big_integer_null(RoleGrants::ExpiresAtMs))
                    .to_owned(),
            )
            .await?;
        // One grant per (user, role, scope); also serves a user's checks.
        manager
            .create_index(
                Index::create()
                    .name("role_grants_user_role_scope")
                    .table(RoleGrants::Table)
                    .col(RoleGrants::UserId)
                    .col(RoleGrants::RoleName)
                    .col(RoleGrants::ScopeKind)
                    .col(RoleGrants::ScopeId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Members of a role in user order.
        manager
            .create_index(
                Index::create()
                    .name("role_grants_role_user")
                    .table(RoleGrants::Table)
                    .col(RoleGrants::RoleName)
                    .col(RoleGrants::UserId)
                    .col(RoleGrants::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RoleEvents::Table)
                    .col(big_pk_auto(RoleEvents::Seq))
                    .col(string_len(RoleEvents::Kind, 32))
                    .col(text(RoleEvents::Payload))
                    .col(timestamp_with_time_zone(RoleEvents::OccurredAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RoleEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RoleGrants::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Roles::Table).to_owned())
            .await
    }
}
