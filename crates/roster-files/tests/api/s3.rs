//! The same guarantees with S3-compatible storage (moto).

use crate::{
    CHUNK, contains, content, header,
    helpers::{TestApp, bomb_png, jpeg_with_exif, reason},
};
use roster_files::client::upload;
use roster_proto::v1::{
    DeleteFileRequest, DeleteUserFilesRequest, FilePurpose, FileVariant, UploadFileHeader,
};
use sha2::{Digest, Sha256};

crate::on_s3!(
    upload_get_download_round_trips_byte_exact_on_s3,
    failed_uploads_leave_nothing_on_s3,
    avatar_variants_and_delete_on_s3,
);

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
        .delete_user_files(DeleteUserFilesRequest {
            user_id: 3,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("cascade: {s:?}"))
        .into_inner();
    assert_eq!(deleted.deleted_count, 1);
    app.assert_nothing_stored().await;
}
