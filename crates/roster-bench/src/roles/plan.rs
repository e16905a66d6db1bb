//! The grants the role benchmark loads and the checks it makes, with the answer
//! each check must give: a plan computed from the user id alone, so any run
//! loads the same data and can verify every answer.

use std::collections::BTreeSet;

use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use roster_kit::authz::Scope;
use roster_proto::v1::{self as pb};
use roster_roles::{
    BuiltInRole,
    domain::{
        GrantRequest, NewRole,
        ports::{CustomRoleRepository, GrantRepository},
    },
    permissions as p,
    store::Store,
};
use sea_orm::ConnectionTrait;

use crate::measure::splitmix;

use super::{CHANNELS, COMMUNITIES};

/// Grants written at once while loading.
const LOAD_CONCURRENCY: usize = 16;

pub(super) struct CustomRole {
    name: &'static str,
    permissions: &'static [&'static str],
}

const CUSTOM_ROLES: &[CustomRole] = &[
    CustomRole {
        name: "helper",
        permissions: &[p::EDIT_MESSAGE, p::DELETE_MESSAGE, p::MUTE_CHANNEL_USER],
    },
    CustomRole {
        name: "event-host",
        permissions: &[
            p::MANAGE_COMMUNITY_STORY,
            p::REVIEW_COMMUNITY_POST,
            p::EDIT_COMMUNITY_POST,
        ],
    },
    CustomRole {
        name: "vip",
        permissions: &[p::EXEMPT_FROM_RATE_LIMITS, p::EXEMPT_FROM_REPETITION_CHECK],
    },
    CustomRole {
        name: "archivist",
        permissions: &[p::DELETE_MESSAGE, p::CLOSE_CHANNEL],
    },
    CustomRole {
        name: "translator",
        permissions: &[p::EDIT_MESSAGE],
    },
];

pub(super) fn channel(n: u64) -> Scope {
    Scope::Channel(format!("channel-{}", n % CHANNELS))
}

pub(super) fn community(n: u64) -> Scope {
    Scope::Community(format!("community-{}", n % COMMUNITIES))
}

/// One planned grant: (role, scope, expires).
type Planned = (&'static str, Scope, bool);

/// The grants of user `u`, by residue classes so every class is known exactly.
pub(super) fn grants_of(u: u64) -> Vec<Planned> {
    let mut grants = Vec::new();
    if u.is_multiple_of(20) {
        grants.push(("channel-moderator", channel(u / 20), u % 40 == 20));
        if u.is_multiple_of(400) {
            grants.push(("channel-moderator", channel(u / 20 + 500), false));
        }
    }
    match u % 100 {
        1 => grants.push(("community-moderator", community(u / 100), false)),
        5 => grants.push(("vip", Scope::Network, false)),
        _ => {}
    }
    if u % 1000 == 2 {
        grants.push(("super-moderator", Scope::Network, false));
    }
    match u % 200 {
        3 => grants.push(("helper", Scope::Network, false)),
        4 => grants.push(("event-host", community(u / 200), false)),
        _ => {}
    }
    grants
}

pub(super) fn role_permissions(role: &str) -> BTreeSet<&'static str> {
    if let Some(built_in) = BuiltInRole::from_name(role) {
        return built_in.permissions().clone();
    }
    CUSTOM_ROLES
        .iter()
        .find(|r| r.name == role)
        .map(|r| r.permissions.iter().copied().collect())
        .unwrap_or_default()
}

/// What the plan says a check must answer.
pub(super) fn expected(u: u64, permission: &str, scope: &Scope) -> bool {
    grants_of(u).iter().any(|(role, granted, _)| {
        granted.covers(scope) && role_permissions(role).contains(permission)
    })
}

#[derive(Debug, Clone)]
pub(super) struct Check {
    pub(super) user_id: i64,
    pub(super) permission: &'static str,
    pub(super) scope: Scope,
    pub(super) allowed: bool,
}

impl Check {
    pub(super) fn to_proto(&self) -> pb::PermissionCheck {
        pb::PermissionCheck {
            user_id: self.user_id,
            permission: self.permission.to_owned(),
            scope: Some(self.scope.to_proto()),
        }
    }
}

