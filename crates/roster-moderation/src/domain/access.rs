//! Who may do what. The decisions are pure functions of the caller and of what
//! the role service says the caller and the target hold, so they are tested
//! without any service; [`Moderation`](super::Moderation) asks the questions.
//!
//! * Admin and service callers may do everything a permission gates.
//! * A user caller needs, network-wide: BAN_USER to read flags, clear flags,
//!   ban, unban, read bans and read the audit log; EDIT_USER to delete users and
//!   read deletion jobs.
//! * Anyone may flag (not itself), unflag its own flag and ask what it flagged.
//! * Nobody bans a holder of EXEMPT_FROM_BAN (revoke the role first).
//! * A user caller deletes a holder of EXEMPT_FROM_MODERATION only when it holds
//!   EXEMPT_FROM_MODERATION too.
//! * Only admin and service callers watch the event stream.

use roster_kit::{Actor, Error, Result, error::ErrorKind};

use super::reasons;

/// Catalogue names of the permissions this service asks about.
pub mod permissions {
    pub const BAN_USER: &str = "BAN_USER";
    pub const EDIT_USER: &str = "EDIT_USER";
    pub const EXEMPT_FROM_BAN: &str = "EXEMPT_FROM_BAN";
    pub const EXEMPT_FROM_MODERATION: &str = "EXEMPT_FROM_MODERATION";
}

/// The user whose permissions decide, or `None` for admin and service callers,
/// who are allowed without a check.
pub fn user_to_check(actor: &Actor) -> Option<i64> {
    actor.user_id()
}

/// The outcome of a permission check for `actor` (`held`: what the role service
/// answered; ignored for admins and services).
pub fn permitted(actor: &Actor, permission: &str, held: bool) -> Result<()> {
    if user_to_check(actor).is_none() || held {
        Ok(())
    } else {
        Err(Error::permission_denied(format!(
            "permission {permission} is required network-wide"
        )))
    }
}

/// A user cannot flag itself.
pub fn may_flag(actor: &Actor, target: i64) -> Result<()> {
    if actor.user_id() == Some(target) {
        Err(Error::invalid_field("user_id", "a user cannot flag itself"))
    } else {
        Ok(())
    }
}

fn target_exempt(message: String) -> Error {
    Error::new(ErrorKind::PermissionDenied, reasons::TARGET_EXEMPT, message)
}

/// Nobody bans a holder of EXEMPT_FROM_BAN.
pub fn may_ban(target: i64, target_exempt_from_ban: bool) -> Result<()> {
    if target_exempt_from_ban {
        Err(target_exempt(format!(
            "user {target} holds {}; revoke it before banning",
            permissions::EXEMPT_FROM_BAN
        )))
    } else {
        Ok(())
    }
}

/// A user caller deletes an exempt target only when exempt too.
pub fn may_delete(
    actor: &Actor,
    target: i64,
    target_exempt: bool,
    caller_exempt: bool,
) -> Result<()> {
    if user_to_check(actor).is_some() && target_exempt && !caller_exempt {
        Err(self::target_exempt(format!(
            "user {target} holds {}; only callers who hold it too may delete it",
            permissions::EXEMPT_FROM_MODERATION
        )))
    } else {
        Ok(())
    }
}

/// Only admin and service callers watch every moderation change.
pub fn may_watch(actor: &Actor) -> Result<()> {
    match actor {
        Actor::User { .. } => Err(Error::permission_denied(
            "WatchModerationEvents is for admin and service callers",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> Actor {
        Actor::User {
            user_id: id,
            generation: 0,
        }
    }

    fn admin() -> Actor {
        Actor::Admin {
            client: "platform".into(),
        }
    }

    fn service() -> Actor {
        Actor::Service {
            name: "chat".into(),
        }
    }

    fn reason(result: Result<()>) -> Option<&'static str> {
        result.err().map(|e| e.reason)
    }

    #[test]
    fn admins_and_services_need_no_permission_users_do() {
        assert!(permitted(&admin(), permissions::BAN_USER, false).is_ok());
        assert!(permitted(&service(), permissions::EDIT_USER, false).is_ok());
        assert!(permitted(&user(1), permissions::BAN_USER, true).is_ok());
        assert_eq!(
            reason(permitted(&user(1), permissions::BAN_USER, false)),
            Some("PERMISSION_DENIED")
        );
        assert_eq!(user_to_check(&admin()), None);
        assert_eq!(user_to_check(&user(9)), Some(9));
    }

    #[test]
    fn nobody_flags_itself() {
        assert_eq!(reason(may_flag(&user(5), 5)), Some("INVALID_FIELD"));
        assert!(may_flag(&user(5), 6).is_ok());
        assert!(may_flag(&admin(), 5).is_ok());
    }

    #[test]
    fn exempt_from_ban_is_exempt_for_every_caller() {
        assert_eq!(reason(may_ban(3, true)), Some("TARGET_EXEMPT"));
        assert!(may_ban(3, false).is_ok());
    }

    #[test]
    fn exempt_targets_are_deleted_only_by_exempt_users_or_privileged_callers() {
        assert_eq!(
            reason(may_delete(&user(1), 2, true, false)),
            Some("TARGET_EXEMPT")
        );
        assert!(may_delete(&user(1), 2, true, true).is_ok());
        assert!(may_delete(&user(1), 2, false, false).is_ok());
        assert!(may_delete(&admin(), 2, true, false).is_ok());
        assert!(may_delete(&service(), 2, true, false).is_ok());
    }

    #[test]
    fn only_privileged_callers_watch() {
        assert_eq!(reason(may_watch(&user(1))), Some("PERMISSION_DENIED"));
        assert!(may_watch(&admin()).is_ok());
        assert!(may_watch(&service()).is_ok());
    }
}
