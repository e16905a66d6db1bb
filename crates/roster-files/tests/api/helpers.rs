//! Starting the service on a random port, clients with tokens, a local S3
//! server, and crafted images.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::TryStreamExt;
use object_store::ObjectStore;
use roster_files::{FileService, FilesSettings, S3Settings, StorageBackend, StorageSettings};
use roster_kit::service::{RosterService, ServiceContext};
use roster_kit::{
    TokenKeys,
    auth::BearerToken,
    config::{CommonSettings, Secret},
    keys::{KeyPurpose, KeySet},
    server::ServerBuilder,
    testing::{Backend, TestDatabase, local_listener},
};
use roster_proto::v1::{
    DownloadFileRequest, FileVariant, FileVariantInfo, download_file_response,
    file_service_client::FileServiceClient,
};
use roster_roles::RoleService;
use sea_orm::ConnectionTrait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::{
    Status, client::GrpcService, service::interceptor::InterceptedService, transport::Channel,
};
use tonic_types::StatusExt;

pub type Client = FileServiceClient<InterceptedService<Channel, BearerToken>>;

/// What file URLs and download links start with in these tests.
pub const URL_BASE: &str = "http://files.test/v1/files";

/// The limit the tests run with: small, so oversized streams are cheap, and
/// above S3's 5 MiB part size, so streaming writes span several parts.
const MAX_UPLOAD_BYTES: u64 = 6 * 1024 * 1024 + 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Local,
    S3,
}

pub struct TestApp {
    pub backend: Backend,
    address: String,
    pub keys: Arc<TokenKeys>,
    /// The keys `keys` were made from, private halves included: tests sign
    /// tokens the API would never issue (an expired download link).
    key_set: KeySet,
    db: TestDatabase,
    dir: PathBuf,
    storage_dir: Option<PathBuf>,
    store: Arc<dyn ObjectStore>,
    pub max_upload_bytes: u64,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _moto: Option<Moto>,
}

