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

mod plan;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use roster_kit::{
    Actor, TokenKeys,
    auth::BearerToken,
    authz::{CheckerSettings, PermissionChecker},
    error::ErrorKind,
    testing::TestDatabase,
};
use roster_proto::v1::{
    self as pb, diagnostics_service_client::DiagnosticsServiceClient,
    role_service_client::RoleServiceClient,
};
use roster_roles::{domain::ports::GrantRepository, store::Store};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

use crate::{
    Args, local,
    measure::{Rpc, both},
    report::Row,
};

use plan::*;

type Authed = InterceptedService<Channel, BearerToken>;

const CHANNELS: u64 = 1000;
const COMMUNITIES: u64 = 100;
/// Distinct checks of the call mix (also the checker's warm key set).
const MIX: usize = 10_000;

#[derive(Clone)]
struct Lane {
    roles: RoleServiceClient<Authed>,
    diagnostics: DiagnosticsServiceClient<Authed>,
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
