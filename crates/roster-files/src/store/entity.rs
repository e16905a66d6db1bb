//! The `files` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "files")]
pub struct Model {
    /// Insertion order: listings walk it newest first.
    #[sea_orm(primary_key)]
    pub seq: i64,
    #[sea_orm(unique)]
    pub id: String,
    pub owner_user_id: i64,
    /// `attachment` or `avatar`.
    pub purpose: String,
    /// `private` or `public`.
    pub visibility: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub width: i32,
    pub height: i32,
    pub sha256: String,
    /// JSON array of the derived variants.
    pub variants: String,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
