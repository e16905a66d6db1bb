use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use tonic::Code;

use crate::helpers::{Client, TestApp, assert_refused, by_id, create, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(
    display_name_order_is_alphabetical_lower_case_first,
    pages_walk_every_user_once_in_order,
    keyword_search_ranks_exact_matches_first,
    creation_order_sorts_both_ways,
    filters_narrow_the_results,
    page_tokens_and_sizes_are_validated,
    a_found_user_is_the_user_read_by_id,
);

async fn names(client: &mut Client, request: pb::QueryUsersRequest) -> (Vec<String>, String) {
    let response = client
        .query_users(request)
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    (
        response.users.into_iter().map(|u| u.display_name).collect(),
        response.next_page_token,
    )
}

/// Every page of a query, following tokens.
async fn all_pages(client: &mut Client, mut request: pb::QueryUsersRequest) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let (page, next) = names(client, request.clone()).await;
        assert!(page.len() <= request.page_size.max(1) as usize);
        seen.extend(page);
        if next.is_empty() {
            return seen;
        }
        request.page_token = next;
    }
}

/// Alphabetical (the Unicode Collation Algorithm), lower case first where the
/// letters are equal.
const SEED_ORDER: [&str; 6] = ["adam", "Alice", "Andre", "arthur", "charlie", "Kristen"];

async fn seed(client: &mut Client) {
    for (n, display_name) in ["Kristen", "Andre", "charlie", "Alice", "arthur", "adam"]
        .iter()
        .enumerate()
    {
        create(client, &format!("user{n}"), display_name).await;
    }
}

async fn display_name_order_is_alphabetical_lower_case_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    seed(&mut admin).await;
    let (page, next) = names(&mut admin, pb::QueryUsersRequest::default()).await;
    assert_eq!(page, SEED_ORDER);
    assert!(next.is_empty());
}

async fn pages_walk_every_user_once_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    seed(&mut admin).await;
    // Ties on display name break on id, across page boundaries too.
    create(&mut admin, "user6", "arthur").await;
    create(&mut admin, "user7", "arthur").await;
    let walked = all_pages(
        &mut admin,
        pb::QueryUsersRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        walked,
        [
            "adam", "Alice", "Andre", "arthur", "arthur", "arthur", "charlie", "Kristen"
        ]
    );
}

async fn keyword_search_ranks_exact_matches_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    for (n, display_name) in [
        "Alan", "alan", "alana", "Al", "bob", "ALBERT", "al", "c++ fan", "C++",
    ]
    .iter()
    .enumerate()
    {
        create(&mut admin, &format!("u{n}"), display_name).await;
    }
    let query = |keyword: &str, page_size: u32| pb::QueryUsersRequest {
        keyword: keyword.into(),
        page_size,
        ..Default::default()
    };
    let (page, _) = names(&mut admin, query("al", 0)).await;
    assert_eq!(page, ["al", "Al", "alan", "Alan", "alana", "ALBERT"]);
    assert_eq!(
        all_pages(&mut admin, query("AL", 1)).await,
        page,
        "case-insensitive, paged one by one"
    );
    let (page, _) = names(&mut admin, query("alan", 0)).await;
    assert_eq!(page, ["alan", "Alan", "alana"]);
    let (page, _) = names(&mut admin, query("ALANA", 0)).await;
    assert_eq!(page, ["alana"], "case-insensitive exact match");
    let (page, _) = names(&mut admin, query("c++", 0)).await;
    assert_eq!(
        page,
        ["C++", "c++ fan"],
        "special characters match literally"
    );
    let (page, _) = names(&mut admin, query("zed", 0)).await;
    assert!(page.is_empty());
}