impl TestApp {
    pub async fn start(backend: Backend, storage: Storage) -> Self {
        init_logging();
        let db = TestDatabase::new(backend).await;
        let dir = std::env::temp_dir().join(format!("roster-files-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {dir:?}: {e}"));

        let (storage_settings, moto) = match storage {
            Storage::Local => (StorageSettings::default(), None),
            Storage::S3 => {
                let bucket = "roster-files-test";
                let moto = Moto::start(bucket).await;
                let settings = StorageSettings {
                    backend: StorageBackend::S3,
                    local_dir: None,
                    s3: S3Settings {
                        bucket: bucket.into(),
                        endpoint: Some(moto.endpoint.clone()),
                        region: Some("us-east-1".into()),
                        access_key_id: Some("testing".into()),
                        secret_access_key: Some(Secret::new("testing")),
                        allow_http: true,
                        prefix: Some("roster".into()),
                    },
                };
                (settings, Some(moto))
            }
        };
        let common = CommonSettings {
            data_dir: dir.clone(),
            auto_migrate: true,
            public_url: "http://files.test".into(),
            ..CommonSettings::default()
        };
        let settings = FilesSettings {
            database_url: Some(Secret::new(db.url.clone())),
            max_upload_bytes: MAX_UPLOAD_BYTES,
            storage: storage_settings,
            ..FilesSettings::default()
        };
        let storage_dir = (storage == Storage::Local).then(|| settings.storage.local_dir(&dir));
        let store = roster_files::store::open_store(&settings.storage, &dir)
            .unwrap_or_else(|e| panic!("opening the store: {e}"));

        let now = chrono::Utc::now().timestamp();
        let mut key_set = KeySet::default();
        key_set.rotate(KeyPurpose::Session, now, now);
        key_set.rotate(KeyPurpose::Service, now, now);
        let keys = Arc::new(
            TokenKeys::from_sets("roster", [key_set.clone()]).unwrap_or_else(|e| panic!("{e}")),
        );
        let (listener, address) = local_listener().await;
        // Deleting another user's file asks the role service, served alongside.
        let ctx = ServiceContext::new(common.clone(), keys.clone(), &address)
            .unwrap_or_else(|e| panic!("{e}"));
        let roles = RoleService::start(
            &ctx,
            &roster_roles::RolesSettings {
                database_url: Some(Secret::new(db.url.clone())),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("starting the role service: {e}"));
        let files = FileService::start(&ctx, &settings)
            .await
            .unwrap_or_else(|e| panic!("starting the file service: {e}"));
        let mut builder = ServerBuilder::new(keys.clone(), Duration::from_secs(60));
        files.register(&mut builder);
        roles.register(&mut builder);
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let result = builder
                .serve(listener, async {
                    let _ = stop.await;
                })
                .await;
            if let Err(err) = result {
                panic!("the file service stopped: {err}");
            }
        });
        Self {
            backend,
            address,
            keys,
            key_set,
            db,
            dir,
            storage_dir,
            store,
            max_upload_bytes: MAX_UPLOAD_BYTES,
            shutdown: Some(shutdown),
            server: Some(server),
            _moto: moto,
        }
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.address.clone())
            .unwrap_or_else(|e| panic!("{e}"))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.address))
    }

    pub async fn client_with_token(&self, token: &str) -> Client {
        let token = BearerToken::new(token).unwrap_or_else(|e| panic!("{e}"));
        FileServiceClient::with_interceptor(self.channel().await, token)
            .max_decoding_message_size(8 * 1024 * 1024)
    }

    /// A client that sends no token.
    pub async fn anonymous_client(&self) -> FileServiceClient<Channel> {
        FileServiceClient::new(self.channel().await).max_decoding_message_size(8 * 1024 * 1024)
    }

    /// A download link for `file_id` signed with this server's service key,
    /// expiring at `expires_at` (Unix seconds; in the past for an expired one):
    /// what `TokenKeys::issue_file_link` signs, without its "from now on" rule.
    pub fn signed_link(&self, file_id: &str, expires_at: i64) -> String {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        let key = self
            .key_set
            .keys
            .iter()
            .find(|k| k.purpose == KeyPurpose::Service)
            .unwrap_or_else(|| panic!("no service key"));
        let seed = URL_SAFE_NO_PAD
            .decode(key.d.as_deref().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        // PKCS#8 v1 of an Ed25519 seed (RFC 8410): a fixed prefix, then the seed.
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(&seed);
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        let claims = serde_json::json!({
            "iss": "roster",
            "sub": file_id,
            "kind": "file_link",
            "iat": expires_at - 300,
            "exp": expires_at,
        });
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(&der),
        )
        .unwrap_or_else(|e| panic!("signing a link: {e}"))
    }

    pub async fn user_client(&self, user_id: i64) -> Client {
        let token = self
            .keys
            .issue_user(user_id, 0, Duration::from_secs(600))
            .unwrap_or_else(|e| panic!("{e}"));
        self.client_with_token(&token.token).await
    }

    pub async fn admin_client(&self) -> Client {
        let token = self
            .keys
            .issue_admin("tests", Duration::from_secs(600))
            .unwrap_or_else(|e| panic!("{e}"));
        self.client_with_token(&token.token).await
    }

    pub async fn service_client(&self, name: &str) -> Client {
        let token = self
            .keys
            .issue_service(name, Duration::from_secs(600))
            .unwrap_or_else(|e| panic!("{e}"));
        self.client_with_token(&token.token).await
    }

    /// Downloads a rendition: its announced info and the bytes.
    pub async fn try_download<T>(
        &self,
        client: &mut FileServiceClient<T>,
        file_id: &str,
        variant: FileVariant,
    ) -> Result<(FileVariantInfo, Vec<u8>), Status>
    where
        T: GrpcService<tonic::body::Body>,
        T::Error: Into<tonic::codegen::StdError>,
        T::ResponseBody: tonic::codegen::Body<Data = bytes::Bytes> + Send + 'static,
        <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
    {
        let request = DownloadFileRequest {
            file_id: file_id.into(),
            variant: variant as i32,
            ..Default::default()
        };
        self.try_download_request(client, request).await
    }

    /// Downloads what `request` asks for (e.g. with a `link_token`).
    pub async fn try_download_request<T>(
        &self,
        client: &mut FileServiceClient<T>,
        request: DownloadFileRequest,
    ) -> Result<(FileVariantInfo, Vec<u8>), Status>
    where
        T: GrpcService<tonic::body::Body>,
        T::Error: Into<tonic::codegen::StdError>,
        T::ResponseBody: tonic::codegen::Body<Data = bytes::Bytes> + Send + 'static,
        <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
    {
        let mut stream = client.download_file(request).await?.into_inner();
        let mut info = None;
        let mut bytes = Vec::new();
        while let Some(message) = stream.message().await? {
            match message.part {
                Some(download_file_response::Part::Info(i)) => {
                    assert!(info.is_none() && bytes.is_empty(), "info comes first, once");
                    info = Some(i);
                }
                Some(download_file_response::Part::Chunk(chunk)) => {
                    assert!(chunk.len() <= 64 * 1024, "chunks are at most 64 KiB");
                    bytes.extend(chunk);
                }
                None => panic!("an empty download message"),
            }
        }
        let info = info.unwrap_or_else(|| panic!("no info message"));
        assert_eq!(info.size, bytes.len() as i64, "info.size is the total sent");
        Ok((info, bytes))
    }

    pub async fn download<T>(
        &self,
        client: &mut FileServiceClient<T>,
        file_id: &str,
        variant: FileVariant,
    ) -> (FileVariantInfo, Vec<u8>)
    where
        T: GrpcService<tonic::body::Body>,
        T::Error: Into<tonic::codegen::StdError>,
        T::ResponseBody: tonic::codegen::Body<Data = bytes::Bytes> + Send + 'static,
        <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
    {
        self.try_download(client, file_id, variant)
            .await
            .unwrap_or_else(|s| panic!("download {file_id} {variant:?}: {s:?}"))
    }

    /// Runs SQL statements directly against the service's database.
    pub async fn execute(&self, sql: &str) {
        let db = sea_orm::Database::connect(&self.db.url)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        db.execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = db.close().await;
    }

    /// Rows in the service's `files` table.
    pub async fn row_count(&self) -> i64 {
        let db = sea_orm::Database::connect(&self.db.url)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM files",
            ))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("COUNT returned no row"));
        let count: i64 = row.try_get_by_index(0).unwrap_or_else(|e| panic!("{e}"));
        let _ = db.close().await;
        count
    }

    /// Objects in the store, and for the local backend every file under its
    /// directory (partial uploads included), which must agree.
    pub async fn object_count(&self) -> usize {
        let objects: Vec<_> = self
            .store
            .list(None)
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("listing the store: {e}"));
        if let Some(dir) = &self.storage_dir {
            let on_disk = files_under(dir);
            assert_eq!(on_disk.len(), objects.len(), "files on disk: {on_disk:?}");
        }
        objects.len()
    }

    pub async fn assert_nothing_stored(&self) {
        assert_eq!(self.row_count().await, 0, "a row was left behind");
        assert_eq!(self.object_count().await, 0, "an object was left behind");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

fn init_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = roster_kit::telemetry::init(&roster_kit::config::LogSettings {
            filter: "debug".into(),
            ..Default::default()
        });
    }
}

