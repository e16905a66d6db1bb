//! One trace for one request across services: users, roles and files each in
//! a server of their own, exporting spans over OTLP/gRPC to a collector in
//! this test. An UpdateUser that checks a permission (roles) and validates an
//! avatar file (files) is one trace whose server spans hang, through the calls
//! the user service makes, under its own.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock},
    time::Duration,
};

use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value::Value,
    trace::v1::Span,
};
use roster::{RosterSettings, Service, Suite};
use roster_kit::{
    TokenKeys,
    auth::BearerToken,
    config::{LogSettings, Secret},
    telemetry::{self, TelemetryGuard},
    testing::TestDatabase,
};
use roster_proto::v1::{
    self as pb, role_service_client::RoleServiceClient, user_service_client::UserServiceClient,
};
use tokio::{net::TcpListener, sync::mpsc};
use tonic::transport::Channel;

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// The collector: every span exported to it goes down the channel.
struct Collector(mpsc::UnboundedSender<Span>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans);
        for span in spans {
            let _ = self.0.send(span);
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|value| match &value.value {
            Some(Value::StringValue(text)) => Some(text.as_str()),
            _ => None,
        })
}

/// The spans of one trace received so far, by span id.
#[derive(Default)]
struct Trace {
    spans: HashMap<Vec<u8>, Span>,
}

impl Trace {
    /// The server span of `method` in this trace.
    fn server_span(&self, method: &str) -> Option<&Span> {
        self.spans.values().find(|span| {
            span.name == "grpc.request" && attribute(span, "rpc.method") == Some(method)
        })
    }

    /// Whether `ancestor` is reached from `span` by parent links.
    fn descends_from(&self, span: &Span, ancestor: &Span) -> bool {
        let mut current = span;
        loop {
            if current.parent_span_id.is_empty() {
                return false;
            }
            if current.parent_span_id == ancestor.span_id {
                return true;
            }
            match self.spans.get(&current.parent_span_id) {
                Some(parent) => current = parent,
                None => return false,
            }
        }
    }
}

/// The receiving end of the collector, and the telemetry that exports to it:
/// installed once, before any server of this test binary starts.
struct Export {
    spans: tokio::sync::Mutex<mpsc::UnboundedReceiver<Span>>,
    guard: Arc<TelemetryGuard>,
}

static EXPORT: LazyLock<Export> = LazyLock::new(|| {
    let (sender, receiver) = mpsc::unbounded_channel();
    // The collector gets a runtime of its own: it outlives every test's.
    let listener = ok(std::net::TcpListener::bind("127.0.0.1:0"));
    let address = ok(listener.local_addr());
    ok(listener.set_nonblocking(true));
    std::thread::spawn(move || {
        let runtime = ok(tokio::runtime::Runtime::new());
        runtime.block_on(async move {
            let listener = ok(TcpListener::from_std(listener));
            ok(tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(Collector(sender)))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await);
        });
    });
    let guard = ok(telemetry::init(&LogSettings {
        filter: "info".into(),
        otlp_endpoint: Some(format!("http://{address}")),
        ..LogSettings::default()
    }));
    Export {
        spans: tokio::sync::Mutex::new(receiver),
        guard: Arc::new(guard),
    }
});

