//! File metadata in the service's own `files` table (sea-orm).

use roster_kit::{Error, Result};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::domain::{FilePage, FileRecord, FileRepository, Purpose, VariantInfo};

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "files")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        #[sea_orm(unique)]
        pub id: String,
        pub owner_user_id: i64,
        pub purpose: String,
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
}

use entity::{ActiveModel, Column, Entity, Model};

/// The sea-orm implementation of [`FileRepository`].
#[derive(Clone, Debug)]
pub struct SeaOrmFiles {
    db: DatabaseConnection,
}

impl SeaOrmFiles {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_record(model: Model) -> Result<FileRecord> {
    let purpose = Purpose::parse(&model.purpose).ok_or_else(|| {
        Error::internal(format!("file {} has purpose {:?}", model.id, model.purpose))
    })?;
    let variants: Vec<VariantInfo> =
        serde_json::from_str(&model.variants).map_err(Error::internal)?;
    Ok(FileRecord {
        id: model.id,
        owner_user_id: model.owner_user_id,
        purpose,
        name: model.name,
        content_type: model.content_type,
        size: u64::try_from(model.size).map_err(Error::internal)?,
        width: u32::try_from(model.width).map_err(Error::internal)?,
        height: u32::try_from(model.height).map_err(Error::internal)?,
        sha256: model.sha256,
        variants,
        created_at: model.created_at,
    })
}

impl FileRepository for SeaOrmFiles {
    async fn insert(&self, record: &FileRecord) -> Result<()> {
        let row = ActiveModel {
            seq: NotSet,
            id: Set(record.id.clone()),
            owner_user_id: Set(record.owner_user_id),
            purpose: Set(record.purpose.as_str().to_owned()),
            name: Set(record.name.clone()),
            content_type: Set(record.content_type.clone()),
            size: Set(i64::try_from(record.size).map_err(Error::internal)?),
            width: Set(i32::try_from(record.width).map_err(Error::internal)?),
            height: Set(i32::try_from(record.height).map_err(Error::internal)?),
            sha256: Set(record.sha256.clone()),
            variants: Set(serde_json::to_string(&record.variants).map_err(Error::internal)?),
            created_at: Set(record.created_at),
        };
        row.insert(&self.db).await?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<FileRecord>> {
        Entity::find()
            .filter(Column::Id.eq(id))
            .one(&self.db)
            .await?
            .map(to_record)
            .transpose()
    }

    async fn list(
        &self,
        owner: i64,
        purpose: Option<Purpose>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<FilePage> {
        let mut query = Entity::find().filter(Column::OwnerUserId.eq(owner));
        if let Some(purpose) = purpose {
            query = query.filter(Column::Purpose.eq(purpose.as_str()));
        }
        if let Some(before) = before {
            query = query.filter(Column::Seq.lt(before));
        }
        let mut rows = query
            .order_by_desc(Column::Seq)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        let has_more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).map_err(Error::internal)?);
        let files = rows
            .into_iter()
            .map(|row| Ok((row.seq, to_record(row)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(FilePage { files, has_more })
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        let result = Entity::delete_many()
            .filter(Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }
}
