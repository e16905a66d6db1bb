//! The README's "Try it with curl" tour, run verbatim (but for the ports and
//! paths) against a real `roster serve`: the documentation stays true to the code.

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
    let readme = include_str!("../../../../README.md");
    let section = readme
        .split("## Try it with curl")
        .nth(1)
        .unwrap_or_else(|| panic!("README has no \"Try it with curl\" section"));
    section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("the curl tour has no sh block"))
        .to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"))
        .port()
}

#[test]
fn the_readme_curl_tour_works_against_roster_serve() {
    let tour = tour();
    let secret = tour
        .lines()
        .find_map(|line| line.strip_prefix("export ROSTER_USERS__LOGIN_SECRET="))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the tour exports no login secret"))
        .to_owned();
    let dir = std::env::temp_dir().join(format!("roster-curl-tour-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let api = format!("http://127.0.0.1:{}", free_port());
    let roster = env!("CARGO_BIN_EXE_roster");
    // Default settings but for the ports (and the public URL that follows
    // the gateway's) and the login secret the tour uses, as `make run` has.
    let mut child = Command::new(roster)
        .arg("serve")
        .current_dir(&dir)
        .env_remove("ROSTER_USERS__DEV_LOGINS")
        .env("ROSTER_USERS__LOGIN_SECRET", &secret)
        .env("ROSTER_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("ROSTER_GATEWAY__LISTEN", api.trim_start_matches("http://"))
        .env("ROSTER_ADMIN_LISTEN", "127.0.0.1:0")
        .env("ROSTER_PUBLIC_URL", &api)
        .env("ROSTER_LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting roster: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| unreachable!());
    let server = Server(child);
    let banner: Vec<String> = BufReader::new(stdout)
        .lines()
        .take(2)
        .map_while(Result::ok)
        .collect();
    assert!(
        banner.iter().any(|line| line.contains("HTTP gateway on")),
        "roster said {banner:?}"
    );

    let script = tour
        .replace("http://localhost:8080", &api)
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
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        " paths",
        "\"name\":\"jane\",\"type\":\"PERSON\",\"displayName\":\"Jane Doe\"",
        // The login with a credential, and the published session keys.
        "\"accessToken\":\"ey",
        "\"kty\":\"OKP\"",
        "\"displayName\":\"Jane D.\"",
        "\"properties\":{\"city\":\"Lisbon\",\"team\":\"blue\"}",
        "\"online\":true",
        "\"displayName\":\"adam\"",
        "\"displayName\":\"Alice\"",
        "\"allowed\":true",
        "\"name\":\"hello.txt\"",
        "\nell\n",
        "event: snapshot",
        "HTTP/1.1 409 Conflict",
        "\"code\":400900,\"reason\":\"USER_ALREADY_EXISTS\"",
    ] {
        assert!(
            all.contains(expected),
            "the tour's output lacks {expected:?}:\n{all}"
        );
    }
    // Only the last call fails on purpose (and the event stream ends at -m 3).
    assert_eq!(all.matches("\"status\":\"error\"").count(), 1, "{all}");
}
