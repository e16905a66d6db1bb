//! Role service benchmark: CheckPermission and BatchCheckPermissions(100) over
//! PostgreSQL with a realistic spread of grants, the grant lookup through the
//! same pool, and the in-process `PermissionChecker` cache (what the other
//! services call on their hot path), all next to the empty RPC on the same server.
//!
//! Grants (user ids 1..=N; the role service does not know users, only ids):
//! * 5 % channel-moderator in one of 1 000 channels (half of them expiring in
//!   30 days; every 400th user also moderates a second channel);
//! * 1 % community-moderator in one of 100 communities;
//! * 0.1 % super-moderator network-wide;
//! * custom roles: 0.5 % `helper` network-wide, 0.5 % `event-host` in a community,
//!   1 % `vip` network-wide; two more custom roles exist unused.

use std::{
    collections::BTreeSet,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use roster_kit::{
    Actor, TokenKeys,
    auth::BearerToken,
    authz::{CheckerSettings, PermissionChecker, Scope},
    error::ErrorKind,
    testing::TestDatabase,
};
use roster_proto::v1::{
    self as pb, diagnostics_service_client::DiagnosticsServiceClient,
    role_service_client::RoleServiceClient,
};
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
use tonic::{service::interceptor::InterceptedService, transport::Channel};

use crate::{
    Args, local,
    measure::{Rpc, both, splitmix},
    report::Row,
};

type Authed = InterceptedService<Channel, BearerToken>;

const CHANNELS: u64 = 1000;
const COMMUNITIES: u64 = 100;
/// Distinct checks of the call mix (also the checker's warm key set).
const MIX: usize = 10_000;
/// Grants written at once while loading.
const LOAD_CONCURRENCY: usize = 16;

#[derive(Clone)]
struct Lane {
    roles: RoleServiceClient<Authed>,
    diagnostics: DiagnosticsServiceClient<Authed>,
}

struct CustomRole {
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

fn channel(n: u64) -> Scope {
    Scope::Channel(format!("channel-{}", n % CHANNELS))
}

fn community(n: u64) -> Scope {
    Scope::Community(format!("community-{}", n % COMMUNITIES))
}

/// One planned grant: (role, scope, expires).
type Planned = (&'static str, Scope, bool);

/// The grants of user `u`, by residue classes so every class is known exactly.
fn grants_of(u: u64) -> Vec<Planned> {
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

fn role_permissions(role: &str) -> BTreeSet<&'static str> {
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
fn expected(u: u64, permission: &str, scope: &Scope) -> bool {
    grants_of(u).iter().any(|(role, granted, _)| {
        granted.covers(scope) && role_permissions(role).contains(permission)
    })
}

#[derive(Debug, Clone)]
struct Check {
    user_id: i64,
    permission: &'static str,
    scope: Scope,
    allowed: bool,
}

impl Check {
    fn to_proto(&self) -> pb::PermissionCheck {
        pb::PermissionCheck {
            user_id: self.user_id,
            permission: self.permission.to_owned(),
            scope: Some(self.scope.to_proto()),
        }
    }
}

/// The `i`-th check of the mix: about half allowed; network, channel and community scopes.
fn check(i: u64, users: u64) -> Check {
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

async fn load(store: &Store, users: u64) -> anyhow::Result<usize> {
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
fn at(len: usize, n: u64) -> usize {
    (splitmix(n) % len.max(1) as u64) as usize
}

fn status(s: tonic::Status) -> String {
    s.to_string()
}

pub async fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let users = args.user_count() as u64;
    let database = TestDatabase::postgres().await;
    let suite = local::start(&database.url, |_| {}).await?;
    let keys = suite.keys.clone();
    let address = suite.address.clone();
    let store =
        Store::new(roster_roles::connect(&suite.settings.roles, &suite.settings.common).await?);

    eprintln!("loading grants for {users} users into PostgreSQL …");
    let started = Instant::now();
    let grants = load(&store, users).await?;
    let load_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{grants} grants in {load_seconds:.1} s ({:.0} grants/s)",
        grants as f64 / load_seconds
    );

    let admin = keys.issue_admin("bench", Duration::from_secs(3600))?.token;
    let bearer = BearerToken::new(&admin)?;
    let mut lanes = Vec::new();
    for _ in 0..args.connections.max(1) {
        let channel = Channel::from_shared(address.clone())?.connect().await?;
        lanes.push(Lane {
            roles: RoleServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            diagnostics: DiagnosticsServiceClient::with_interceptor(channel, bearer.clone()),
        });
    }

    let mix: Arc<Vec<Check>> = Arc::new((0..MIX as u64).map(|i| check(i, users)).collect());
    let allowed_share = mix.iter().filter(|c| c.allowed).count() as f64 / MIX as f64;
    let mismatches = verify(&lanes[0], &mix).await?;
    if mismatches > 0 {
        eprintln!("WARNING: {mismatches} of {MIX} answers differ from the grant plan");
    }
    let mix_note = format!(
        "mix of {MIX} checks, {:.0}% allowed, repeated",
        allowed_share * 100.0
    );

    eprintln!("measuring the empty RPC (ceiling) …");
    let (ping_latency, ping_run) = both(
        Rpc {
            lanes: lanes.clone(),
            f: |mut lane: Lane, _n| async move {
                lane.diagnostics
                    .ping(pb::PingRequest {})
                    .await
                    .map(|_| ())
                    .map_err(status)
            },
        },
        args.shape(),
    )
    .await?;

    eprintln!("measuring CheckPermission …");
    let rpc_mix = mix.clone();
    let (check_latency, check_run) = both(
        Rpc {
            lanes: lanes.clone(),
            f: move |mut lane: Lane, n| {
                let mix = rpc_mix.clone();
                async move {
                    let check = &mix[at(mix.len(), n)];
                    let answer = lane
                        .roles
                        .check_permission(pb::CheckPermissionRequest {
                            user_id: check.user_id,
                            permission: check.permission.to_owned(),
                            scope: Some(check.scope.to_proto()),
                        })
                        .await
                        .map_err(status)?
                        .into_inner();
                    if answer.allowed == check.allowed {
                        Ok(())
                    } else {
                        Err(format!("unexpected answer for {check:?}"))
                    }
                }
            },
        },
        args.shape(),
    )
    .await?;

    eprintln!("measuring BatchCheckPermissions(100) …");
    let rpc_mix = mix.clone();
    let (batch_latency, batch_run) = both(
        Rpc {
            lanes: lanes.clone(),
            f: move |mut lane: Lane, n| {
                let mix = rpc_mix.clone();
                async move {
                    let first = at(mix.len(), n);
                    let checks = (0..100)
                        .map(|k| mix[(first + k) % mix.len()].to_proto())
                        .collect();
                    lane.roles
                        .batch_check_permissions(pb::BatchCheckPermissionsRequest { checks })
                        .await
                        .map(|_| ())
                        .map_err(status)
                }
            },
        },
        args.shape(),
    )
    .await?;

    eprintln!("measuring the grant lookup through the same pool (ceiling of a check) …");
    let db_mix = mix.clone();
    let db_store = store.clone();
    let (db_latency, db_run) = both(
        Rpc {
            lanes: vec![()],
            f: move |(), n| {
                let mix = db_mix.clone();
                let store = db_store.clone();
                async move {
                    let user = mix[at(mix.len(), n)].user_id;
                    store
                        .active_grants_of(&[user], Utc::now())
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            },
        },
        args.shape(),
    )
    .await?;

    let (checker_rows, checker_footer) =
        measure_checker(args, &keys, &address, &mix, &ping_latency, &ping_run).await?;

    let empty = "empty RPC";
    let batch_note = "100 checks of the mix per call; rps = calls/s";
    let mut rows = vec![
        Row::latency("Ping (empty RPC)", &ping_latency, empty, &ping_latency),
        Row::throughput("Ping (empty RPC)", &ping_run, empty, &ping_run),
        Row::latency(
            "grant lookup (same pool)",
            &db_latency,
            empty,
            &ping_latency,
        )
        .with_note("active_grants_of(1 user): the query of one check"),
        Row::throughput("grant lookup (same pool)", &db_run, empty, &ping_run)
            .with_note("active_grants_of(1 user): the query of one check"),
        Row::latency("CheckPermission", &check_latency, empty, &ping_latency)
            .with_note(format!("{mix_note}; target p99 < 1 ms")),
        Row::throughput("CheckPermission", &check_run, empty, &ping_run)
            .with_note(format!("{mix_note}; target ratio ≥ 0.8")),
        Row::latency(
            "BatchCheckPermissions(100)",
            &batch_latency,
            empty,
            &ping_latency,
        )
        .with_note(batch_note),
        Row::throughput("BatchCheckPermissions(100)", &batch_run, empty, &ping_run).with_note(
            format!("{batch_note}; {:.0} checks/s", batch_run.rps * 100.0),
        ),
    ];
    rows.extend(checker_rows);

    println!(
        "\n{users} users, {grants} grants in PostgreSQL (loaded in {load_seconds:.1} s); {} in flight over {} connections for {} s; {} unloaded requests",
        args.in_flight, args.connections, args.seconds, args.unloaded
    );
    println!(
        "CheckPermission: p99 {:.3} ms unloaded (target < 1 ms), {:.2} × the empty RPC's throughput (target ≥ 0.8); {mismatches} answers differed from the grant plan",
        check_latency.p99_ms,
        check_run.rps / ping_run.rps
    );
    println!("{checker_footer}");
    drop(database);
    Ok(rows)
}

/// Asks every check of the mix once through BatchCheckPermissions; returns how
/// many answers differ from the plan (0 when the service and the plan agree).
async fn verify(lane: &Lane, mix: &[Check]) -> anyhow::Result<usize> {
    let mut client = lane.roles.clone();
    let mut mismatches = 0;
    for chunk in mix.chunks(100) {
        let answers = client
            .batch_check_permissions(pb::BatchCheckPermissionsRequest {
                checks: chunk.iter().map(Check::to_proto).collect(),
            })
            .await
            .context("verifying the call mix")?
            .into_inner()
            .results;
        mismatches += chunk
            .iter()
            .zip(&answers)
            .filter(|(check, answer)| check.allowed != answer.allowed)
            .count();
        mismatches += chunk.len().saturating_sub(answers.len());
    }
    Ok(mismatches)
}

/// The in-process `PermissionChecker` on a warm cache: `check` and `require`.
async fn measure_checker(
    args: &Args,
    keys: &Arc<TokenKeys>,
    address: &str,
    mix: &Arc<Vec<Check>>,
    ping_latency: &crate::measure::Latency,
    ping_run: &crate::measure::Throughput,
) -> anyhow::Result<(Vec<Row>, String)> {
    // The TTL is raised so the whole measurement runs on one warm cache; the
    // event stream keeps it honest as in production.
    let checker = local::checker(
        keys,
        address,
        "bench",
        CheckerSettings {
            cache_ttl: Duration::from_secs(3600),
            ..CheckerSettings::default()
        },
    )?;
    tokio::time::timeout(Duration::from_secs(10), checker.wait_until_live())
        .await
        .context("the checker's event stream did not connect")?;

    eprintln!("warming the PermissionChecker cache with the {MIX} checks …");
    futures::stream::iter(mix.iter())
        .map(|c| {
            let checker = checker.clone();
            async move { checker.check(c.user_id, c.permission, &c.scope).await }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<bool>>()
        .await?;
    let warmed = checker.remote_checks();

    eprintln!("measuring PermissionChecker::check (cached) …");
    let check_mix = mix.clone();
    let (check_latency, check_run) = both(
        Rpc {
            lanes: vec![checker.clone()],
            f: move |checker: PermissionChecker, n| {
                let mix = check_mix.clone();
                async move {
                    let c = &mix[at(mix.len(), n)];
                    match checker.check(c.user_id, c.permission, &c.scope).await {
                        Ok(allowed) if allowed == c.allowed => Ok(()),
                        Ok(_) => Err(format!("unexpected answer for {c:?}")),
                        Err(err) => Err(err.to_string()),
                    }
                }
            },
        },
        args.shape(),
    )
    .await?;
    let check_misses = checker.remote_checks() - warmed;

    eprintln!("measuring PermissionChecker::require (cached) …");
    let require_mix = mix.clone();
    let (require_latency, require_run) = both(
        Rpc {
            lanes: vec![checker.clone()],
            f: move |checker: PermissionChecker, n| {
                let mix = require_mix.clone();
                async move {
                    let c = &mix[at(mix.len(), n)];
                    let actor = Actor::User {
                        user_id: c.user_id,
                        generation: 0,
                    };
                    match checker.require(&actor, c.permission, c.scope.clone()).await {
                        Ok(()) if c.allowed => Ok(()),
                        Err(err) if !c.allowed && err.kind == ErrorKind::PermissionDenied => Ok(()),
                        Ok(()) => Err(format!("unexpected answer for {c:?}")),
                        Err(err) => Err(err.to_string()),
                    }
                }
            },
        },
        args.shape(),
    )
    .await?;
    let require_misses = checker.remote_checks() - warmed - check_misses;

    let empty = "empty RPC";
    let note = |misses: u64| {
        format!(
            "in-process, no network; same mix; {misses} cache misses while measuring; {} tasks on {} cores for throughput",
            args.in_flight,
            std::thread::available_parallelism().map_or(0, usize::from)
        )
    };
    let rows = vec![
        Row::latency(
            "PermissionChecker.check (cached)",
            &check_latency,
            empty,
            ping_latency,
        )
        .with_note(note(check_misses)),
        Row::throughput(
            "PermissionChecker.check (cached)",
            &check_run,
            empty,
            ping_run,
        )
        .with_note(note(check_misses)),
        Row::latency(
            "PermissionChecker.require (cached)",
            &require_latency,
            empty,
            ping_latency,
        )
        .with_note(note(require_misses)),
        Row::throughput(
            "PermissionChecker.require (cached)",
            &require_run,
            empty,
            ping_run,
        )
        .with_note(note(require_misses)),
    ];
    let footer = format!(
        "PermissionChecker: cache warmed with {warmed} remote checks; {} misses while measuring check, {} while measuring require",
        check_misses, require_misses
    );
    Ok((rows, footer))
}

#[cfg(test)]
mod tests {
    use super::*;

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
