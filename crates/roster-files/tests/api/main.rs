//! The file service over real gRPC, against SQLite and PostgreSQL, with a local
//! directory and with a real S3-compatible server (moto) as storage.

mod helpers;

use helpers::{Storage, TestApp, bomb_png, jpeg_with_exif, png, reason};
use roster_files::client::{upload, upload_messages};
use roster_kit::testing::Backend;
use roster_proto::v1::{
    DeleteFileRequest, DeleteUserFilesRequest, FilePurpose, FileVariant, GetFileRequest,
    ListFilesRequest, UploadFileHeader, file_service_client::FileServiceClient,
};
use sha2::{Digest, Sha256};
use tonic::Code;

const CHUNK: usize = 64 * 1024;

fn header(name: &str, content_type: &str, size: usize, purpose: FilePurpose) -> UploadFileHeader {
    UploadFileHeader {
        name: name.into(),
        content_type: content_type.into(),
        size: size as u64,
        purpose: purpose as i32,
        owner_user_id: 0,
    }
}

/// Deterministic non-trivial bytes that match no signature.
fn content(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x1234_5678;
    let mut bytes = b"plain text, then noise: ".to_vec();
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        bytes.push((state & 0xFF) as u8);
    }
    bytes.truncate(len);
    bytes
}

/// Runs each test body against SQLite and against PostgreSQL, with local storage.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::TestApp::start(roster_kit::testing::Backend::Sqlite, super::Storage::Local).await).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::TestApp::start(roster_kit::testing::Backend::Postgres, super::Storage::Local).await).await;
            }
        }
    )*};
}

/// Runs each test body with S3-compatible storage (a local moto server).
macro_rules! on_s3 {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn s3() {
                super::$name(super::TestApp::start(roster_kit::testing::Backend::Sqlite, super::Storage::S3).await).await;
            }
        }
    )*};
}

on_both_databases!(
    upload_get_download_round_trips_byte_exact,
    lying_content_type_is_refused_naming_both_and_leaves_nothing,
    oversized_uploads_are_refused_and_leave_nothing,
    truncated_upload_is_refused_and_leaves_nothing,
    non_image_avatars_are_refused_and_leave_nothing,
    decompression_bomb_avatar_is_refused_and_leaves_nothing,
    avatar_exif_metadata_is_not_stored,
    avatar_variants_keep_aspect_and_have_the_right_sizes,
    list_files_pages_through_one_owners_files_newest_first,
    delete_file_removes_row_and_objects,
    delete_user_files_is_idempotent_and_privileged,
    user_cannot_delete_or_upload_for_another_user,
    editors_may_delete_files_of_users_not_exempt_from_moderation,
    calls_without_a_token_are_unauthenticated,
    a_failed_metadata_insert_removes_the_stored_objects,
);

on_s3!(
    upload_get_download_round_trips_byte_exact_on_s3,
    failed_uploads_leave_nothing_on_s3,
    avatar_variants_and_delete_on_s3,
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
    assert!(file.url.ends_with(&format!("/{}", file.id)));

    // Anyone authenticated may read it.
    let mut other = app.user_client(8).await;
    let got = other
        .get_file(GetFileRequest {
            file_id: file.id.clone(),
        })
        .await
        .unwrap_or_else(|s| panic!("get: {s:?}"))
        .into_inner();
    assert_eq!(got, file);

    let (info, downloaded) = app
        .download(&mut other, &file.id, FileVariant::Original)
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
        })
        .await
        .err();
    assert_eq!(
        missing.as_ref().map(|s| (s.code(), reason(s))),
        Some((Code::NotFound, "FILE_NOT_FOUND".into()))
    );
    let no_variant = app
        .try_download(&mut other, &file.id, FileVariant::Size64)
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

