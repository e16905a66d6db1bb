//! The role service over real gRPC, against SQLite and PostgreSQL.
//!
//! Every test runs once per backend. Nothing waits on a timer: streams and the
//! permission checker are awaited on the events they deliver (a generous
//! timeout only turns a hang into a failure).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use roster_kit::{
    Actor, TokenKeys,
    auth::BearerToken,
    authz::{CheckerSettings, PermissionChecker, Scope},
    config::{CommonSettings, Secret},
    testing::{Backend, TestDatabase, local_listener},
};
use roster_proto::v1::{self as pb, role_service_client::RoleServiceClient};
use roster_roles::{BuiltInRole, CATALOGUE, Clock, MATRIX, RolesSettings};
use sea_orm::DatabaseConnection;
use tonic::{Code, Status, service::interceptor::InterceptedService, transport::Channel};
use tonic_types::StatusExt;

type Client = RoleServiceClient<InterceptedService<Channel, BearerToken>>;

const SECRET: [u8; 32] = [42; 32];
const GUARD: Duration = Duration::from_secs(30);

// ---- harness -------------------------------------------------------------------

struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

struct TestApp {
    address: String,
    keys: TokenKeys,
    clock: Arc<ManualClock>,
    db: DatabaseConnection,
    database: Arc<TestDatabase>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

fn init_logs() {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,sqlx=warn")
            .try_init();
    }
}

async fn spawn_app(backend: Backend) -> TestApp {
    spawn_on(Arc::new(TestDatabase::new(backend).await)).await
}

/// A server instance on `database` (several instances may share one).
async fn spawn_on(database: Arc<TestDatabase>) -> TestApp {
    init_logs();
    let common = CommonSettings {
        event_poll_interval_ms: 20,
        ..CommonSettings::default()
    };
    let settings = RolesSettings {
        database_url: Some(Secret::new(database.url.clone())),
    };
    let db = roster_roles::connect(&settings, &common)
        .await
        .expect("connect");
    let clock = Arc::new(ManualClock(Mutex::new(Utc::now())));
    let service = roster_roles::service_with_clock(db.clone(), &common, clock.clone());
    let keys = TokenKeys::new(&SECRET, "roster").expect("keys");
    let (listener, address) = local_listener().await;
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let server_keys = Arc::new(keys.clone());
    tokio::spawn(async move {
        let stop = async {
            let _ = stop.await;
        };
        if let Err(err) = roster_roles::serve(listener, stop, service, server_keys, &common).await {
            eprintln!("server failed: {err}");
        }
    });
    TestApp {
        address,
        keys,
        clock,
        db,
        database,
        _shutdown: shutdown,
    }
}

impl TestApp {
    async fn client(&self, token: &str) -> Client {
        let channel = Channel::from_shared(self.address.clone())
            .expect("address")
            .connect()
            .await
            .expect("connect to the server");
        RoleServiceClient::with_interceptor(channel, BearerToken::new(token).expect("token"))
    }

    async fn admin(&self) -> Client {
        let token = self
            .keys
            .issue_admin("platform", Duration::from_secs(3600))
            .expect("admin token");
        self.client(&token.token).await
    }

    async fn service_client(&self) -> Client {
        let token = self
            .keys
            .issue_service("moderation", Duration::from_secs(3600))
            .expect("service token");
        self.client(&token.token).await
    }

    async fn user(&self, user_id: i64) -> Client {
        let token = self
            .keys
            .issue_user(user_id, 0, Duration::from_secs(3600))
            .expect("user token");
        self.client(&token.token).await
    }

    fn service_token(&self) -> String {
        self.keys
            .issue_service("test-service", Duration::from_secs(3600))
            .expect("service token")
            .token
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_backends!(
    catalogue_is_listed_with_groups_descriptions_and_holders,
    reads_need_only_an_authenticated_caller,
    built_in_roles_are_listed_and_read_only,
    default_matrix_row_by_row,
    custom_role_lifecycle,
    role_changes_need_their_permission,
    grants_need_assign_user_role_in_their_scope,
    scoped_grants_apply_only_in_their_scope,
    global_admin_and_member_cannot_be_granted,
    protected_targets_need_an_exempt_actor,
    expiry_is_validated_and_expired_grants_stop_counting,
    listings_are_paged,
    batch_checks_answer_per_item,
    events_stream_in_order_and_resume,
    a_second_instance_sees_a_revoke,
    permission_checker_caches_and_follows_revokes,
);

// ---- helpers -------------------------------------------------------------------

fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

fn fields(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

#[track_caller]
fn assert_refused<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, Status>,
    code: Code,
    why: &str,
) -> Status {
    let status = result.expect_err("the call should fail");
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason(&status), why, "{status:?}");
    status
}

fn network() -> Option<pb::Scope> {
    Some(Scope::Network.to_proto())
}

fn channel(id: &str) -> Option<pb::Scope> {
    Some(Scope::Channel(id.into()).to_proto())
}

fn community(id: &str) -> Option<pb::Scope> {
    Some(Scope::Community(id.into()).to_proto())
}

fn ts(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    }
}

async fn grant(
    client: &mut Client,
    user_id: i64,
    role: &str,
    scope: Option<pb::Scope>,
) -> pb::GrantRoleResponse {
    client
        .grant_role(pb::GrantRoleRequest {
            user_id,
            role: role.into(),
            scope,
            expires_at: None,
        })
        .await
        .unwrap_or_else(|s| panic!("granting {role} to {user_id}: {s:?}"))
        .into_inner()
}

