//! Listing a user's files.

use crate::{
    CHUNK, content, header,
    helpers::{TestApp, png, reason},
};
use roster_files::client::upload;
use roster_proto::v1::{FilePurpose, FileVisibility, ListFilesRequest};
use tonic::Code;

crate::on_both_databases!(list_files_pages_through_one_owners_files_newest_first,);

async fn list_files_pages_through_one_owners_files_newest_first(app: TestApp) {
    let mut alice = app.user_client(1).await;
    let mut bob = app.user_client(2).await;
    let bytes = content(100);
    let mut uploaded = Vec::new();
    // Public, so that Bob may list them (private ones he may not: see below).
    for n in 0..5 {
        let mut head = header(&format!("f{n}"), "", bytes.len(), FilePurpose::Attachment);
        head.visibility = FileVisibility::Public as i32;
        let file = upload(&mut alice, head, &bytes, CHUNK)
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

crate::on_both_databases!(another_users_listing_shows_only_public_files);

async fn another_users_listing_shows_only_public_files(app: TestApp) {
    let mut owner = app.user_client(1).await;
    let bytes = content(100);
    let picture = png(8, 8);
    let mut names_by_age = Vec::new();
    for (name, purpose, visibility) in [
        (
            "private-1",
            FilePurpose::Attachment,
            FileVisibility::Unspecified,
        ),
        ("public-1", FilePurpose::Attachment, FileVisibility::Public),
        ("avatar", FilePurpose::Avatar, FileVisibility::Unspecified),
        (
            "private-2",
            FilePurpose::Attachment,
            FileVisibility::Private,
        ),
        ("public-2", FilePurpose::Attachment, FileVisibility::Public),
    ] {
        let content = if purpose == FilePurpose::Avatar {
            &picture
        } else {
            &bytes
        };
        let mut head = header(name, "", content.len(), purpose);
        head.visibility = visibility as i32;
        upload(&mut owner, head, content, CHUNK)
            .await
            .unwrap_or_else(|s| panic!("upload {name}: {s:?}"));
        names_by_age.push(name);
    }
    names_by_age.reverse();

    // Every page of a listing, newest first.
    async fn names(client: &mut crate::helpers::Client, owner_user_id: i64) -> Vec<String> {
        let mut names = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = client
                .list_files(ListFilesRequest {
                    owner_user_id,
                    page_size: 2,
                    page_token,
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|s| panic!("list: {s:?}"))
                .into_inner();
            names.extend(page.files.into_iter().map(|f| f.name));
            if page.next_page_token.is_empty() {
                return names;
            }
            page_token = page.next_page_token;
        }
    }

    // The owner sees everything; so do admins and services.
    assert_eq!(names(&mut owner, 0).await, names_by_age);
    assert_eq!(names(&mut app.admin_client().await, 1).await, names_by_age);
    assert_eq!(
        names(&mut app.service_client("moderation").await, 1).await,
        names_by_age
    );
    // Another user sees the public ones only, across pages.
    assert_eq!(
        names(&mut app.user_client(2).await, 1).await,
        ["public-2", "avatar", "public-1"]
    );
    // A user's own listing by its id is its own listing.
    assert_eq!(names(&mut owner, 1).await, names_by_age);
}
