//! Every RPC of every service, called by every kind of caller, answers as its
//! `.proto` documents: one table, one row per RPC.
//!
//! Callers: none (no token), a token signed by an unknown key, by a retired
//! key, an expired token, an unsigned (`alg: none`) token, the user acting on
//! its own things ("own"), another plain user, a moderator whose power lies in
//! another scope (ASSIGN_USER_ROLE in channel "elsewhere" only), an admin, and
//! one of Roster's services. Authorisation does not depend on the storage
//! backend, so the table runs on SQLite.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use futures::future::BoxFuture;
use roster::{ALL_SERVICES, RosterSettings, Suite};
use roster_kit::{
    TokenKeys,
    config::{AuthSettings, Secret},
    keys::{KeyPurpose, KeySet},
    testing::{TestDatabase, local_listener},
};
use roster_proto::v1::{
    self as pb, diagnostics_service_client::DiagnosticsServiceClient,
    file_service_client::FileServiceClient, moderation_service_client::ModerationServiceClient,
    role_service_client::RoleServiceClient, user_service_client::UserServiceClient,
};
use tonic::{
    Code, Request, Status,
    metadata::AsciiMetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};
use tonic_types::StatusExt;

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Caller {
    None,
    UnknownKey,
    RetiredKey,
    Expired,
    AlgNone,
    Own,
    Other,
    ModeratorElsewhere,
    Admin,
    Service,
}

const CALLERS: [Caller; 10] = [
    Caller::None,
    Caller::UnknownKey,
    Caller::RetiredKey,
    Caller::Expired,
    Caller::AlgNone,
    Caller::Own,
    Caller::Other,
    Caller::ModeratorElsewhere,
    Caller::Admin,
    Caller::Service,
];

