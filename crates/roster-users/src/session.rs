//! Session validity: a user token stops working once the user's tokens are
//! revoked, the user is deleted, or the user is banned.

use futures::future::BoxFuture;
use roster_kit::{
    Actor, Error,
    auth::{SessionCheck, session_refused},
};

use crate::{
    domain::{UserKey, session_refusal},
    store::UserStore,
};

pub struct UserSessionCheck {
    store: UserStore,
}

impl UserSessionCheck {
    pub fn new(store: UserStore) -> Self {
        Self { store }
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
            let user = self.store.find(&UserKey::Id(*user_id)).await?;
            match session_refusal(user.as_ref(), *generation) {
                None => Ok(()),
                Some(reason) => Err(session_refused(reason)),
            }
        })
    }
}
