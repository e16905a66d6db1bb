//! Names as people write them, in every script: alphabetical order, search by
//! what a person types (case and accents aside), one canonical form per user
//! name, and the re-keying of stored rows when the collation changes.

use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use roster_users::UsersSettings;
use sea_orm::{ConnectionTrait, Statement};
use tonic::Code;

use crate::helpers::{Client, TestApp, assert_refused, create, expect_err, violated_fields};
use crate::on_both_backends;

on_both_backends!(
    an_international_directory_sorts_alphabetically,
    search_finds_names_by_what_a_person_types,
    user_names_have_one_canonical_form,
    invisible_characters_are_refused_and_change_nothing,
    rows_keyed_before_collation_keys_are_rekeyed_at_start,
    changing_the_locale_rekeys_every_user,
);

/// The directory, in creation order.
const DIRECTORY: [&str; 23] = [
    "Zoë",
    "zoe",
    "Émile",
    "Emma",
    "ángel",
    "adam",
    "Ωμέγα",
    "άλφα",
    "Жанна",
    "Борис",
    "محمد",
    "שלום",
    "李小龙",
    "Ada 👩\u{200D}💻",
    "Øystein",
    "Ñandú",
    "nadia",
    "Émile Zola",
    "emile",
    "Zoe",
    "Angela",
    "Oscar",
    "ølaf",
];

/// The root order: letters first (accents and case aside), then accents, then
/// lower case first; scripts in the UCA's order (Latin, Greek, Cyrillic,
/// Hebrew, Arabic, Han).
const ALPHABETICAL: [&str; 23] = [
    "Ada 👩\u{200D}💻",
    "adam",
    "ángel",
    "Angela",
    "emile",
    "Émile",
    "Émile Zola",
    "Emma",
    "nadia",
    "Ñandú",
    "ølaf",
    "Oscar",
    "Øystein",
    "zoe",
    "Zoe",
    "Zoë",
    "άλφα",
    "Ωμέγα",
    "Борис",
    "Жанна",
    "שלום",
    "محمد",
    "李小龙",
];

async fn seed(client: &mut Client) {
    for (n, display_name) in DIRECTORY.iter().enumerate() {
        create(client, &format!("person{n}"), display_name).await;
    }
}

fn query(keyword: &str, page_size: u32) -> pb::QueryUsersRequest {
    pb::QueryUsersRequest {
        keyword: keyword.into(),
        page_size,
        ..Default::default()
    }
}

/// Every page of a query, following tokens.
async fn all_pages(client: &mut Client, mut request: pb::QueryUsersRequest) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let response = client
            .query_users(request.clone())
            .await
            .unwrap_or_else(|s| panic!("{s:?}"))
            .into_inner();
        seen.extend(response.users.into_iter().map(|u| u.display_name));
        if response.next_page_token.is_empty() {
            return seen;
        }
        request.page_token = response.next_page_token;
    }
}

async fn an_international_directory_sorts_alphabetically(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    seed(&mut admin).await;
    assert_eq!(all_pages(&mut admin, query("", 100)).await, ALPHABETICAL);
    assert_eq!(
        all_pages(&mut admin, query("", 4)).await,
        ALPHABETICAL,
        "page by page"
    );
}

