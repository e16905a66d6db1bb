//! Who reads which file: private attachments, public avatars, download links.

use crate::{
    CHUNK, content, header,
    helpers::{TestApp, URL_BASE, png, reason, violations},
};
use roster_files::client::upload;
use roster_proto::v1::{
    CreateDownloadLinkRequest, DeleteFileRequest, DeleteUserFilesRequest, DownloadFileRequest,
    FilePurpose, FileVariant, FileVisibility, GetFileRequest, ListFilesRequest,
    file_service_client::FileServiceClient,
};
use tonic::Code;

crate::on_both_databases!(calls_without_a_token_are_unauthenticated,);

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
            ..Default::default()
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
        .delete_user_files(DeleteUserFilesRequest {
            user_id: 1,
            ..Default::default()
        })
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
    let forged = roster_kit::TokenKeys::generate("roster")
        .issue_admin("forger", std::time::Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut forger = app.client_with_token(&forged.token).await;
    let status = forger
        .get_file(GetFileRequest {
            file_id: id,
            ..Default::default()
        })
        .await
        .err();
    assert_eq!(
        status.as_ref().map(|s| (s.code(), reason(s))),
        Some((Code::Unauthenticated, "TOKEN_INVALID".into()))
    );
    app.assert_nothing_stored().await;
}

crate::on_both_databases!(
    private_attachments_are_read_by_their_owner_and_the_privileged_only,
    avatars_and_public_attachments_are_anyones_to_read,
    download_links_open_one_file_without_a_token,
    download_links_are_minted_by_those_who_decide_who_reads,
);

fn get(id: &str) -> GetFileRequest {
    GetFileRequest {
        file_id: id.into(),
        ..Default::default()
    }
}

fn get_with_link(id: &str, link_token: &str) -> GetFileRequest {
    GetFileRequest {
        file_id: id.into(),
        link_token: link_token.into(),
    }
}

fn download_with_link(id: &str, link_token: &str) -> DownloadFileRequest {
    DownloadFileRequest {
        file_id: id.into(),
        variant: FileVariant::Original as i32,
        link_token: link_token.into(),
    }
}

fn refusal<T>(result: Result<T, tonic::Status>) -> Option<(Code, String)> {
    result.err().map(|s| (s.code(), reason(&s)))
}

fn denied(reason: &str) -> Option<(Code, String)> {
    Some((Code::PermissionDenied, reason.into()))
}

fn unauthenticated(reason: &str) -> Option<(Code, String)> {
    Some((Code::Unauthenticated, reason.into()))
}

