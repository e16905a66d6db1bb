//! The presence writer.
//!
//! Presence changes far more often than anything else a user has, so changes
//! are not written one transaction each: a single writer task takes every
//! change waiting when it is free, folds the changes of one user into one
//! (later fields over earlier ones), and writes them all in one transaction
//! with one PRESENCE_CHANGED event per user. While a batch commits, the next
//! one gathers; under no load a batch is a single change written at once. A
//! caller is answered when its batch committed (or failed, with that error).

use std::{collections::HashMap, sync::Arc};

use roster_kit::{Error, error::ErrorKind, origin::Origin, tasks::BackgroundTask};
use tokio::sync::{mpsc, oneshot};

use super::{
    PresenceChange, User,
    ports::{Clock, UserRepository},
};

/// Most changes one transaction writes.
const MAX_BATCH: usize = 1000;

/// Changes waiting for the writer at most; beyond, callers wait for room.
const QUEUE: usize = 4 * MAX_BATCH;

/// One user's presence change as the store writes it: fields the change leaves
/// `None` keep their stored value; `origin` goes with its event.
#[derive(Debug, Clone)]
pub struct PresenceWrite {
    pub user_id: i64,
    pub change: PresenceChange,
    pub origin: Origin,
}

struct Pending {
    write: PresenceWrite,
    answer: oneshot::Sender<Result<Option<User>, Error>>,
}

/// The presence writer: changes in, batched transactions out.
pub struct PresenceWriter {
    queue: mpsc::Sender<Pending>,
    _task: BackgroundTask,
}

impl PresenceWriter {
    pub fn start(users: Arc<dyn UserRepository>, clock: Arc<dyn Clock>) -> Self {
        let (queue, mut changes) = mpsc::channel::<Pending>(QUEUE);
        let task = BackgroundTask::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while changes.recv_many(&mut batch, MAX_BATCH).await > 0 {
                write_batch(users.as_ref(), clock.as_ref(), std::mem::take(&mut batch)).await;
            }
        });
        Self { queue, _task: task }
    }

    /// Writes `write` with the next batch; `None` when the user is gone.
    pub async fn write(&self, write: PresenceWrite) -> Result<Option<User>, Error> {
        let (answer, answered) = oneshot::channel();
        let stopped = || {
            Error::new(
                ErrorKind::Unavailable,
                "SHUTTING_DOWN",
                "the presence writer stopped",
            )
        };
        self.queue
            .send(Pending { write, answer })
            .await
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

async fn write_batch(users: &dyn UserRepository, clock: &dyn Clock, batch: Vec<Pending>) {
    let writes = fold_by_user(batch.iter().map(|pending| &pending.write));
    match users.save_presences(&writes, clock.now()).await {
        Ok(written) => {
            let written: HashMap<i64, User> = written.into_iter().map(|u| (u.id, u)).collect();
            for pending in batch {
                let user = written.get(&pending.write.user_id).cloned();
                let _ = pending.answer.send(Ok(user));
            }
        }
        Err(err) => {
            for pending in batch {
                let _ = pending.answer.send(Err(err.for_another_caller()));
            }
        }
    }
}

/// One write per user, in order of each user's first change: later fields
/// over earlier ones, the origin of the last.
fn fold_by_user<'a>(writes: impl Iterator<Item = &'a PresenceWrite>) -> Vec<PresenceWrite> {
    let mut folded: Vec<PresenceWrite> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for write in writes {
        match index.get(&write.user_id) {
            Some(&at) => {
                let into = &mut folded[at];
                let change = &write.change;
                into.change.status = change.status.clone().or(into.change.status.take());
                into.change.online = change.online.or(into.change.online);
                into.change.call_status = change.call_status.or(into.change.call_status);
                into.origin = write.origin.clone();
            }
            None => {
                index.insert(write.user_id, folded.len());
                folded.push(write.clone());
            }
        }
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CallStatus, fields::PresenceStatus};

    fn write(user_id: i64, change: PresenceChange, actor: &str) -> PresenceWrite {
        PresenceWrite {
            user_id,
            change,
            origin: Origin {
                actor: actor.into(),
                ..Origin::default()
            },
        }
    }

    #[test]
    fn one_users_changes_fold_into_one_later_fields_winning() {
        let writes = [
            write(
                1,
                PresenceChange {
                    status: PresenceStatus::parse("AWAY", "status").ok(),
                    online: Some(true),
                    ..PresenceChange::default()
                },
                "user:1",
            ),
            write(
                2,
                PresenceChange {
                    online: Some(true),
                    ..PresenceChange::default()
                },
                "user:2",
            ),
            write(
                1,
                PresenceChange {
                    online: Some(false),
                    call_status: Some(CallStatus::InCall),
                    ..PresenceChange::default()
                },
                "admin:ops",
            ),
        ];
        let folded = fold_by_user(writes.iter());
        assert_eq!(folded.len(), 2);
        assert_eq!(folded[0].user_id, 1);
        assert_eq!(
            folded[0].change.status.as_ref().map(|s| s.as_str()),
            Some("AWAY"),
            "a field the later change leaves alone keeps the earlier value"
        );
        assert_eq!(folded[0].change.online, Some(false));
        assert_eq!(folded[0].change.call_status, Some(CallStatus::InCall));
        assert_eq!(folded[0].origin.actor, "admin:ops");
        assert_eq!(folded[1].user_id, 2);
        assert_eq!(folded[1].change.status, None);
    }
}