/// What a caller must get.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Success.
    Ok,
    /// Past authorisation: success, or a refusal that is not about who calls
    /// (e.g. NOT_FOUND of a target that does not exist).
    Allowed,
    /// PERMISSION_DENIED with this reason.
    Denied(&'static str),
    /// UNAUTHENTICATED with this reason.
    Unauthenticated(&'static str),
    /// Any other documented answer.
    Answer(Code, &'static str),
}

const DENIED: Expect = Expect::Denied("PERMISSION_DENIED");
const NO_LOGINS: Expect = Expect::Answer(Code::FailedPrecondition, "LOGIN_NOT_CONFIGURED");

/// How callers without a valid token are answered.
#[derive(Debug, Clone, Copy)]
enum Anonymous {
    /// The call needs a token: TOKEN_MISSING without one, TOKEN_INVALID (or
    /// TOKEN_EXPIRED) with a bad one.
    Gated,
    /// Anyone may call; a bad token counts as none.
    Public(Expect),
    /// A private file's read (files.proto, "Reading files"): TOKEN_MISSING
    /// without a token, TOKEN_INVALID with one that is not accepted.
    PrivateFile,
}

struct Rules {
    anonymous: Anonymous,
    own: Expect,
    other: Expect,
    moderator: Expect,
    admin: Expect,
    service: Expect,
}

fn rules(own: Expect, other: Expect, moderator: Expect, admin: Expect, service: Expect) -> Rules {
    Rules {
        anonymous: Anonymous::Gated,
        own,
        other,
        moderator,
        admin,
        service,
    }
}

/// Any signed-in user and admins; not services.
fn any_user() -> Rules {
    rules(Expect::Ok, Expect::Ok, Expect::Ok, Expect::Ok, DENIED)
}

/// Any signed-in user, admins and services.
fn anyone_signed_in() -> Rules {
    rules(Expect::Ok, Expect::Ok, Expect::Ok, Expect::Ok, Expect::Ok)
}

/// Admins only.
fn admin_only(admin: Expect) -> Rules {
    rules(DENIED, DENIED, DENIED, admin, DENIED)
}

/// Admins and Roster's services only.
fn admin_and_services() -> Rules {
    rules(DENIED, DENIED, DENIED, Expect::Ok, Expect::Ok)
}

impl Rules {
    fn public(mut self, anyone: Expect) -> Self {
        self.anonymous = Anonymous::Public(anyone);
        self
    }

    fn private_file(mut self) -> Self {
        self.anonymous = Anonymous::PrivateFile;
        self
    }

    fn expect(&self, caller: Caller) -> Expect {
        let bad_token = |expired: bool| match self.anonymous {
            Anonymous::Gated => Expect::Unauthenticated(if expired {
                "TOKEN_EXPIRED"
            } else {
                "TOKEN_INVALID"
            }),
            Anonymous::Public(anyone) => anyone,
            Anonymous::PrivateFile => Expect::Unauthenticated("TOKEN_INVALID"),
        };
        match caller {
            Caller::None => match self.anonymous {
                Anonymous::Gated | Anonymous::PrivateFile => {
                    Expect::Unauthenticated("TOKEN_MISSING")
                }
                Anonymous::Public(anyone) => anyone,
            },
            Caller::UnknownKey | Caller::RetiredKey | Caller::AlgNone => bad_token(false),
            Caller::Expired => bad_token(true),
            Caller::Own => self.own,
            Caller::Other => self.other,
            Caller::ModeratorElsewhere => self.moderator,
            Caller::Admin => self.admin,
            Caller::Service => self.service,
        }
    }
}

/// Whether `answer` is what `expect` says; a description of the difference if not.
fn mismatch(expect: Expect, answer: &Result<(), Status>) -> Option<String> {
    let reason = |status: &Status| {
        status
            .get_error_details()
            .error_info()
            .map(|info| info.reason.clone())
            .unwrap_or_default()
    };
    let describe = || match answer {
        Ok(()) => "OK".to_owned(),
        Err(status) => format!(
            "{:?} / {} ({})",
            status.code(),
            reason(status),
            status.message()
        ),
    };
    let fits = match (expect, answer) {
        (Expect::Ok, Ok(())) => true,
        (Expect::Allowed, Ok(())) => true,
        (Expect::Allowed, Err(status)) => !matches!(
            status.code(),
            Code::PermissionDenied | Code::Unauthenticated
        ),
        (Expect::Denied(r), Err(status)) => {
            status.code() == Code::PermissionDenied && reason(status) == r
        }
        (Expect::Unauthenticated(r), Err(status)) => {
            status.code() == Code::Unauthenticated && reason(status) == r
        }
        (Expect::Answer(code, r), Err(status)) => status.code() == code && reason(status) == r,
        _ => false,
    };
    (!fits).then(|| format!("expected {expect:?}, got {}", describe()))
}

/// Adds the caller's token, if it has one.
#[derive(Clone)]
struct Bearer(Option<AsciiMetadataValue>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

type Authed = InterceptedService<Channel, Bearer>;

/// The running suite and what the rows act on.
struct World {
    channel: Channel,
    tokens: HashMap<Caller, Option<String>>,
    alice: pb::User,
    bob: pb::User,
    /// A user the rows may ban, flag, revoke and (dry-run) delete.
    dave: pb::User,
    /// Alice's private attachment and public avatar.
    attachment: String,
    avatar: String,
    counter: AtomicU32,
    _stop: tokio::sync::oneshot::Sender<()>,
    _databases: [TestDatabase; 4],
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl World {
    fn authed(&self, caller: Caller) -> Authed {
        let value = self.tokens[&caller]
            .as_ref()
            .map(|token| ok(format!("Bearer {token}").parse()));
        InterceptedService::new(self.channel.clone(), Bearer(value))
    }

    fn users(&self, caller: Caller) -> UserServiceClient<Authed> {
        UserServiceClient::new(self.authed(caller))
    }

    fn roles(&self, caller: Caller) -> RoleServiceClient<Authed> {
        RoleServiceClient::new(self.authed(caller))
    }

    fn files(&self, caller: Caller) -> FileServiceClient<Authed> {
        FileServiceClient::new(self.authed(caller))
    }

    fn moderation(&self, caller: Caller) -> ModerationServiceClient<Authed> {
        ModerationServiceClient::new(self.authed(caller))
    }

    fn unique(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.counter.fetch_add(1, Ordering::Relaxed))
    }

    /// The owner a caller uploads as: itself, or alice for admins and services.
    async fn upload(
        &self,
        caller: Caller,
        purpose: pb::FilePurpose,
        bytes: Vec<u8>,
    ) -> Result<pb::File, Status> {
        let owner = match caller {
            Caller::Admin | Caller::Service => self.alice.id,
            _ => 0,
        };
        let messages = vec![
            pb::UploadFileRequest {
                part: Some(pb::upload_file_request::Part::Header(
                    pb::UploadFileHeader {
                        name: "upload.bin".into(),
                        size: bytes.len() as u64,
                        purpose: purpose.into(),
                        owner_user_id: owner,
                        ..Default::default()
                    },
                )),
            },
            pb::UploadFileRequest {
                part: Some(pb::upload_file_request::Part::Chunk(bytes.into())),
            },
        ];
        self.files(caller)
            .upload_file(futures::stream::iter(messages))
            .await
            .map(tonic::Response::into_inner)
    }

    async fn admin_create_user(&self, name: &str) -> pb::User {
        ok(self
            .users(Caller::Admin)
            .create_user(pb::CreateUserRequest {
                name: name.into(),
                ..Default::default()
            })
            .await)
        .into_inner()
    }
}

fn by_id(id: i64) -> Option<pb::UserRef> {
    Some(pb::UserRef {
        r#ref: Some(pb::user_ref::Ref::Id(id)),
    })
}

fn in_channel(id: &str) -> Option<pb::Scope> {
    Some(pb::Scope {
        scope: Some(pb::scope::Scope::ChannelId(id.into())),
    })
}

fn png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8 * 30, y as u8 * 30, 90]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    ok(image.write_to(&mut bytes, image::ImageFormat::Png));
    bytes.into_inner()
}

/// Signs `claims` with `key` (a PKCS#8 Ed25519 key), or leaves it unsigned.
fn forge(key: Option<(&str, &[u8])>, claims: &serde_json::Value) -> String {
    match key {
        Some((kid, der)) => {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
            header.kid = Some(kid.to_owned());
            ok(jsonwebtoken::encode(
                &header,
                claims,
                &jsonwebtoken::EncodingKey::from_ed_der(der),
            ))
        }
        None => format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        ),
    }
}

