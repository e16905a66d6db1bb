//! sea-orm entities of the user service's tables.

pub mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub name: String,
        pub user_type: String,
        pub display_name: String,
        pub sort_key: String,
        pub search_key: String,
        pub description: String,
        pub avatar_file_id: Option<String>,
        pub avatar_url: Option<String>,
        pub avatar_name: Option<String>,
        pub avatar_content_type: Option<String>,
        pub avatar_size: Option<i64>,
        pub is_guest: bool,
        pub presence_status: String,
        pub online: bool,
        pub call_status: String,
        pub properties: String,
        pub created_at: ChronoDateTimeUtc,
        pub updated_at: ChronoDateTimeUtc,
        pub version: i64,
        pub is_global_banned: bool,
        pub flag_count: i64,
        pub is_deleted: bool,
        pub token_generation: i64,
        pub network_roles: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod user_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "user_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub user_id: i64,
        pub kind: i16,
        pub payload: String,
        pub occurred_at: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod user_role_sync {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "user_role_sync")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i16,
        pub last_sequence: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
