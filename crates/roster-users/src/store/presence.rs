//! Presence: batches of changes written in one statement, kept in this
//! replica's cache as written, and published live (see
//! `domain::presence_feed`): here once committed, on other replicas through a
//! PostgreSQL notification sent in the same transaction.

use chrono::{DateTime, TimeZone, Utc};
use roster_kit::{
    Error, db,
    origin::Origin,
    tasks::BackgroundTask,
    wake::{self, Heard},
};
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter, Statement};
use serde::{Deserialize, Serialize};

use super::{UserStore, entity::user, mapping, rows};
use crate::domain::{LivePresence, PresenceWrite, User};

/// The notification channel of presence changes.
const PRESENCE_CHANNEL: &str = "roster_users_presence";

/// A notification's payload stays under PostgreSQL's limit (8000 bytes).
const NOTICE_BYTES: usize = 7500;

/// What a replica tells the others about a committed batch: who it is (so it
/// ignores its own), when, and each changed user with the change's origin.
/// The others read the users themselves: the rows are the truth, and a
/// notification stays small.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Notice {
    replica: String,
    at_ms: i64,
    /// (user id, actor, request id, trace id)
    changes: Vec<(i64, String, String, String)>,
}

impl UserStore {
    /// Writes a batch (see `UserRecords::save_presences`) and puts the
    /// written users into the cache and onto the feed. On PostgreSQL the
    /// batch is one statement, its own transaction: the update, the
    /// notification for other replicas, and an asynchronous commit (a crash
    /// of the database may lose the last fraction of a second of presence
    /// changes, never anything else; clients report presence again anyway).
    pub(super) async fn write_presences(
        &self,
        writes: &[PresenceWrite],
        now: DateTime<Utc>,
    ) -> Result<Vec<User>, Error> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        // Noted before the commit: a change that commits after this batch and
        // invalidates its user meanwhile must win over the batch's row.
        let epoch = self.cache.epoch();
        let rows = if self.db.get_database_backend() == DbBackend::Postgres {
            rows::select_users(&self.db, self.presence_statement_postgres(writes, now)?).await?
        } else {
            let txn = db::begin_write(&self.db).await?;
            let rows = rows::select_users(&txn, presence_update_sqlite(writes)).await?;
            txn.commit().await?;
            rows
        };
        let users = rows
            .into_iter()
            .map(mapping::user_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let changes: Vec<LivePresence> = users
            .iter()
            .map(|user| {
                self.cache.refresh(user.id, user.clone(), epoch);
                LivePresence {
                    user: user.clone(),
                    origin: origin_of(writes, user.id),
                    at: now,
                }
            })
            .collect();
        self.presence.publish(changes);
        Ok(users)
    }

    /// The batch as one PostgreSQL statement: the rows and the notices are
    /// JSON parameters of a constant text (prepared once; a statement whose
    /// text grew with the batch would be parsed and described anew for every
    /// batch size, which cost more than the writes). The notices name every
    /// written user; a user that does not exist is simply not found by the
    /// replicas that read them.
    fn presence_statement_postgres(
        &self,
        writes: &[PresenceWrite],
        now: DateTime<Utc>,
    ) -> Result<Statement, Error> {
        let rows: Vec<serde_json::Value> = writes
            .iter()
            .map(|write| {
                let change = &write.change;
                serde_json::json!({
                    "id": write.user_id,
                    "status": change.status.as_ref().map(|s| s.as_str()),
                    "online": change.online,
                    "call_status": change.call_status.map(|c| c.as_str()),
                })
            })
            .collect();
        let told: Vec<(i64, &Origin)> = writes.iter().map(|w| (w.user_id, &w.origin)).collect();
        let payloads = notices(&self.replica, &told, now.timestamp_millis())
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::internal)?;
        Ok(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)),              told AS (SELECT pg_notify($2, payload)                FROM jsonb_array_elements_text($3::text::jsonb) AS payload),              written AS (UPDATE users SET                presence_status = COALESCE(v.status, users.presence_status),                online = COALESCE(v.online, users.online),                call_status = COALESCE(v.call_status, users.call_status)                FROM jsonb_to_recordset($1::text::jsonb)                  AS v(id bigint, status text, online boolean, call_status text)                WHERE users.id = v.id RETURNING users.*)              SELECT written.* FROM written,                (SELECT count(*) FROM relaxed) AS r, (SELECT count(*) FROM told) AS t",
            [
                serde_json::Value::Array(rows).to_string().into(),
                PRESENCE_CHANNEL.into(),
                serde_json::to_string(&payloads)
                    .map_err(Error::internal)?
                    .into(),
            ],
        ))
    }

    /// Publishes the presence changes other replicas commit (PostgreSQL; on
    /// SQLite one process serves the users), until the returned task is
    /// dropped. Each notification's users are read again, put in the cache
    /// and published on this replica's feed. While the listener is not
    /// listening, changes go unheard: at every (re)connection the cache is
    /// emptied, so reads are fresh again; watchers miss those changes.
    pub fn follow_remote_presence(&self) -> BackgroundTask {
        let (listener, mut heard) = wake::listen(&self.db, PRESENCE_CHANNEL.to_owned());
        let store = self.clone();
        BackgroundTask::spawn(async move {
            let _listener = listener;
            while let Some(heard) = heard.recv().await {
                match heard {
                    Heard::Listening => store.cache.clear(),
                    Heard::Payload(payload) => {
                        if let Err(err) = store.publish_remote(&payload).await {
                            tracing::warn!(error = %err, "a presence notification could not be applied");
                            store.cache.clear();
                        }
                    }
                }
            }
        })
    }

    async fn publish_remote(&self, payload: &str) -> Result<(), Error> {
        let notice: Notice = serde_json::from_str(payload).map_err(Error::internal)?;
        if notice.replica == *self.replica {
            return Ok(());
        }
        let ids: Vec<i64> = notice.changes.iter().map(|change| change.0).collect();
        // Read after the commit was heard: at least as new as the change.
        let epoch = self.cache.epoch();
        let users = self
            .rows(user::Entity::find().filter(user::Column::Id.is_in(ids)))
            .await?;
        let at = Utc
            .timestamp_millis_opt(notice.at_ms)
            .single()
            .unwrap_or_else(Utc::now);
        let changes = users
            .into_iter()
            .filter_map(|user| {
                let (_, actor, request_id, trace_id) =
                    notice.changes.iter().find(|change| change.0 == user.id)?;
                self.cache.refresh(user.id, user.clone(), epoch);
                Some(LivePresence {
                    origin: Origin {
                        actor: actor.clone(),
                        request_id: request_id.clone(),
                        trace_id: trace_id.clone(),
                        reason: String::new(),
                    },
                    user,
                    at,
                })
            })
            .collect();
        self.presence.publish(changes);
        Ok(())
    }
}

