//! One follower of the user event stream per gateway process, fanned out to
//! every event stream the gateway serves, so that a thousand open streams cost
//! the user service one watch, not a thousand.
//!
//! The hub follows `WatchUserEvents` (as the gateway: a service token) from the
//! beginning of the log, keeps the most recent events to resume streams from,
//! and reconnects after the last cursor it saw when the stream breaks.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use roster_kit::{client::PeerChannel, events::BackgroundTask};
use roster_proto::v1::{self as pb, user_service_client::UserServiceClient};
use tokio::sync::broadcast;

/// How many events a stream may fall behind the hub before it is closed (the
/// client then resumes with `Last-Event-ID`).
const LAG_ALLOWANCE: usize = 1024;

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(10);

/// A user event and its position in the log.
#[derive(Debug)]
pub struct Stamped {
    /// A kept event's own cursor; a live one's is the last kept event's before it.
    pub cursor: i64,
    /// Not kept (`EventMeta.live`): never replayed, never resumed from.
    pub live: bool,
    pub event: pb::UserEvent,
}

struct State {
    /// Cursor of the newest event seen; `None` before the first.
    latest: Option<i64>,
    /// The newest events, oldest first.
    recent: VecDeque<Arc<Stamped>>,
    /// `recent` holds every event after this cursor.
    complete_after: i64,
    capacity: usize,
}

struct Shared {
    state: Mutex<State>,
    sender: broadcast::Sender<Arc<Stamped>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push(&self, event: pb::UserEvent) {
        let cursor = event
            .meta
            .as_ref()
            .and_then(|meta| meta.cursor.parse::<i64>().ok());
        let Some(cursor) = cursor else {
            tracing::warn!("a user event without a numeric cursor; skipped");
            return;
        };
        let live = event.meta.as_ref().is_some_and(|meta| meta.live);
        let stamped = Arc::new(Stamped {
            cursor,
            live,
            event,
        });
        if live {
            // Only for the streams open now: nothing to keep or to order by.
            let _ = self.sender.send(stamped);
            return;
        }
        // Published under the lock, so a subscriber sees either the event in
        // `recent` or on its receiver, never neither nor both.
        let mut state = self.lock();
        if state.latest.is_some_and(|latest| cursor <= latest) {
            return;
        }
        state.latest = Some(cursor);
        if state.capacity > 0 {
            if state.recent.len() == state.capacity
                && let Some(evicted) = state.recent.pop_front()
            {
                state.complete_after = evicted.cursor;
            }
            state.recent.push_back(stamped.clone());
        } else {
            state.complete_after = cursor;
        }
        // No receiver is fine: nobody is streaming right now.
        let _ = self.sender.send(stamped);
    }
}

/// Live user events for the gateway's event streams.
pub struct UserEventHub {
    shared: Arc<Shared>,
    _follower: BackgroundTask,
}

/// Where a new stream starts.
pub struct Subscription {
    pub receiver: broadcast::Receiver<Arc<Stamped>>,
    /// Events after the requested cursor the hub still holds, oldest first.
    pub backlog: Vec<Arc<Stamped>>,
    /// The hub's position when subscribing: the receiver carries what comes after.
    pub position: Option<i64>,
}

impl UserEventHub {
    /// Starts following the user service; `capacity` recent events are kept.
    pub fn start(client: UserServiceClient<PeerChannel>, capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(LAG_ALLOWANCE);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                latest: None,
                recent: VecDeque::with_capacity(capacity.min(LAG_ALLOWANCE)),
                complete_after: 0,
                capacity,
            }),
            sender,
        });
        let follower = BackgroundTask::spawn(follow(client, Arc::downgrade(&shared)));
        Self {
            shared,
            _follower: follower,
        }
    }

    /// Events from now on.
    pub fn subscribe(&self) -> Subscription {
        let state = self.shared.lock();
        Subscription {
            receiver: self.shared.sender.subscribe(),
            backlog: Vec::new(),
            position: state.latest,
        }
    }

    /// Events after `after`, when the hub still holds all of them; `None`
    /// otherwise (the caller then asks the user service to replay).
    pub fn resume(&self, after: i64) -> Option<Subscription> {
        let state = self.shared.lock();
        if after < state.complete_after {
            return None;
        }
        Some(Subscription {
            receiver: self.shared.sender.subscribe(),
            backlog: state
                .recent
                .iter()
                .filter(|event| event.cursor > after)
                .cloned()
                .collect(),
            position: state.latest,
        })
    }
}

/// Whether the service no longer keeps the events after the cursor asked for.
fn expired(status: &tonic::Status) -> bool {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .is_some_and(|info| info.reason == "CURSOR_EXPIRED")
}

async fn follow(client: UserServiceClient<PeerChannel>, shared: std::sync::Weak<Shared>) {
    let mut retry = FIRST_RETRY;
    // After a long outage the hub's position may be older than the oldest event
    // kept; it then starts over at the oldest (streams resuming from the hub's
    // buffer get what is left, the events already seen are skipped).
    let mut from_oldest = false;
    loop {
        let Some(after) = shared.upgrade().map(|s| s.lock().latest) else {
            return;
        };
        let after = if from_oldest { None } else { after };
        let request = pb::WatchUserEventsRequest {
            after_cursor: after.map(|c| c.to_string()).unwrap_or_default(),
            from_now: false,
        };
        match client.clone().watch_user_events(request).await {
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(event)) => {
                            retry = FIRST_RETRY;
                            from_oldest = false;
                            let Some(shared) = shared.upgrade() else {
                                return;
                            };
                            shared.push(event);
                        }
                        Ok(None) => break,
                        Err(status) => {
                            from_oldest = expired(&status);
                            tracing::warn!(%status, "the user event stream broke; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(status) => {
                from_oldest = expired(&status);
                tracing::debug!(%status, "the user event stream is not available yet");
            }
        }
        // Reconnecting at once would spin while the user service is down.
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LAST_RETRY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(cursor: i64) -> pb::UserEvent {
        pb::UserEvent {
            meta: Some(pb::EventMeta {
                cursor: cursor.to_string(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn shared(capacity: usize) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State {
                latest: None,
                recent: VecDeque::new(),
                complete_after: 0,
                capacity,
            }),
            sender: broadcast::channel(16).0,
        })
    }

    fn hub(shared: Arc<Shared>) -> UserEventHub {
        UserEventHub {
            shared,
            _follower: BackgroundTask::spawn(async {}),
        }
    }

    #[tokio::test]
    async fn resumes_from_what_it_holds_and_only_from_there() {
        let shared = shared(3);
        for cursor in 1..=5 {
            shared.push(event(cursor));
        }
        let hub = hub(shared.clone());
        // 3, 4, 5 are held: a resume after 2 or later is complete.
        let cursors = |s: Subscription| s.backlog.iter().map(|e| e.cursor).collect::<Vec<_>>();
        assert_eq!(hub.resume(2).map(cursors), Some(vec![3, 4, 5]));
        assert_eq!(hub.resume(4).map(cursors), Some(vec![5]));
        assert!(hub.resume(1).is_none());

        let mut live = hub.subscribe();
        assert_eq!(live.position, Some(5));
        shared.push(event(6));
        shared.push(event(6)); // a replayed duplicate is dropped
        assert_eq!(live.receiver.recv().await.map(|e| e.cursor).ok(), Some(6));
        assert!(live.receiver.try_recv().is_err());
    }
}
