//! File service benchmark: UploadFile of 1 MiB and 10 MiB attachments over
//! gRPC (local-directory storage, PostgreSQL metadata) against the disk
//! ceiling, and avatar processing time per image.
//!
//! The disk ceiling writes the same bytes to the same directory the way
//! `object_store`'s local store does for the service: a staged file
//! `<shard>/<id>-original#1` written from blocking threads, then closed and
//! renamed into place. The ceiling has every byte in memory from the start, so
//! it writes in parts of 5 MiB (S3's part size, a 1 MiB file in one write); the
//! service writes each 256 KiB part as it arrives. The service's store is
//! opened with `LocalFileSystem::new_with_prefix`, whose `fsync` is off, so
//! neither side fsyncs: both measure writes into the page cache.

use std::{
    fs::OpenOptions,
    io::{Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use image::{
    DynamicImage, ImageFormat, RgbImage,
    codecs::{jpeg::JpegEncoder, png::PngEncoder},
};
use roster_files::{
    FilesSettings, StorageBackend, StorageSettings,
    domain::avatar::{self, AvatarLimits},
};
use roster_kit::testing::TestDatabase;
use roster_proto::v1 as pb;

use crate::{
    Args, h2load,
    lean::{self, LeanCall},
    local::{self, TempDir},
    measure::{self, Call, Latency, LoadShape, Throughput, splitmix},
    report::Row,
};

const MIB: usize = 1024 * 1024;
/// Upload message size: the size the proto recommends.
const CHUNK: usize = 64 * 1024;
/// The ceiling's part size (S3's minimum, the largest the service uses).
const PART: usize = 5 * MIB;
/// Bytes one measurement run may write at most (keeps the page cache, not the
/// device's write-back, the thing measured, and the disk from filling).
const RUN_BYTES: usize = 2 * 1024 * MIB;

/// A temporary directory, removed when dropped.
/// Empties the storage directory between runs (the uploads' rows stay; nothing reads them).
fn clear(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Incompressible bytes that match no content signature.
fn content(len: usize) -> bytes::Bytes {
    let mut out = Vec::with_capacity(len + 8);
    out.extend_from_slice(b"roster-bench data ");
    let mut x = 0u64;
    while out.len() < len {
        x = splitmix(x);
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    bytes::Bytes::from(out)
}

/// UploadFile of `content` as an attachment, through the lean client: the
/// chunk frames are encoded once and shared by every call, only the header
/// (its name) is encoded per call.
fn upload_call(token: &str, content: &[u8]) -> LeanCall {
    let size = content.len();
    let chunks: Arc<[bytes::Bytes]> = content
        .chunks(CHUNK)
        .map(|chunk| {
            bytes::Bytes::from(h2load::frame(&pb::UploadFileRequest {
                part: Some(pb::upload_file_request::Part::Chunk(chunk.to_vec().into())),
            }))
        })
        .collect();
    LeanCall::streaming("/roster.v1.FileService/UploadFile", token, move |n| {
        let header = pb::UploadFileRequest {
            part: Some(pb::upload_file_request::Part::Header(
                pb::UploadFileHeader {
                    name: format!("bench-{n}.bin"),
                    content_type: "application/octet-stream".into(),
                    size: size as u64,
                    purpose: pb::FilePurpose::Attachment as i32,
                    owner_user_id: 1 + (n % 1000) as i64,
                    ..Default::default()
                },
            )),
        };
        let mut frames = Vec::with_capacity(chunks.len() + 1);
        frames.push(bytes::Bytes::from(h2load::frame(&header)));
        frames.extend(chunks.iter().cloned());
        frames
    })
}

/// The same bytes written straight to the same directory, as the local store writes them.
/// With `hashed`, the bytes are also hashed with SHA-256 as they are written,
/// as the file service does for every upload (`File.sha256`).
#[derive(Clone)]
struct DiskWrite {
    dir: PathBuf,
    content: bytes::Bytes,
    hashed: bool,
}

impl Call for DiskWrite {
    async fn call(&self, _lane: usize, _n: u64) -> Result<(), String> {
        let hashing = async {
            if self.hashed {
                let content = self.content.clone();
                tokio::task::spawn_blocking(move || {
                    use sha2::Digest;
                    sha2::Sha256::digest(&content)
                })
                .await
                .map(drop)
                .map_err(std::io::Error::other)
            } else {
                Ok(())
            }
        };
        let (written, hashed) = tokio::join!(
            write_like_local_store(&self.dir, self.content.clone()),
            hashing
        );
        written.and(hashed).map_err(|e| e.to_string())
    }
}

async fn write_like_local_store(dir: &Path, content: bytes::Bytes) -> std::io::Result<()> {
    let id = format!("{:032x}", rand::random::<u128>());
    let dest = dir.join(&id[..2]).join(format!("{id}-original"));
    let mut staged = dest.clone().into_os_string();
    staged.push("#1");
    let staged = PathBuf::from(staged);
    // Opened on the calling thread, creating the shard directory on demand, as
    // `put_multipart` does.
    let open = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&staged)
    };
    let file = match open() {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = staged.parent() {
                std::fs::create_dir_all(parent)?;
            }
            open()?
        }
        Err(err) => return Err(err),
    };
    let file = Arc::new(std::sync::Mutex::new(file));
    let mut offset = 0u64;
    let mut rest = content;
    while !rest.is_empty() {
        let part = rest.split_to(rest.len().min(PART));
        let file = file.clone();
        let at = offset;
        offset += part.len() as u64;
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut file = file.lock().map_err(|_| std::io::Error::other("poisoned"))?;
            file.seek(SeekFrom::Start(at))?;
            file.write_all(&part)
        })
        .await
        .map_err(std::io::Error::other)??;
    }
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let file = file.lock().map_err(|_| std::io::Error::other("poisoned"))?;
        file.metadata()?;
        drop(file);
        std::fs::rename(&staged, &dest)
    })
    .await
    .map_err(std::io::Error::other)?
}