async fn non_image_avatars_are_refused_and_leave_nothing(app: TestApp) {
    let mut client = app.user_client(7).await;
    let text = content(3000);
    let status = upload(
        &mut client,
        header("me.txt", "text/plain", text.len(), FilePurpose::Avatar),
        &text,
        CHUNK,
    )
    .await
    .err();
    assert_eq!(
        status.as_ref().map(|s| (s.code(), reason(s))),
        Some((Code::InvalidArgument, "UNSUPPORTED_MEDIA_TYPE".into()))
    );

    let pdf = b"%PDF-1.7\n% not really a picture\n".to_vec();
    let status = upload(
        &mut client,
        header("me.pdf", "", pdf.len(), FilePurpose::Avatar),
        &pdf,
        CHUNK,
    )
    .await
    .err();
    assert_eq!(
        status.as_ref().map(reason).as_deref(),
        Some("UNSUPPORTED_MEDIA_TYPE")
    );

    // A PNG signature followed by garbage does not decode.
    let mut broken = png(32, 32);
    let len = broken.len();
    broken[40..len - 20].fill(0x5A);
    let status = upload(
        &mut client,
        header("me.png", "image/png", broken.len(), FilePurpose::Avatar),
        &broken,
        CHUNK,
    )
    .await
    .err();
    assert_eq!(
        status.as_ref().map(|s| (s.code(), reason(s))),
        Some((Code::InvalidArgument, "IMAGE_INVALID".into()))
    );
    app.assert_nothing_stored().await;
}

async fn decompression_bomb_avatar_is_refused_and_leaves_nothing(app: TestApp) {
    let mut client = app.user_client(7).await;
    let bomb = bomb_png(50_000, 50_000);
    assert!(bomb.len() < 1024, "the bomb itself is tiny");
    let status = upload(
        &mut client,
        header("bomb.png", "image/png", bomb.len(), FilePurpose::Avatar),
        &bomb,
        CHUNK,
    )
    .await
    .err()
    .unwrap_or_else(|| panic!("a 50000x50000 avatar was accepted"));
    assert_eq!(
        (status.code(), reason(&status)),
        (Code::InvalidArgument, "IMAGE_TOO_LARGE".into())
    );
    assert!(
        status.message().contains("50000x50000"),
        "{}",
        status.message()
    );

    // Just over the configured bound is refused too; at the bound it is accepted.
    let wide = bomb_png(4097, 1);
    let status = upload(
        &mut client,
        header("wide.png", "", wide.len(), FilePurpose::Avatar),
        &wide,
        CHUNK,
    )
    .await
    .err();
    assert_eq!(
        status.as_ref().map(reason).as_deref(),
        Some("IMAGE_TOO_LARGE")
    );
    app.assert_nothing_stored().await;
}