async fn search_finds_names_by_what_a_person_types(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    seed(&mut admin).await;
    let cases: [(&str, &[&str]); 16] = [
        // Exact matches (equal but for case and accents) first, then the rest.
        ("emile", &["emile", "Émile", "Émile Zola"]),
        ("ÉMILE", &["emile", "Émile", "Émile Zola"]),
        ("E\u{301}mile z", &["Émile Zola"]),
        ("zoe", &["zoe", "Zoe", "Zoë"]),
        ("ZOË", &["zoe", "Zoe", "Zoë"]),
        ("angel", &["ángel", "Angela"]),
        ("nandu", &["Ñandú"]),
        ("o", &["ølaf", "Oscar", "Øystein"]),
        ("ada", &["Ada 👩\u{200D}💻", "adam"]),
        ("ωμεγα", &["Ωμέγα"]),
        ("αλ", &["άλφα"]),
        ("жан", &["Жанна"]),
        ("مح", &["محمد"]),
        ("של", &["שלום"]),
        ("李", &["李小龙"]),
        ("zed", &[]),
    ];
    for (keyword, expected) in cases {
        let found = all_pages(&mut admin, query(keyword, 0)).await;
        assert_eq!(found, expected, "keyword {keyword:?}");
        let paged = all_pages(&mut admin, query(keyword, 1)).await;
        assert_eq!(paged, expected, "keyword {keyword:?}, one by one");
    }
    let creation_order = all_pages(
        &mut admin,
        pb::QueryUsersRequest {
            keyword: "EMILE".into(),
            sort: pb::UserSort::FirstCreated.into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        creation_order,
        ["Émile", "emile", "Émile Zola"],
        "exact matches first in any order"
    );
    for ignorable in ["\u{301}", "\u{200D}"] {
        let status = expect_err(admin.query_users(query(ignorable, 0)).await);
        assert_eq!(violated_fields(&status), ["keyword"], "{ignorable:?}");
    }
}

async fn user_names_have_one_canonical_form(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let new = |name: &str| pb::CreateUserRequest {
        name: name.into(),
        ..Default::default()
    };
    let jose = admin
        .create_user(new("Jose\u{301}"))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(jose.name, "José", "stored composed (NFC)");
    assert_eq!(jose.display_name, "José");
    let status = expect_err(admin.create_user(new("José")).await);
    assert_refused(&status, Code::AlreadyExists, "USER_ALREADY_EXISTS");
    create(&mut admin, "jane", "Jane").await;
    for twin in ["ｊａｎｅ", "jane"] {
        let status = expect_err(admin.create_user(new(twin)).await);
        assert_refused(&status, Code::AlreadyExists, "USER_ALREADY_EXISTS");
    }
    create(&mut admin, "Jane", "Jane").await; // case is kept: another name

    for (lookup, found) in [
        ("Jose\u{301}", "José"),
        ("José", "José"),
        ("ｊａｎｅ", "jane"),
    ] {
        let user = admin
            .get_user(pb::GetUserRequest {
                user: Some(pb::get_user_request::User::Name(lookup.into())),
            })
            .await
            .unwrap_or_else(|s| panic!("{lookup:?}: {s:?}"))
            .into_inner();
        assert_eq!(user.name, found, "{lookup:?}");
    }
    let batch = admin
        .batch_get_users(pb::BatchGetUsersRequest {
            ids: vec![],
            names: vec!["Jose\u{301}".into(), "Jane".into()],
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let found: Vec<String> = batch
        .results
        .iter()
        .map(|r| r.user.as_ref().map(|u| u.name.clone()).unwrap_or_default())
        .collect();
    assert_eq!(found, ["José", "Jane"]);

    // Limits count characters, however the request composes them.
    let fifty = "e\u{301}".repeat(50);
    let user = admin
        .create_user(new(&fifty))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(user.name.chars().count(), 50);
    let status = expect_err(admin.create_user(new(&"é".repeat(51))).await);
    assert_eq!(violated_fields(&status), ["name"]);
}

async fn invisible_characters_are_refused_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    let jane = create(&mut admin, "jane", "Jane").await;
    for name in [
        "ja\u{200B}ne",
        "ja\u{200D}ne",
        "\u{202E}enaj",
        "ja\u{AD}ne",
        "\u{3164}",
        "ja\u{7}ne",
    ] {
        let status = expect_err(
            admin
                .create_user(pb::CreateUserRequest {
                    name: name.into(),
                    ..Default::default()
                })
                .await,
        );
        assert_refused(&status, Code::InvalidArgument, "INVALID_FIELD");
        assert_eq!(violated_fields(&status), ["name"], "{name:?}");
        let status = expect_err(
            admin
                .issue_user_token(pb::IssueUserTokenRequest {
                    name: name.into(),
                    ..Default::default()
                })
                .await,
        );
        assert_eq!(
            violated_fields(&status),
            ["name"],
            "{name:?} via IssueUserToken"
        );
    }
    let status = expect_err(
        admin
            .create_user(pb::CreateUserRequest {
                name: "mallory".into(),
                display_name: "ad\u{202E}nimda".into(),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(violated_fields(&status), ["display_name"]);
    let status = expect_err(
        admin
            .update_user(pb::UpdateUserRequest {
                user: Some(pb::UserRef {
                    r#ref: Some(pb::user_ref::Ref::Id(jane.id)),
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
                patch: Some(pb::UserPatch {
                    display_name: "\u{200B}".into(),
                    ..Default::default()
                }),
                expected_version: 0,
            })
            .await,
    );
    assert_eq!(violated_fields(&status), ["patch.display_name"]);
    let everyone = all_pages(&mut admin, query("", 100)).await;
    assert_eq!(everyone, ["Jane"], "nothing was created or changed");
}

async fn execute(app: &TestApp, sql: &str) {
    let connection = app.users.store.connection();
    connection
        .execute_raw(Statement::from_string(
            connection.get_database_backend(),
            sql,
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn rows_keyed_before_collation_keys_are_rekeyed_at_start(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    seed(&mut admin).await;
    let twin = create(&mut admin, "josé", "José").await;
    // As the migration leaves rows written before collation keys: a key of no
    // known collation, no canonical name; and an old name that is a twin of
    // another in composition only, as could be stored before.
    execute(
        &app,
        "UPDATE users SET sort_key = 'old', sort_key_collation = 0, canonical_name = NULL",
    )
    .await;
    execute(
        &app,
        &format!(
            "UPDATE users SET name = 'jose\u{301}' WHERE id = {}",
            twin.id
        ),
    )
    .await;
    create(&mut admin, "josé", "José, the newer").await;

    let restarted = TestApp::spawn_on(&app.database_url, |_| {}).await;
    let mut admin = restarted.admin().await;
    let mut expected = ALPHABETICAL.to_vec();
    expected.splice(8..8, ["José", "José, the newer"]);
    assert_eq!(all_pages(&mut admin, query("", 7)).await, expected);
    assert_eq!(
        all_pages(&mut admin, query("jose", 0)).await,
        ["José", "José, the newer"]
    );
    // Both old names stay readable; the exact one finds the old twin.
    let old = admin
        .get_user(pb::GetUserRequest {
            user: Some(pb::get_user_request::User::Name("jose\u{301}".into())),
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(old.id, twin.id);
    let session = admin
        .issue_user_token(pb::IssueUserTokenRequest {
            name: "jose\u{301}".into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    assert_eq!(
        session.user.map(|u| u.id),
        Some(twin.id),
        "a session for the old twin, not the newer name"
    );
    // Nothing is left to re-key: another start changes nothing.
    assert_eq!(
        restarted
            .users
            .store
            .rekey()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        Default::default()
    );
}

async fn changing_the_locale_rekeys_every_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut admin = app.admin().await;
    for (n, display_name) in ["Ärla", "Zara", "Anna", "Öberg", "Olof"].iter().enumerate() {
        create(&mut admin, &format!("u{n}"), display_name).await;
    }
    assert_eq!(
        all_pages(&mut admin, query("", 0)).await,
        ["Anna", "Ärla", "Öberg", "Olof", "Zara"]
    );
    let swedish = TestApp::spawn_on(&app.database_url, |users| {
        users.collation_locale = "sv".into();
    })
    .await;
    let mut admin = swedish.admin().await;
    assert_eq!(
        all_pages(&mut admin, query("", 2)).await,
        ["Anna", "Olof", "Zara", "Ärla", "Öberg"],
        "Swedish sorts å, ä, ö after z"
    );
    assert_eq!(all_pages(&mut admin, query("ö", 0)).await, ["Öberg"]);

    let mut settings = UsersSettings {
        collation_locale: "not a locale!".into(),
        ..Default::default()
    };
    let err = settings.collation().err();
    assert!(
        err.is_some_and(|e| e.message.contains("users.collation_locale")),
        "an unparsable locale is refused at start, naming the setting"
    );
    settings.collation_locale = "de-DE".into();
    assert!(settings.collation().is_ok());
}
