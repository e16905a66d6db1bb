//! Uploads: byte-exact round trips, and every refusal leaving nothing behind.

use crate::{
    CHUNK, content, header,
    helpers::{TestApp, URL_BASE, jpeg_with_exif, png, reason},
};
use roster_files::client::{upload, upload_messages};
use roster_kit::testing::Backend;
use roster_proto::v1::{FilePurpose, FileVariant, FileVisibility, GetFileRequest};
use sha2::{Digest, Sha256};
use tonic::Code;

crate::on_both_databases!(
    upload_get_download_round_trips_byte_exact,
    lying_content_type_is_refused_naming_both_and_leaves_nothing,
    oversized_uploads_are_refused_and_leave_nothing,
    truncated_upload_is_refused_and_leaves_nothing,
    a_failed_metadata_insert_removes_the_stored_objects,
);

async fn upload_get_download_round_trips_byte_exact(app: TestApp) {
    let mut client = app.user_client(7).await;
    let bytes = content(200_000);
    let file = upload(
        &mut client,
        header(
            "notes.txt",
            "text/plain; charset=utf-8",
            bytes.len(),
            FilePurpose::Attachment,
        ),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    assert_eq!(file.owner_user_id, 7);
    assert_eq!(file.name, "notes.txt");
    assert_eq!(file.content_type, "text/plain");
    assert_eq!(file.size, bytes.len() as i64);
    assert_eq!(file.purpose, FilePurpose::Attachment as i32);
    assert_eq!(file.sha256, hex::encode(Sha256::digest(&bytes)));
    assert!(file.variants.is_empty());
    assert_eq!(file.url, format!("{URL_BASE}/{}", file.id));
    assert_eq!(file.visibility, FileVisibility::Private as i32);

    // An attachment is private: its owner reads it, another user may not.
    let got = client
        .get_file(GetFileRequest {
            file_id: file.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("get: {s:?}"))
        .into_inner();
    assert_eq!(got, file);
    let mut other = app.user_client(8).await;
    let refused = other
        .get_file(GetFileRequest {
            file_id: file.id.clone(),
            ..Default::default()
        })
        .await
        .err();
    assert_eq!(
        refused.as_ref().map(|s| (s.code(), reason(s))),
        Some((Code::PermissionDenied, "FILE_ACCESS_DENIED".into()))
    );

    let (info, downloaded) = app
        .download(&mut client, &file.id, FileVariant::Original)
        .await;
    assert_eq!(info.size, bytes.len() as i64);
    assert_eq!(info.content_type, "text/plain");
    assert!(
        downloaded == bytes,
        "downloaded bytes differ from the upload"
    );
    assert_eq!(app.row_count().await, 1);
    assert_eq!(app.object_count().await, 1);

    // A signed type passes when declared truthfully, and is sniffed when not declared.
    let picture = png(10, 10);
    for declared in ["image/png", ""] {
        let stored = upload(
            &mut client,
            header("p.png", declared, picture.len(), FilePurpose::Attachment),
            &picture,
            CHUNK,
        )
        .await
        .unwrap_or_else(|s| panic!("upload: {s:?}"));
        assert_eq!(stored.content_type, "image/png");
        let (_, back) = app
            .download(&mut client, &stored.id, FileVariant::Original)
            .await;
        assert!(back == picture, "attachments are stored byte-exact");
    }

    let missing = other
        .get_file(GetFileRequest {
            file_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .err();
    assert_eq!(
        missing.as_ref().map(|s| (s.code(), reason(s))),
        Some((Code::NotFound, "FILE_NOT_FOUND".into()))
    );
    let no_variant = app
        .try_download(&mut client, &file.id, FileVariant::Size64)
        .await
        .err();
    assert_eq!(
        no_variant.as_ref().map(|s| (s.code(), reason(s))),
        Some((Code::NotFound, "FILE_VARIANT_NOT_FOUND".into()))
    );
}

async fn lying_content_type_is_refused_naming_both_and_leaves_nothing(app: TestApp) {
    let mut client = app.user_client(7).await;
    let jpeg = jpeg_with_exif(32, 32, b"");
    for purpose in [FilePurpose::Attachment, FilePurpose::Avatar] {
        let status = upload(
            &mut client,
            header("a.png", "image/png", jpeg.len(), purpose),
            &jpeg,
            CHUNK,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a JPEG declared as PNG was accepted"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(reason(&status), "CONTENT_TYPE_MISMATCH");
        assert!(
            status.message().contains("image/png") && status.message().contains("image/jpeg"),
            "{}",
            status.message()
        );
    }
    // Text declared as a PDF.
    let text = content(1000);
    let status = upload(
        &mut client,
        header(
            "a.pdf",
            "application/pdf",
            text.len(),
            FilePurpose::Attachment,
        ),
        &text,
        CHUNK,
    )
    .await
    .err();
    assert_eq!(
        status.as_ref().map(reason).as_deref(),
        Some("CONTENT_TYPE_MISMATCH")
    );
    app.assert_nothing_stored().await;
}

async fn oversized_uploads_are_refused_and_leave_nothing(app: TestApp) {
    let mut client = app.user_client(7).await;
    let max = app.max_upload_bytes as usize;

    // Declared above the limit: refused before any byte is read.
    let status = upload(
        &mut client,
        header("big", "", max + 1, FilePurpose::Attachment),
        &content(10),
        CHUNK,
    )
    .await
    .err();
    assert_eq!(
        status.as_ref().map(|s| (s.code(), reason(s))),
        Some((Code::InvalidArgument, "FILE_TOO_LARGE".into()))
    );

    // Declared within the limit, but the stream goes past it.
    for purpose in [FilePurpose::Attachment, FilePurpose::Avatar] {
        let mut bytes = png(8, 8);
        bytes.extend(content(max + 1 - bytes.len()));
        let status = upload(&mut client, header("big", "", max, purpose), &bytes, CHUNK)
            .await
            .err();
        assert_eq!(
            status.as_ref().map(|s| (s.code(), reason(s))),
            Some((Code::InvalidArgument, "FILE_TOO_LARGE".into()))
        );
    }

    // More bytes than declared, within the limit.
    let bytes = content(5000);
    let status = upload(
        &mut client,
        header("more", "", 1000, FilePurpose::Attachment),
        &bytes,
        700,
    )
    .await
    .err();
    assert_eq!(
        status.as_ref().map(reason).as_deref(),
        Some("UPLOAD_SIZE_MISMATCH")
    );
    app.assert_nothing_stored().await;
}

async fn truncated_upload_is_refused_and_leaves_nothing(app: TestApp) {
    let mut client = app.user_client(7).await;
    let bytes = content(150_000);
    let picture = png(64, 64);
    let cases = [
        (FilePurpose::Attachment, &bytes[..], bytes.len() + 1000),
        (FilePurpose::Attachment, &bytes[..5], 10),
        (FilePurpose::Avatar, &picture[..], picture.len() + 1),
    ];
    for (purpose, sent, declared) in cases {
        let status = upload(
            &mut client,
            header("cut", "", declared, purpose),
            sent,
            CHUNK,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("a truncated upload was accepted"));
        assert_eq!(
            (status.code(), reason(&status)),
            (Code::InvalidArgument, "UPLOAD_SIZE_MISMATCH".into())
        );
    }
    app.assert_nothing_stored().await;
}

async fn a_failed_metadata_insert_removes_the_stored_objects(app: TestApp) {
    // Make every insert into `files` fail, after the objects were written.
    let refuse = match app.backend {
        Backend::Sqlite => {
            "CREATE TRIGGER refuse_files BEFORE INSERT ON files \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION refuse_files() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_files BEFORE INSERT ON files \
             FOR EACH ROW EXECUTE FUNCTION refuse_files();"
        }
    };
    app.execute(refuse).await;

    let mut client = app.user_client(7).await;
    let picture = png(300, 200);
    let bytes = content(100_000);
    let cases = [
        header("me.png", "", picture.len(), FilePurpose::Avatar),
        header("a.bin", "", bytes.len(), FilePurpose::Attachment),
    ];
    for head in cases {
        let sent = if head.purpose == FilePurpose::Avatar as i32 {
            &picture
        } else {
            &bytes
        };
        let status = upload(&mut client, head, sent, CHUNK)
            .await
            .err()
            .unwrap_or_else(|| panic!("the insert was meant to fail"));
        assert_eq!(status.code(), Code::Internal);
        assert!(
            !status.message().contains("refused"),
            "internal causes stay in the log"
        );
        app.assert_nothing_stored().await;
    }
}

#[test]
fn upload_messages_put_the_header_first() {
    let messages = upload_messages(header("a", "", 5, FilePurpose::Attachment), b"hello", 2);
    assert_eq!(messages.len(), 4);
}
