//! A 100 MiB upload and download through the gateway of a real `roster serve`
//! process: byte-exact, and the server's memory stays flat (its peak resident
//! size, VmHWM, grows far less than the file).

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

use futures::StreamExt;
use sha2::{Digest, Sha256};

const MIB: usize = 1024 * 1024;
const SIZE: usize = 100 * MIB;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"))
        .port()
}

/// The process's peak resident set size, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_else(|e| panic!("{e}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .unwrap_or_else(|| panic!("no VmHWM in {status}"))
}

/// Chunk `n` of the content: bytes that match no file signature.
fn chunk(n: usize) -> bytes::Bytes {
    (0..MIB)
        .map(|i| ((n * MIB + i) * 7 % 251) as u8)
        .collect::<Vec<_>>()
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_file_streams_through_in_flat_memory() {
    let dir = std::env::temp_dir().join(format!("roster-memory-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let (grpc, http) = (free_port(), free_port());
    let roster = env!("CARGO_BIN_EXE_roster");
    let mut child = Command::new(roster)
        .arg("serve")
        .current_dir(&dir)
        .env("ROSTER_LISTEN", format!("127.0.0.1:{grpc}"))
        .env("ROSTER_GATEWAY__LISTEN", format!("127.0.0.1:{http}"))
        .env("ROSTER_PUBLIC_URL", format!("http://127.0.0.1:{http}"))
        .env("ROSTER_FILES__MAX_UPLOAD_BYTES", (SIZE + MIB).to_string())
        .env("ROSTER_REQUEST_TIMEOUT_MS", "600000")
        .env("ROSTER_GATEWAY__REQUEST_TIMEOUT_MS", "600000")
        .env("ROSTER_LOG__FILTER", "warn")
        .env("ROSTER_ADMIN_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting roster: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| unreachable!());
    let server = Server(child);
    // Both banner lines: gRPC, then the gateway, each printed once it listens.
    let mut lines = BufReader::new(stdout).lines();
    let banner: Vec<String> = (0..2)
        .filter_map(|_| lines.next().and_then(Result::ok))
        .collect();
    assert!(
        banner.iter().any(|l| l.contains("HTTP gateway on")),
        "{banner:?}"
    );
    let admin = Command::new(roster)
        .args(["token", "admin"])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let admin = String::from_utf8_lossy(&admin.stdout).trim().to_owned();
    let base = format!("http://127.0.0.1:{http}");
    let client = reqwest::Client::new();
    let user: serde_json::Value = client
        .post(format!("{base}/v1/users"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "big"}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let owner = user["id"].as_i64().unwrap_or_default();

    let before = peak_rss(server.0.id());
    let body = futures::stream::iter(0..SIZE / MIB).map(|n| Ok::<_, std::io::Error>(chunk(n)));
    let stored: serde_json::Value = client
        .post(format!("{base}/v1/files?name=big.bin&ownerUserId={owner}"))
        .bearer_auth(&admin)
        .header("content-type", "application/octet-stream")
        .header("content-length", SIZE.to_string())
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut expected = Sha256::new();
    for n in 0..SIZE / MIB {
        expected.update(chunk(n));
    }
    let expected = hex::encode(expected.finalize());
    assert_eq!(stored["size"], serde_json::json!(SIZE), "{stored}");
    assert_eq!(stored["sha256"], serde_json::json!(expected));

    let download = client
        .get(stored["url"].as_str().unwrap_or_default())
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(download.content_length(), Some(SIZE as u64));
    let mut received = Sha256::new();
    let mut length = 0;
    let mut stream = download.bytes_stream();
    while let Some(piece) = stream.next().await {
        let piece = piece.unwrap_or_else(|e| panic!("{e}"));
        length += piece.len();
        received.update(&piece);
    }
    assert_eq!((length, hex::encode(received.finalize())), (SIZE, expected));

    let growth = peak_rss(server.0.id()).saturating_sub(before);
    assert!(
        growth < 50 * MIB as u64,
        "the server's peak memory grew by {} MiB for a 100 MiB file",
        growth / MIB as u64
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
