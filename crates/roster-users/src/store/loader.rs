//! Cache misses by id, read together.
//!
//! Under load many calls miss the cache at once (a chat that renders a
//! channel's members reads hundreds of users it has not read for a while).
//! One primary-key select each costs the database nearly as much for one row
//! as for twenty, so misses wait for a free reader, which takes every miss
//! waiting and reads them in one statement. With nothing waiting a miss is
//! read at once, alone: coalescing only ever happens while readers are busy.
//! The same id missed twice is read once.

use std::{collections::HashMap, sync::Arc};

use roster_kit::{Error, cache::Cache, error::ErrorKind, tasks::BackgroundTask};
use sea_orm::{ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, Statement};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{entity::user, mapping, rows};
use crate::domain::User;

/// Reads in flight at once (each holds one pooled connection).
const READERS: usize = 4;
/// Most ids one read asks for.
const MAX_IDS: usize = 100;

type Answer = oneshot::Sender<Result<Option<User>, Error>>;

/// Loads users by id into the cache, coalescing concurrent misses.
pub(super) struct UserLoader {
    wanted: mpsc::UnboundedSender<(i64, Answer)>,
    _dispatcher: BackgroundTask,
}

impl UserLoader {
    pub(super) fn start(db: DatabaseConnection, cache: Arc<Cache<i64, User>>) -> Self {
        let (wanted, mut queue) = mpsc::unbounded_channel::<(i64, Answer)>();
        let dispatcher = BackgroundTask::spawn(async move {
            let readers = Arc::new(Semaphore::new(READERS));
            let mut batch = Vec::with_capacity(MAX_IDS);
            loop {
                // A free reader first, then everything that waited for one.
                let Ok(reader) = readers.clone().acquire_owned().await else {
                    return;
                };
                if queue.recv_many(&mut batch, MAX_IDS).await == 0 {
                    return;
                }
                let (db, cache) = (db.clone(), cache.clone());
                let batch = std::mem::take(&mut batch);
                tokio::spawn(async move {
                    read(&db, &cache, batch).await;
                    drop(reader);
                });
            }
        });
        Self {
            wanted,
            _dispatcher: dispatcher,
        }
    }

    /// The user `id` (`None`: no such user), read with the misses waiting
    /// alongside it and cached.
    pub(super) async fn load(&self, id: i64) -> Result<Option<User>, Error> {
        let stopped = || Error::new(ErrorKind::Unavailable, "SHUTTING_DOWN", "the store stopped");
        let (answer, answered) = oneshot::channel();
        self.wanted.send((id, answer)).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

async fn read(db: &DatabaseConnection, cache: &Cache<i64, User>, batch: Vec<(i64, Answer)>) {
    let epoch = cache.epoch();
    let mut ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    let found = select(db, &ids).await.and_then(|rows| {
        rows.into_iter()
            .map(|row| mapping::user_from_row(row).map(|user| (user.id, user)))
            .collect::<Result<HashMap<_, _>, _>>()
    });
    match found {
        Ok(found) => {
            for user in found.values() {
                cache.insert(user.id, user.clone(), epoch);
            }
            for (id, answer) in batch {
                let _ = answer.send(Ok(found.get(&id).cloned()));
            }
        }
        Err(err) => {
            for (_, answer) in batch {
                let _ = answer.send(Err(err.for_another_caller()));
            }
        }
    }
}

/// On PostgreSQL one constant statement whatever the number of ids (prepared
/// once per connection; `IN (…)` would be a new statement for every count).
async fn select(db: &DatabaseConnection, ids: &[i64]) -> Result<Vec<user::Model>, Error> {
    if db.get_database_backend() != DbBackend::Postgres {
        let select = user::Entity::find().filter(user::Column::Id.is_in(ids.iter().copied()));
        return rows::find_users(db, select).await;
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    // A statement of its own: `Entity::find()` would build (and drop) the
    // entity's whole column list on every read.
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT * FROM users WHERE id = ANY(string_to_array($1, ',')::bigint[])",
        [list.into()],
    );
    rows::select_users(db, statement).await
}
