//! Roster moderation service (`roster.v1.ModerationService`): flags, global
//! bans, durable user-deletion cascades with receipts, the audit log and the
//! moderation event stream.
//!
//! Layers (see the README's "Layout"): [`grpc`] (transport) → [`domain`]
//! (rules, and the ports it needs) ← [`store`] (sea-orm) and [`peers`] (the
//! other services over gRPC); this file joins them.

pub mod domain;
pub mod grpc;
pub mod peers;
pub mod settings;
pub mod store;

use std::{sync::Arc, time::Duration};

use domain::{
    Moderation, SystemClock,
    deletion::DeletionRunner,
    ports::{DeletionParticipant, Peers},
};
use roster_kit::{
    Result,
    events::BackgroundTask,
    server::ServerBuilder,
    service::{Peer, RosterService, ServiceContext},
};
use roster_migrations::ModerationMigrator;
use roster_proto::v1::moderation_service_server::ModerationServiceServer;

pub use settings::{ModerationSettings, ParticipantSettings};

/// Calls Roster's other services make (with service tokens): the user service
/// follows the moderation events (bans, flag counts).
pub const SERVICE_METHODS: &[&str] = &["/roster.v1.ModerationService/WatchModerationEvents"];

/// The running moderation service: its domain, the deletion runner and the
/// audit log's follower of role events.
pub struct ModerationService {
    pub moderation: Arc<Moderation>,
    /// Tests wait on it (`wait_until_paused`).
    pub runner: Arc<DeletionRunner>,
    poll_interval: Duration,
    idempotency: roster_kit::idempotency::IdempotencyLedger,
    _runner_task: BackgroundTask,
    _role_audit: roster_kit::events::FollowedStream,
}

impl RosterService for ModerationService {
    const NAME: &'static str = "moderation";
    type Settings = ModerationSettings;

    async fn start(ctx: &ServiceContext, settings: &ModerationSettings) -> Result<Self> {
        settings.validate()?;
        let db = ctx
            .database::<ModerationMigrator>(
                Self::NAME,
                &settings.database_url(&ctx.common.data_dir),
            )
            .await?;
        let participants = settings
            .participants
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let setting = format!("moderation.participants[{i}].endpoint");
                let channel = ctx.channel_to(&p.endpoint, &setting, Self::NAME)?;
                Ok(Arc::new(peers::ParticipantClient::new(&p.name, channel))
                    as Arc<dyn DeletionParticipant>)
            })
            .collect::<Result<Vec<_>>>()?;
        let peers = Peers {
            users: Arc::new(peers::UserClient::new(
                ctx.peer_channel(Peer::Users, Self::NAME)?,
            )),
            roles: Arc::new(peers::RoleClient::new(
                ctx.peer_channel(Peer::Roles, Self::NAME)?,
                ctx.permission_checker(Self::NAME)?,
            )),
            files: Arc::new(peers::FileClient::new(
                ctx.peer_channel(Peer::Files, Self::NAME)?,
            )),
            participants,
        };
        let idempotency =
            ctx.idempotency_ledger(db.clone(), roster_migrations::moderation::IDEMPOTENCY_TABLE);
        let store = Arc::new(store::Store::new(db));
        ctx.keep(store.wake_on_remote_commits());
        ctx.keep(roster_kit::events::prune_outbox(
            Self::NAME,
            store.clone(),
            &ctx.common.outbox,
        ));
        let moderation = Arc::new(Moderation::new(store, peers, Arc::new(SystemClock)));
        let runner = Arc::new(DeletionRunner::new(
            &moderation,
            settings.runner(ModerationSettings::new_runner_owner())?,
        ));
        let runner_task = runner.clone().spawn(settings.runner_poll_interval());
        let role_audit = peers::follow_role_changes(
            moderation.clone(),
            ctx.peer_channel(Peer::Roles, Self::NAME)?,
            Duration::from_secs(1),
        );
        Ok(Self {
            moderation,
            runner,
            poll_interval: ctx.poll_interval(),
            idempotency,
            _runner_task: runner_task,
            _role_audit: role_audit,
        })
    }

    fn register(&self, server: &mut ServerBuilder) {
        server.add_service(ModerationServiceServer::new(grpc::ModerationApi::new(
            self.moderation.clone(),
            self.poll_interval,
            self.idempotency.clone(),
        )));
        for method in SERVICE_METHODS {
            server.service_method(method);
        }
    }
}