fn user_claims(user_id: i64, exp: i64) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    serde_json::json!({
        "iss": "roster", "sub": user_id.to_string(), "kind": "user",
        "generation": 0, "iat": now - 7200, "exp": exp,
    })
}

async fn world() -> World {
    let dir = TempDir(std::env::temp_dir().join(format!("roster-authz-{}", uuid::Uuid::new_v4())));
    ok(std::fs::create_dir_all(&dir.0));
    // The deployment's keys live in a file, so a key can be retired while it runs.
    let key_file = dir.0.join("keys.json");
    let now = chrono::Utc::now().timestamp();
    let mut set = KeySet::default();
    let retired = set.rotate(KeyPurpose::Session, now - 100, now - 100);
    let current = set.rotate(KeyPurpose::Session, now - 50, now - 50);
    set.rotate(KeyPurpose::Service, now - 50, now - 50);
    ok(set.save(&key_file));
    let auth = AuthSettings {
        private_key_files: vec![key_file.clone()],
        ..AuthSettings::default()
    };
    let keys = Arc::new(ok(TokenKeys::from_settings(&auth, &dir.0)));
    let der = |kid: &str| {
        let key = set
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .unwrap_or_else(|| panic!("no key {kid}"));
        ok(key.private_der()).unwrap_or_else(|| panic!("{kid} has no private half"))
    };
    let (retired_der, current_der) = (der(&retired), der(&current));

    // Each service its own database, as deployed.
    let databases = [(); 4].map(|()| TestDatabase::sqlite());
    let mut settings = RosterSettings::default();
    settings.common.data_dir = dir.0.join("data");
    settings.common.auth = auth.clone();
    for (url, database) in [
        &mut settings.users.database_url,
        &mut settings.roles.database_url,
        &mut settings.files.database_url,
        &mut settings.moderation.database_url,
    ]
    .into_iter()
    .zip(&databases)
    {
        *url = Some(Secret::new(database.url.clone()));
    }
    let (listener, address) = local_listener().await;
    let suite = ok(Suite::start(&settings, ALL_SERVICES, keys.clone(), &listener).await);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = suite
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    let channel = ok(ok(Channel::from_shared(address)).connect().await);

    let hour = Duration::from_secs(3600);
    let admin_token = ok(keys.issue_admin("authz-table", hour)).token;
    let mut tokens = HashMap::from([
        (Caller::None, None),
        (Caller::Admin, Some(admin_token)),
        (
            Caller::Service,
            Some(ok(keys.issue_service("moderation", hour)).token),
        ),
        (
            Caller::UnknownKey,
            Some(ok(TokenKeys::generate("roster").issue_admin("intruder", hour)).token),
        ),
    ]);
    let mut world = World {
        channel,
        tokens: tokens.clone(),
        alice: pb::User::default(),
        bob: pb::User::default(),
        dave: pb::User::default(),
        attachment: String::new(),
        avatar: String::new(),
        counter: AtomicU32::new(0),
        _stop: stop,
        _databases: databases,
        _dir: dir,
    };
    let alice = world.admin_create_user("alice").await;
    let bob = world.admin_create_user("bob").await;
    let carol = world.admin_create_user("carol").await;
    world.dave = world.admin_create_user("dave").await;
    for (caller, user) in [
        (Caller::Own, &alice),
        (Caller::Other, &bob),
        (Caller::ModeratorElsewhere, &carol),
    ] {
        tokens.insert(caller, Some(ok(keys.issue_user(user.id, 0, hour)).token));
    }
    let far = now + 3600;
    tokens.insert(
        Caller::RetiredKey,
        Some(forge(
            Some((&retired, &retired_der)),
            &user_claims(alice.id, far),
        )),
    );
    tokens.insert(
        Caller::Expired,
        Some(forge(
            Some((&current, &current_der)),
            &user_claims(alice.id, now - 3600),
        )),
    );
    tokens.insert(
        Caller::AlgNone,
        Some(forge(None, &user_claims(alice.id, far))),
    );
    world.tokens = tokens;

    // Before it was retired, the retired key's token was good.
    let probe = DiagnosticsServiceClient::new(world.authed(Caller::RetiredKey))
        .ping(pb::PingRequest {})
        .await;
    assert!(
        probe.is_ok(),
        "a token of a key in force is accepted: {probe:?}"
    );
    set.keys.retain(|key| key.kid != retired);
    ok(set.save(&key_file));
    ok(keys.reload());

    // Carol may assign roles, but only in channel "elsewhere".
    let mut roles = world.roles(Caller::Admin);
    for (name, permission) in [
        ("channel-admin", "ASSIGN_USER_ROLE"),
        ("helper", "EDIT_MESSAGE"),
    ] {
        ok(roles
            .create_role(pb::CreateRoleRequest {
                name: name.into(),
                description: String::new(),
                permissions: vec![permission.into()],
            })
            .await);
    }
    ok(roles
        .grant_role(pb::GrantRoleRequest {
            user_id: carol.id,
            role: "channel-admin".into(),
            scope: in_channel("elsewhere"),
            expires_at: None,
        })
        .await);
    world.alice = alice;
    world.bob = bob;
    world.attachment = ok(world
        .upload(
            Caller::Own,
            pb::FilePurpose::Attachment,
            b"alice's notes".to_vec(),
        )
        .await)
    .id;
    world.avatar = ok(world
        .upload(Caller::Own, pb::FilePurpose::Avatar, png())
        .await)
    .id;
    world
}

