//! TLS between Roster's services, from configuration alone: a split deployment
//! whose servers serve TLS and require client certificates (mutual TLS), with
//! the calls between services (permission checks, the role event stream)
//! crossing it.

use std::{path::Path, sync::Arc, time::Duration};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use roster::{RosterSettings, Service, Suite};
use roster_kit::{
    TokenKeys,
    auth::BearerToken,
    config::{Secret, TlsSettings},
    testing::TestDatabase,
};
use roster_proto::v1::{
    self as pb, role_service_client::RoleServiceClient, user_service_client::UserServiceClient,
};
use tokio::net::TcpListener;
use tonic::{
    Code,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// A CA, a server certificate for `localhost`/127.0.0.1 and a client
/// certificate, written as PEM files under `dir`.
fn write_pki(dir: &Path) -> TlsSettings {
    let mut ca_params = ok(CertificateParams::new(Vec::<String>::new()));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ok(CertifiedIssuer::self_signed(
        ca_params,
        ok(KeyPair::generate()),
    ));
    let issue = |names: Vec<String>, file: &str| {
        let key = ok(KeyPair::generate());
        let cert = ok(ok(CertificateParams::new(names)).signed_by(&key, &ca));
        ok(std::fs::write(dir.join(format!("{file}.pem")), cert.pem()));
        ok(std::fs::write(
            dir.join(format!("{file}.key")),
            key.serialize_pem(),
        ));
    };
    issue(vec!["localhost".into(), "127.0.0.1".into()], "server");
    issue(vec!["roster-client".into()], "client");
    ok(std::fs::write(dir.join("ca.pem"), ca.pem()));
    TlsSettings {
        cert_file: Some(dir.join("server.pem")),
        key_file: Some(dir.join("server.key")),
        client_ca_file: Some(dir.join("ca.pem")),
        ca_file: Some(dir.join("ca.pem")),
        server_name: Some("localhost".into()),
        client_cert_file: Some(dir.join("client.pem")),
        client_key_file: Some(dir.join("client.key")),
    }
}

/// A listener bound now, so that each split process can name the other's endpoint.
async fn bind() -> (TcpListener, String) {
    let listener = ok(TcpListener::bind("127.0.0.1:0").await);
    let port = ok(listener.local_addr()).port();
    (listener, format!("https://localhost:{port}"))
}

async fn serve(
    settings: RosterSettings,
    services: &[Service],
    keys: Arc<TokenKeys>,
    listener: TcpListener,
) -> tokio::sync::oneshot::Sender<()> {
    let suite = ok(Suite::start(&settings, services, keys, &listener).await);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = suite
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    stop
}

fn tls_client(dir: &Path, with_certificate: bool) -> ClientTlsConfig {
    let mut config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ok(std::fs::read(dir.join("ca.pem")))))
        .domain_name("localhost");
    if with_certificate {
        config = config.identity(Identity::from_pem(
            ok(std::fs::read(dir.join("client.pem"))),
            ok(std::fs::read(dir.join("client.key"))),
        ));
    }
    config
}

