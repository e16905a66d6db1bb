//! The orphan sweep: stored objects that no file row names. An upload writes
//! its objects first and its row last, so a process that stops between the two
//! (a crash, a kill at the drain deadline) leaves objects nobody can reach.
//! The sweep deletes them once they are older than a grace period, which keeps
//! it off uploads in progress: their row goes in right after their objects.

use std::{collections::HashSet, time::Duration};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use roster_kit::Result;

use super::{Files, ObjectKey};

/// Objects checked against the rows with one query.
const SWEEP_BATCH: usize = 500;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Objects listed.
    pub examined: u64,
    /// Orphans deleted.
    pub deleted: u64,
}

impl Files {
    /// Deletes the stored objects that no file row names and that were
    /// written more than `grace` before `now`.
    pub async fn sweep_orphans(&self, grace: Duration, now: DateTime<Utc>) -> Result<SweepReport> {
        let cutoff = chrono::Duration::from_std(grace)
            .ok()
            .and_then(|grace| now.checked_sub_signed(grace))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut report = SweepReport::default();
        let mut candidates = Vec::new();
        let mut objects = self.objects.list();
        while let Some(object) = objects.next().await {
            let object = object?;
            report.examined += 1;
            if object.last_modified <= cutoff {
                candidates.push(object.key);
            }
            if candidates.len() >= SWEEP_BATCH {
                report.deleted += self.delete_orphans(std::mem::take(&mut candidates)).await?;
            }
        }
        report.deleted += self.delete_orphans(candidates).await?;
        Ok(report)
    }

    /// Deletes those of `keys` whose file has no row; returns how many.
    async fn delete_orphans(&self, keys: Vec<ObjectKey>) -> Result<u64> {
        if keys.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = keys
            .iter()
            .map(|key| key.file_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let existing = self.repo.existing(&ids).await?;
        let orphans: Vec<ObjectKey> = keys
            .into_iter()
            .filter(|key| !existing.contains(&key.file_id))
            .collect();
        if !orphans.is_empty() {
            tracing::info!(
                orphans = orphans.len(),
                "deleting stored objects without a file row"
            );
            self.objects.delete(&orphans).await?;
        }
        Ok(orphans.len() as u64)
    }
}