/// Serves `services` on `listener` until the sender is dropped.
async fn serve(
    settings: &RosterSettings,
    services: &[Service],
    keys: Arc<TokenKeys>,
    listener: TcpListener,
) -> tokio::sync::oneshot::Sender<()> {
    let suite = Suite::start(settings, services, keys, &listener)
        .await
        .unwrap_or_else(|e| panic!("starting {services:?}: {e}"));
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

async fn bind() -> (TcpListener, String) {
    let listener = ok(TcpListener::bind("127.0.0.1:0").await);
    let address = format!("http://{}", ok(listener.local_addr()));
    (listener, address)
}

fn bearer(token: &str) -> BearerToken {
    ok(BearerToken::new(token))
}

async fn channel(address: &str) -> Channel {
    ok(ok(Channel::from_shared(address.to_owned())).connect().await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_update_is_one_trace_across_users_roles_and_files() {
    let export = &*EXPORT;
    let keys = Arc::new(TokenKeys::generate("roster"));
    let dir = std::env::temp_dir().join(format!("roster-traces-{}", uuid::Uuid::new_v4()));
    let databases = [
        TestDatabase::sqlite(),
        TestDatabase::sqlite(),
        TestDatabase::sqlite(),
        TestDatabase::sqlite(),
    ];
    let (users_listener, users_address) = bind().await;
    let (roles_listener, roles_address) = bind().await;
    let (files_listener, files_address) = bind().await;
    let mut settings = RosterSettings::default();
    settings.common.data_dir = dir.clone();
    settings.common.endpoints.users = users_address.clone();
    settings.common.endpoints.moderation = users_address.clone();
    settings.common.endpoints.roles = roles_address.clone();
    settings.common.endpoints.files = files_address.clone();
    settings.users.database_url = Some(Secret::new(databases[0].url.clone()));
    settings.roles.database_url = Some(Secret::new(databases[1].url.clone()));
    settings.files.database_url = Some(Secret::new(databases[2].url.clone()));
    settings.moderation.database_url = Some(Secret::new(databases[3].url.clone()));

    let _roles = serve(&settings, &[Service::Roles], keys.clone(), roles_listener).await;
    let _files = serve(&settings, &[Service::Files], keys.clone(), files_listener).await;
    let _users = serve(
        &settings,
        &[Service::Users, Service::Moderation],
        keys.clone(),
        users_listener,
    )
    .await;

    // An editor who holds EDIT_USER, and a target with an avatar image of its own.
    let admin = bearer(&ok(keys.issue_admin("traces", Duration::from_secs(600))).token);
    let mut users =
        UserServiceClient::with_interceptor(channel(&users_address).await, admin.clone());
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
    let (editor, target) = (&created[0], &created[1]);
    let mut roles = RoleServiceClient::with_interceptor(channel(&roles_address).await, admin);
    ok(roles
        .create_role(pb::CreateRoleRequest {
            name: "profile-editor".into(),
            description: "edits profiles".into(),
            permissions: vec!["EDIT_USER".into()],
        })
        .await);
    ok(roles
        .grant_role(pb::GrantRoleRequest {
            user_id: editor.id,
            role: "profile-editor".into(),
            scope: Some(pb::Scope {
                scope: Some(pb::scope::Scope::Network(pb::NetworkScope {})),
            }),
            expires_at: None,
        })
        .await);
    let session =
        |user: &pb::User| bearer(&ok(keys.issue_user(user.id, 0, Duration::from_secs(600))).token);
    let mut files = pb::file_service_client::FileServiceClient::with_interceptor(
        channel(&files_address).await,
        session(target),
    );
    let avatar = ok(roster_files::client::upload(
        &mut files,
        pb::UploadFileHeader {
            name: "me.png".into(),
            size: png().len() as u64,
            purpose: pb::FilePurpose::Avatar.into(),
            ..Default::default()
        },
        &png(),
        64 * 1024,
    )
    .await);

    // The one call: users asks roles (EDIT_USER) and files (the avatar).
    let mut as_editor =
        UserServiceClient::with_interceptor(channel(&users_address).await, session(editor));
    let updated = ok(as_editor
        .update_user(pb::UpdateUserRequest {
            user: Some(pb::UserRef {
                r#ref: Some(pb::user_ref::Ref::Id(target.id)),
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["avatar".into()],
            }),
            patch: Some(pb::UserPatch {
                avatar: Some(pb::Avatar {
                    source: Some(pb::avatar::Source::FileId(avatar.id.clone())),
                }),
                ..Default::default()
            }),
            expected_version: 0,
        })
        .await)
    .into_inner();
    assert!(updated.display_picture_url.ends_with(&avatar.id));

    // Flushed now rather than with the next batch; the spans that end after
    // this flush come with the next one.
    let guard = export.guard.clone();
    ok(ok(tokio::task::spawn_blocking(move || guard.flush()).await));

    let update_method = "/roster.v1.UserService/UpdateUser";
    let check_method = "/roster.v1.RoleService/CheckPermission";
    let file_method = "/roster.v1.FileService/GetFile";
    let mut received = export.spans.lock().await;
    let mut traces: HashMap<Vec<u8>, Trace> = HashMap::new();
    let complete = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let span = received
                .recv()
                .await
                .unwrap_or_else(|| panic!("the collector stopped"));
            let trace = traces.entry(span.trace_id.clone()).or_default();
            trace.spans.insert(span.span_id.clone(), span);
            let found = traces.values().find_map(|trace| {
                let update = trace.server_span(update_method)?;
                let check = trace.server_span(check_method)?;
                let file = trace.server_span(file_method)?;
                // The user service's span is the root: the test's call carried
                // no trace context.
                (update.parent_span_id.is_empty()
                    && trace.descends_from(check, update)
                    && trace.descends_from(file, update))
                .then(|| update.trace_id.clone())
            });
            if let Some(found) = found {
                return found;
            }
        }
    })
    .await;
    let trace_id = complete.unwrap_or_else(|_| {
        let seen: Vec<String> = traces
            .values()
            .flat_map(|t| t.spans.values())
            .filter_map(|s| attribute(s, "rpc.method").map(str::to_owned))
            .collect();
        panic!(
            "no trace joins {update_method}, {check_method} and {file_method} as parent and children; server spans seen: {seen:?}"
        )
    });
    assert_eq!(trace_id.len(), 16, "a W3C trace id");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small PNG.
fn png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(80, 60, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    ok(image.write_to(&mut bytes, image::ImageFormat::Png));
    bytes.into_inner()
}