async fn create_role(client: &mut Client, name: &str, permissions: &[&str]) -> pb::Role {
    client
        .create_role(pb::CreateRoleRequest {
            name: name.into(),
            description: format!("test role {name}"),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        })
        .await
        .unwrap_or_else(|s| panic!("creating {name}: {s:?}"))
        .into_inner()
}

async fn allowed(
    client: &mut Client,
    user_id: i64,
    permission: &str,
    scope: Option<pb::Scope>,
) -> bool {
    client
        .check_permission(pb::CheckPermissionRequest {
            user_id,
            permission: permission.into(),
            scope,
        })
        .await
        .unwrap_or_else(|s| panic!("checking {permission}: {s:?}"))
        .into_inner()
        .allowed
}

async fn next_event(stream: &mut tonic::Streaming<pb::RoleEvent>) -> pb::RoleEvent {
    tokio::time::timeout(GUARD, stream.message())
        .await
        .expect("no event arrived")
        .expect("stream failed")
        .expect("stream ended")
}

// ---- tests ---------------------------------------------------------------------

async fn catalogue_is_listed_with_groups_descriptions_and_holders(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut user = app.user(5).await;
    let listed = user
        .list_permissions(pb::ListPermissionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .permissions;
    assert_eq!(listed.len(), CATALOGUE.len());
    for (permission, entry) in listed.iter().zip(CATALOGUE) {
        assert_eq!(permission.name, entry.name);
        assert!(!permission.description.is_empty());
        assert_ne!(permission.group, pb::PermissionGroup::Unspecified as i32);
    }
    let find = |name: &str| listed.iter().find(|p| p.name == name).unwrap();
    assert_eq!(find("BAN_USER").built_in_roles, ["global-admin"]);
    assert_eq!(find("BAN_USER").group, pb::PermissionGroup::User as i32);
    assert_eq!(
        find("EXEMPT_FROM_MODERATION").built_in_roles,
        ["global-admin", "super-moderator"]
    );
    assert_eq!(
        find("EXEMPT_FROM_BAN").group,
        pb::PermissionGroup::Exemption as i32
    );
    assert_eq!(
        find("CONSOLE_ACCESS").group,
        pb::PermissionGroup::Access as i32
    );
    assert_eq!(
        find("MANAGE_NOTIFICATION_NETWORK_SETTING").built_in_roles,
        [
            "channel-moderator",
            "community-moderator",
            "global-admin",
            "super-moderator"
        ]
    );
}

async fn reads_need_only_an_authenticated_caller(backend: Backend) {
    let app = spawn_app(backend).await;
    let channel = Channel::from_shared(app.address.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut anonymous = RoleServiceClient::new(channel);
    let status = anonymous
        .list_permissions(pb::ListPermissionsRequest {})
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = anonymous
        .check_permission(pb::CheckPermissionRequest {
            user_id: 1,
            permission: "BAN_USER".into(),
            scope: None,
        })
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    let refused = [
        anonymous
            .get_role(pb::GetRoleRequest {
                name: "member".into(),
            })
            .await
            .err(),
        anonymous
            .list_roles(pb::ListRolesRequest::default())
            .await
            .err(),
        anonymous
            .list_user_roles(pb::ListUserRolesRequest {
                user_id: 3,
                ..Default::default()
            })
            .await
            .err(),
        anonymous
            .list_role_members(pb::ListRoleMembersRequest {
                role: "member".into(),
                ..Default::default()
            })
            .await
            .err(),
        anonymous
            .batch_check_permissions(pb::BatchCheckPermissionsRequest::default())
            .await
            .err(),
        anonymous
            .watch_role_events(pb::WatchRoleEventsRequest::default())
            .await
            .err(),
    ];
    for status in refused {
        assert_eq!(status.map(|s| s.code()), Some(Code::Unauthenticated));
    }

    // Any user may read everything there is to read.
    let mut user = app.user(9).await;
    user.list_permissions(pb::ListPermissionsRequest {})
        .await
        .unwrap();
    user.get_role(pb::GetRoleRequest {
        name: "super-moderator".into(),
    })
    .await
    .unwrap();
    user.list_roles(pb::ListRolesRequest::default())
        .await
        .unwrap();
    user.list_user_roles(pb::ListUserRolesRequest {
        user_id: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    user.list_role_members(pb::ListRoleMembersRequest {
        role: "channel-moderator".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(!allowed(&mut user, 3, "BAN_USER", None).await);
    user.batch_check_permissions(pb::BatchCheckPermissionsRequest {
        checks: vec![pb::PermissionCheck {
            user_id: 3,
            permission: "BAN_USER".into(),
            scope: None,
        }],
    })
    .await
    .unwrap();
}

async fn built_in_roles_are_listed_and_read_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    create_role(&mut admin, "helpers", &["EDIT_MESSAGE"]).await;
    let roles = admin
        .list_roles(pb::ListRolesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .roles;
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "channel-moderator",
            "community-moderator",
            "global-admin",
            "helpers",
            "member",
            "super-moderator"
        ]
    );
    for role in BuiltInRole::ALL {
        let read = admin
            .get_role(pb::GetRoleRequest {
                name: role.name().into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(read.built_in);
        let expected: Vec<String> = role.permissions().iter().map(|p| (*p).to_owned()).collect();
        assert_eq!(read.permissions, expected);
        assert_eq!(read.assignable, role.assignable());

        assert_refused(
            admin
                .update_role(pb::UpdateRoleRequest {
                    name: role.name().into(),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["description".into()],
                    }),
                    description: "mine now".into(),
                    ..Default::default()
                })
                .await,
            Code::FailedPrecondition,
            "ROLE_BUILT_IN",
        );
        assert_refused(
            admin
                .delete_role(pb::DeleteRoleRequest {
                    name: role.name().into(),
                    force: true,
                })
                .await,
            Code::FailedPrecondition,
            "ROLE_BUILT_IN",
        );
    }
    assert_refused(
        admin
            .get_role(pb::GetRoleRequest {
                name: "nope".into(),
            })
            .await,
        Code::NotFound,
        "ROLE_NOT_FOUND",
    );
}

async fn default_matrix_row_by_row(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    // One user per built-in role, held network-wide; user 10 holds nothing (member).
    let member = 10;
    let holders = [
        (BuiltInRole::GlobalAdmin, 11),
        (BuiltInRole::SuperModerator, 12),
        (BuiltInRole::CommunityModerator, 13),
        (BuiltInRole::ChannelModerator, 14),
    ];
    assert!(
        roster_roles::bootstrap_global_admin(&app.db, 11)
            .await
            .unwrap()
    );
    assert!(
        !roster_roles::bootstrap_global_admin(&app.db, 11)
            .await
            .unwrap(),
        "idempotent"
    );
    for (role, user) in &holders[1..] {
        grant(&mut admin, *user, role.name(), network()).await;
    }

    for row in MATRIX {
        let columns = [
            row.holders.global_admin,
            row.holders.super_moderator,
            row.holders.community_moderator,
            row.holders.channel_moderator,
        ];
        let mut checks = Vec::new();
        let mut expected = Vec::new();
        for permission in row.permissions {
            for ((_, user), ticked) in holders.iter().zip(columns) {
                checks.push(pb::PermissionCheck {
                    user_id: *user,
                    permission: (*permission).into(),
                    scope: channel("any-channel"),
                });
                expected.push(ticked);
            }
            checks.push(pb::PermissionCheck {
                user_id: member,
                permission: (*permission).into(),
                scope: None,
            });
            expected.push(false);
        }
        let answers: Vec<bool> = admin
            .batch_check_permissions(pb::BatchCheckPermissionsRequest {
                checks: checks.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .results
            .into_iter()
            .map(|r| r.allowed)
            .collect();
        for ((check, want), got) in checks.iter().zip(expected).zip(answers) {
            assert_eq!(
                got, want,
                "row {:?}: user {} / {}",
                row.capability, check.user_id, check.permission
            );
        }
    }
}

async fn custom_role_lifecycle(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    let created = create_role(
        &mut admin,
        "helpers",
        &["EDIT_MESSAGE", "EDIT_MESSAGE", "DELETE_MESSAGE"],
    )
    .await;
    assert_eq!(created.permissions, ["DELETE_MESSAGE", "EDIT_MESSAGE"]);
    assert_eq!(created.version, 1);
    assert!(!created.built_in && created.assignable);
    assert!(created.created_at.is_some());

    let again = admin
        .create_role(pb::CreateRoleRequest {
            name: "helpers".into(),
            ..Default::default()
        })
        .await;
    assert_refused(again, Code::AlreadyExists, "ROLE_ALREADY_EXISTS");
    let built_in_name = admin
        .create_role(pb::CreateRoleRequest {
            name: "super-moderator".into(),
            ..Default::default()
        })
        .await;
    assert_refused(built_in_name, Code::AlreadyExists, "ROLE_ALREADY_EXISTS");
    let unknown = assert_refused(
        admin
            .create_role(pb::CreateRoleRequest {
                name: "broken".into(),
                permissions: vec!["EDIT_MESSAGE".into(), "FLY".into()],
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(fields(&unknown), ["permissions[1]"]);
    let bad_name = assert_refused(
        admin
            .create_role(pb::CreateRoleRequest {
                name: "Bad Name".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(fields(&bad_name), ["name"]);

    let read = admin
        .get_role(pb::GetRoleRequest {
            name: "helpers".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, created);

    let updated = admin
        .update_role(pb::UpdateRoleRequest {
            name: "helpers".into(),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["permissions".into(), "description".into()],
            }),
            description: "message helpers".into(),
            permissions: vec!["EDIT_MESSAGE".into(), "MUTE_CHANNEL_USER".into()],
            expected_version: 1,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.description, "message helpers");
    assert_eq!(updated.permissions, ["EDIT_MESSAGE", "MUTE_CHANNEL_USER"]);
    assert_refused(
        admin
            .update_role(pb::UpdateRoleRequest {
                name: "helpers".into(),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["description".into()],
                }),
                description: "stale".into(),
                expected_version: 1,
                ..Default::default()
            })
            .await,
        Code::Aborted,
        "VERSION_CONFLICT",
    );
    assert_refused(
        admin
            .update_role(pb::UpdateRoleRequest {
                name: "helpers".into(),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["name".into()],
                }),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );

    // Holders see the new permission set at once.
    grant(&mut admin, 21, "helpers", channel("a")).await;
    assert!(allowed(&mut admin, 21, "MUTE_CHANNEL_USER", channel("a")).await);
    assert!(!allowed(&mut admin, 21, "DELETE_MESSAGE", channel("a")).await);

    // Refused while granted; force revokes the grants with the role.
    assert_refused(
        admin
            .delete_role(pb::DeleteRoleRequest {
                name: "helpers".into(),
                force: false,
            })
            .await,
        Code::FailedPrecondition,
        "ROLE_IN_USE",
    );
    let deleted = admin
        .delete_role(pb::DeleteRoleRequest {
            name: "helpers".into(),
            force: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.revoked_grants, 1);
    assert!(!allowed(&mut admin, 21, "MUTE_CHANNEL_USER", channel("a")).await);
    assert_refused(
        admin
            .get_role(pb::GetRoleRequest {
                name: "helpers".into(),
            })
            .await,
        Code::NotFound,
        "ROLE_NOT_FOUND",
    );
    let grants = admin
        .list_user_roles(pb::ListUserRolesRequest {
            user_id: 21,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert!(grants.is_empty());

    // An unused role goes without force.
    create_role(&mut admin, "unused", &[]).await;
    let deleted = admin
        .delete_role(pb::DeleteRoleRequest {
            name: "unused".into(),
            force: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.revoked_grants, 0);
}

async fn role_changes_need_their_permission(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    let (nobody, creator, editor, deleter) = (30, 31, 32, 33);
    create_role(
        &mut admin,
        "role-creators",
        &["CREATE_ROLE", "EDIT_MESSAGE"],
    )
    .await;
    create_role(
        &mut admin,
        "role-editors",
        &["EDIT_ROLE", "EDIT_MESSAGE", "DELETE_MESSAGE"],
    )
    .await;
    create_role(&mut admin, "role-deleters", &["DELETE_ROLE"]).await;
    grant(&mut admin, creator, "role-creators", network()).await;
    grant(&mut admin, editor, "role-editors", network()).await;
    grant(&mut admin, deleter, "role-deleters", network()).await;
    create_role(&mut admin, "target", &["EDIT_MESSAGE"]).await;

    let new_role = |name: &str| pb::CreateRoleRequest {
        name: name.into(),
        description: String::new(),
        permissions: vec!["EDIT_MESSAGE".into()],
    };
    let edit = || pb::UpdateRoleRequest {
        name: "target".into(),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["permissions".into()],
        }),
        permissions: vec!["EDIT_MESSAGE".into(), "DELETE_MESSAGE".into()],
        ..Default::default()
    };
    let delete = || pb::DeleteRoleRequest {
        name: "target".into(),
        force: false,
    };

    // Without the permission: refused.
    for user in [nobody, editor, deleter] {
        let mut client = app.user(user).await;
        assert_refused(
            client.create_role(new_role("mine")).await,
            Code::PermissionDenied,
            "PERMISSION_DENIED",
        );
    }
    for user in [nobody, creator, deleter] {
        let mut client = app.user(user).await;
        assert_refused(
            client.update_role(edit()).await,
            Code::PermissionDenied,
            "PERMISSION_DENIED",
        );
    }
    for user in [nobody, creator, editor] {
        let mut client = app.user(user).await;
        assert_refused(
            client.delete_role(delete()).await,
            Code::PermissionDenied,
            "PERMISSION_DENIED",
        );
    }
    // A channel-scoped CREATE_ROLE is not network-wide.
    grant(&mut admin, nobody, "channel-moderator", channel("a")).await;
    let mut scoped = app.user(nobody).await;
    assert_refused(
        scoped.create_role(new_role("mine")).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );

    // No escalation: a role may only carry permissions its creator holds.
    let mut client = app.user(creator).await;
    let status = assert_refused(
        client
            .create_role(pb::CreateRoleRequest {
                name: "power".into(),
                permissions: vec!["BAN_USER".into()],
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    assert!(
        status.message().contains("BAN_USER"),
        "{}",
        status.message()
    );

    // With it: allowed.
    client.create_role(new_role("mine")).await.unwrap();
    let mut client = app.user(editor).await;
    client.update_role(edit()).await.unwrap();
    let mut client = app.user(deleter).await;
    client.delete_role(delete()).await.unwrap();

    // Service callers may do everything too.
    let mut service = app.service_client().await;
    service.create_role(new_role("from-service")).await.unwrap();

    // The event stream is for admin and service callers only.
    let mut user = app.user(creator).await;
    assert_refused(
        user.watch_role_events(pb::WatchRoleEventsRequest::default())
            .await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    service
        .watch_role_events(pb::WatchRoleEventsRequest::default())
        .await
        .unwrap();
}

async fn grants_need_assign_user_role_in_their_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    let (nobody, channel_admin, network_admin, narrow_admin, target) = (40, 41, 42, 43, 49);
    let channel_moderator: Vec<&str> = BuiltInRole::ChannelModerator
        .permissions()
        .iter()
        .copied()
        .collect();
    let mut assigners = channel_moderator.clone();
    assigners.push("ASSIGN_USER_ROLE");
    create_role(&mut admin, "assigners", &assigners).await;
    create_role(&mut admin, "narrow-assigners", &["ASSIGN_USER_ROLE"]).await;
    grant(&mut admin, channel_admin, "assigners", channel("a")).await;
    grant(&mut admin, network_admin, "assigners", network()).await;
    grant(&mut admin, narrow_admin, "narrow-assigners", network()).await;

    let grant_in = |scope: Option<pb::Scope>| pb::GrantRoleRequest {
        user_id: target,
        role: "channel-moderator".into(),
        scope,
        expires_at: None,
    };
    let revoke_in = |scope: Option<pb::Scope>| pb::RevokeRoleRequest {
        user_id: target,
        role: "channel-moderator".into(),
        scope,
    };

    let mut client = app.user(nobody).await;
    assert_refused(
        client.grant_role(grant_in(channel("a"))).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );

    // Held in channel a: grants there, not in channel b nor network-wide.
    let mut client = app.user(channel_admin).await;
    let granted = client
        .grant_role(grant_in(channel("a")))
        .await
        .unwrap()
        .into_inner();
    assert!(granted.created);
    assert_eq!(
        granted.grant.unwrap().granted_by,
        format!("user:{channel_admin}")
    );
    assert_refused(
        client.grant_role(grant_in(channel("b"))).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    assert_refused(
        client.grant_role(grant_in(network())).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );

    // Revoke: the same rule.
    let mut outsider = app.user(nobody).await;
    assert_refused(
        outsider.revoke_role(revoke_in(channel("a"))).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    client.revoke_role(revoke_in(channel("a"))).await.unwrap();
    assert_refused(
        client.revoke_role(revoke_in(channel("a"))).await,
        Code::NotFound,
        "GRANT_NOT_FOUND",
    );

    // Held network-wide: grants anywhere.
    let mut client = app.user(network_admin).await;
    client.grant_role(grant_in(channel("b"))).await.unwrap();
    client.grant_role(grant_in(network())).await.unwrap();
    client.revoke_role(revoke_in(network())).await.unwrap();

    // No escalation: ASSIGN_USER_ROLE alone cannot hand out channel-moderator.
    let mut client = app.user(narrow_admin).await;
    assert_refused(
        client.grant_role(grant_in(channel("c"))).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );

    // A scope is required to grant or revoke.
    let status = assert_refused(
        admin.grant_role(grant_in(None)).await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(fields(&status), ["scope"]);
    assert_refused(
        admin.revoke_role(revoke_in(None)).await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_refused(
        admin
            .grant_role(pb::GrantRoleRequest {
                role: "no-such-role".into(),
                ..grant_in(network())
            })
            .await,
        Code::NotFound,
        "ROLE_NOT_FOUND",
    );

    // Granting again replaces the expiry and says so.
    let first = grant(&mut admin, 48, "community-moderator", community("x")).await;
    assert!(first.created);
    let again = grant(&mut admin, 48, "community-moderator", community("x")).await;
    assert!(!again.created);
}

async fn scoped_grants_apply_only_in_their_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    let (in_a, everywhere, in_x) = (50, 51, 52);
    grant(&mut admin, in_a, "channel-moderator", channel("a")).await;
    grant(&mut admin, everywhere, "channel-moderator", network()).await;
    grant(&mut admin, in_x, "community-moderator", community("x")).await;

    assert!(allowed(&mut admin, in_a, "BAN_CHANNEL_USER", channel("a")).await);
    assert!(!allowed(&mut admin, in_a, "BAN_CHANNEL_USER", channel("b")).await);
    assert!(!allowed(&mut admin, in_a, "BAN_CHANNEL_USER", community("a")).await);
    assert!(!allowed(&mut admin, in_a, "BAN_CHANNEL_USER", network()).await);
    assert!(!allowed(&mut admin, in_a, "BAN_CHANNEL_USER", None).await);

    for scope in [channel("a"), channel("b"), community("x"), network()] {
        assert!(allowed(&mut admin, everywhere, "BAN_CHANNEL_USER", scope).await);
    }

    assert!(allowed(&mut admin, in_x, "BAN_COMMUNITY_USER", community("x")).await);
    assert!(!allowed(&mut admin, in_x, "BAN_COMMUNITY_USER", community("y")).await);
    assert!(!allowed(&mut admin, in_x, "BAN_COMMUNITY_USER", channel("x")).await);

    // The reason names the role and the scope.
    let answer = admin
        .check_permission(pb::CheckPermissionRequest {
            user_id: in_a,
            permission: "DELETE_MESSAGE".into(),
            scope: channel("a"),
        })
        .await
        .unwrap()
        .into_inner();
    let by = answer.granted_by.unwrap();
    assert_eq!(by.role, "channel-moderator");
    assert_eq!(by.scope, channel("a"));
    assert!(answer.valid_until.is_none());

    let status = assert_refused(
        admin
            .check_permission(pb::CheckPermissionRequest {
                user_id: in_a,
                permission: "DELETE_MESSAGE".into(),
                scope: channel(""),
            })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(fields(&status), ["scope.channel_id"]);
}

async fn global_admin_and_member_cannot_be_granted(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    for role in ["global-admin", "member"] {
        let status = assert_refused(
            admin
                .grant_role(pb::GrantRoleRequest {
                    user_id: 60,
                    role: role.into(),
                    scope: network(),
                    expires_at: None,
                })
                .await,
            Code::FailedPrecondition,
            "ROLE_NOT_ASSIGNABLE",
        );
        assert!(status.message().contains(role), "{}", status.message());
    }
    // The bootstrap path works, and the bootstrapped admin may assign roles.
    roster_roles::bootstrap_global_admin(&app.db, 60)
        .await
        .unwrap();
    assert!(allowed(&mut admin, 60, "ASSIGN_USER_ROLE", channel("q")).await);
    let mut global_admin = app.user(60).await;
    grant(&mut global_admin, 61, "super-moderator", network()).await;
    let members = admin
        .list_role_members(pb::ListRoleMembersRequest {
            role: "global-admin".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].granted_by, "bootstrap");
    // Every user holds member implicitly; it has no members to list.
    let members = admin
        .list_role_members(pb::ListRoleMembersRequest {
            role: "member".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert!(members.is_empty());
}

async fn protected_targets_need_an_exempt_actor(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    let (assigner, super_moderator, ordinary, global_admin) = (70, 71, 72, 73);
    let mut permissions: Vec<&str> = BuiltInRole::ChannelModerator
        .permissions()
        .iter()
        .copied()
        .collect();
    permissions.push("ASSIGN_USER_ROLE");
    create_role(&mut admin, "assigners", &permissions).await;
    grant(&mut admin, assigner, "assigners", network()).await;
    grant(&mut admin, super_moderator, "super-moderator", network()).await;
    grant(
        &mut admin,
        super_moderator,
        "channel-moderator",
        channel("a"),
    )
    .await;
    roster_roles::bootstrap_global_admin(&app.db, global_admin)
        .await
        .unwrap();

    let mut client = app.user(assigner).await;
    let to = |user_id: i64| pb::GrantRoleRequest {
        user_id,
        role: "channel-moderator".into(),
        scope: channel("b"),
        expires_at: None,
    };
    client.grant_role(to(ordinary)).await.unwrap();
    let status = assert_refused(
        client.grant_role(to(super_moderator)).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    assert!(status.message().contains("EXEMPT_FROM_MODERATION"));
    assert_refused(
        client.grant_role(to(global_admin)).await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    assert_refused(
        client
            .revoke_role(pb::RevokeRoleRequest {
                user_id: super_moderator,
                role: "channel-moderator".into(),
                scope: channel("a"),
            })
            .await,
        Code::PermissionDenied,
        "PERMISSION_DENIED",
    );
    // An exempt assigner (the global admin) may.
    let mut exempt = app.user(global_admin).await;
    exempt.grant_role(to(super_moderator)).await.unwrap();
    exempt
        .revoke_role(pb::RevokeRoleRequest {
            user_id: super_moderator,
            role: "channel-moderator".into(),
            scope: channel("a"),
        })
        .await
        .unwrap();
}

async fn expiry_is_validated_and_expired_grants_stop_counting(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    let now = app.clock.now();
    let status = assert_refused(
        admin
            .grant_role(pb::GrantRoleRequest {
                user_id: 80,
                role: "channel-moderator".into(),
                scope: channel("a"),
                expires_at: Some(ts(now - chrono::Duration::seconds(1))),
            })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(fields(&status), ["expires_at"]);

    let expires = now + chrono::Duration::hours(1);
    let granted = admin
        .grant_role(pb::GrantRoleRequest {
            user_id: 80,
            role: "channel-moderator".into(),
            scope: channel("a"),
            expires_at: Some(ts(expires)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(granted.grant.unwrap().expires_at, Some(ts(expires)));
    let answer = admin
        .check_permission(pb::CheckPermissionRequest {
            user_id: 80,
            permission: "BAN_CHANNEL_USER".into(),
            scope: channel("a"),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(answer.allowed);
    assert_eq!(answer.valid_until, Some(ts(expires)));

    app.clock
        .advance(chrono::Duration::hours(1) + chrono::Duration::seconds(1));
    assert!(!allowed(&mut admin, 80, "BAN_CHANNEL_USER", channel("a")).await);
    let listed = admin
        .list_user_roles(pb::ListUserRolesRequest {
            user_id: 80,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert!(listed.is_empty());
    // An expired grant does not keep a role in use.
    create_role(&mut admin, "temp", &["EDIT_MESSAGE"]).await;
    admin
        .grant_role(pb::GrantRoleRequest {
            user_id: 81,
            role: "temp".into(),
            scope: network(),
            expires_at: Some(ts(app.clock.now() + chrono::Duration::minutes(5))),
        })
        .await
        .unwrap();
    app.clock.advance(chrono::Duration::minutes(6));
    let deleted = admin
        .delete_role(pb::DeleteRoleRequest {
            name: "temp".into(),
            force: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.revoked_grants, 0);
}

async fn listings_are_paged(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    for user in [95, 91, 93] {
        grant(&mut admin, user, "channel-moderator", channel("a")).await;
    }
    grant(&mut admin, 93, "channel-moderator", channel("b")).await;
    for name in ["r1", "r2", "r3"] {
        create_role(&mut admin, name, &[]).await;
    }

    let mut members = Vec::new();
    let mut token = String::new();
    loop {
        let page = admin
            .list_role_members(pb::ListRoleMembersRequest {
                role: "channel-moderator".into(),
                page_size: 2,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.grants.len() <= 2);
        members.extend(page.grants.into_iter().map(|g| (g.user_id, g.scope)));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        members,
        [
            (91, channel("a")),
            (93, channel("a")),
            (93, channel("b")),
            (95, channel("a"))
        ]
    );

    let first = admin
        .list_user_roles(pb::ListUserRolesRequest {
            user_id: 93,
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.grants.len(), 1);
    assert_eq!(first.grants[0].scope, channel("a"));
    let second = admin
        .list_user_roles(pb::ListUserRolesRequest {
            user_id: 93,
            page_size: 1,
            page_token: first.next_page_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.grants[0].scope, channel("b"));
    assert_refused(
        admin
            .list_user_roles(pb::ListUserRolesRequest {
                user_id: 91,
                page_size: 1,
                page_token: first.next_page_token,
            })
            .await,
        Code::InvalidArgument,
        "PAGE_TOKEN_INVALID",
    );

    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = admin
            .list_roles(pb::ListRolesRequest {
                page_size: 3,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        names.extend(page.roles.into_iter().map(|r| r.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        names,
        [
            "channel-moderator",
            "community-moderator",
            "global-admin",
            "member",
            "r1",
            "r2",
            "r3",
            "super-moderator"
        ]
    );
    assert_refused(
        admin
            .list_roles(pb::ListRolesRequest {
                page_size: 101,
                page_token: String::new(),
            })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
}

async fn batch_checks_answer_per_item(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    grant(&mut admin, 100, "channel-moderator", channel("a")).await;
    grant(&mut admin, 101, "community-moderator", network()).await;
    let check = |user_id: i64, permission: &str, scope: Option<pb::Scope>| pb::PermissionCheck {
        user_id,
        permission: permission.into(),
        scope,
    };
    let results = admin
        .batch_check_permissions(pb::BatchCheckPermissionsRequest {
            checks: vec![
                check(100, "MUTE_CHANNEL", channel("a")),
                check(100, "MUTE_CHANNEL", channel("b")),
                check(101, "EDIT_COMMUNITY", community("z")),
                check(101, "MUTE_CHANNEL", channel("a")),
                check(102, "EDIT_MESSAGE", None),
            ],
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    let allowed: Vec<bool> = results.iter().map(|r| r.allowed).collect();
    assert_eq!(allowed, [true, false, true, false, false]);
    assert_eq!(
        results[2].granted_by.as_ref().unwrap().role,
        "community-moderator"
    );
    assert!(results[1].granted_by.is_none());

    let status = assert_refused(
        admin
            .batch_check_permissions(pb::BatchCheckPermissionsRequest {
                checks: vec![check(100, "MUTE_CHANNEL", None), check(100, "FLY", None)],
            })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(fields(&status), ["checks[1].permission"]);
    let too_many = (0..101)
        .map(|i| check(i + 1, "MUTE_CHANNEL", None))
        .collect();
    assert_refused(
        admin
            .batch_check_permissions(pb::BatchCheckPermissionsRequest { checks: too_many })
            .await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    let hundred = (0..100)
        .map(|i| check(i + 1, "MUTE_CHANNEL", None))
        .collect();
    let results = admin
        .batch_check_permissions(pb::BatchCheckPermissionsRequest { checks: hundred })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results.len(), 100);
}

async fn events_stream_in_order_and_resume(backend: Backend) {
    use pb::RoleEventKind as K;
    let app = spawn_app(backend).await;
    let mut admin = app.admin().await;
    create_role(&mut admin, "helpers", &["EDIT_MESSAGE"]).await;
    grant(&mut admin, 110, "helpers", channel("a")).await;

    let mut stream = admin
        .watch_role_events(pb::WatchRoleEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let created = next_event(&mut stream).await;
    assert_eq!(created.kind, K::RoleCreated as i32);
    assert_eq!(created.role.as_ref().unwrap().name, "helpers");
    let granted = next_event(&mut stream).await;
    assert_eq!(granted.kind, K::RoleGranted as i32);
    assert_eq!(granted.grant.as_ref().unwrap().user_id, 110);

    // Live changes follow.
    admin
        .update_role(pb::UpdateRoleRequest {
            name: "helpers".into(),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["description".into()],
            }),
            description: "new".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let revoked = admin
        .revoke_role(pb::RevokeRoleRequest {
            user_id: 110,
            role: "helpers".into(),
            scope: channel("a"),
        })
        .await
        .unwrap()
        .into_inner();
    grant(&mut admin, 111, "helpers", network()).await;
    let deleted = admin
        .delete_role(pb::DeleteRoleRequest {
            name: "helpers".into(),
            force: true,
        })
        .await
        .unwrap()
        .into_inner();
    let mut kinds = Vec::new();
    let mut cursors = vec![created.meta.unwrap().cursor, granted.meta.unwrap().cursor];
    for _ in 0..5 {
        let event = next_event(&mut stream).await;
        kinds.push(event.kind);
        cursors.push(event.meta.unwrap().cursor);
    }
    assert_eq!(
        kinds,
        [
            K::RoleUpdated as i32,
            K::RoleRevoked as i32,
            K::RoleGranted as i32,
            K::RoleRevoked as i32,
            K::RoleDeleted as i32
        ]
    );
    assert_eq!(cursors[3], revoked.event_cursor);
    assert_eq!(cursors[6], deleted.event_cursor);
    let numbers: Vec<i64> = cursors.iter().map(|c| c.parse().unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");

    // Resume right after a cursor.
    let mut resumed = admin
        .watch_role_events(pb::WatchRoleEventsRequest {
            after_cursor: cursors[4].clone(),
            from_now: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        next_event(&mut resumed).await.meta.unwrap().cursor,
        cursors[5]
    );

    // From now: only what happens next.
    let mut from_now = admin
        .watch_role_events(pb::WatchRoleEventsRequest {
            after_cursor: String::new(),
            from_now: true,
        })
        .await
        .unwrap()
        .into_inner();
    let later = grant(&mut admin, 112, "channel-moderator", channel("z")).await;
    let event = next_event(&mut from_now).await;
    assert_eq!(event.meta.unwrap().cursor, later.event_cursor);

    assert_refused(
        admin
            .watch_role_events(pb::WatchRoleEventsRequest {
                after_cursor: "not-a-cursor".into(),
                from_now: false,
            })
            .await,
        Code::InvalidArgument,
        "CURSOR_INVALID",
    );
}

async fn a_second_instance_sees_a_revoke(backend: Backend) {
    let first = spawn_app(backend).await;
    let second = spawn_on(first.database.clone()).await;
    let mut on_first = first.admin().await;
    let mut on_second = second.admin().await;

    grant(&mut on_first, 120, "channel-moderator", channel("a")).await;
    assert!(allowed(&mut on_second, 120, "BAN_CHANNEL_USER", channel("a")).await);

    let mut watch = on_second
        .watch_role_events(pb::WatchRoleEventsRequest {
            after_cursor: String::new(),
            from_now: true,
        })
        .await
        .unwrap()
        .into_inner();
    let revoked = on_first
        .revoke_role(pb::RevokeRoleRequest {
            user_id: 120,
            role: "channel-moderator".into(),
            scope: channel("a"),
        })
        .await
        .unwrap()
        .into_inner();
    // The second instance learns of it by polling the shared outbox.
    let event = next_event(&mut watch).await;
    assert_eq!(event.kind, pb::RoleEventKind::RoleRevoked as i32);
    assert_eq!(event.meta.unwrap().cursor, revoked.event_cursor);
    assert!(!allowed(&mut on_second, 120, "BAN_CHANNEL_USER", channel("a")).await);
}

async fn permission_checker_caches_and_follows_revokes(backend: Backend) {
    let first = spawn_app(backend).await;
    let second = spawn_on(first.database.clone()).await;
    let mut admin = first.admin().await;
    let moderator = 130;
    grant(&mut admin, moderator, "channel-moderator", channel("a")).await;

    // The checker follows the second instance; the revoke goes through the first.
    let checker = PermissionChecker::new(
        &second.address,
        &second.service_token(),
        CheckerSettings::default(),
    )
    .unwrap();
    tokio::time::timeout(GUARD, checker.wait_until_live())
        .await
        .expect("stream connected");
    let actor = Actor::User {
        user_id: moderator,
        generation: 0,
    };
    let in_a = || Scope::Channel("a".into());

    checker
        .require(&actor, "BAN_CHANNEL_USER", in_a())
        .await
        .unwrap();
    assert_eq!(checker.remote_checks(), 1);
    // A cached answer asks nothing.
    checker
        .require(&actor, "BAN_CHANNEL_USER", in_a())
        .await
        .unwrap();
    assert_eq!(checker.remote_checks(), 1);

    let err = checker
        .require(&actor, "BAN_CHANNEL_USER", Scope::Channel("b".into()))
        .await
        .unwrap_err();
    assert_eq!(err.reason, "PERMISSION_DENIED");
    assert_eq!(Status::from(err).code(), Code::PermissionDenied);
    let err = checker
        .require(&actor, "BAN_CHANNEL_USER", Scope::Channel("b".into()))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("BAN_CHANNEL_USER") && err.message.contains("channel b"),
        "{}",
        err.message
    );
    assert_eq!(checker.remote_checks(), 2, "the denial is cached too");

    // Admin and service callers are not checked.
    let before = checker.remote_checks();
    checker
        .require(
            &Actor::Admin {
                client: "ops".into(),
            },
            "BAN_USER",
            Scope::Network,
        )
        .await
        .unwrap();
    checker
        .require(
            &Actor::Service {
                name: "moderation".into(),
            },
            "BAN_USER",
            Scope::Network,
        )
        .await
        .unwrap();
    assert_eq!(checker.remote_checks(), before);

    let revoked = admin
        .revoke_role(pb::RevokeRoleRequest {
            user_id: moderator,
            role: "channel-moderator".into(),
            scope: channel("a"),
        })
        .await
        .unwrap()
        .into_inner();
    tokio::time::timeout(GUARD, checker.wait_until_seen(&revoked.event_cursor))
        .await
        .expect("revoke event reached the checker")
        .unwrap();
    let err = checker
        .require(&actor, "BAN_CHANNEL_USER", in_a())
        .await
        .unwrap_err();
    assert_eq!(err.reason, "PERMISSION_DENIED");

    // A grant invalidates a cached denial the same way.
    let granted = grant(&mut admin, moderator, "channel-moderator", channel("b")).await;
    tokio::time::timeout(GUARD, checker.wait_until_seen(&granted.event_cursor))
        .await
        .expect("grant event reached the checker")
        .unwrap();
    checker
        .require(&actor, "BAN_CHANNEL_USER", Scope::Channel("b".into()))
        .await
        .unwrap();

    // Role edits drop every cached answer.
    let mut permissions: BTreeSet<&str> = BTreeSet::new();
    permissions.insert("EDIT_MESSAGE");
    create_role(
        &mut admin,
        "editors",
        &permissions.iter().copied().collect::<Vec<_>>(),
    )
    .await;
    grant(&mut admin, 131, "editors", network()).await;
    let editor = Actor::User {
        user_id: 131,
        generation: 0,
    };
    checker
        .require(&editor, "EDIT_MESSAGE", Scope::Network)
        .await
        .unwrap();
    let deleted = admin
        .delete_role(pb::DeleteRoleRequest {
            name: "editors".into(),
            force: true,
        })
        .await
        .unwrap()
        .into_inner();
    tokio::time::timeout(GUARD, checker.wait_until_seen(&deleted.event_cursor))
        .await
        .expect("deletion reached the checker")
        .unwrap();
    assert!(
        checker
            .require(&editor, "EDIT_MESSAGE", Scope::Network)
            .await
            .is_err()
    );
}
