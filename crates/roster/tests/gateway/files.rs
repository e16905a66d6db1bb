//! Files over HTTP: uploads (raw and multipart) and downloads byte-exact,
//! ranges, validators, who may read what, download links, listing, deletion.

use reqwest::{Method, StatusCode, multipart};
use roster_kit::testing::Backend;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{helpers::Gateway, on_both_backends};

on_both_backends!(
    uploads_come_back_byte_exact_with_ranges_and_validators,
    private_files_need_their_owner_or_a_link,
    files_are_listed_and_deleted,
);

/// Bytes that are no known file type (so nothing is sniffed), every value present.
fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

async fn upload(
    app: &Gateway,
    token: &str,
    query: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Value {
    let answer = app
        .send(
            app.request(Method::POST, &format!("/v1/files{query}"), Some(token))
                .header("content-type", content_type)
                .body(bytes),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
    answer.body
}

async fn uploads_come_back_byte_exact_with_ranges_and_validators(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let (_, token) = app.user("jane").await;
    let bytes = payload(300_000);
    let file = upload(
        &app,
        &token,
        "?name=data.bin",
        "application/octet-stream",
        bytes.clone(),
    )
    .await;
    assert_eq!(file["size"], json!(bytes.len()));
    assert_eq!(file["sha256"], json!(hex::encode(Sha256::digest(&bytes))));
    assert_eq!(file["visibility"], "PRIVATE");
    let path = format!("/v1/files/{}", file["id"].as_str().unwrap_or_default());
    assert_eq!(file["url"], json!(app.url(&path)));

    let whole = app.get(&path, Some(&token)).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert_eq!(whole.bytes.as_ref(), bytes.as_slice());
    assert_eq!(whole.header("content-length"), Some("300000"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("cache-control"), Some("private, no-cache"));
    assert_eq!(whole.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        whole.header("content-disposition"),
        Some("attachment; filename=\"data.bin\"; filename*=UTF-8''data%2Ebin")
    );
    let etag = whole.header("etag").unwrap_or_default().to_owned();
    assert_eq!(
        etag,
        format!("\"{}\"", file["sha256"].as_str().unwrap_or_default())
    );

    for (range, start, end) in [
        ("bytes=0-0", 0, 0),
        ("bytes=65530-70000", 65_530, 70_000),
        ("bytes=299990-", 299_990, 299_999),
        ("bytes=-16", 299_984, 299_999),
    ] {
        let part = app
            .send(
                app.request(Method::GET, &path, Some(&token))
                    .header("range", range),
            )
            .await;
        assert_eq!(part.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(part.bytes.as_ref(), &bytes[start..=end], "{range}");
        assert_eq!(
            part.header("content-range"),
            Some(format!("bytes {start}-{end}/300000").as_str())
        );
    }
    let outside = app
        .send(
            app.request(Method::GET, &path, Some(&token))
                .header("range", "bytes=300000-"),
        )
        .await;
    outside.refused("RANGE_NOT_SATISFIABLE");
    assert_eq!(outside.header("content-range"), Some("bytes */300000"));
    // A range of another version is ignored: the whole file.
    let stale = app
        .send(
            app.request(Method::GET, &path, Some(&token))
                .header("range", "bytes=0-9")
                .header("if-range", "\"other\""),
        )
        .await;
    assert_eq!((stale.status, stale.bytes.len()), (StatusCode::OK, 300_000));
    let unchanged = app
        .send(
            app.request(Method::GET, &path, Some(&token))
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
    assert!(unchanged.bytes.is_empty());

    // Multipart, with the file's name and type from the part.
    let form = multipart::Form::new().text("visibility", "PUBLIC").part(
        "file",
        multipart::Part::bytes(b"hello, world".to_vec())
            .file_name("h\u{e9}llo \"world\".txt")
            .mime_str("text/plain")
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let posted = app
        .send(
            app.request(Method::POST, "/v1/files", Some(&token))
                .multipart(form),
        )
        .await;
    assert_eq!(posted.status, StatusCode::CREATED, "{posted:?}");
    assert_eq!(posted.body["name"], "h\u{e9}llo \"world\".txt");
    assert_eq!(posted.body["contentType"], "text/plain");
    let text_path = format!(
        "/v1/files/{}",
        posted.body["id"].as_str().unwrap_or_default()
    );
    let text = app.get(&text_path, None).await;
    assert_eq!(text.bytes.as_ref(), b"hello, world");
    assert_eq!(text.header("content-type"), Some("text/plain"));
    assert_eq!(text.header("cache-control"), Some("public, max-age=3600"));
    assert_eq!(
        text.header("content-disposition"),
        Some(
            "inline; filename=\"h_llo _world_.txt\"; filename*=UTF-8''h%C3%A9llo%20%22world%22%2Etxt"
        )
    );
    let metadata = app.get(&format!("{text_path}/metadata"), None).await;
    assert_eq!(metadata.ok()["visibility"], "PUBLIC");

    // A body without a length cannot be declared to the file service.
    let chunked = app
        .send(
            app.request(Method::POST, "/v1/files?name=x", Some(&token))
                .header("content-type", "text/plain")
                .body(reqwest::Body::wrap_stream(futures::stream::iter([Ok::<
                    _,
                    std::io::Error,
                >(
                    bytes::Bytes::from_static(b"abc"),
                )]))),
        )
        .await;
    chunked.refused("LENGTH_REQUIRED");
    let lying = app
        .send(
            app.request(Method::POST, "/v1/files?name=x.png", Some(&token))
                .header("content-type", "image/png")
                .body(b"plain text, no PNG".to_vec()),
        )
        .await;
    lying.refused("CONTENT_TYPE_MISMATCH");
    let nameless = app
        .send(
            app.request(Method::POST, "/v1/files", Some(&token))
                .header("content-type", "text/plain")
                .body("x"),
        )
        .await;
    assert_eq!(nameless.refused("INVALID_FIELD").fields(), ["name"]);
    let too_big = app
        .send(
            app.request(Method::POST, "/v1/files?name=big.bin", Some(&token))
                .header("content-type", "application/octet-stream")
                .body(payload(10 * 1024 * 1024 + 1)),
        )
        .await;
    too_big.refused("FILE_TOO_LARGE");
    app.get(
        "/v1/files/00000000-0000-0000-0000-000000000000",
        Some(&token),
    )
    .await
    .refused("FILE_NOT_FOUND");
    let variant = app.get(&format!("{path}?variant=64"), Some(&token)).await;
    variant.refused("FILE_VARIANT_NOT_FOUND");
    let odd = app.get(&format!("{path}?size=100"), Some(&token)).await;
    assert_eq!(odd.refused("INVALID_FIELD").fields(), ["size"]);
}

async fn private_files_need_their_owner_or_a_link(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let (_, owner) = app.user("owner").await;
    let (_, other) = app.user("other").await;
    let bytes = payload(1000);
    let file = upload(
        &app,
        &owner,
        "?name=secret.bin",
        "application/octet-stream",
        bytes.clone(),
    )
    .await;
    let id = file["id"].as_str().unwrap_or_default().to_owned();
    let path = format!("/v1/files/{id}");

    app.get(&path, None).await.refused("TOKEN_MISSING");
    app.get(&path, Some(&other))
        .await
        .refused("FILE_ACCESS_DENIED");
    app.get(&format!("{path}/metadata"), Some(&other))
        .await
        .refused("FILE_ACCESS_DENIED");
    app.get(&path, Some("garbage"))
        .await
        .refused("TOKEN_INVALID");
    assert_eq!(
        app.get(&path, Some(&app.admin_token()))
            .await
            .bytes
            .as_ref(),
        bytes.as_slice()
    );

    // Only the owner (or an admin) makes links; a link reads without a token.
    app.json(
        Method::POST,
        &format!("{path}/links"),
        Some(&other),
        json!({}),
    )
    .await
    .refused("PERMISSION_DENIED");
    let link = app
        .json(
            Method::POST,
            &format!("{path}/links"),
            Some(&owner),
            json!({"ttlSeconds": 60}),
        )
        .await;
    assert_eq!(link.status, StatusCode::CREATED, "{link:?}");
    let url = link.body["url"].as_str().unwrap_or_default().to_owned();
    assert!(url.starts_with(&app.url(&path)), "{url}");
    let fetched = app
        .http
        .get(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(
        fetched
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("private, no-cache")
    );
    assert_eq!(
        fetched.bytes().await.unwrap_or_default().as_ref(),
        bytes.as_slice()
    );
    let token = link.body["token"].as_str().unwrap_or_default();
    let metadata = app
        .get(&format!("{path}/metadata?token={token}"), None)
        .await;
    assert_eq!(metadata.ok()["id"], json!(id));

    // A link for another file opens nothing.
    let second = upload(
        &app,
        &owner,
        "?name=other.bin",
        "application/octet-stream",
        payload(10),
    )
    .await;
    let second_path = format!("/v1/files/{}", second["id"].as_str().unwrap_or_default());
    app.get(&format!("{second_path}?token={token}"), None)
        .await
        .refused("FILE_LINK_INVALID");
    app.json(
        Method::POST,
        &format!("{path}/links"),
        Some(&owner),
        json!({"ttlSeconds": 100000}),
    )
    .await
    .refused("INVALID_FIELD");
}

async fn files_are_listed_and_deleted(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let (owner_id, owner) = app.user("owner").await;
    let (_, other) = app.user("other").await;
    upload(
        &app,
        &owner,
        "?name=a.bin",
        "application/octet-stream",
        payload(10),
    )
    .await;
    let public = upload(
        &app,
        &owner,
        "?name=b.txt&visibility=PUBLIC",
        "text/plain",
        b"public".to_vec(),
    )
    .await;
    let mine = app.get("/v1/users/me/files", Some(&owner)).await;
    assert_eq!(mine.ok()["files"].as_array().map(Vec::len), Some(2));
    let theirs = app
        .get(&format!("/v1/users/{owner_id}/files"), Some(&other))
        .await;
    let names: Vec<_> = theirs.ok()["files"]
        .as_array()
        .map(|f| f.iter().map(|f| f["name"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(names, [json!("b.txt")]);
    let page = app.get("/v1/users/me/files?pageSize=1", Some(&owner)).await;
    assert!(page.ok()["nextPageToken"].is_string());
    let attachments = app
        .get("/v1/users/me/files?purpose=AVATAR", Some(&owner))
        .await;
    assert_eq!(attachments.ok()["files"].as_array().map(Vec::len), Some(0));

    let path = format!("/v1/files/{}", public["id"].as_str().unwrap_or_default());
    app.send(app.request(Method::DELETE, &path, Some(&other)))
        .await
        .refused("PERMISSION_DENIED");
    app.get(&path, None).await.ok();
    let deleted = app
        .send(app.request(Method::DELETE, &path, Some(&owner)))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.get(&path, Some(&owner)).await.refused("FILE_NOT_FOUND");
}
