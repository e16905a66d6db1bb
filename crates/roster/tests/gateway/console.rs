//! `/console`: the admin console's page and modules come from the binary, with
//! their content types, a CSP allowing only this origin, and ETags honoured.
//! (The browser drives the console in tests/console.rs.)

use reqwest::{Method, StatusCode};
use roster_kit::testing::Backend;

use crate::helpers::Gateway;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_from_the_binary_with_strict_headers() {
    let app = Gateway::spawn(Backend::Sqlite).await;
    let page = app.get("/console", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let html = String::from_utf8_lossy(&page.bytes).to_string();
    // Every module the page and its modules import is served, from here only.
    let mut pending: Vec<String> = vec!["app.js".into(), "console.css".into()];
    assert!(html.contains("/console/app.js") && html.contains("/console/console.css"));
    let mut seen = Vec::new();
    while let Some(asset) = pending.pop() {
        if seen.contains(&asset) {
            continue;
        }
        let loaded = app.get(&format!("/console/{asset}"), None).await;
        assert_eq!(loaded.status, StatusCode::OK, "{asset}");
        let expected = if asset.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(loaded.header("content-type"), Some(expected), "{asset}");
        let text = String::from_utf8_lossy(&loaded.bytes).to_string();
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{asset} reaches elsewhere"
        );
        for import in text
            .split('"')
            .filter(|s| s.starts_with("./") && s.ends_with(".js"))
        {
            pending.push(import.trim_start_matches("./").to_owned());
        }
        seen.push(asset);
    }
    assert!(seen.len() >= 7, "{seen:?}");

    // Caching: a known ETag answers 304 without the body; a stale one 200.
    let etag = page.header("etag").unwrap_or_default().to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    let again = app
        .send(
            app.request(Method::GET, "/console", None)
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.bytes.is_empty());
    let stale = app
        .send(
            app.request(Method::GET, "/console", None)
                .header("if-none-match", "\"stale\""),
        )
        .await;
    assert_eq!(stale.status, StatusCode::OK);

    let missing = app.get("/console/nothing.js", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["reason"], "ROUTE_NOT_FOUND");
}
