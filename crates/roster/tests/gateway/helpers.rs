//! Starts the real suite with its HTTP gateway (as `roster serve` does: every
//! gRPC service on one random port, the gateway on another) over a fresh
//! database, and talks HTTP to it with a real client.

use std::{sync::Arc, time::Duration};

use reqwest::{Method, StatusCode, header::HeaderMap};
use roster::{DEFAULT_SERVICES, RosterSettings, Suite};
use roster_kit::{
    TokenKeys,
    config::Secret,
    testing::{Backend, TestDatabase, local_listener},
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// One key ring for every server of the test binary.
static KEYS: std::sync::LazyLock<Arc<TokenKeys>> =
    std::sync::LazyLock::new(|| Arc::new(TokenKeys::generate("roster")));

pub struct Gateway {
    /// `http://127.0.0.1:PORT` of the gateway.
    pub base: String,
    pub keys: Arc<TokenKeys>,
    pub http: reqwest::Client,
    data_dir: std::path::PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    _database: TestDatabase,
}

/// One HTTP answer, its body read.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub bytes: bytes::Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the error body of `reason`, with the status and code of the table.
    #[track_caller]
    pub fn refused(&self, reason: &str) -> &Self {
        let entry = roster_gateway::reasons::lookup(reason)
            .unwrap_or_else(|| panic!("{reason} is not in the gateway's table"));
        assert_eq!(
            (self.status.as_u16(), self.body["reason"].as_str()),
            (entry.status.as_u16(), Some(reason)),
            "unexpected answer: {self:?}"
        );
        assert_eq!(self.body["status"], "error", "{self:?}");
        assert_eq!(self.body["code"], json!(entry.code), "{self:?}");
        assert!(self.body["message"].is_string(), "{self:?}");
        assert!(self.body["fields"].is_array(), "{self:?}");
        self
    }

    /// The fields an INVALID_FIELD answer names.
    pub fn fields(&self) -> Vec<String> {
        self.body["fields"]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .filter_map(|f| f["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(self.status.is_success(), "expected success, got {self:?}");
        &self.body
    }
}

fn temp_data_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("roster-gateway-{}", uuid::Uuid::new_v4()))
}

impl Gateway {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// The suite with `configure` applied to its settings first.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut RosterSettings)) -> Self {
        if std::env::var("TEST_LOG").is_ok() {
            let _ = roster_kit::telemetry::init(&Default::default());
        }
        let database = TestDatabase::new(backend).await;
        let data_dir = temp_data_dir();
        let mut settings = RosterSettings::default();
        settings.common.data_dir = data_dir.clone();
        settings.users.database_url = Some(Secret::new(&database.url));
        settings.roles.database_url = Some(Secret::new(&database.url));
        settings.files.database_url = Some(Secret::new(&database.url));
        // The gateway's port is chosen first, so that the URLs Roster hands out
        // (`public_url`) point at this very gateway.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap_or_else(|e| panic!("{e}"))
            .port();
        settings.gateway.listen = format!("127.0.0.1:{port}");
        settings.common.public_url = format!("http://127.0.0.1:{port}");
        configure(&mut settings);
        let (listener, _) = local_listener().await;
        let suite = Suite::start(&settings, DEFAULT_SERVICES, KEYS.clone(), &listener)
            .await
            .unwrap_or_else(|e| panic!("starting the suite: {e}"));
        let address = suite
            .gateway_address()
            .unwrap_or_else(|| panic!("the gateway runs in the suite"));
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            suite
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap_or_else(|e| panic!("server failed: {e}"));
        });
        Self {
            base: format!("http://{address}"),
            keys: KEYS.clone(),
            http: reqwest::Client::new(),
            data_dir,
            shutdown: Some(shutdown),
            _database: database,
        }
    }

    pub fn admin_token(&self) -> String {
        self.keys
            .issue_admin("tests", Duration::from_secs(3600))
            .unwrap_or_else(|e| panic!("{e}"))
            .token
    }

    /// A session of user `id` (generation 0: never revoked).
    pub fn user_token(&self, id: i64) -> String {
        self.keys
            .issue_user(id, 0, Duration::from_secs(3600))
            .unwrap_or_else(|e| panic!("{e}"))
            .token
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path`, with `token` as the bearer when given.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, self.url(path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("calling the gateway: {e}"));
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("reading the answer: {e}"));
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            bytes,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.send(self.request(Method::GET, path, token)).await
    }

    pub async fn json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Answer {
        self.send(self.request(method, path, token).json(&body))
            .await
    }

    /// Creates user `name` (as admin) and returns it.
    pub async fn create_user(&self, name: &str) -> Value {
        let answer = self
            .json(
                Method::POST,
                "/v1/users",
                Some(&self.admin_token()),
                json!({"name": name}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
        answer.body
    }

    /// Creates user `name` and returns its id and a session token.
    pub async fn user(&self, name: &str) -> (i64, String) {
        let id = self.create_user(name).await["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("a user id"));
        (id, self.user_token(id))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Generates one `#[tokio::test]` per backend for an `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$test(roster_kit::testing::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$test(roster_kit::testing::Backend::Postgres).await;
                }
            }
        )*
    };
}

/// A plain RGB PNG of the given size.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Png)
        .unwrap_or_else(|e| panic!("encoding a PNG: {e}"));
    bytes.into_inner()
}

/// One server-sent event.
#[derive(Debug, Clone, Default)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
}

/// Reads server-sent events from a streaming response.
pub struct SseReader {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> Self {
        use futures::StreamExt;
        Self {
            stream: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next event (comments and keep-alives skipped); fails after 20 s.
    pub async fn next(&mut self) -> SseEvent {
        use futures::StreamExt;
        let read = async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let mut event = SseEvent::default();
                    let mut data = String::new();
                    for line in block.lines() {
                        if let Some(value) = line.strip_prefix("event:") {
                            event.event = value.trim().to_owned();
                        } else if let Some(value) = line.strip_prefix("id:") {
                            event.id = Some(value.trim().to_owned());
                        } else if let Some(value) = line.strip_prefix("data:") {
                            data.push_str(value.trim_start());
                        }
                    }
                    if event.event.is_empty() && data.is_empty() {
                        continue;
                    }
                    event.data = serde_json::from_str(&data).unwrap_or(Value::Null);
                    return event;
                }
                match self.stream.next().await {
                    Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                    Some(Err(e)) => panic!("the event stream broke: {e}"),
                    None => panic!("the event stream ended; buffered: {:?}", self.buffer),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .unwrap_or_else(|_| panic!("no event within 20 s"))
    }

    /// Whether the stream ends before another event arrives (fails after 20 s).
    pub async fn ends(&mut self) -> bool {
        use futures::StreamExt;
        let read = async {
            loop {
                if self.buffer.contains("data:") {
                    return false;
                }
                match self.stream.next().await {
                    Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                    Some(Err(_)) | None => return true,
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .unwrap_or_else(|_| panic!("the stream neither ended nor sent within 20 s"))
    }

    /// Reads events until one `matches`, returning it and those skipped.
    pub async fn until(
        &mut self,
        matches: impl Fn(&SseEvent) -> bool,
    ) -> (SseEvent, Vec<SseEvent>) {
        let mut skipped = Vec::new();
        loop {
            let event = self.next().await;
            if matches(&event) {
                return (event, skipped);
            }
            skipped.push(event);
        }
    }
}