async fn creation_order_sorts_both_ways(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    seed(&mut admin).await;
    let created = ["Kristen", "Andre", "charlie", "Alice", "arthur", "adam"];
    let first = all_pages(
        &mut admin,
        pb::QueryUsersRequest {
            sort: pb::UserSort::FirstCreated.into(),
            page_size: 4,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(first, created);
    let last = all_pages(
        &mut admin,
        pb::QueryUsersRequest {
            sort: pb::UserSort::LastCreated.into(),
            page_size: 4,
            ..Default::default()
        },
    )
    .await;
    let mut reversed = created.to_vec();
    reversed.reverse();
    assert_eq!(last, reversed);
}

async fn filters_narrow_the_results(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    create(&mut admin, "person", "Person").await;
    admin
        .create_user(pb::CreateUserRequest {
            name: "bot".into(),
            display_name: "Bot".into(),
            r#type: pb::UserType::Bot.into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    admin
        .create_user(pb::CreateUserRequest {
            name: "guest".into(),
            display_name: "Guest".into(),
            is_guest: true,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    let filtered = |filter: pb::UserFilter| pb::QueryUsersRequest {
        filter: Some(filter),
        ..Default::default()
    };
    let (bots, _) = names(
        &mut admin,
        filtered(pb::UserFilter {
            r#type: Some(pb::UserType::Bot.into()),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(bots, ["Bot"]);
    let (guests, _) = names(
        &mut admin,
        filtered(pb::UserFilter {
            is_guest: Some(true),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(guests, ["Guest"]);
    let (natives, _) = names(
        &mut admin,
        filtered(pb::UserFilter {
            is_guest: Some(false),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(natives, ["Bot", "Person"]);
    let (flagged, _) = names(
        &mut admin,
        filtered(pb::UserFilter {
            is_flagged: Some(true),
            ..Default::default()
        }),
    )
    .await;
    assert!(flagged.is_empty());
    let (present, _) = names(
        &mut admin,
        filtered(pb::UserFilter {
            is_deleted: Some(false),
            is_global_banned: Some(false),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(present.len(), 3);
}

async fn page_tokens_and_sizes_are_validated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    seed(&mut admin).await;
    let (_, token) = names(
        &mut admin,
        pb::QueryUsersRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    assert!(!token.is_empty());

    let status = expect_err(
        admin
            .query_users(pb::QueryUsersRequest {
                page_size: 101,
                ..Default::default()
            })
            .await,
    );
    assert_eq!(violated_fields(&status), ["page_size"]);
    let status = expect_err(
        admin
            .query_users(pb::QueryUsersRequest {
                page_token: "garbage!".into(),
                ..Default::default()
            })
            .await,
    );
    assert_refused(&status, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
    let status = expect_err(
        admin
            .query_users(pb::QueryUsersRequest {
                keyword: "a".into(),
                page_token: token,
                ..Default::default()
            })
            .await,
    );
    assert_refused(&status, Code::InvalidArgument, "PAGE_TOKEN_INVALID");
    let status = expect_err(
        admin
            .query_users(pb::QueryUsersRequest {
                keyword: "k".repeat(101),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(violated_fields(&status), ["keyword"]);
}

/// The search reads its rows its own way on PostgreSQL (planned per run, over
/// the simple query protocol, so every value arrives as text): a user it finds
/// is field for field the user GetUser reads, timestamps, properties, avatar
/// and presence included.
async fn a_found_user_is_the_user_read_by_id(backend: Backend) {
    use prost_types::{ListValue, Struct, Value, value::Kind};
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let value = |kind| Value { kind: Some(kind) };
    let properties = Struct {
        fields: [
            (
                "team".to_owned(),
                value(Kind::StringValue("blue \\ 'quoted'".into())),
            ),
            ("level".to_owned(), value(Kind::NumberValue(3.25))),
            ("active".to_owned(), value(Kind::BoolValue(true))),
            (
                "tags".to_owned(),
                value(Kind::ListValue(ListValue {
                    values: vec![
                        value(Kind::StringValue("a".into())),
                        value(Kind::NullValue(0)),
                    ],
                })),
            ),
        ]
        .into(),
    };
    let created = admin
        .create_user(pb::CreateUserRequest {
            name: "ricky".into(),
            display_name: "Ricky O'Brien".into(),
            description: "line one\nline two".into(),
            r#type: pb::UserType::Bot.into(),
            properties: Some(properties),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    admin
        .update_user(pb::UpdateUserRequest {
            user: by_id(created.id),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["avatar".into()],
            }),
            patch: Some(pb::UserPatch {
                avatar: Some(pb::Avatar {
                    source: Some(pb::avatar::Source::External(pb::ExternalPicture {
                        url: "https://pictures.example/ricky.png".into(),
                        name: "ricky.png".into(),
                        content_type: "image/png".into(),
                        size: 2048,
                    })),
                }),
                ..Default::default()
            }),
            expected_version: 0,
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    admin
        .set_presence(pb::SetPresenceRequest {
            user: by_id(created.id),
            status: Some("IN_A_MEETING".into()),
            online: Some(true),
            call_status: Some(pb::CallStatus::InCall.into()),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"));
    create(&mut admin, "rick", "Rick").await;

    let read = admin
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Id(created.id)),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let found = admin
        .query_users(pb::QueryUsersRequest {
            keyword: "ricky".into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner()
        .users;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0], read);
    assert!(read.avatar.is_some() && read.presence.as_ref().is_some_and(|p| p.online));
}
