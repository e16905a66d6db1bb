//! Users' network-wide roles, as the user service projects them from the role
//! service's events (shown as `User.roles`).

use serde::{Deserialize, Serialize};

/// A role granted to a user network-wide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRole {
    pub role: String,
    /// Unix milliseconds after which the grant no longer counts; `None`: never.
    pub expires_at_ms: Option<i64>,
}

/// A change of a user's network roles, from the role service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleChange {
    /// Granted, or re-granted with a new expiry.
    Granted(NetworkRole),
    Revoked {
        role: String,
    },
}

impl RoleChange {
    pub fn apply(&self, roles: &mut Vec<NetworkRole>) {
        match self {
            RoleChange::Granted(grant) => {
                roles.retain(|r| r.role != grant.role);
                roles.push(grant.clone());
                roles.sort_by(|a, b| a.role.cmp(&b.role));
            }
            RoleChange::Revoked { role } => roles.retain(|r| &r.role != role),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::domain::{User, user::test_user};

    #[test]
    fn role_changes_replace_remove_and_expire() {
        let mut roles = Vec::new();
        let grant = |role: &str, expires_at_ms| {
            RoleChange::Granted(NetworkRole {
                role: role.into(),
                expires_at_ms,
            })
        };
        grant("super-moderator", None).apply(&mut roles);
        grant("helper", Some(1_000)).apply(&mut roles);
        grant("helper", Some(5_000)).apply(&mut roles);
        assert_eq!(roles.len(), 2);
        let user_roles = |roles: &Vec<NetworkRole>, now_ms| {
            let user = User {
                network_roles: roles.clone(),
                ..test_user()
            };
            user.roles_at(DateTime::from_timestamp_millis(now_ms).unwrap_or_default())
        };
        assert_eq!(user_roles(&roles, 4_000), ["helper", "super-moderator"]);
        assert_eq!(user_roles(&roles, 5_000), ["super-moderator"]);
        RoleChange::Revoked {
            role: "super-moderator".into(),
        }
        .apply(&mut roles);
        assert_eq!(user_roles(&roles, 0), ["helper"]);
    }
}
