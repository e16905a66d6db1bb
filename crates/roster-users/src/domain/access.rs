//! Who may do what to users.
//!
//! Admins and Roster's own services may do everything. Any user may read
//! users. A user may change itself; changing another user needs EDIT_USER,
//! and a user exempt from moderation can be changed only by a caller who is
//! exempt too. Creating users, issuing and revoking tokens, and watching all
//! changes are platform (admin) operations.

use roster_kit::{Actor, Error, authz::Scope};

use super::{Directory, User};

/// Catalogue names of the permissions this service asks for.
const EDIT_USER: &str = "EDIT_USER";
const EXEMPT_FROM_MODERATION: &str = "EXEMPT_FROM_MODERATION";

pub fn is_privileged(actor: &Actor) -> bool {
    matches!(actor, Actor::Admin { .. } | Actor::Service { .. })
}

pub fn require_privileged(actor: &Actor, action: &str) -> Result<(), Error> {
    if is_privileged(actor) {
        Ok(())
    } else {
        Err(Error::permission_denied(format!(
            "only an admin may {action}"
        )))
    }
}

impl Directory {
    /// May `actor` change `target`? Themselves always; others with EDIT_USER,
    /// unless the target is exempt from moderation and the actor is not.
    pub(super) async fn authorize_change(&self, actor: &Actor, target: &User) -> Result<(), Error> {
        let Some(actor_id) = actor.user_id() else {
            return Ok(()); // admin or service
        };
        if actor_id == target.id {
            return Ok(());
        }
        self.permissions
            .require(actor, EDIT_USER, Scope::Network)
            .await?;
        let target_exempt = self
            .permissions
            .check(target.id, EXEMPT_FROM_MODERATION, &Scope::Network)
            .await?;
        if target_exempt
            && !self
                .permissions
                .check(actor_id, EXEMPT_FROM_MODERATION, &Scope::Network)
                .await?
        {
            return Err(Error::permission_denied(format!(
                "user {} is exempt from moderation; only a caller exempt too may change them",
                target.id
            )));
        }
        Ok(())
    }
}