async fn avatar_exif_metadata_is_not_stored(app: TestApp) {
    let mut client = app.user_client(7).await;
    let secret = b"GPS 48.8584N 2.2945E secret-marker";
    let jpeg = jpeg_with_exif(120, 80, secret);
    assert!(
        contains(&jpeg, b"Exif\0\0") && contains(&jpeg, secret),
        "the input carries EXIF"
    );

    let file = upload(
        &mut client,
        header("me.jpg", "image/jpeg", jpeg.len(), FilePurpose::Avatar),
        &jpeg,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    assert_eq!(file.content_type, "image/jpeg");
    assert_eq!((file.width, file.height), (120, 80));
    for variant in [
        FileVariant::Original,
        FileVariant::Size64,
        FileVariant::Size256,
    ] {
        let (_, stored) = app.download(&mut client, &file.id, variant).await;
        assert!(stored.starts_with(&[0xFF, 0xD8, 0xFF]), "still a JPEG");
        assert!(
            !contains(&stored, b"Exif"),
            "{variant:?} still has an EXIF segment"
        );
        assert!(
            !contains(&stored, secret),
            "{variant:?} still has the GPS text"
        );
        assert!(
            !contains(&stored, &[0xFF, 0xE1]),
            "{variant:?} still has an APP1 segment"
        );
        image::load_from_memory(&stored)
            .unwrap_or_else(|e| panic!("{variant:?} does not decode: {e}"));
    }
    assert_eq!(file.sha256.len(), 64);
    assert_ne!(
        file.sha256,
        hex::encode(Sha256::digest(&jpeg)),
        "the stored avatar is re-encoded"
    );
}

async fn avatar_variants_keep_aspect_and_have_the_right_sizes(app: TestApp) {
    let mut admin = app.admin_client().await;
    let picture = png(600, 300);
    let mut head = header("wide.png", "image/png", picture.len(), FilePurpose::Avatar);
    head.owner_user_id = 42;
    let file = upload(&mut admin, head, &picture, 10_000)
        .await
        .unwrap_or_else(|s| panic!("upload: {s:?}"));

    // What the user service checks before accepting an avatar file id.
    let mut user = app.user_client(42).await;
    let got = user
        .get_file(GetFileRequest {
            file_id: file.id.clone(),
        })
        .await
        .unwrap_or_else(|s| panic!("get: {s:?}"))
        .into_inner();
    assert_eq!(got.owner_user_id, 42);
    assert_eq!(got.purpose, FilePurpose::Avatar as i32);
    assert_eq!(got.content_type, "image/png");
    assert_eq!((got.width, got.height), (600, 300));

    let sizes: Vec<_> = got
        .variants
        .iter()
        .map(|v| (v.variant, v.width, v.height))
        .collect();
    assert_eq!(
        sizes,
        vec![
            (FileVariant::Size64 as i32, 64, 32),
            (FileVariant::Size256 as i32, 256, 128)
        ]
    );
    for (variant, width, height) in [
        (FileVariant::Original, 600, 300),
        (FileVariant::Size64, 64, 32),
        (FileVariant::Size256, 256, 128),
    ] {
        let (info, bytes) = app.download(&mut user, &file.id, variant).await;
        assert_eq!(info.size, bytes.len() as i64);
        assert_eq!((info.width, info.height), (width, height));
        let decoded = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{variant:?}: {e}"));
        assert_eq!(
            (decoded.width(), decoded.height()),
            (width, height),
            "{variant:?}"
        );
    }
    assert_eq!(app.object_count().await, 3);

    // Small avatars are never enlarged.
    let small = png(40, 20);
    let file = upload(
        &mut user,
        header("small.png", "", small.len(), FilePurpose::Avatar),
        &small,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    assert!(
        file.variants
            .iter()
            .all(|v| (v.width, v.height) == (40, 20))
    );
}

async fn list_files_pages_through_one_owners_files_newest_first(app: TestApp) {
    let mut alice = app.user_client(1).await;
    let mut bob = app.user_client(2).await;
    let bytes = content(100);
    let mut uploaded = Vec::new();
    for n in 0..5 {
        let file = upload(
            &mut alice,
            header(&format!("f{n}"), "", bytes.len(), FilePurpose::Attachment),
            &bytes,
            CHUNK,
        )
        .await
        .unwrap_or_else(|s| panic!("upload: {s:?}"));
        uploaded.push(file.id);
    }
    upload(
        &mut bob,
        header("bob", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    let picture = png(8, 8);
    let avatar = upload(
        &mut alice,
        header("me", "", picture.len(), FilePurpose::Avatar),
        &picture,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = bob
            .list_files(ListFilesRequest {
                owner_user_id: 1,
                purpose: FilePurpose::Attachment as i32,
                page_size: 2,
                page_token: token.clone(),
            })
            .await
            .unwrap_or_else(|s| panic!("list: {s:?}"))
            .into_inner();
        pages += 1;
        assert!(page.files.len() <= 2);
        seen.extend(page.files.into_iter().map(|f| f.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    uploaded.reverse();
    assert_eq!(seen, uploaded, "newest first, each once");

    // Without a filter the avatar is listed too, first; a user lists its own by default.
    let all = alice
        .list_files(ListFilesRequest::default())
        .await
        .unwrap_or_else(|s| panic!("list: {s:?}"))
        .into_inner();
    assert_eq!(all.files.len(), 6);
    assert_eq!(all.files[0].id, avatar.id);
    assert!(all.next_page_token.is_empty());

    // A token only continues the query it came from.
    let first = alice
        .list_files(ListFilesRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("list: {s:?}"))
        .into_inner();
    let status = alice
        .list_files(ListFilesRequest {
            owner_user_id: 2,
            page_size: 1,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .err();
    assert_eq!(
        status.as_ref().map(reason).as_deref(),
        Some("PAGE_TOKEN_INVALID")
    );
    let status = app
        .admin_client()
        .await
        .list_files(ListFilesRequest::default())
        .await
        .err();
    assert_eq!(
        status.as_ref().map(|s| s.code()),
        Some(Code::InvalidArgument)
    );
}

async fn delete_file_removes_row_and_objects(app: TestApp) {
    let mut client = app.user_client(7).await;
    let picture = png(300, 300);
    let avatar = upload(
        &mut client,
        header("me.png", "", picture.len(), FilePurpose::Avatar),
        &picture,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    let bytes = content(1000);
    let attachment = upload(
        &mut client,
        header("a", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    assert_eq!((app.row_count().await, app.object_count().await), (2, 4));

    client
        .delete_file(DeleteFileRequest {
            file_id: avatar.id.clone(),
        })
        .await
        .unwrap_or_else(|s| panic!("delete: {s:?}"));
    assert_eq!((app.row_count().await, app.object_count().await), (1, 1));
    let status = client
        .get_file(GetFileRequest {
            file_id: avatar.id.clone(),
        })
        .await
        .err();
    assert_eq!(status.as_ref().map(|s| s.code()), Some(Code::NotFound));
    let status = client
        .delete_file(DeleteFileRequest { file_id: avatar.id })
        .await
        .err();
    assert_eq!(
        status.as_ref().map(reason).as_deref(),
        Some("FILE_NOT_FOUND")
    );

    // An admin may delete anyone's file.
    app.admin_client()
        .await
        .delete_file(DeleteFileRequest {
            file_id: attachment.id,
        })
        .await
        .unwrap_or_else(|s| panic!("admin delete: {s:?}"));
    app.assert_nothing_stored().await;
}

async fn delete_user_files_is_idempotent_and_privileged(app: TestApp) {
    let mut user = app.user_client(5).await;
    let bytes = content(500);
    let picture = png(100, 50);
    for n in 0..3 {
        upload(
            &mut user,
            header(&format!("f{n}"), "", bytes.len(), FilePurpose::Attachment),
            &bytes,
            CHUNK,
        )
        .await
        .unwrap_or_else(|s| panic!("upload: {s:?}"));
    }
    upload(
        &mut user,
        header("me", "", picture.len(), FilePurpose::Avatar),
        &picture,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    let mut other = app.user_client(6).await;
    upload(
        &mut other,
        header("kept", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));

    // Users may not run the cascade, not even on themselves.
    let status = user
        .delete_user_files(DeleteUserFilesRequest { user_id: 5 })
        .await
        .err();
    assert_eq!(
        status.as_ref().map(|s| s.code()),
        Some(Code::PermissionDenied)
    );

    let mut service = app.service_client("moderation").await;
    let first = service
        .delete_user_files(DeleteUserFilesRequest { user_id: 5 })
        .await
        .unwrap_or_else(|s| panic!("cascade: {s:?}"))
        .into_inner();
    assert_eq!(first.deleted_count, 4);
    let again = service
        .delete_user_files(DeleteUserFilesRequest { user_id: 5 })
        .await
        .unwrap_or_else(|s| panic!("cascade again: {s:?}"))
        .into_inner();
    assert_eq!(again.deleted_count, 0);
    let nobody = app
        .admin_client()
        .await
        .delete_user_files(DeleteUserFilesRequest { user_id: 999 })
        .await
        .unwrap_or_else(|s| panic!("cascade for nobody: {s:?}"))
        .into_inner();
    assert_eq!(nobody.deleted_count, 0);
    // Only user 6's file is left.
    assert_eq!((app.row_count().await, app.object_count().await), (1, 1));
}

async fn user_cannot_delete_or_upload_for_another_user(app: TestApp) {
    let mut owner = app.user_client(1).await;
    let mut intruder = app.user_client(2).await;
    let bytes = content(300);
    let file = upload(
        &mut owner,
        header("mine", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));

    let status = intruder
        .delete_file(DeleteFileRequest {
            file_id: file.id.clone(),
        })
        .await
        .err();
    assert_eq!(
        status.as_ref().map(|s| (s.code(), reason(s))),
        Some((Code::PermissionDenied, "PERMISSION_DENIED".into()))
    );
    assert_eq!((app.row_count().await, app.object_count().await), (1, 1));

    let mut head = header("yours", "", bytes.len(), FilePurpose::Attachment);
    head.owner_user_id = 1;
    let status = upload(&mut intruder, head, &bytes, CHUNK).await.err();
    assert_eq!(
        status.as_ref().map(|s| s.code()),
        Some(Code::PermissionDenied)
    );

    // Admin uploads must name the owner.
    let status = upload(
        &mut app.admin_client().await,
        header("x", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .err();
    assert_eq!(
        status.as_ref().map(|s| s.code()),
        Some(Code::InvalidArgument)
    );
    assert_eq!((app.row_count().await, app.object_count().await), (1, 1));

    // The owner may delete it.
    owner
        .delete_file(DeleteFileRequest { file_id: file.id })
        .await
        .unwrap_or_else(|s| panic!("delete: {s:?}"));
    app.assert_nothing_stored().await;
}

async fn editors_may_delete_files_of_users_not_exempt_from_moderation(app: TestApp) {
    use roster_proto::v1::{
        CreateRoleRequest, GrantRoleRequest, NetworkScope, Scope,
        role_service_client::RoleServiceClient, scope,
    };
    let admin_token = app
        .keys
        .issue_admin("tests", std::time::Duration::from_secs(600))
        .unwrap_or_else(|e| panic!("{e}"))
        .token;
    let mut roles = RoleServiceClient::with_interceptor(
        app.channel().await,
        roster_kit::auth::BearerToken::new(&admin_token).unwrap_or_else(|e| panic!("{e}")),
    );
    roles
        .create_role(CreateRoleRequest {
            name: "profile-editor".into(),
            description: String::new(),
            permissions: vec!["EDIT_USER".into()],
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let network = || {
        Some(Scope {
            scope: Some(scope::Scope::Network(NetworkScope {})),
        })
    };
    for (user_id, role) in [(2, "profile-editor"), (3, "super-moderator")] {
        roles
            .grant_role(GrantRoleRequest {
                user_id,
                role: role.into(),
                scope: network(),
                expires_at: None,
            })
            .await
            .unwrap_or_else(|s| panic!("{s:?}"));
    }

    let bytes = content(200);
    let plain = upload(
        &mut app.user_client(1).await,
        header("a", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("{s:?}"));
    let exempt = upload(
        &mut app.user_client(3).await,
        header("b", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("{s:?}"));
    let mut editor = app.user_client(2).await;
    let status = editor
        .delete_file(DeleteFileRequest {
            file_id: exempt.id.clone(),
        })
        .await
        .err();
    assert_eq!(
        status.as_ref().map(|s| (s.code(), reason(s))),
        Some((Code::PermissionDenied, "PERMISSION_DENIED".into())),
        "a super moderator's files are out of an editor's reach"
    );
    editor
        .delete_file(DeleteFileRequest { file_id: plain.id })
        .await
        .unwrap_or_else(|s| panic!("EDIT_USER may delete another user's file: {s:?}"));
    assert_eq!((app.row_count().await, app.object_count().await), (1, 1));
}

async fn calls_without_a_token_are_unauthenticated(app: TestApp) {
    let mut anonymous = FileServiceClient::new(app.channel().await);
    let bytes = content(100);
    let status = upload(
        &mut anonymous,
        header("a", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .err();
    assert_eq!(
        status.as_ref().map(|s| (s.code(), reason(s))),
        Some((Code::Unauthenticated, "TOKEN_MISSING".into()))
    );
    let id = uuid::Uuid::new_v4().to_string();
    let get = anonymous
        .get_file(GetFileRequest {
            file_id: id.clone(),
        })
        .await
        .err();
    let list = anonymous
        .list_files(ListFilesRequest {
            owner_user_id: 1,
            ..Default::default()
        })
        .await
        .err();
    let delete = anonymous
        .delete_file(DeleteFileRequest {
            file_id: id.clone(),
        })
        .await
        .err();
    let cascade = anonymous
        .delete_user_files(DeleteUserFilesRequest { user_id: 1 })
        .await
        .err();
    let download = app
        .try_download(&mut anonymous, &id, FileVariant::Original)
        .await
        .err();
    for status in [get, list, delete, cascade, download] {
        assert_eq!(status.map(|s| s.code()), Some(Code::Unauthenticated));
    }
    // A token from another key is refused as well.
    let forged = roster_kit::TokenKeys::new(&[9u8; 32], "roster")
        .and_then(|k| k.issue_admin("forger", std::time::Duration::from_secs(60)))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut forger = app.client_with_token(&forged.token).await;
    let status = forger.get_file(GetFileRequest { file_id: id }).await.err();
    assert_eq!(
        status.as_ref().map(|s| (s.code(), reason(s))),
        Some((Code::Unauthenticated, "TOKEN_INVALID".into()))
    );
    app.assert_nothing_stored().await;
}

async fn upload_get_download_round_trips_byte_exact_on_s3(app: TestApp) {
    let mut client = app.user_client(3).await;
    // Larger than one multipart part, so the streaming write uploads several.
    let max = app.max_upload_bytes as usize;
    let bytes = content(max);
    let file = upload(
        &mut client,
        header(
            "big.bin",
            "application/octet-stream",
            bytes.len(),
            FilePurpose::Attachment,
        ),
        &bytes,
        256 * 1024,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    assert_eq!(file.sha256, hex::encode(Sha256::digest(&bytes)));
    let (_, back) = app
        .download(&mut client, &file.id, FileVariant::Original)
        .await;
    assert!(back == bytes, "downloaded bytes differ from the upload");
    assert_eq!((app.row_count().await, app.object_count().await), (1, 1));
    client
        .delete_file(DeleteFileRequest { file_id: file.id })
        .await
        .unwrap_or_else(|s| panic!("delete: {s:?}"));
    app.assert_nothing_stored().await;
}

async fn failed_uploads_leave_nothing_on_s3(app: TestApp) {
    let mut client = app.user_client(3).await;
    let max = app.max_upload_bytes as usize;
    let jpeg = jpeg_with_exif(16, 16, b"");
    let bomb = bomb_png(50_000, 50_000);
    let big = content(max + 1);
    let long = content(6 * 1024 * 1024);
    let cases: Vec<(&str, UploadFileHeader, &[u8])> = vec![
        (
            "CONTENT_TYPE_MISMATCH",
            header("a", "image/gif", jpeg.len(), FilePurpose::Avatar),
            &jpeg,
        ),
        (
            "IMAGE_TOO_LARGE",
            header("b", "image/png", bomb.len(), FilePurpose::Avatar),
            &bomb,
        ),
        (
            "FILE_TOO_LARGE",
            header("c", "", max, FilePurpose::Attachment),
            &big,
        ),
        // Truncated after more than one multipart part was written.
        (
            "UPLOAD_SIZE_MISMATCH",
            header("d", "", max, FilePurpose::Attachment),
            &long,
        ),
    ];
    for (expected, head, bytes) in cases {
        let status = upload(&mut client, head, bytes, 256 * 1024)
            .await
            .err()
            .unwrap_or_else(|| panic!("expected {expected}"));
        assert_eq!(reason(&status), expected);
        app.assert_nothing_stored().await;
    }
}

async fn avatar_variants_and_delete_on_s3(app: TestApp) {
    let mut client = app.user_client(3).await;
    let jpeg = jpeg_with_exif(500, 1000, b"where I live");
    let file = upload(
        &mut client,
        header("me.jpg", "image/jpg", jpeg.len(), FilePurpose::Avatar),
        &jpeg,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    let sizes: Vec<_> = file.variants.iter().map(|v| (v.width, v.height)).collect();
    assert_eq!(sizes, vec![(32, 64), (128, 256)]);
    let (_, small) = app
        .download(&mut client, &file.id, FileVariant::Size64)
        .await;
    let decoded = image::load_from_memory(&small).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((decoded.width(), decoded.height()), (32, 64));
    let (_, original) = app
        .download(&mut client, &file.id, FileVariant::Original)
        .await;
    assert!(!contains(&original, b"where I live"));
    assert_eq!((app.row_count().await, app.object_count().await), (1, 3));

    let deleted = app
        .service_client("users")
        .await
        .delete_user_files(DeleteUserFilesRequest { user_id: 3 })
        .await
        .unwrap_or_else(|s| panic!("cascade: {s:?}"))
        .into_inner();
    assert_eq!(deleted.deleted_count, 1);
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

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn upload_messages_put_the_header_first() {
    let messages = upload_messages(header("a", "", 5, FilePurpose::Attachment), b"hello", 2);
    assert_eq!(messages.len(), 4);
}
