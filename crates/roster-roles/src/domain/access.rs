//! Who may change what in this service. Admin and service callers may do
//! everything; a user needs the call's permission in the scope, may not hand
//! out permissions it does not hold there, and may not change the roles of a
//! user exempt from moderation unless exempt too.

use std::collections::BTreeSet;

use roster_kit::{Actor, Error, Result, authz::Scope};

use super::{Roles, catalogue::names::EXEMPT_FROM_MODERATION};

/// Calls for admin and service callers only (event streams, the deletion cascade).
pub fn platform_only(actor: &Actor, call: &str) -> Result<()> {
    match actor {
        Actor::User { .. } => Err(Error::permission_denied(format!(
            "{call} is for admin and service callers"
        ))),
        Actor::Admin { .. } | Actor::Service { .. } => Ok(()),
    }
}

/// How a grant records who made it, e.g. "user:42", "admin:platform".
pub fn actor_label(actor: &Actor) -> String {
    actor.to_string()
}

impl Roles {
    /// Admin and service actors may do everything (`None`); a user needs
    /// `permission` in `scope`, and may not hand out permissions it does not hold
    /// there (`granting`). Returns what the user holds there.
    pub(super) async fn authorize(
        &self,
        actor: &Actor,
        permission: &str,
        scope: &Scope,
        granting: &BTreeSet<String>,
    ) -> Result<Option<BTreeSet<String>>> {
        let Actor::User { user_id, .. } = actor else {
            return Ok(None);
        };
        let held = self.held(*user_id, scope).await?;
        if !held.contains(permission) {
            return Err(Error::permission_denied(format!(
                "permission {permission} is required in {scope}"
            )));
        }
        let missing: Vec<&str> = granting
            .iter()
            .filter(|p| !held.contains(*p))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(Error::permission_denied(format!(
                "cannot hand out permissions you do not hold in {scope}: {}",
                missing.join(", ")
            )));
        }
        Ok(Some(held))
    }

    /// Users exempt from moderation in `scope` can have roles changed only by users
    /// exempt there too. `actor_held` is what [`Roles::authorize`] returned.
    pub(super) async fn protect_target(
        &self,
        actor_held: Option<&BTreeSet<String>>,
        target: i64,
        scope: &Scope,
    ) -> Result<()> {
        let Some(actor_held) = actor_held else {
            return Ok(());
        };
        if actor_held.contains(EXEMPT_FROM_MODERATION) {
            return Ok(());
        }
        if self
            .held(target, scope)
            .await?
            .contains(EXEMPT_FROM_MODERATION)
        {
            return Err(Error::permission_denied(format!(
                "user {target} is exempt from moderation in {scope}; only a user holding {EXEMPT_FROM_MODERATION} there may change its roles"
            )));
        }
        Ok(())
    }
}
