//! The moderation domain over its real store (SQLite and PostgreSQL, a fresh
//! database per test) with in-memory fakes of the other services. Nothing waits
//! on a timer: time is a manual clock, and the runner is driven pass by pass (a
//! generous timeout only turns a hang into a failure).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fakes;
mod flows;
mod runner;
mod store;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, TimeZone, Utc};
use roster_kit::{
    Actor,
    testing::{Backend, TestDatabase},
};
use roster_moderation::{
    domain::{
        Caller, Moderation,
        deletion::{Backoff, DeletionRunner, PausePoint, RunnerSettings},
        ports::Peers,
    },
    store::Store,
};

use fakes::{CallLog, FakeFiles, FakeParticipant, FakeRoles, FakeUsers, ManualClock};

/// Turns a hang into a failure.
const GUARD: Duration = Duration::from_secs(30);
const LEASE: Duration = Duration::from_secs(60);

fn init_logs() {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,sqlx=warn")
            .try_init();
    }
}

pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).single().unwrap()
}

pub fn user(id: i64) -> Caller {
    Caller::new(
        Actor::User {
            user_id: id,
            generation: 0,
        },
        format!("req-user-{id}"),
    )
}

pub fn admin() -> Caller {
    Caller::new(
        Actor::Admin {
            client: "platform".into(),
        },
        "req-admin",
    )
}

/// A migrated store on a fresh database.
pub async fn fresh_store(backend: Backend) -> (Store, TestDatabase) {
    init_logs();
    let database = TestDatabase::new(backend).await;
    let connection = roster_kit::db::connect(&database.url).await.unwrap();
    Store::migrate(&connection).await.unwrap();
    (Store::new(connection), database)
}

/// The domain over a fresh store, with fake peers.
pub struct Harness {
    pub store: Store,
    pub moderation: Arc<Moderation>,
    pub clock: Arc<ManualClock>,
    pub log: CallLog,
    pub users: Arc<FakeUsers>,
    pub roles: Arc<FakeRoles>,
    pub files: Arc<FakeFiles>,
    pub participants: Vec<Arc<FakeParticipant>>,
    _database: TestDatabase,
}

impl Harness {
    pub async fn new(backend: Backend, participants: &[&str]) -> Self {
        let (store, database) = fresh_store(backend).await;
        let clock = Arc::new(ManualClock::at(start_time()));
        let log = CallLog::default();
        let users = Arc::new(FakeUsers::new(log.clone()));
        let roles = Arc::new(FakeRoles::new(log.clone()));
        let files = Arc::new(FakeFiles::new(log.clone()));
        let participants: Vec<Arc<FakeParticipant>> = participants
            .iter()
            .map(|name| Arc::new(FakeParticipant::new(name, log.clone())))
            .collect();
        let peers = Peers {
            users: users.clone(),
            roles: roles.clone(),
            files: files.clone(),
            participants: participants
                .iter()
                .map(|p| {
                    p.clone() as Arc<dyn roster_moderation::domain::ports::DeletionParticipant>
                })
                .collect(),
        };
        let moderation = Arc::new(Moderation::new(
            Arc::new(store.clone()),
            peers,
            clock.clone(),
        ));
        Self {
            store,
            moderation,
            clock,
            log,
            users,
            roles,
            files,
            participants,
            _database: database,
        }
    }

    pub fn runner(&self, owner: &str, pause_after: Option<&str>) -> DeletionRunner {
        DeletionRunner::new(
            &self.moderation,
            RunnerSettings {
                owner: owner.into(),
                lease: LEASE,
                backoff: Backoff {
                    initial: Duration::from_secs(1),
                    max: Duration::from_secs(60),
                },
                pause_after: pause_after.map(|p| PausePoint::parse(p, "pause").unwrap()),
            },
        )
    }
}

/// Runs each listed test once per backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(roster_kit::testing::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(roster_kit::testing::Backend::Postgres).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;
