//! Throughput measured by `h2load` (Debian's nghttp2-client) instead of the
//! bench's own tonic client, which shares the process — and the two cores —
//! with the server and can become the ceiling itself. h2load posts one prebuilt
//! gRPC frame over and over from a single thread; its CPU time is read back
//! (bash's `times`) so each figure carries the client's share of the machine.
//!
//! h2load counts a gRPC error as HTTP 200 (the status travels in trailers), so
//! callers check the same request once through tonic before trusting a run.

use std::process::Command;

use prost::Message;

use crate::{measure::LoadShape, report::Row};

/// One h2load run.
#[derive(Debug, Clone)]
pub struct H2Run {
    pub rps: f64,
    /// Mean time per request, ms (h2load prints no percentiles).
    pub mean_ms: f64,
    pub succeeded: u64,
    pub failed: u64,
    /// h2load's CPU time over the run's wall time, in cores (1.0: one core busy).
    pub client_cores: f64,
}

impl H2Run {
    /// A table row: `run` beside `ceiling`'s rate, the client's CPU in the note.
    pub fn row(&self, what: &str, ceiling: &str, ceiling_run: &H2Run) -> Row {
        Row {
            what: format!("{what} [h2load]"),
            shape: "throughput",
            figure: self.rps,
            unit: "rps",
            p50_ms: self.mean_ms,
            p99_ms: 0.0,
            max_ms: None,
            errors: self.failed,
            ceiling: format!("{ceiling} [h2load] rps"),
            ceiling_figure: ceiling_run.rps,
            ratio: self.rps / ceiling_run.rps,
            requests: self.succeeded,
            note: Some(format!(
                "h2load client {:.2} cores (ceiling's {:.2}); p50 column: mean, h2load prints no percentiles",
                self.client_cores, ceiling_run.client_cores
            )),
        }
    }
}

/// Whether h2load is installed; `make bench` installs it when it can.
pub fn available() -> bool {
    Command::new("h2load")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// A gRPC frame of `message`: no compression, 4-byte big-endian length, bytes.
pub fn frame(message: &impl Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut framed = Vec::with_capacity(body.len() + 5);
    framed.push(0);
    framed.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    framed.extend_from_slice(&body);
    framed
}

/// Posts `frame` to `address` + `path` (e.g. "/roster.v1.DiagnosticsService/Ping")
/// with `token`, `shape.in_flight` streams over `shape.connections`
/// connections, for `shape.duration`.
pub fn run(
    address: &str,
    path: &str,
    token: &str,
    frame: &[u8],
    shape: LoadShape,
) -> anyhow::Result<H2Run> {
    let body = tempfile_with(frame)?;
    let connections = shape.connections.max(1);
    let streams = shape.in_flight.div_ceil(connections).max(1);
    let seconds = shape.duration.as_secs().max(1);
    // bash's `times` prints the children's user and system time on its second line.
    let script = format!(
        "h2load -t 1 -c {connections} -m {streams} -D {seconds} -d '{body}' \
         -H 'content-type: application/grpc' -H 'te: trailers' \
         -H 'authorization: Bearer {token}' '{address}{path}'; times",
        body = body.0.display()
    );
    let out = Command::new("bash").arg("-c").arg(&script).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse(&text, seconds as f64).ok_or_else(|| {
        anyhow::anyhow!(
            "h2load printed no result: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn parse(text: &str, seconds: f64) -> Option<H2Run> {
    let mut rps = None;
    let mut mean_ms = None;
    let mut succeeded = 0;
    let mut failed = 0;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("finished in ") {
            rps = rest
                .split(", ")
                .nth(1)
                .and_then(|r| r.strip_suffix(" req/s"))
                .and_then(|r| r.parse::<f64>().ok());
        } else if let Some(rest) = line.strip_prefix("requests: ") {
            let count = |label: &str| {
                rest.split(", ")
                    .find_map(|part| part.strip_suffix(label))
                    .and_then(|n| n.trim().parse::<u64>().ok())
                    .unwrap_or(0)
            };
            succeeded = count(" succeeded");
            failed = count(" failed") + count(" errored") + count(" timeout");
        } else if let Some(rest) = line.strip_prefix("time for request:") {
            // min, max, mean, sd, ±sd: the third figure is the mean.
            mean_ms = rest.split_whitespace().nth(2).and_then(duration_ms);
        }
    }
    let client_seconds: f64 = text
        .lines()
        .last()?
        .split_whitespace()
        .filter_map(bash_time_seconds)
        .sum();
    Some(H2Run {
        rps: rps?,
        mean_ms: mean_ms.unwrap_or(0.0),
        succeeded,
        failed,
        client_cores: client_seconds / seconds,
    })
}

/// "1.23ms", "456us", "2.1s" in ms.
fn duration_ms(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// bash's "1m2.345s" in seconds.
fn bash_time_seconds(text: &str) -> Option<f64> {
    let (minutes, seconds) = text.strip_suffix('s')?.split_once('m')?;
    Some(minutes.parse::<f64>().ok()? * 60.0 + seconds.parse::<f64>().ok()?)
}

/// A scratch file holding `bytes`, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tempfile_with(bytes: &[u8]) -> anyhow::Result<Scratch> {
    let path = std::env::temp_dir().join(format!("roster-bench-h2-{:016x}", rand::random::<u64>()));
    std::fs::write(&path, bytes)?;
    Ok(Scratch(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rate_outcome_and_client_time() {
        let text = "\
finished in 10.00s, 59166.10 req/s, 3.20MB/s
requests: 591661 total, 591661 started, 591661 done, 591650 succeeded, 11 failed, 0 errored, 0 timeout
status codes: 591661 2xx, 0 3xx, 0 4xx, 0 5xx
                     min         max         mean         sd        +/- sd
time for request:      123us     10.12ms       1.50ms       0.4ms    70.00%
0m0.001s 0m0.002s
0m6.500s 0m1.500s
";
        let run = parse(text, 10.0).unwrap_or_else(|| panic!("unparsed"));
        assert!((run.rps - 59_166.1).abs() < 1e-6);
        assert_eq!((run.succeeded, run.failed), (591_650, 11));
        assert!((run.mean_ms - 1.5).abs() < 1e-9);
        assert!((run.client_cores - 0.8).abs() < 1e-9);
        assert!(parse("h2load: command not found\n", 10.0).is_none());
    }
}