/// The origin of `user_id`'s write in the batch.
fn origin_of(writes: &[PresenceWrite], user_id: i64) -> Origin {
    writes
        .iter()
        .rev()
        .find(|write| write.user_id == user_id)
        .map(|write| write.origin.clone())
        .unwrap_or_default()
}

/// The notices of a batch's (user id, origin) pairs, each small enough for
/// one notification.
fn notices(replica: &str, changes: &[(i64, &Origin)], at_ms: i64) -> Vec<Notice> {
    let notice = || Notice {
        replica: replica.to_owned(),
        at_ms,
        changes: Vec::new(),
    };
    let mut notices = vec![notice()];
    let mut size = 0;
    for (user_id, origin) in changes {
        // Ids, quotes and commas around the three strings, generously.
        let entry = 48 + origin.actor.len() + origin.request_id.len() + origin.trace_id.len();
        if size + entry > NOTICE_BYTES {
            notices.push(notice());
            size = 0;
        }
        size += entry;
        if let Some(last) = notices.last_mut() {
            last.changes.push((
                *user_id,
                origin.actor.clone(),
                origin.request_id.clone(),
                origin.trace_id.clone(),
            ));
        }
    }
    notices
}

/// A batch of presence writes as one SQLite statement, each field
/// `COALESCE`d with its stored value, returning the updated rows (sea-query
/// builds no `UPDATE … FROM`).
fn presence_update_sqlite(writes: &[PresenceWrite]) -> Statement {
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(writes.len() * 4);
    for write in writes {
        let change = &write.change;
        values.push(write.user_id.into());
        values.push(change.status.as_ref().map(|s| s.as_str().to_owned()).into());
        values.push(change.online.into());
        values.push(change.call_status.map(|c| c.as_str().to_owned()).into());
    }
    let rows = vec!["(?, ?, ?, ?)"; writes.len()].join(", ");
    let sql = format!(
        "UPDATE users SET \
         presence_status = COALESCE(v.column2, users.presence_status), \
         online = COALESCE(v.column3, users.online), \
         call_status = COALESCE(v.column4, users.call_status) \
         FROM (VALUES {rows}) AS v WHERE users.id = v.column1 RETURNING *"
    );
    Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(actor: &str) -> Origin {
        Origin {
            actor: actor.into(),
            request_id: "9f4c2a6e-1b7d-4e0a-8c3f-5d2e7a1b9c04".into(),
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            reason: String::new(),
        }
    }

    #[test]
    fn a_large_batch_is_told_in_notifications_postgresql_takes() {
        let origins: Vec<(i64, Origin)> = (1..=1000)
            .map(|id| (id, origin(&format!("user:{id}"))))
            .collect();
        let told: Vec<(i64, &Origin)> = origins.iter().map(|(id, o)| (*id, o)).collect();
        let notices = notices("replica-a", &told, 1_700_000_000_000);
        assert!(notices.len() > 1, "a thousand changes do not fit one");
        let mut told = Vec::new();
        for notice in &notices {
            let payload = serde_json::to_string(notice).unwrap_or_default();
            assert!(payload.len() < 8000, "{} bytes", payload.len());
            let back: Notice = serde_json::from_str(&payload).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&back, notice);
            told.extend(back.changes.iter().map(|c| c.0));
        }
        assert_eq!(
            told,
            (1..=1000).collect::<Vec<_>>(),
            "each user once, in order"
        );
        assert_eq!(notices[0].changes[0].1, "user:1");
    }
}