fn mib_per_s(bytes: usize, seconds_per_request: f64) -> f64 {
    bytes as f64 / MIB as f64 / seconds_per_request
}

/// A throughput row in MiB/s.
fn rate_row(
    what: &str,
    bytes: usize,
    run: &Throughput,
    ceiling: &str,
    ceiling_run: &Throughput,
) -> Row {
    let rate = run.rps * bytes as f64 / MIB as f64;
    let ceiling_rate = ceiling_run.rps * bytes as f64 / MIB as f64;
    Row {
        unit: "MiB/s",
        figure: rate,
        ceiling: format!("{ceiling} MiB/s"),
        ceiling_figure: ceiling_rate,
        ratio: rate / ceiling_rate,
        ..Row::throughput(what, run, ceiling, ceiling_run)
    }
}

struct SizeResult {
    label: String,
    bytes: usize,
    disk: (Latency, Throughput),
    hashed_disk: Throughput,
    upload: (Latency, Throughput),
    /// The lean client's CPU share during the throughput runs.
    client_cores: f64,
}

async fn measure_size(
    bytes: usize,
    address: &str,
    token: &str,
    storage: &Path,
    shape: LoadShape,
) -> anyhow::Result<SizeResult> {
    let label = format!("{} MiB", bytes / MIB);
    let data = content(bytes);
    let cap = (RUN_BYTES / bytes) as u64;
    let unloaded_requests = shape.unloaded_requests.min(RUN_BYTES / 2 / bytes).max(50);
    let disk = DiskWrite {
        dir: storage.to_owned(),
        content: data.clone(),
        hashed: false,
    };
    let hashed_disk = DiskWrite {
        hashed: true,
        ..disk.clone()
    };

    eprintln!("measuring disk writes of {label} (ceiling) …");
    measure::unloaded(&disk, 10).await?;
    let disk_latency = measure::unloaded(&disk, unloaded_requests).await?;
    clear(storage)?;
    eprintln!("measuring UploadFile of {label} (lean client) …");
    let unloaded = lean::measure(
        address,
        upload_call(token, &data),
        LoadShape {
            unloaded_requests,
            in_flight: 0,
            ..shape
        },
    )
    .await?;
    clear(storage)?;

    // The throughput runs in mirrored order (disk, hashed, upload, upload,
    // hashed, disk), each pair pooled: every kind of run then stands, on
    // average, at the same place in the sequence. On a filesystem without a
    // journal ext4 skips (and reads) every inode deleted in the last minutes
    // when it allocates one, so each run creates files more slowly than the
    // run before it: in a plain order that drift counted against whichever
    // ran last (the uploads).
    let disk = Arc::new(disk);
    let hashed_disk = Arc::new(hashed_disk);
    let loaded_shape = LoadShape {
        unloaded_requests: 0,
        ..shape
    };
    let disk_first = measure::throughput_capped(disk.clone(), shape, cap).await;
    clear(storage)?;
    eprintln!("measuring disk writes of {label} with SHA-256 (ceiling) …");
    let hashed_first = measure::throughput_capped(hashed_disk.clone(), shape, cap).await;
    clear(storage)?;
    eprintln!("measuring UploadFile of {label} under load (lean client, twice) …");
    let upload = || lean::measure(address, upload_call(token, &data).capped(cap), loaded_shape);
    let upload_first = upload().await?;
    clear(storage)?;
    let upload_second = upload().await?;
    clear(storage)?;
    let hashed_second = measure::throughput_capped(hashed_disk, shape, cap).await;
    clear(storage)?;
    let disk_second = measure::throughput_capped(disk, shape, cap).await;
    clear(storage)?;

    Ok(SizeResult {
        label,
        bytes,
        disk: (disk_latency, disk_first.pooled(&disk_second)),
        hashed_disk: hashed_first.pooled(&hashed_second),
        upload: (
            unloaded.latency,
            upload_first.throughput.pooled(&upload_second.throughput),
        ),
        client_cores: (upload_first.client_cores + upload_second.client_cores) / 2.0,
    })
}

