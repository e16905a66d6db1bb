//! User-session checks for services that run apart from the user service: they
//! ask its `CheckSession`, caching a valid answer for a short while.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use roster_proto::v1::{self as pb, user_service_client::UserServiceClient};

use crate::{
    auth::{Actor, SessionCheck, session_refused},
    cache::Cache,
    client::PeerChannel,
    error::{Error, ErrorKind},
};

const CACHED_SESSIONS: usize = 100_000;

pub struct RemoteSessionCheck {
    client: UserServiceClient<PeerChannel>,
    /// (user id, generation) → valid until.
    valid: Cache<(i64, i64), Instant>,
    ttl: Duration,
}

impl RemoteSessionCheck {
    /// Asks the user service over `channel`, trusting a valid answer for `ttl`.
    pub fn new(channel: PeerChannel, ttl: Duration) -> Self {
        Self {
            client: UserServiceClient::new(channel),
            valid: Cache::new("sessions", CACHED_SESSIONS),
            ttl,
        }
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
            let key = (*user_id, *generation);
            if self
                .valid
                .get(&key)
                .is_some_and(|until| until > Instant::now())
            {
                return Ok(());
            }
            let epoch = self.valid.epoch();
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
                self.valid.insert(key, Instant::now() + self.ttl, epoch);
                return Ok(());
            }
            Err(session_refused(&answer.reason))
        })
    }
}
