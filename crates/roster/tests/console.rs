//! The admin console in a real browser: `roster serve` (the binary, free
//! ports, its own data dir) and headless Chromium driven by Playwright
//! (tests/console/drive.mjs) through sign-in, search as you type, a scoped
//! grant, a ban that refuses the login, a deletion followed to its end, the
//! roles pages, and the refusal of a user without CONSOLE_ACCESS. Screenshots
//! of the main pages land in target/console-screenshots/. The tools come from
//! scripts/ensure-test-tools.sh (`make test` runs it).

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// The server process, killed when the test ends either way.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_address() -> String {
    let port = ok(std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr())).port();
    format!("127.0.0.1:{port}")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// Starts `roster serve` and reads its banner up to the console's URL.
fn serve(dir: &Path) -> (Server, String) {
    let mut child = ok(Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("serve")
        .current_dir(dir)
        .env("ROSTER_DATA_DIR", dir)
        .env("ROSTER_LISTEN", free_address())
        .env("ROSTER_GATEWAY__LISTEN", "127.0.0.1:0")
        .env("ROSTER_ADMIN_LISTEN", "")
        .env("ROSTER_USERS__DEV_LOGINS", "true")
        .env("ROSTER_LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn());
    let stdout = child.stdout.take().unwrap_or_else(|| unreachable!());
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = ok(lines
            .next()
            .unwrap_or_else(|| panic!("roster ended before its banner")));
        if let Some(rest) = line.strip_prefix("roster admin console on ") {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    // Keep reading, as a supervisor would.
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    (server, url)
}

#[test]
fn an_operator_runs_the_console_in_a_browser() {
    let chromium = ["chromium", "chromium-browser"]
        .iter()
        .map(|name| Command::new("which").arg(name).output())
        .filter_map(Result::ok)
        .find(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed; `make test` installs it (scripts/ensure-test-tools.sh)"
            )
        });
    let playwright = target_dir().join("tools/node_modules/playwright-core");
    assert!(
        playwright.exists(),
        "{} is missing; `make test` installs it (scripts/ensure-test-tools.sh)",
        playwright.display()
    );
    let dir = std::env::temp_dir().join(format!("roster-console-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    ok(std::fs::create_dir_all(&dir));
    let (_server, url) = serve(&dir);
    assert!(url.ends_with("/console"), "{url}");
    let admin = ok(Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["token", "admin"])
        .current_dir(&dir)
        .env("ROSTER_DATA_DIR", &dir)
        .output());
    assert!(admin.status.success());
    let shots = target_dir().join("console-screenshots");
    ok(std::fs::create_dir_all(&shots));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console/drive.mjs");
    let run = ok(Command::new("node")
        .arg(&script)
        .env("CONSOLE_URL", &url)
        .env("ADMIN_TOKEN", String::from_utf8_lossy(&admin.stdout).trim())
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOTS", &shots)
        .env("PLAYWRIGHT", &playwright)
        .output());
    let said = format!(
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "the browser run failed:\n{said}");
    assert!(said.contains("console: all steps passed"), "{said}");
    for page in ["users", "user", "deletion", "roles", "refused"] {
        assert!(
            shots.join(format!("{page}.png")).exists(),
            "no screenshot of {page}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
