//! Sessions: a user token counts while its generation is current and the user
//! is neither deleted nor banned. Checked on every call (the chassis asks
//! [`UserSessionCheck`]), and by services running apart through `CheckSession`.

use std::sync::Arc;

use futures::future::BoxFuture;
use roster_kit::{
    Actor, Error,
    auth::{SessionCheck, session_refused},
    keys::{KeyPurpose, KeySet},
};

use super::{
    Directory, User, UserKey,
    access::require_privileged,
    directory::user_not_found,
    ports::{Clock, UserRecords},
};

/// Why a session of `user` issued at token `generation` no longer counts:
/// `TOKEN_REVOKED` (revoked, or the user is deleted or unknown) or
/// `USER_BANNED`; `None` while it is valid.
pub fn session_refusal(
    user: Option<&User>,
    generation: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<&'static str> {
    match user {
        None => Some("TOKEN_REVOKED"),
        Some(user) if user.is_deleted || user.token_generation != generation => {
            Some("TOKEN_REVOKED")
        }
        Some(user) if user.is_banned_at(now) => Some("USER_BANNED"),
        Some(_) => None,
    }
}

/// The chassis' session check in the process that runs the user service.
pub struct UserSessionCheck {
    users: Arc<dyn UserRecords>,
    clock: Arc<dyn Clock>,
}

impl UserSessionCheck {
    pub fn new(users: Arc<dyn UserRecords>, clock: Arc<dyn Clock>) -> Self {
        Self { users, clock }
    }
}

impl SessionCheck for UserSessionCheck {
    fn check<'a>(&'a self, actor: &'a Actor) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let Actor::User {
                user_id,
                generation,
            } = actor
            else {
                return Ok(());
            };
            let user = self.users.find(&UserKey::Id(*user_id)).await?;
            match session_refusal(user.as_ref(), *generation, self.clock.now()) {
                None => Ok(()),
                Some(reason) => Err(session_refused(reason)),
            }
        })
    }
}

impl Directory {
    /// Ends every session issued to the user so far (admins and services).
    pub async fn revoke_tokens(&self, actor: &Actor, key: &UserKey) -> Result<User, Error> {
        require_privileged(actor, "revoke user tokens")?;
        let user = self.get(actor, key).await?;
        self.users
            .bump_token_generation(user.id, self.clock.now())
            .await?
            .ok_or_else(|| user_not_found(key))
    }

    /// Why a user session no longer counts, `None` while valid (see
    /// [`session_refusal`]). For Roster's own services only.
    pub async fn check_session(
        &self,
        actor: &Actor,
        user_id: i64,
        generation: i64,
    ) -> Result<Option<&'static str>, Error> {
        require_privileged(actor, "check sessions")?;
        let user = self.users.find(&UserKey::Id(user_id)).await?;
        Ok(session_refusal(user.as_ref(), generation, self.clock.now()))
    }

    /// The public keys that sign sessions, for products to verify them offline.
    /// Anyone may read them.
    pub fn session_keys(&self) -> KeySet {
        self.keys.public_keys(KeyPurpose::Session)
    }
}
