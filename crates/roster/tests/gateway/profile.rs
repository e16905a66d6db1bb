//! Presence and display pictures; every display picture URL Roster hands out
//! downloads the picture.

use reqwest::{Method, StatusCode, multipart};
use roster_kit::testing::Backend;
use serde_json::json;

use crate::{
    helpers::{Gateway, png},
    on_both_backends,
};

on_both_backends!(
    presence_is_set_by_its_user_and_read_by_anyone,
    display_pictures_upload_link_and_download,
);

async fn presence_is_set_by_its_user_and_read_by_anyone(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let (jane, token) = app.user("jane").await;
    let (_, other) = app.user("other").await;
    let set = app
        .json(
            Method::PATCH,
            "/v1/users/me/presence",
            Some(&token),
            json!({"online": true, "status": "AWAY", "callStatus": "IN_CALL"}),
        )
        .await;
    assert_eq!(
        set.ok(),
        &json!({"userId": jane, "status": "AWAY", "online": true, "callStatus": "IN_CALL"})
    );
    let read = app
        .get(&format!("/v1/users/{jane}/presence"), Some(&other))
        .await;
    assert_eq!(read.ok()["status"], "AWAY");
    // Presence is not a profile edit: the version stays.
    assert_eq!(
        app.get("/v1/users/me", Some(&token)).await.body["version"],
        1
    );

    app.json(
        Method::PATCH,
        &format!("/v1/users/{jane}/presence"),
        Some(&other),
        json!({"online": false}),
    )
    .await
    .refused("PERMISSION_DENIED");
    let bad = app
        .json(
            Method::PATCH,
            "/v1/users/me/presence",
            Some(&token),
            json!({"status": "away!"}),
        )
        .await;
    assert_eq!(bad.refused("INVALID_FIELD").fields(), ["status"]);
    let wrong_type = app
        .json(
            Method::PATCH,
            "/v1/users/me/presence",
            Some(&token),
            json!({"online": "yes"}),
        )
        .await;
    assert_eq!(wrong_type.refused("INVALID_FIELD").fields(), ["online"]);
    assert_eq!(
        app.get("/v1/users/me/presence", Some(&token)).await.body["online"],
        true
    );
}

async fn display_pictures_upload_link_and_download(backend: Backend) {
    let app = Gateway::spawn(backend).await;
    let (jane, token) = app.user("jane").await;
    let picture = png(300, 200);

    // Multipart, as a browser form sends it.
    let form = multipart::Form::new().part(
        "file",
        multipart::Part::bytes(picture.clone())
            .file_name("me.png")
            .mime_str("image/png")
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let set = app
        .send(
            app.request(Method::PUT, "/v1/users/me/display-picture", Some(&token))
                .multipart(form),
        )
        .await;
    let user = set.ok().clone();
    let url = user["displayPictureUrl"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(url.starts_with(&app.url("/v1/files/")), "{url}");
    assert_eq!(user["_links"]["displayPicture"]["href"], json!(url));
    assert_eq!(set.header("etag"), Some("\"2\""));

    // The URL Roster hands out loads the picture anywhere: no token needed.
    let loaded = app
        .http
        .get(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.status(), StatusCode::OK);
    assert_eq!(
        loaded
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    let bytes = loaded.bytes().await.unwrap_or_default();
    let decoded = image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((decoded.width(), decoded.height()), (300, 200));

    // So do its variants, as the avatar lists them.
    let avatar = app.get("/v1/users/me/display-picture", Some(&token)).await;
    let variants = avatar.ok()["file"]["variants"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(variants.len(), 2, "{avatar:?}");
    for variant in variants {
        let url = variant["url"].as_str().unwrap_or_default();
        let bytes = app
            .http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .bytes()
            .await
            .unwrap_or_default();
        let image = image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(
            (
                Some(u64::from(image.width())),
                Some(u64::from(image.height()))
            ),
            (variant["width"].as_u64(), variant["height"].as_u64()),
            "{url}"
        );
    }
    let small = app
        .http
        .get(format!("{url}?size=64"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let small = image::load_from_memory(&small.bytes().await.unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(small.width(), 64);

    // Raw bytes with their type, and then an external picture.
    let raw = app
        .send(
            app.request(
                Method::PUT,
                &format!("/v1/users/{jane}/display-picture"),
                Some(&token),
            )
            .header("content-type", "image/png")
            .body(png(40, 40)),
        )
        .await;
    let raw_url = raw.ok()["displayPictureUrl"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(raw_url, url);
    let raw_bytes = app
        .http
        .get(&raw_url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .bytes()
        .await
        .unwrap_or_default();
    assert!(image::load_from_memory(&raw_bytes).is_ok());
    let external = app
        .json(
            Method::PUT,
            "/v1/users/me/display-picture",
            Some(&token),
            json!({"url": "https://example.com/files/jane.png", "name": "jane.png", "contentType": "image/png", "size": 123115}),
        )
        .await;
    assert_eq!(
        external.ok()["displayPictureUrl"],
        "https://example.com/files/jane.png"
    );
    assert_eq!(external.body["avatar"]["external"]["size"], 123115);

    // Not an image: refused, and the avatar stays.
    let text = app
        .send(
            app.request(Method::PUT, "/v1/users/me/display-picture", Some(&token))
                .header("content-type", "text/plain")
                .body("hello"),
        )
        .await;
    text.refused("UNSUPPORTED_MEDIA_TYPE");
    let broken = app
        .send(
            app.request(Method::PUT, "/v1/users/me/display-picture", Some(&token))
                .header("content-type", "image/png")
                .body(b"\x89PNG\r\n\x1a\n but no image".to_vec()),
        )
        .await;
    broken.refused("IMAGE_INVALID");
    let huge = app
        .send(
            app.request(Method::PUT, "/v1/users/me/display-picture", Some(&token))
                .header("content-type", "image/png")
                .body(png(5000, 2)),
        )
        .await;
    huge.refused("IMAGE_TOO_LARGE");
    // Another user may not set jane's picture.
    let (_, other) = app.user("other").await;
    app.send(
        app.request(
            Method::PUT,
            &format!("/v1/users/{jane}/display-picture"),
            Some(&other),
        )
        .header("content-type", "image/png")
        .body(png(10, 10)),
    )
    .await
    .refused("PERMISSION_DENIED");
    // An avatar file id that is no avatar of jane's.
    app.json(
        Method::PATCH,
        "/v1/users/me",
        Some(&token),
        json!({"avatar": {"fileId": "00000000-0000-0000-0000-000000000000"}}),
    )
    .await
    .refused("AVATAR_FILE_INVALID");
    assert_eq!(
        app.get("/v1/users/me", Some(&token)).await.body["displayPictureUrl"],
        "https://example.com/files/jane.png"
    );

    let removed = app
        .send(app.request(Method::DELETE, "/v1/users/me/display-picture", Some(&token)))
        .await;
    assert_eq!(removed.ok()["displayPictureUrl"], "");
    assert!(removed.body.get("avatar").is_none());
}