/// A photo-like image: smooth gradients with a little noise (so encoders have
/// real work, unlike a flat colour, without the worst case of pure noise).
fn photo(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        let noise = splitmix((u64::from(x) << 32) | u64::from(y));
        let jitter = |shift: u32| ((noise >> shift) & 15) as u32;
        let r = (x * 200 / width + jitter(0)).min(255) as u8;
        let g = (y * 200 / height + jitter(8)).min(255) as u8;
        let b = ((x + y) * 100 / (width + height) + 60 + jitter(16)).min(255) as u8;
        image::Rgb([r, g, b])
    }))
}

fn encode(image: &DynamicImage, format: ImageFormat) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    match format {
        ImageFormat::Jpeg => {
            image.write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90))?
        }
        _ => image.write_with_encoder(PngEncoder::new(&mut out))?,
    }
    Ok(out)
}

/// Times `work` on a blocking thread (as the service runs avatar processing):
/// one warm-up, then at least 5 runs, up to 200 or about 6 s (with 50, the
/// p99 was the slowest run alone, and moved by half between runs).
async fn time_blocking<F>(work: F) -> anyhow::Result<Latency>
where
    F: Fn() -> anyhow::Result<()> + Send + Sync + 'static,
{
    struct Blocking<F>(Arc<F>);
    impl<F> Call for Blocking<F>
    where
        F: Fn() -> anyhow::Result<()> + Send + Sync + 'static,
    {
        async fn call(&self, _lane: usize, _n: u64) -> Result<(), String> {
            let work = self.0.clone();
            tokio::task::spawn_blocking(move || work())
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        }
    }
    let call = Blocking(Arc::new(work));
    let started = Instant::now();
    measure::unloaded(&call, 1).await?;
    let once = started.elapsed().as_secs_f64().max(1e-6);
    let runs = ((6.0 / once) as usize).clamp(5, 200);
    measure::unloaded(&call, runs).await
}

async fn measure_avatars() -> anyhow::Result<Vec<Row>> {
    let defaults = FilesSettings::default();
    let limits = AvatarLimits {
        max_width: defaults.avatar_max_width,
        max_height: defaults.avatar_max_height,
    };
    let mut rows = Vec::new();
    for (width, height) in [(1024u32, 1024u32), (3000, 2000)] {
        let image = photo(width, height);
        for (format, name) in [(ImageFormat::Png, "PNG"), (ImageFormat::Jpeg, "JPEG")] {
            let input: Arc<[u8]> = encode(&image, format)?.into();
            eprintln!("measuring avatar processing of a {width}×{height} {name} …");
            let bytes = input.clone();
            let decode = time_blocking(move || {
                image::load_from_memory_with_format(&bytes, format)?;
                Ok(())
            })
            .await?;
            let bytes = input.clone();
            let process = time_blocking(move || {
                let renditions = avatar::process(&bytes, format, limits)?;
                anyhow::ensure!(renditions.len() == 3, "expected 3 renditions");
                Ok(())
            })
            .await?;
            rows.push(
                Row::latency(
                    &format!("avatar process {name} {width}×{height}"),
                    &process,
                    "decode only",
                    &decode,
                )
                .with_note(format!(
                    "avatar::process (decode, orient, re-encode, 64+256 px variants), 1 at a time on a blocking thread; input {} KiB; {} runs",
                    input.len() / 1024,
                    process.requests
                )),
            );
        }
    }
    Ok(rows)
}

