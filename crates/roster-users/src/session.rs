//! Session validity: a user token stops working once the user's tokens are
//! revoked, the user is deleted, or the user is banned.

use futures::future::BoxFuture;
use roster_kit::{Actor, Error, auth::SessionCheck, error::ErrorKind};

use crate::{domain::UserKey, store::UserStore};

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
            let revoked =
                || Error::unauthenticated("TOKEN_REVOKED", "this session has been revoked");
            let user = self
                .store
                .find(&UserKey::Id(*user_id))
                .await?
                .ok_or_else(revoked)?;
            if user.is_deleted || user.token_generation != *generation {
                return Err(revoked());
            }
            if user.is_global_banned {
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    "USER_BANNED",
                    "this user is banned from the network",
                ));
            }
            Ok(())
        })
    }
}
