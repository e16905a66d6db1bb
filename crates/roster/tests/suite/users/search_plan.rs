//! Prefix search must be index-backed on PostgreSQL, never a sequential scan.

use chrono::Utc;
use roster_kit::testing::TestDatabase;
use roster_users::domain::{
    NewUser, UserType,
    fields::{Description, DisplayName, UserName},
    query::{Phase, UserFilter, UserQuery, UserSort},
};
use sea_orm::{ConnectionTrait, Statement, sea_query::PostgresQueryBuilder};

use crate::helpers::TestApp;

const USERS: usize = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_search_uses_an_index_on_postgres() {
    let database = TestDatabase::postgres().await;
    let app = TestApp::spawn_on(&database.url, |_| {}).await;
    let store = &app.users.store;
    let users: Vec<NewUser> = (0..USERS)
        .map(|n| {
            let name =
                UserName::parse(&format!("user{n}"), "name").unwrap_or_else(|v| panic!("{v:?}"));
            NewUser {
                display_name: DisplayName::parse(
                    &format!("{:x}Name {n}", n * 7919 % 4093),
                    "display_name",
                )
                .unwrap_or_else(|v| panic!("{v:?}")),
                name,
                user_type: UserType::Person,
                description: Description::default(),
                is_guest: false,
                properties: Default::default(),
            }
        })
        .collect();
    for chunk in users.chunks(1000) {
        store
            .import(chunk, Utc::now())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let connection = store.connection();
    connection
        .execute_unprepared("ANALYZE users")
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    for sort in [UserSort::DisplayName, UserSort::FirstCreated] {
        let query = UserQuery {
            keyword: Some("ab".into()),
            sort,
            filter: UserFilter::default(),
            limit: 21,
            after: None,
        };
        for phase in [Phase::Exact, Phase::Prefix] {
            let statement = store
                .query_statement(&query, phase, None, 21)
                .unwrap_or_else(|| panic!("{phase:?} runs a query"));
            // With the values in the text, as the search sends it.
            let explain = Statement::from_string(
                connection.get_database_backend(),
                format!("EXPLAIN {}", statement.to_string(PostgresQueryBuilder)),
            );
            let plan: Vec<String> = connection
                .query_all_raw(explain)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
                .iter()
                .map(|row| row.try_get::<String>("", "QUERY PLAN").unwrap_or_default())
                .collect();
            let plan = plan.join("\n");
            assert!(
                !plan.contains("Seq Scan"),
                "{sort:?}/{phase:?} plan scans the table:\n{plan}"
            );
            assert!(
                plan.contains("Index Scan") && plan.contains(" users_"),
                "{sort:?}/{phase:?} plan uses none of the users indexes:\n{plan}"
            );
        }
    }
}