/// The `google.rpc.ErrorInfo` reason of a status.
pub fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

/// The fields a status's `google.rpc.BadRequest` names.
pub fn violations(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// A moto S3 server on a free local port, stopped when dropped.
pub struct Moto {
    child: Child,
    address: String,
    pub endpoint: String,
}

impl Moto {
    /// Starts `moto_server` (or `$ROSTER_TEST_MOTO_SERVER`) and creates `bucket`,
    /// polling until the server answers.
    pub async fn start(bucket: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("finding a free port: {e}"));
        let program =
            std::env::var("ROSTER_TEST_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{program}` ({e}). The S3 tests need it: `make test` installs it \
                     (python3 -m pip install 'moto[server]')"
                )
            });
        let address = format!("127.0.0.1:{port}");
        let mut moto = Self {
            child,
            endpoint: format!("http://{address}"),
            address,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match moto.put_bucket(bucket).await {
                Ok(status) if status.contains(" 200 ") => return moto,
                Ok(status) => panic!("moto refused to create bucket {bucket}: {status}"),
                Err(err) => {
                    if let Ok(Some(exit)) = moto.child.try_wait() {
                        panic!(
                            "`{program}` exited at start ({exit}); reinstall it with `make test`"
                        );
                    }
                    assert!(
                        Instant::now() < deadline,
                        "`{program}` did not answer on {} within 60 s: {err}",
                        moto.address
                    );
                    // Poll again shortly; the server is still starting.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    async fn put_bucket(&self, bucket: &str) -> std::io::Result<String> {
        let mut stream = tokio::net::TcpStream::connect(&self.address).await?;
        let request = format!(
            "PUT /{bucket} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.address
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        let text = String::from_utf8_lossy(&response);
        Ok(text.lines().next().unwrap_or_default().to_owned())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A PNG of `width` x `height` with a gradient.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap_or_else(|e| panic!("{e}"));
    out.into_inner()
}

/// A tiny PNG whose header claims `width` x `height` pixels: a 1x1 image with
/// its IHDR rewritten (and its CRC recomputed).
pub fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(1, 1);
    // Signature (8), IHDR length (4), "IHDR" (4), then width and height.
    assert_eq!(&bytes[12..16], b"IHDR");
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// A JPEG carrying an EXIF APP1 segment (orientation tag, then `extra` bytes
/// such as fake GPS text) right after its SOI marker.
pub fn jpeg_with_exif(width: u32, height: u32, extra: &[u8]) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 3 % 256) as u8, (y * 5 % 256) as u8, 128])
    });
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut jpeg, 90,
        ))
        .unwrap_or_else(|e| panic!("{e}"));

    // TIFF header (big endian), one IFD entry: Orientation (0x0112) SHORT 1 = 1.
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(b"MM\0\x2a\0\0\0\x08");
    exif.extend_from_slice(&1u16.to_be_bytes());
    exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0, 1, 0, 0]);
    exif.extend_from_slice(&0u32.to_be_bytes());
    exif.extend_from_slice(extra);
    let length = u16::try_from(exif.len() + 2).unwrap_or_else(|e| panic!("{e}"));

    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}
