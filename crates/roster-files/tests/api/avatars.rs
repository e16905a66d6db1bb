//! Avatars: only real pictures, re-encoded without metadata, with their variants.

use crate::{
    CHUNK, contains, content, header,
    helpers::{TestApp, bomb_png, jpeg_with_exif, png, reason},
};
use roster_files::client::upload;
use roster_proto::v1::{FilePurpose, FileVariant, GetFileRequest};
use sha2::{Digest, Sha256};
use tonic::Code;

crate::on_both_databases!(
    non_image_avatars_are_refused_and_leave_nothing,
    decompression_bomb_avatar_is_refused_and_leaves_nothing,
    avatar_exif_metadata_is_not_stored,
    avatar_variants_keep_aspect_and_have_the_right_sizes,
);

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
            ..Default::default()
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