type Call = fn(Arc<World>, Caller) -> BoxFuture<'static, Result<(), Status>>;

struct Row {
    rpc: &'static str,
    call: Call,
    rules: Rules,
}

/// `row!("Service/Rpc", rules, |world, caller| async { … })`.
macro_rules! row {
    ($rpc:expr, $rules:expr, |$w:ident, $c:ident| $body:expr) => {
        Row {
            rpc: $rpc,
            call: |$w: Arc<World>, $c: Caller| Box::pin(async move { $body.await.map(|_| ()) }),
            rules: $rules,
        }
    };
}

fn table() -> Vec<Row> {
    let own_only = || rules(Expect::Ok, DENIED, DENIED, Expect::Ok, DENIED);
    vec![
        // ---- users ----------------------------------------------------------
        row!("UserService/CreateUser", admin_only(Expect::Ok), |w, c| {
            let name = w.unique("created");
            async move {
                w.users(c)
                    .create_user(pb::CreateUserRequest {
                        name,
                        ..Default::default()
                    })
                    .await
            }
        }),
        row!(
            "UserService/Login",
            // Public: who calls does not matter; this deployment has no login secret.
            rules(NO_LOGINS, NO_LOGINS, NO_LOGINS, NO_LOGINS, NO_LOGINS).public(NO_LOGINS),
            |w, c| async move {
                w.users(c)
                    .login(pb::LoginRequest {
                        name: "alice".into(),
                        ..Default::default()
                    })
                    .await
            }
        ),
        row!(
            "UserService/GetUser",
            anyone_signed_in(),
            |w, c| async move {
                w.users(c)
                    .get_user(pb::GetUserRequest {
                        user: Some(pb::get_user_request::User::Id(w.alice.id)),
                    })
                    .await
            }
        ),
        row!(
            "UserService/BatchGetUsers",
            anyone_signed_in(),
            |w, c| async move {
                w.users(c)
                    .batch_get_users(pb::BatchGetUsersRequest {
                        ids: vec![w.alice.id],
                        names: vec![],
                    })
                    .await
            }
        ),
        row!("UserService/UpdateUser", own_only(), |w, c| async move {
            w.users(c)
                .update_user(pb::UpdateUserRequest {
                    user: by_id(w.alice.id),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["description".into()],
                    }),
                    patch: Some(pb::UserPatch {
                        description: "edited".into(),
                        ..Default::default()
                    }),
                    expected_version: 0,
                })
                .await
        }),
        row!("UserService/GetUserAvatar", any_user(), |w, c| async move {
            w.users(c)
                .get_user_avatar(pb::GetUserAvatarRequest {
                    user: by_id(w.alice.id),
                })
                .await
        }),
        row!("UserService/QueryUsers", any_user(), |w, c| async move {
            w.users(c)
                .query_users(pb::QueryUsersRequest {
                    keyword: "al".into(),
                    ..Default::default()
                })
                .await
        }),
        row!("UserService/SetPresence", own_only(), |w, c| async move {
            w.users(c)
                .set_presence(pb::SetPresenceRequest {
                    user: by_id(w.alice.id),
                    online: Some(true),
                    ..Default::default()
                })
                .await
        }),
        row!(
            "UserService/IssueUserToken",
            admin_only(Expect::Ok),
            |w, c| {
                let name = w.unique("issued");
                async move {
                    w.users(c)
                        .issue_user_token(pb::IssueUserTokenRequest {
                            name,
                            ..Default::default()
                        })
                        .await
                }
            }
        ),
        row!(
            "UserService/RevokeUserTokens",
            admin_only(Expect::Ok),
            |w, c| async move {
                w.users(c)
                    .revoke_user_tokens(pb::RevokeUserTokensRequest {
                        user: by_id(w.dave.id),
                    })
                    .await
            }
        ),
        row!(
            "UserService/WatchUserEvents",
            admin_and_services(),
            |w, c| async move {
                w.users(c)
                    .watch_user_events(pb::WatchUserEventsRequest::default())
                    .await
            }
        ),
        row!(
            "UserService/CheckSession",
            admin_and_services(),
            |w, c| async move {
                w.users(c)
                    .check_session(pb::CheckSessionRequest {
                        user_id: w.alice.id,
                        generation: 0,
                    })
                    .await
            }
        ),
        row!(
            "UserService/GetJwks",
            anyone_signed_in().public(Expect::Ok),
            |w, c| async move { w.users(c).get_jwks(pb::GetJwksRequest {}).await }
        ),
        row!(
            "UserService/TombstoneUser",
            admin_and_services(),
            |w, c| async move {
                w.users(c)
                    .tombstone_user(pb::TombstoneUserRequest {
                        user_id: w.alice.id,
                        dry_run: true,
                    })
                    .await
            }
        ),
        // ---- roles ----------------------------------------------------------
        row!(
            "RoleService/ListPermissions",
            any_user(),
            |w, c| async move {
                w.roles(c)
                    .list_permissions(pb::ListPermissionsRequest {})
                    .await
            }
        ),
        row!("RoleService/GetRole", any_user(), |w, c| async move {
            w.roles(c)
                .get_role(pb::GetRoleRequest {
                    name: "helper".into(),
                })
                .await
        }),
        row!("RoleService/ListRoles", any_user(), |w, c| async move {
            w.roles(c).list_roles(pb::ListRolesRequest::default()).await
        }),
        row!(
            "RoleService/ListUserRoles",
            anyone_signed_in(),
            |w, c| async move {
                w.roles(c)
                    .list_user_roles(pb::ListUserRolesRequest {
                        user_id: w.alice.id,
                        ..Default::default()
                    })
                    .await
            }
        ),
        row!(
            "RoleService/ListRoleMembers",
            any_user(),
            |w, c| async move {
                w.roles(c)
                    .list_role_members(pb::ListRoleMembersRequest {
                        role: "channel-admin".into(),
                        ..Default::default()
                    })
                    .await
            }
        ),
        row!(
            "RoleService/CheckPermission",
            anyone_signed_in(),
            |w, c| async move {
                w.roles(c)
                    .check_permission(pb::CheckPermissionRequest {
                        user_id: w.alice.id,
                        permission: "EDIT_MESSAGE".into(),
                        scope: in_channel("general"),
                    })
                    .await
            }
        ),
        row!(
            "RoleService/BatchCheckPermissions",
            anyone_signed_in(),
            |w, c| async move {
                w.roles(c)
                    .batch_check_permissions(pb::BatchCheckPermissionsRequest {
                        checks: vec![pb::PermissionCheck {
                            user_id: w.alice.id,
                            permission: "EDIT_MESSAGE".into(),
                            scope: in_channel("general"),
                        }],
                    })
                    .await
            }
        ),
        row!("RoleService/CreateRole", admin_only(Expect::Ok), |w, c| {
            let name = w.unique("role");
            async move {
                w.roles(c)
                    .create_role(pb::CreateRoleRequest {
                        name,
                        description: String::new(),
                        permissions: vec![],
                    })
                    .await
            }
        }),
        row!(
            "RoleService/UpdateRole",
            admin_only(Expect::Ok),
            |w, c| async move {
                w.roles(c)
                    .update_role(pb::UpdateRoleRequest {
                        name: "helper".into(),
                        description: "helps".into(),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["description".into()],
                        }),
                        ..Default::default()
                    })
                    .await
            }
        ),
        row!("RoleService/DeleteRole", admin_only(Expect::Ok), |w, c| {
            let name = w.unique("doomed");
            async move {
                ok(w.roles(Caller::Admin)
                    .create_role(pb::CreateRoleRequest {
                        name: name.clone(),
                        description: String::new(),
                        permissions: vec![],
                    })
                    .await);
                w.roles(c)
                    .delete_role(pb::DeleteRoleRequest { name, force: false })
                    .await
            }
        }),
        row!(
            "RoleService/GrantRole",
            admin_only(Expect::Ok),
            |w, c| async move {
                w.roles(c)
                    .grant_role(pb::GrantRoleRequest {
                        user_id: w.bob.id,
                        role: "helper".into(),
                        scope: in_channel("general"),
                        expires_at: None,
                    })
                    .await
            }
        ),
        row!(
            "RoleService/RevokeRole",
            admin_only(Expect::Ok),
            |w, c| async move {
                ok(w.roles(Caller::Admin)
                    .grant_role(pb::GrantRoleRequest {
                        user_id: w.bob.id,
                        role: "helper".into(),
                        scope: in_channel("general"),
                        expires_at: None,
                    })
                    .await);
                w.roles(c)
                    .revoke_role(pb::RevokeRoleRequest {
                        user_id: w.bob.id,
                        role: "helper".into(),
                        scope: in_channel("general"),
                    })
                    .await
            }
        ),
        row!(
            "RoleService/WatchRoleEvents",
            admin_and_services(),
            |w, c| async move {
                w.roles(c)
                    .watch_role_events(pb::WatchRoleEventsRequest::default())
                    .await
            }
        ),
        row!(
            "RoleService/RevokeUserGrants",
            admin_and_services(),
            |w, c| async move {
                w.roles(c)
                    .revoke_user_grants(pb::RevokeUserGrantsRequest {
                        user_id: w.bob.id,
                        dry_run: true,
                    })
                    .await
            }
        ),
        // ---- files ----------------------------------------------------------
        row!(
            "FileService/UploadFile",
            rules(Expect::Ok, Expect::Ok, Expect::Ok, Expect::Ok, DENIED),
            |w, c| w.upload(c, pb::FilePurpose::Attachment, b"upload".to_vec())
        ),
        row!(
            "FileService/GetFile (private)",
            rules(
                Expect::Ok,
                Expect::Denied("FILE_ACCESS_DENIED"),
                Expect::Denied("FILE_ACCESS_DENIED"),
                Expect::Ok,
                Expect::Ok
            )
            .private_file(),
            |w, c| async move {
                w.files(c)
                    .get_file(pb::GetFileRequest {
                        file_id: w.attachment.clone(),
                        ..Default::default()
                    })
                    .await
            }
        ),
        row!(
            "FileService/DownloadFile (private)",
            rules(
                Expect::Ok,
                Expect::Denied("FILE_ACCESS_DENIED"),
                Expect::Denied("FILE_ACCESS_DENIED"),
                Expect::Ok,
                Expect::Ok
            )
            .private_file(),
            |w, c| async move {
                let mut stream = w
                    .files(c)
                    .download_file(pb::DownloadFileRequest {
                        file_id: w.attachment.clone(),
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                stream.message().await
            }
        ),
        row!(
            "FileService/GetFile (public avatar)",
            anyone_signed_in().public(Expect::Ok),
            |w, c| async move {
                w.files(c)
                    .get_file(pb::GetFileRequest {
                        file_id: w.avatar.clone(),
                        ..Default::default()
                    })
                    .await
            }
        ),
        row!(
            "FileService/ListFiles",
            anyone_signed_in(),
            |w, c| async move {
                w.files(c)
                    .list_files(pb::ListFilesRequest {
                        owner_user_id: w.alice.id,
                        ..Default::default()
                    })
                    .await
            }
        ),
        row!("FileService/DeleteFile", own_only(), |w, c| async move {
            let file = ok(w
                .upload(Caller::Own, pb::FilePurpose::Attachment, b"doomed".to_vec())
                .await);
            w.files(c)
                .delete_file(pb::DeleteFileRequest { file_id: file.id })
                .await
        }),
        row!(
            "FileService/DeleteUserFiles",
            admin_and_services(),
            |w, c| async move {
                w.files(c)
                    .delete_user_files(pb::DeleteUserFilesRequest {
                        user_id: w.alice.id,
                        dry_run: true,
                    })
                    .await
            }
        ),
        row!(
            "FileService/CreateDownloadLink",
            rules(Expect::Ok, DENIED, DENIED, Expect::Ok, Expect::Ok),
            |w, c| async move {
                w.files(c)
                    .create_download_link(pb::CreateDownloadLinkRequest {
                        file_id: w.attachment.clone(),
                        ttl_seconds: 60,
                    })
                    .await
            }
        ),
        // ---- moderation -----------------------------------------------------
        row!(
            "ModerationService/FlagUser",
            any_user(),
            |w, c| async move {
                w.moderation(c)
                    .flag_user(pb::FlagUserRequest {
                        user_id: w.dave.id,
                        reason: pb::FlagReason::Spam.into(),
                        note: String::new(),
                    })
                    .await
            }
        ),
        row!(
            "ModerationService/UnflagUser",
            rules(
                Expect::Allowed,
                Expect::Allowed,
                Expect::Allowed,
                Expect::Allowed,
                DENIED
            ),
            |w, c| async move {
                w.moderation(c)
                    .unflag_user(pb::UnflagUserRequest { user_id: w.dave.id })
                    .await
            }
        ),
        row!(
            "ModerationService/IsFlaggedByMe",
            any_user(),
            |w, c| async move {
                w.moderation(c)
                    .is_flagged_by_me(pb::IsFlaggedByMeRequest {
                        user_ids: vec![w.dave.id],
                    })
                    .await
            }
        ),
        row!(
            "ModerationService/ListFlags",
            admin_only(Expect::Ok),
            |w, c| async move {
                w.moderation(c)
                    .list_flags(pb::ListFlagsRequest {
                        user_id: w.dave.id,
                        ..Default::default()
                    })
                    .await
            }
        ),
        row!(
            "ModerationService/ClearFlags",
            admin_only(Expect::Ok),
            |w, c| async move {
                w.moderation(c)
                    .clear_flags(pb::ClearFlagsRequest {
                        user_id: w.bob.id,
                        reason: "table".into(),
                    })
                    .await
            }
        ),
        row!(
            "ModerationService/BanUser",
            admin_only(Expect::Ok),
            |w, c| async move {
                let target = w.admin_create_user(&w.unique("banned")).await;
                w.moderation(c)
                    .ban_user(pb::BanUserRequest {
                        user_id: target.id,
                        reason: "table".into(),
                        expires_at: None,
                    })
                    .await
            }
        ),
        row!(
            "ModerationService/UnbanUser",
            admin_only(Expect::Allowed),
            |w, c| async move {
                w.moderation(c)
                    .unban_user(pb::UnbanUserRequest {
                        user_id: w.dave.id,
                        reason: "table".into(),
                    })
                    .await
            }
        ),
        row!(
            "ModerationService/GetBan",
            admin_only(Expect::Allowed),
            |w, c| async move {
                w.moderation(c)
                    .get_ban(pb::GetBanRequest { user_id: w.dave.id })
                    .await
            }
        ),
        row!(
            "ModerationService/ListBans",
            admin_only(Expect::Ok),
            |w, c| async move {
                w.moderation(c)
                    .list_bans(pb::ListBansRequest::default())
                    .await
            }
        ),
        row!(
            "ModerationService/DeleteUser",
            admin_only(Expect::Ok),
            |w, c| async move {
                w.moderation(c)
                    .delete_user(pb::DeleteUserRequest {
                        user_id: w.dave.id,
                        dry_run: true,
                        ..Default::default()
                    })
                    .await
            }
        ),
        row!(
            "ModerationService/GetDeletionJob",
            admin_only(Expect::Allowed),
            |w, c| async move {
                w.moderation(c)
                    .get_deletion_job(pb::GetDeletionJobRequest { job_id: 1 })
                    .await
            }
        ),
        row!(
            "ModerationService/ListDeletionJobs",
            admin_only(Expect::Ok),
            |w, c| async move {
                w.moderation(c)
                    .list_deletion_jobs(pb::ListDeletionJobsRequest::default())
                    .await
            }
        ),
        row!(
            "ModerationService/ListAuditEntries",
            admin_only(Expect::Ok),
            |w, c| async move {
                w.moderation(c)
                    .list_audit_entries(pb::ListAuditEntriesRequest::default())
                    .await
            }
        ),
        row!(
            "ModerationService/WatchModerationEvents",
            admin_and_services(),
            |w, c| async move {
                w.moderation(c)
                    .watch_moderation_events(pb::WatchModerationEventsRequest::default())
                    .await
            }
        ),
        // ---- every server ---------------------------------------------------
        row!(
            "DiagnosticsService/Ping",
            anyone_signed_in(),
            |w, c| async move {
                DiagnosticsServiceClient::new(w.authed(c))
                    .ping(pb::PingRequest {})
                    .await
            }
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_every_caller_as_documented() {
    let world = Arc::new(world().await);
    let mut wrong = Vec::new();
    let table = table();
    for row in &table {
        for caller in CALLERS {
            let expect = row.rules.expect(caller);
            let answer = (row.call)(world.clone(), caller).await;
            if let Some(difference) = mismatch(expect, &answer) {
                wrong.push(format!("{} as {caller:?}: {difference}", row.rpc));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} answers differ from the documentation:\n{}",
        wrong.len(),
        table.len() * CALLERS.len(),
        wrong.join("\n")
    );
}
