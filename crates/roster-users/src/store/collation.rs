//! Keeping stored keys true to the collation in force: when the collation
//! changes (`users.collation_locale`, or new Unicode/CLDR data in an upgrade),
//! every display name's sort key is remade, and names stored before canonical
//! names existed get theirs. This runs when the service starts, in batches that
//! each commit; every row records the collation its key was made with, so an
//! interrupted run resumes where it stopped, and rows written meanwhile by a
//! replica still running the old collation are caught by the next start.

use std::collections::HashSet;

use roster_kit::{Error, db};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
    sea_query::Expr,
};

use super::{UserStore, entity::user};
use crate::domain::fields::canonical_name;

/// Rows re-keyed per transaction.
const REKEY_BATCH: u64 = 500;

/// How often a batch is tried again when a concurrent insert took a canonical
/// name it was about to give.
const BATCH_ATTEMPTS: usize = 3;

/// What a re-key did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RekeyReport {
    /// Rows whose sort key was remade.
    pub rekeyed: u64,
    /// Old names given their canonical form.
    pub named: u64,
    /// Old names left without one: another user already has it (two names
    /// that differ only in composition or width, both from before the rule).
    /// They are still found by their exact name.
    pub twins: u64,
}

/// One row to re-key: id, name, display name, canonical name.
type Row = (i64, String, String, Option<String>);

impl UserStore {
    /// Remakes every sort key not made with the current collation, and gives
    /// every name without a canonical form one. Resumable; safe beside writers
    /// (a row whose display name changes meanwhile keeps the key its writer made).
    pub async fn rekey(&self) -> Result<RekeyReport, Error> {
        let current = self.collation.fingerprint();
        let mut report = RekeyReport::default();
        let mut after = 0;
        loop {
            let rows: Vec<Row> = user::Entity::find()
                .select_only()
                .column(user::Column::Id)
                .column(user::Column::Name)
                .column(user::Column::DisplayName)
                .column(user::Column::CanonicalName)
                .filter(user::Column::Id.gt(after))
                .filter(user::Column::SortKeyCollation.ne(current))
                .order_by_asc(user::Column::Id)
                .limit(REKEY_BATCH)
                .into_tuple()
                .all(&self.db)
                .await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.0;
            let mut attempt = 1;
            let batch = loop {
                match self.rekey_batch(&rows, current).await {
                    Err(err) if db::is_unique_violation(&err) && attempt < BATCH_ATTEMPTS => {
                        attempt += 1;
                    }
                    result => break result?,
                }
            };
            report.rekeyed += batch.rekeyed;
            report.named += batch.named;
            report.twins += batch.twins;
            if report.rekeyed > 0 && report.rekeyed.is_multiple_of(REKEY_BATCH * 20) {
                tracing::info!(
                    rekeyed = report.rekeyed,
                    locale = self.collation.locale(),
                    "re-keying display names"
                );
            }
        }
        Ok(report)
    }

    async fn rekey_batch(&self, rows: &[Row], current: i64) -> Result<RekeyReport, sea_orm::DbErr> {
        let mut report = RekeyReport::default();
        let canonical = self.assignable_canonical_names(rows).await?;
        let txn = self.db.begin().await?;
        for (id, name, display_name, stored_canonical) in rows {
            if stored_canonical.is_none() {
                match canonical.iter().find(|(owner, _)| owner == id) {
                    Some((_, canonical)) => {
                        user::Entity::update_many()
                            .col_expr(user::Column::CanonicalName, Expr::value(canonical.clone()))
                            .filter(user::Column::Id.eq(*id))
                            .filter(user::Column::CanonicalName.is_null())
                            .exec(&txn)
                            .await?;
                        report.named += 1;
                    }
                    None => {
                        tracing::warn!(
                            user_id = id,
                            name,
                            "another user has this name's canonical form; it stays reachable by its exact name"
                        );
                        report.twins += 1;
                    }
                }
            }
            // Guarded by the display name read: a writer that changed it since
            // wrote the key of the new one.
            let result = user::Entity::update_many()
                .col_expr(
                    user::Column::SortKey,
                    Expr::value(self.collation.sort_key(display_name)),
                )
                .col_expr(user::Column::SortKeyCollation, Expr::value(current))
                .filter(user::Column::Id.eq(*id))
                .filter(user::Column::DisplayName.eq(display_name.as_str()))
                .exec(&txn)
                .await?;
            report.rekeyed += result.rows_affected;
        }
        txn.commit().await?;
        Ok(report)
    }

    /// The canonical names the rows without one may take: those no other user
    /// has, each to the first row of the batch that wants it.
    async fn assignable_canonical_names(
        &self,
        rows: &[Row],
    ) -> Result<Vec<(i64, String)>, sea_orm::DbErr> {
        let wanted: Vec<(i64, String)> = rows
            .iter()
            .filter(|row| row.3.is_none())
            .map(|(id, name, _, _)| (*id, canonical_name(name)))
            .collect();
        if wanted.is_empty() {
            return Ok(wanted);
        }
        let mut taken: HashSet<String> = user::Entity::find()
            .select_only()
            .column(user::Column::CanonicalName)
            .filter(user::Column::CanonicalName.is_in(wanted.iter().map(|(_, c)| c.clone())))
            .into_tuple::<Option<String>>()
            .all(&self.db)
            .await?
            .into_iter()
            .flatten()
            .collect();
        Ok(wanted
            .into_iter()
            .filter(|(_, canonical)| taken.insert(canonical.clone()))
            .collect())
    }
}