async fn connect(
    address: &str,
    tls: Option<ClientTlsConfig>,
) -> Result<Channel, tonic::transport::Error> {
    let mut endpoint =
        ok(Endpoint::from_shared(address.to_owned())).connect_timeout(Duration::from_secs(5));
    if let Some(tls) = tls {
        endpoint = ok(endpoint.tls_config(tls));
    }
    endpoint.connect().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_services_talk_over_mutual_tls() {
    let dir = std::env::temp_dir().join(format!("roster-tls-{}", uuid::Uuid::new_v4()));
    ok(std::fs::create_dir_all(&dir));
    let tls = write_pki(&dir);
    let keys = Arc::new(TokenKeys::generate("roster"));
    let (users_db, roles_db, files_db, moderation_db) = (
        TestDatabase::sqlite(),
        TestDatabase::sqlite(),
        TestDatabase::sqlite(),
        TestDatabase::sqlite(),
    );
    let mut settings = RosterSettings::default();
    settings.common.data_dir = dir.join("data");
    settings.common.tls = tls;
    settings.users.database_url = Some(Secret::new(users_db.url.clone()));
    settings.roles.database_url = Some(Secret::new(roles_db.url.clone()));
    settings.files.database_url = Some(Secret::new(files_db.url.clone()));
    settings.moderation.database_url = Some(Secret::new(moderation_db.url.clone()));

    // The role service alone; users, files and moderation in another process;
    // each reaching the other over mutual TLS.
    let (roles_listener, roles_address) = bind().await;
    let (users_listener, users_address) = bind().await;
    let mut alone = settings.clone();
    alone.common.endpoints.users = users_address.clone();
    let _stop_roles = serve(alone, &[Service::Roles], keys.clone(), roles_listener).await;
    let mut split = settings.clone();
    split.common.endpoints.roles = roles_address.clone();
    let _stop_users = serve(
        split,
        &[Service::Users, Service::Files, Service::Moderation],
        keys.clone(),
        users_listener,
    )
    .await;

    let admin = ok(BearerToken::new(
        &ok(keys.issue_admin("tls-test", Duration::from_secs(600))).token,
    ));
    let channel = ok(connect(&users_address, Some(tls_client(&dir, true))).await);
    let mut users = UserServiceClient::with_interceptor(channel, admin.clone());
    let mut created = Vec::new();
    for name in ["editor", "target"] {
        created.push(
            ok(users
                .create_user(pb::CreateUserRequest {
                    name: name.into(),
                    ..Default::default()
                })
                .await)
            .into_inner(),
        );
    }
    let roles_channel = ok(connect(&roles_address, Some(tls_client(&dir, true))).await);
    let mut roles = RoleServiceClient::with_interceptor(roles_channel, admin);
    ok(roles
        .create_role(pb::CreateRoleRequest {
            name: "profile-editor".into(),
            description: "edits profiles".into(),
            permissions: vec!["EDIT_USER".into()],
        })
        .await);
    ok(roles
        .grant_role(pb::GrantRoleRequest {
            user_id: created[0].id,
            role: "profile-editor".into(),
            scope: Some(pb::Scope {
                scope: Some(pb::scope::Scope::Network(pb::NetworkScope {})),
            }),
            expires_at: None,
        })
        .await);

    // The editor changes another user: the user service asks the role service,
    // over mutual TLS, whether it holds EDIT_USER.
    let editor_token = ok(keys.issue_user(created[0].id, 0, Duration::from_secs(600))).token;
    let channel = ok(connect(&users_address, Some(tls_client(&dir, true))).await);
    let mut as_editor =
        UserServiceClient::with_interceptor(channel, ok(BearerToken::new(&editor_token)));
    let renamed = ok(as_editor
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::UserRef {
                r#ref: Some(pb::user_ref::Ref::Id(created[1].id)),
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into()],
            }),
            patch: Some(pb::UserPatch {
                display_name: "Renamed over mTLS".into(),
                ..Default::default()
            }),
            expected_version: 0,
        })
        .await)
    .into_inner();
    assert_eq!(renamed.display_name, "Renamed over mTLS");

    // Without a client certificate, or without TLS, nothing gets through.
    let no_certificate = match connect(&roles_address, Some(tls_client(&dir, false))).await {
        Err(_) => None,
        Ok(channel) => {
            let mut client = RoleServiceClient::new(channel);
            Some(
                client
                    .list_permissions(pb::ListPermissionsRequest {})
                    .await
                    .map(|_| ()),
            )
        }
    };
    assert!(
        !matches!(no_certificate, Some(Ok(()))),
        "a client without a certificate was served"
    );
    let plaintext = connect(&users_address.replace("https", "http"), None).await;
    let plaintext_call = match plaintext {
        Err(_) => Code::Unavailable,
        Ok(channel) => UserServiceClient::new(channel)
            .get_user(pb::GetUserRequest::default())
            .await
            .map_or_else(|s| s.code(), |_| Code::Ok),
    };
    assert_ne!(plaintext_call, Code::Ok);
    let _ = std::fs::remove_dir_all(&dir);
}
