//! The OpenAPI document against the router: every documented operation is
//! routed, every operation documents its errors; the API page works offline;
//! and a fuzz pass driven by the document finds no 5xx and no answer outside it.

use reqwest::{Method, StatusCode};
use roster_kit::testing::Backend;
use serde_json::Value;

use crate::helpers::Gateway;

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed_and_documents_its_errors() {
    let app = Gateway::spawn(Backend::Sqlite).await;
    let document = app.get("/openapi.json", None).await;
    assert_eq!(document.body["openapi"], "3.1.0");
    let paths = document.body["paths"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(paths.len() >= 25, "{} paths", paths.len());
    assert!(
        document.body["info"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("| `USER_NOT_FOUND` | 404 | 400400 |")),
        "the error table is in the document"
    );
    let admin = app.admin_token();
    let mut operation_ids = std::collections::BTreeSet::new();
    for (path, item) in &paths {
        for method in METHODS {
            let Some(operation) = item.get(*method) else {
                continue;
            };
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(
                operation_ids.insert(id.to_owned()),
                "{method} {path}: operationId {id:?} twice"
            );
            assert!(
                operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path}"
            );
            for range in ["4XX", "5XX"] {
                assert_eq!(
                    operation["responses"][range]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {range}"
                );
            }
            // The router answers it: whatever the service says, it is not
            // "no such route" or "no such method".
            let concrete = path
                .replace("{id}", "1")
                .replace("{name}", "nobody")
                .replace("{role}", "nobody");
            let request = app
                .request(
                    method
                        .to_uppercase()
                        .parse::<Method>()
                        .unwrap_or(Method::GET),
                    &concrete,
                    Some(&admin),
                )
                .header("content-type", "application/json")
                .body("{}");
            let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
            let status = response.status();
            let streaming = response
                .headers()
                .get("content-type")
                .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
            if streaming {
                continue;
            }
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert!(
                !matches!(
                    body["reason"].as_str(),
                    Some("ROUTE_NOT_FOUND" | "METHOD_NOT_ALLOWED")
                ),
                "{method} {path} is documented but not routed: {status} {body}"
            );
            assert!(
                !status.is_server_error(),
                "{method} {path}: {status} {body}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_page_needs_nothing_from_the_internet() {
    let app = Gateway::spawn(Backend::Sqlite).await;
    let page = app.get("/docs/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&page.bytes).to_string();
    assert!(html.contains("swagger-ui"), "{html}");
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.ends_with(".js") || s.ends_with(".css"))
        .collect();
    assert!(assets.len() >= 3, "{assets:?}");
    for asset in assets {
        assert!(!asset.contains("://"), "{asset} comes from elsewhere");
        let loaded = app
            .get(&format!("/docs/{}", asset.trim_start_matches("./")), None)
            .await;
        assert_eq!(loaded.status, StatusCode::OK, "{asset}");
        assert!(!loaded.bytes.is_empty(), "{asset}");
    }
    let initializer = app.get("/docs/swagger-initializer.js", None).await;
    assert!(String::from_utf8_lossy(&initializer.bytes).contains("/openapi.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fuzz_pass_driven_by_the_document_finds_no_5xx_and_nothing_undocumented() {
    let schemathesis = std::process::Command::new("schemathesis")
        .arg("--version")
        .output();
    assert!(
        schemathesis.is_ok_and(|o| o.status.success()),
        "schemathesis is not installed; `make test` installs it (scripts/ensure-test-tools.sh)"
    );
    let app = Gateway::spawn(Backend::Sqlite).await;
    let admin = app.admin_token();
    let dir = std::env::temp_dir().join(format!("roster-schemathesis-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let location = app.url("/openapi.json");
    let base = app.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("schemathesis")
            .current_dir(&dir)
            .args(["run", &location, "--url", &base, "--checks", "all"])
            // Whether a well-formed request is accepted depends on state the
            // schema cannot carry (an opaque page token, a built-in role, `me`
            // with an admin token): such refusals are 4xx, checked above.
            .args(["--exclude-checks", "positive_data_acceptance"])
            .args(["--header", &format!("Authorization: Bearer {admin}")])
            // Event streams never end: nothing to validate a whole answer of.
            .args(["--exclude-tag", "events"])
            .args([
                "--max-examples",
                "8",
                "--seed",
                "20261123",
                // One worker: with several threads, hypothesis's lambda
                // descriptions hit a CPython 3.11 `ast` race ("AST constructor
                // recursion depth mismatch") and report it as an error.
                "--workers",
                "1",
            ])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--request-timeout", "20", "--generation-database", "none"])
            .args(["--no-color", "--output-truncate", "true"])
            .output()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|e| panic!("running schemathesis: {e}"));
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}"
    );
}