async fn private_attachments_are_read_by_their_owner_and_the_privileged_only(app: TestApp) {
    let bytes = content(5000);
    let mut owner = app.user_client(1).await;
    let file = upload(
        &mut owner,
        header(
            "secret.txt",
            "text/plain",
            bytes.len(),
            FilePurpose::Attachment,
        ),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    assert_eq!(file.visibility, FileVisibility::Private as i32);

    // Another user is refused every read, and lists none of it.
    let mut other = app.user_client(2).await;
    assert_eq!(
        refusal(other.get_file(get(&file.id)).await),
        denied("FILE_ACCESS_DENIED")
    );
    assert_eq!(
        refusal(
            app.try_download(&mut other, &file.id, FileVariant::Original)
                .await
        ),
        denied("FILE_ACCESS_DENIED")
    );
    let listed = other
        .list_files(ListFilesRequest {
            owner_user_id: 1,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("list: {s:?}"))
        .into_inner();
    assert!(listed.files.is_empty(), "{:?}", listed.files);

    // Without a token the file is as unreadable as an id that names nothing.
    let mut anonymous = app.anonymous_client().await;
    for id in [file.id.clone(), uuid::Uuid::new_v4().to_string()] {
        assert_eq!(
            refusal(anonymous.get_file(get(&id)).await),
            unauthenticated("TOKEN_MISSING")
        );
        assert_eq!(
            refusal(
                app.try_download(&mut anonymous, &id, FileVariant::Original)
                    .await
            ),
            unauthenticated("TOKEN_MISSING")
        );
    }
    // A token the server does not accept (here: signed by other keys) says so.
    let forged = roster_kit::TokenKeys::generate("roster")
        .issue_admin("forger", std::time::Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut forger = app.client_with_token(&forged.token).await;
    assert_eq!(
        refusal(forger.get_file(get(&file.id)).await),
        unauthenticated("TOKEN_INVALID")
    );

    // Its owner, admins and services read it, byte-exact.
    for mut reader in [
        owner,
        app.admin_client().await,
        app.service_client("moderation").await,
    ] {
        let got = reader
            .get_file(get(&file.id))
            .await
            .unwrap_or_else(|s| panic!("get: {s:?}"))
            .into_inner();
        assert_eq!(got, file);
        let (_, back) = app
            .download(&mut reader, &file.id, FileVariant::Original)
            .await;
        assert!(back == bytes, "downloaded bytes differ from the upload");
    }
    assert_eq!((app.row_count().await, app.object_count().await), (1, 1));
}

async fn avatars_and_public_attachments_are_anyones_to_read(app: TestApp) {
    let mut owner = app.user_client(1).await;
    let picture = png(300, 200);
    let avatar = upload(
        &mut owner,
        header("me.png", "", picture.len(), FilePurpose::Avatar),
        &picture,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    assert_eq!(avatar.visibility, FileVisibility::Public as i32);
    let bytes = content(2000);
    let mut public = header("flyer.txt", "", bytes.len(), FilePurpose::Attachment);
    public.visibility = FileVisibility::Public as i32;
    let flyer = upload(&mut owner, public, &bytes, CHUNK)
        .await
        .unwrap_or_else(|s| panic!("upload: {s:?}"));
    assert_eq!(flyer.visibility, FileVisibility::Public as i32);

    // A display picture loads anywhere: no token needed, every variant.
    let mut anonymous = app.anonymous_client().await;
    let got = anonymous
        .get_file(get(&avatar.id))
        .await
        .unwrap_or_else(|s| panic!("anonymous get: {s:?}"))
        .into_inner();
    assert_eq!(got, avatar);
    for (variant, size) in [
        (FileVariant::Original, (300, 200)),
        (FileVariant::Size64, (64, 43)),
        (FileVariant::Size256, (256, 171)),
    ] {
        let (info, stored) = app.download(&mut anonymous, &avatar.id, variant).await;
        let decoded = image::load_from_memory(&stored).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((decoded.width(), decoded.height()), size, "{variant:?}");
        assert_eq!((info.width, info.height), size);
    }
    let (_, back) = app
        .download(&mut anonymous, &flyer.id, FileVariant::Original)
        .await;
    assert!(back == bytes, "a public attachment is anyone's to read");
    let mut other = app.user_client(2).await;
    let (_, back) = app
        .download(&mut other, &flyer.id, FileVariant::Original)
        .await;
    assert!(back == bytes);

    // An avatar cannot be hidden, and an unknown visibility is no visibility.
    for visibility in [FileVisibility::Private as i32, 7] {
        let mut head = header("me.png", "", picture.len(), FilePurpose::Avatar);
        head.visibility = visibility;
        let status = upload(&mut owner, head, &picture, CHUNK)
            .await
            .err()
            .unwrap_or_else(|| panic!("visibility {visibility} was accepted"));
        assert_eq!(
            (status.code(), reason(&status)),
            (Code::InvalidArgument, "INVALID_FIELD".into())
        );
        assert_eq!(violations(&status), ["header.visibility"]);
    }
    assert_eq!((app.row_count().await, app.object_count().await), (2, 4));
}

async fn download_links_open_one_file_without_a_token(app: TestApp) {
    let bytes = content(3000);
    let mut owner = app.user_client(1).await;
    let mut uploaded = Vec::new();
    for name in ["first", "second"] {
        let file = upload(
            &mut owner,
            header(name, "", bytes.len(), FilePurpose::Attachment),
            &bytes,
            CHUNK,
        )
        .await
        .unwrap_or_else(|s| panic!("upload: {s:?}"));
        uploaded.push(file);
    }
    let (file, second) = (&uploaded[0], &uploaded[1]);
    let link = owner
        .create_download_link(CreateDownloadLinkRequest {
            file_id: file.id.clone(),
            ttl_seconds: 0,
        })
        .await
        .unwrap_or_else(|s| panic!("link: {s:?}"))
        .into_inner();
    assert_eq!(
        link.url,
        format!("{URL_BASE}/{}?token={}", file.id, link.token)
    );

    // Whoever holds it reads that file: without a token, or as a user who
    // could not otherwise.
    let mut anonymous = app.anonymous_client().await;
    let got = anonymous
        .get_file(get_with_link(&file.id, &link.token))
        .await
        .unwrap_or_else(|s| panic!("get by link: {s:?}"))
        .into_inner();
    assert_eq!(&got, file);
    let (_, back) = app
        .try_download_request(&mut anonymous, download_with_link(&file.id, &link.token))
        .await
        .unwrap_or_else(|s| panic!("download by link: {s:?}"));
    assert!(back == bytes);
    let mut other = app.user_client(2).await;
    let (_, back) = app
        .try_download_request(&mut other, download_with_link(&file.id, &link.token))
        .await
        .unwrap_or_else(|s| panic!("download by link: {s:?}"));
    assert!(back == bytes);

    // Only that file.
    assert_eq!(
        refusal(
            anonymous
                .get_file(get_with_link(&second.id, &link.token))
                .await
        ),
        denied("FILE_LINK_INVALID")
    );
    assert_eq!(
        refusal(
            app.try_download_request(&mut other, download_with_link(&second.id, &link.token))
                .await
        ),
        denied("FILE_LINK_INVALID")
    );

    // Not after it expired. (Signed here: the API never issues an expired link.
    // The same signing with a future expiry works, so the refusal is the expiry.)
    let now = chrono::Utc::now().timestamp();
    let fresh = app.signed_link(&file.id, now + 60);
    anonymous
        .get_file(get_with_link(&file.id, &fresh))
        .await
        .unwrap_or_else(|s| panic!("a hand-signed fresh link: {s:?}"));
    let expired = app.signed_link(&file.id, now - 60);
    let status = anonymous
        .get_file(get_with_link(&file.id, &expired))
        .await
        .err();
    assert_eq!(
        status.as_ref().map(|s| (s.code(), reason(s))),
        denied("FILE_LINK_INVALID")
    );
    assert!(
        status.is_some_and(|s| s.message().contains("expired")),
        "the refusal says the link expired"
    );
    assert_eq!(
        refusal(
            app.try_download_request(&mut anonymous, download_with_link(&file.id, &expired))
                .await
        ),
        denied("FILE_LINK_INVALID")
    );

    // Nor anything else passed as a link: a session token, another
    // deployment's link, garbage.
    let session = app
        .keys
        .issue_user(1, 0, std::time::Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"))
        .token;
    let foreign = roster_kit::TokenKeys::generate("roster")
        .issue_file_link(&file.id, std::time::Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"))
        .token;
    for token in [session.as_str(), foreign.as_str(), "not-a-token"] {
        assert_eq!(
            refusal(anonymous.get_file(get_with_link(&file.id, token)).await),
            denied("FILE_LINK_INVALID"),
            "{token}"
        );
    }

    // Deleting the file ends the link: the id names nothing any more.
    owner
        .delete_file(DeleteFileRequest {
            file_id: file.id.clone(),
        })
        .await
        .unwrap_or_else(|s| panic!("delete: {s:?}"));
    assert_eq!(
        refusal(
            anonymous
                .get_file(get_with_link(&file.id, &link.token))
                .await
        ),
        Some((Code::NotFound, "FILE_NOT_FOUND".into()))
    );
}

async fn download_links_are_minted_by_those_who_decide_who_reads(app: TestApp) {
    let bytes = content(100);
    let mut owner = app.user_client(1).await;
    let file = upload(
        &mut owner,
        header("a", "", bytes.len(), FilePurpose::Attachment),
        &bytes,
        CHUNK,
    )
    .await
    .unwrap_or_else(|s| panic!("upload: {s:?}"));
    let request = |ttl_seconds: u32| CreateDownloadLinkRequest {
        file_id: file.id.clone(),
        ttl_seconds,
    };

    // The owner, admins (a product backend) and services; each link works.
    let mut anonymous = app.anonymous_client().await;
    for (mut minter, ttl, expected_ttl) in [
        (owner, 0, 300),
        (app.admin_client().await, 86_400, 86_400),
        (app.service_client("chat").await, 60, 60),
    ] {
        let before = chrono::Utc::now().timestamp();
        let link = minter
            .create_download_link(request(ttl))
            .await
            .unwrap_or_else(|s| panic!("link: {s:?}"))
            .into_inner();
        let after = chrono::Utc::now().timestamp();
        let expires_at = link.expires_at.map(|t| t.seconds).unwrap_or_default();
        assert!(
            (before + expected_ttl..=after + expected_ttl).contains(&expires_at),
            "a {ttl} s request expires at {expires_at}, {before}..={after} + {expected_ttl}"
        );
        anonymous
            .get_file(get_with_link(&file.id, &link.token))
            .await
            .unwrap_or_else(|s| panic!("get by link: {s:?}"));
    }

    // Another user may not hand out the owner's file, not even a public one.
    let mut other = app.user_client(2).await;
    assert_eq!(
        refusal(other.create_download_link(request(0)).await),
        denied("PERMISSION_DENIED")
    );
    let status = app
        .admin_client()
        .await
        .create_download_link(request(86_401))
        .await
        .err();
    assert_eq!(
        status.as_ref().map(|s| (s.code(), violations(s))),
        Some((Code::InvalidArgument, vec!["ttl_seconds".to_owned()]))
    );
    let status = app
        .admin_client()
        .await
        .create_download_link(CreateDownloadLinkRequest {
            file_id: uuid::Uuid::new_v4().to_string(),
            ttl_seconds: 0,
        })
        .await;
    assert_eq!(
        refusal(status),
        Some((Code::NotFound, "FILE_NOT_FOUND".into()))
    );
    assert_eq!(
        refusal(anonymous.create_download_link(request(0)).await),
        unauthenticated("TOKEN_MISSING")
    );
}