/// The `i`-th check of the mix: about half allowed; network, channel and community scopes.
pub(super) fn check(i: u64, users: u64) -> Check {
    let h = splitmix(i ^ 0x5EED);
    let pick = |step: u64, offset: u64| {
        let classes = (users.saturating_sub(offset) / step).max(1);
        step * ((h >> 8) % classes) + offset
    };
    let pick_from = |list: &[&'static str]| list[((h >> 40) % list.len() as u64) as usize];
    let channel_perms = [
        p::BAN_CHANNEL_USER,
        p::DELETE_MESSAGE,
        p::MUTE_CHANNEL_USER,
        p::EDIT_MESSAGE,
    ];
    let (u, permission, scope) = match h % 100 {
        // Channel moderators in their channel, another channel, the network.
        0..30 => {
            let u = pick(20, 20);
            (u, pick_from(&channel_perms), channel(u / 20))
        }
        30..42 => {
            let u = pick(20, 20);
            (
                u,
                pick_from(&channel_perms),
                channel(u / 20 + 1 + (h >> 20) % 400),
            )
        }
        42..47 => (pick(20, 20), p::BAN_CHANNEL_USER, Scope::Network),
        // Community moderators in their community, and in a channel.
        47..55 => {
            let u = pick(100, 1);
            let perms = [
                p::EDIT_COMMUNITY_POST,
                p::BAN_COMMUNITY_USER,
                p::EDIT_COMMUNITY,
            ];
            (u, pick_from(&perms), community(u / 100))
        }
        55..58 => (pick(100, 1), p::BAN_CHANNEL_USER, channel(h >> 20)),
        // Super-moderators anywhere, and asking for what they lack.
        58..61 => (pick(1000, 2), p::BAN_CHANNEL_USER, channel(h >> 20)),
        61..62 => (pick(1000, 2), p::BAN_USER, Scope::Network),
        // Custom roles.
        62..65 => (pick(200, 3), p::EDIT_MESSAGE, channel(h >> 20)),
        65..67 => (pick(100, 5), p::EXEMPT_FROM_RATE_LIMITS, Scope::Network),
        67..69 => {
            let u = pick(200, 4);
            (u, p::MANAGE_COMMUNITY_STORY, community(u / 200))
        }
        // Everybody else: members without grants.
        _ => {
            let u = pick(100, 6 + (h >> 50) % 13);
            let perms = [
                p::BAN_CHANNEL_USER,
                p::DELETE_MESSAGE,
                p::EDIT_COMMUNITY_POST,
                p::BAN_USER,
            ];
            let scope = if (h >> 30).is_multiple_of(2) {
                Scope::Network
            } else {
                channel(h >> 20)
            };
            (u, pick_from(&perms), scope)
        }
    };
    Check {
        user_id: i64::try_from(u).unwrap_or(i64::MAX),
        permission,
        allowed: u <= users && expected(u, permission, &scope),
        scope,
    }
}

pub(super) async fn load(store: &Store, users: u64) -> anyhow::Result<usize> {
    let now = Utc::now();
    for role in CUSTOM_ROLES {
        store
            .create_role(
                &NewRole {
                    name: role.name.to_owned(),
                    description: format!("bench role {}", role.name),
                    permissions: role.permissions.iter().map(|p| (*p).to_owned()).collect(),
                },
                now,
            )
            .await?;
    }
    let expires = now + chrono::Duration::days(30);
    let requests = (1..=users).flat_map(|u| {
        grants_of(u)
            .into_iter()
            .map(move |(role, scope, expiring)| GrantRequest {
                user_id: i64::try_from(u).unwrap_or(i64::MAX),
                role: role.to_owned(),
                scope,
                expires_at: expiring.then_some(expires),
            })
    });
    // The store's own grant path (one transaction and one outbox event each),
    // many at once: the same writes as GrantRole without the RPC around them.
    let count = futures::stream::iter(requests)
        .map(|request| async move { store.grant(&request, "admin:bench", Utc::now()).await })
        .buffer_unordered(LOAD_CONCURRENCY)
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await?;
    store
        .connection()
        .execute_unprepared("ANALYZE role_grants; ANALYZE roles")
        .await?;
    Ok(count)
}

/// Which check of the mix request `n` asks.
pub(super) fn at(len: usize, n: u64) -> usize {
    (splitmix(n) % len.max(1) as u64) as usize
}

pub(super) fn status(s: tonic::Status) -> String {
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roles::MIX;

    #[test]
    fn the_plan_has_the_documented_spread() {
        let users = 100_000;
        let count = |role: &str| {
            (1..=users)
                .flat_map(grants_of)
                .filter(|(r, _, _)| *r == role)
                .count()
        };
        assert_eq!(count("channel-moderator"), 5_000 + 250);
        assert_eq!(count("community-moderator"), 1_000);
        assert_eq!(count("super-moderator"), 100);
        assert_eq!(count("helper"), 500);
        assert_eq!(count("event-host"), 500);
        assert_eq!(count("vip"), 1_000);
    }

    #[test]
    fn the_mix_is_about_half_allowed_and_stays_within_the_users() {
        let users = 20_000;
        let mix: Vec<Check> = (0..MIX as u64).map(|i| check(i, users)).collect();
        let allowed = mix.iter().filter(|c| c.allowed).count();
        assert!((MIX * 2 / 5..MIX * 3 / 5).contains(&allowed), "{allowed}");
        assert!(mix.iter().all(|c| (1..=users as i64).contains(&c.user_id)));
        assert!(mix.iter().any(|c| c.scope == Scope::Network));
        assert!(mix.iter().any(|c| matches!(c.scope, Scope::Channel(_))));
        assert!(mix.iter().any(|c| matches!(c.scope, Scope::Community(_))));
    }
}