pub async fn run(args: &Args) -> anyhow::Result<Vec<Row>> {
    let database = TestDatabase::postgres().await;
    let storage_dir = TempDir::new()?;
    let storage = storage_dir.0.clone();
    let suite = local::start(&database.url, |settings| {
        // Uploads of 10 MiB under load take longer than the default deadline.
        settings.common.request_timeout_ms = 60_000;
        settings.files.storage = StorageSettings {
            backend: StorageBackend::Local,
            local_dir: Some(storage.clone()),
            ..StorageSettings::default()
        };
    })
    .await?;
    let keys = suite.keys.clone();
    let address = suite.address.clone();

    let admin = keys.issue_admin("bench", Duration::from_secs(3600))?.token;
    let connections = args.uploaders.min(args.connections).max(1);
    let shape = LoadShape {
        unloaded_requests: args.unloaded,
        in_flight: args.uploaders,
        connections,
        duration: Duration::from_secs(args.seconds),
    };

    let mut rows = Vec::new();
    for bytes in [MIB, 10 * MIB] {
        let r = measure_size(bytes, &address, &admin, &storage, shape).await?;
        let disk_what = format!("disk write {} (ceiling)", r.label);
        let upload_what = format!("UploadFile {}", r.label);
        let disk_ceiling = format!("disk write {}", r.label);
        let (disk_latency, disk_run) = &r.disk;
        let (upload_latency, upload_run) = &r.upload;
        let one_in_flight = |latency: &Latency| mib_per_s(r.bytes, latency.mean_ms / 1000.0);
        let run_note = |run: &Throughput, who: &str| {
            format!(
                "{} {who}; two runs in mirrored order, {} done in {:.1} s",
                args.uploaders, run.requests, run.seconds
            )
        };
        rows.push(
            Row::latency(&disk_what, disk_latency, &disk_ceiling, disk_latency).with_note(format!(
                "1 in flight: {:.0} MiB/s; staged file in 5 MiB parts + rename, no fsync",
                one_in_flight(disk_latency)
            )),
        );
        rows.push(
            Row::latency(&upload_what, upload_latency, &disk_ceiling, disk_latency).with_note(
                format!(
                    "1 in flight: {:.0} MiB/s (disk {:.0} MiB/s); 64 KiB chunks, PostgreSQL metadata",
                    one_in_flight(upload_latency),
                    one_in_flight(disk_latency)
                ),
            ),
        );
        rows.push(
            rate_row(&disk_what, r.bytes, disk_run, &disk_ceiling, disk_run)
                .with_note(run_note(disk_run, "writers")),
        );
        rows.push(
            rate_row(&upload_what, r.bytes, upload_run, &disk_ceiling, disk_run).with_note(
                format!(
                    "{} over {connections} connections; lean client, {:.2} cores",
                    run_note(upload_run, "uploaders"),
                    r.client_cores
                ),
            ),
        );
        let hashed = format!("disk write + SHA-256 {}", r.label);
        rows.push(
            rate_row(
                &format!("{hashed} (ceiling)"),
                r.bytes,
                &r.hashed_disk,
                &disk_ceiling,
                disk_run,
            )
            .with_note("the same writes, each also hashed with SHA-256 (File.sha256)"),
        );
        rows.push(
            rate_row(&upload_what, r.bytes, upload_run, &hashed, &r.hashed_disk)
                .with_note("beside the writes that also hash, as the service must"),
        );
    }
    rows.extend(measure_avatars().await?);

    println!(
        "\nstorage: {} (local directory, same filesystem for both); metadata in PostgreSQL; {} uploaders for ≤ {} s or ≤ {} MiB per throughput run",
        storage.display(),
        args.uploaders,
        args.seconds,
        RUN_BYTES / MIB
    );
    drop(database);
    Ok(rows)
}
