//! File metadata in the service's own `files` table (sea-orm).

use std::collections::HashSet;

use async_trait::async_trait;
use roster_kit::{Error, Result};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::entity::{ActiveModel, Column, Entity, Model};
use crate::domain::{
    FilePage, FileRecord, Purpose, VariantInfo, Visibility,
    ports::{FileRepository, ListQuery},
};

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
    let visibility = Visibility::parse(&model.visibility).ok_or_else(|| {
        Error::internal(format!(
            "file {} has visibility {:?}",
            model.id, model.visibility
        ))
    })?;
    let variants: Vec<VariantInfo> =
        serde_json::from_str(&model.variants).map_err(Error::internal)?;
    Ok(FileRecord {
        id: model.id,
        owner_user_id: model.owner_user_id,
        purpose,
        visibility,
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

#[async_trait]
impl FileRepository for SeaOrmFiles {
    async fn insert(&self, record: &FileRecord) -> Result<()> {
        let row = ActiveModel {
            seq: NotSet,
            id: Set(record.id.clone()),
            owner_user_id: Set(record.owner_user_id),
            purpose: Set(record.purpose.as_str().to_owned()),
            visibility: Set(record.visibility.as_str().to_owned()),
            name: Set(record.name.clone()),
            content_type: Set(record.content_type.clone()),
            size: Set(i64::try_from(record.size).map_err(Error::internal)?),
            width: Set(i32::try_from(record.width).map_err(Error::internal)?),
            height: Set(i32::try_from(record.height).map_err(Error::internal)?),
            sha256: Set(record.sha256.clone()),
            variants: Set(serde_json::to_string(&record.variants).map_err(Error::internal)?),
            created_at: Set(record.created_at),
        };
        // One transaction with the idempotency claim of a keyed upload, so a
        // retry never stores the file twice.
        let txn = roster_kit::db::begin_write(&self.db).await?;
        Entity::insert(row).exec_without_returning(&txn).await?;
        roster_kit::idempotency::mark_applied(&txn).await?;
        txn.commit().await?;
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

    async fn list(&self, query: &ListQuery) -> Result<FilePage> {
        let mut select = Entity::find().filter(Column::OwnerUserId.eq(query.owner_user_id));
        if let Some(purpose) = query.purpose {
            select = select.filter(Column::Purpose.eq(purpose.as_str()));
        }
        if let Some(visibility) = query.visibility {
            select = select.filter(Column::Visibility.eq(visibility.as_str()));
        }
        if let Some(before) = query.before {
            select = select.filter(Column::Seq.lt(before));
        }
        let mut rows = select
            .order_by_desc(Column::Seq)
            .limit(query.limit + 1)
            .all(&self.db)
            .await?;
        let has_more = rows.len() as u64 > query.limit;
        rows.truncate(usize::try_from(query.limit).map_err(Error::internal)?);
        let files = rows
            .into_iter()
            .map(|row| Ok((row.seq, to_record(row)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(FilePage { files, has_more })
    }

    async fn count_owned(&self, owner_user_id: i64) -> Result<u64> {
        // One count over the (owner_user_id, seq) index.
        Ok(Entity::find()
            .filter(Column::OwnerUserId.eq(owner_user_id))
            .count(&self.db)
            .await?)
    }

    async fn delete(&self, ids: &[String]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let result = Entity::delete_many()
            .filter(Column::Id.is_in(ids.iter().cloned()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected)
    }

    async fn existing(&self, ids: &[String]) -> Result<HashSet<String>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        Ok(Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::Id.is_in(ids.iter().cloned()))
            .into_tuple::<String>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect())
    }
}
