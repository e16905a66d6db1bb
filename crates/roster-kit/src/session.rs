//! User-session checks for services that run apart from the user service: they
//! ask its `CheckSession`, caching a valid answer for a short while.
//!
//! Bound on staleness: the cache is kept honest by following the user service's
//! `WatchUserEvents` (from now): any event about a user that may change whether
//! its sessions count (tokens revoked, banned, deleted, updated…) drops that user's cached answer as soon as it arrives,
//! about a round trip after the change commits on any replica (the user
//! service's streams wake on PostgreSQL notifications). While that stream is
//! not connected (start-up, the user service restarting, network trouble) the
//! cache is neither read nor filled: every check asks the user service. A
//! cached answer is in any case trusted no longer than `auth.session_cache_ms`.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures::future::BoxFuture;
use roster_proto::v1::{self as pb, user_service_client::UserServiceClient};

use crate::{
    auth::{Actor, SessionCheck, session_refused},
    cache::Cache,
    client::PeerChannel,
    error::{Error, ErrorKind},
    events::{START_CURSOR_HEADER, ended_by_drain},
    tasks::BackgroundTask,
};

const CACHED_SESSIONS: usize = 100_000;

/// How long the follower waits before watching again after the stream broke.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

pub struct RemoteSessionCheck {
    client: UserServiceClient<PeerChannel>,
    shared: Arc<Shared>,
    ttl: Duration,
    _follower: BackgroundTask,
}

struct Shared {
    /// user id → (generation found valid, valid until).
    valid: Cache<i64, (i64, Instant)>,
    /// Whether the user event stream is connected, so the cache may be used.
    live: AtomicBool,
}

impl Shared {
    fn set_live(&self, live: bool) {
        // Whatever was cached may have missed events while not connected.
        self.valid.clear();
        self.live.store(live, Ordering::SeqCst);
    }
}

impl RemoteSessionCheck {
    /// Asks the user service over `channel`, trusting a valid answer for at
    /// most `ttl`, and follows its user events to forget an answer as soon as
    /// the user changes. Call it inside a Tokio runtime.
    pub fn new(channel: PeerChannel, ttl: Duration) -> Self {
        let client = UserServiceClient::new(channel);
        let shared = Arc::new(Shared {
            valid: Cache::new("sessions", CACHED_SESSIONS),
            live: AtomicBool::new(false),
        });
        let follower = BackgroundTask::spawn(follow_user_events(client.clone(), shared.clone()));
        Self {
            client,
            shared,
            ttl,
            _follower: follower,
        }
    }

    /// Whether the user event stream is connected (cached answers are used).
    pub fn is_live(&self) -> bool {
        self.shared.live.load(Ordering::SeqCst)
    }
}

impl SessionCheck for RemoteSessionCheck {
    fn check<'a>(&'a self, actor: &'a Actor) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let Actor::User {
                user_id,
                generation,
            } = actor
            else {
                return Ok(());
            };
            let live = self.is_live();
            if live
                && self
                    .shared
                    .valid
                    .get(user_id)
                    .is_some_and(|(valid, until)| valid == *generation && until > Instant::now())
            {
                return Ok(());
            }
            // Noted before asking: an event arriving meanwhile keeps the
            // answer out of the cache.
            let epoch = self.shared.valid.epoch();
            let answer = self
                .client
                .clone()
                .check_session(pb::CheckSessionRequest {
                    user_id: *user_id,
                    generation: *generation,
                })
                .await
                .map_err(|status| {
                    Error::new(
                        ErrorKind::Unavailable,
                        "UNAVAILABLE",
                        "the user service did not answer a session check",
                    )
                    .with_source(status)
                })?
                .into_inner();
            if answer.valid {
                if live && !self.ttl.is_zero() {
                    self.shared.valid.insert(
                        *user_id,
                        (*generation, Instant::now() + self.ttl),
                        epoch,
                    );
                }
                return Ok(());
            }
            Err(session_refused(&answer.reason))
        })
    }
}

/// Follows `WatchUserEvents` forever (from now, then resuming after the last
/// event seen), dropping the cached answer of every user an event is about.
async fn follow_user_events(mut client: UserServiceClient<PeerChannel>, shared: Arc<Shared>) {
    let mut cursor: Option<String> = None;
    loop {
        let request = pb::WatchUserEventsRequest {
            from_now: cursor.is_none(),
            after_cursor: cursor.clone().unwrap_or_default(),
        };
        match client.watch_user_events(request).await {
            Ok(response) => {
                if let Some(start) = response
                    .metadata()
                    .get(START_CURSOR_HEADER)
                    .and_then(|v| v.to_str().ok())
                {
                    cursor.get_or_insert_with(|| start.to_owned());
                }
                let mut stream = response.into_inner();
                shared.set_live(true);
                loop {
                    match stream.message().await {
                        Ok(Some(event)) => {
                            // Presence and flag counts never change whether a
                            // session counts; everything else may.
                            let irrelevant = matches!(
                                event.kind(),
                                pb::UserEventKind::PresenceChanged
                                    | pb::UserEventKind::FlagCountChanged
                            );
                            if let Some(user) = event.user.as_ref().filter(|_| !irrelevant) {
                                shared.valid.invalidate(&user.id);
                            }
                            if let Some(meta) = event.meta {
                                cursor = Some(meta.cursor);
                            }
                        }
                        Ok(None) => break,
                        Err(status) if ended_by_drain(&status) => break,
                        Err(status) => {
                            tracing::warn!(error = %status, "user event stream broke; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(status) => {
                tracing::debug!(error = %status, "user event stream not available yet");
                if status.code() == tonic::Code::OutOfRange {
                    // Resuming is no longer possible; start from now (the cache
                    // is emptied on reconnecting anyway).
                    cursor = None;
                }
            }
        }
        shared.set_live(false);
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}
