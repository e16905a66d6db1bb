//! sea-orm entities of the user service's tables.

pub mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        /// NFC (names stored before NFC was the rule may be in another form).
        #[sea_orm(unique)]
        pub name: String,
        /// NFKC of the name, unique: what names are compared by. Null only for
        /// an old name whose canonical form another user already had.
        pub canonical_name: Option<String>,
        pub user_type: String,
        pub display_name: String,
        /// The display name's collation key, lowercase hex (see
        /// `domain::collation`), compared byte-wise.
        pub sort_key: String,
        /// The fingerprint of the collation `sort_key` was made with; 0 for
        /// keys of no known collation (rows from before collation keys).
        pub sort_key_collation: i64,
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
        /// Hex SHA-256 of a guest's resume secret (guests created by Login).
        pub guest_secret_hash: Option<String>,
        /// When the global ban ends (Unix ms); none while unbanned or for a ban
        /// without expiry.
        pub ban_expires_at_ms: Option<i64>,
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
        /// Who made the change and why (null for events from before these columns).
        pub actor: Option<String>,
        pub request_id: Option<String>,
        pub trace_id: Option<String>,
        pub reason: Option<String>,
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

pub mod user_moderation_sync {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "user_moderation_sync")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i16,
        pub last_sequence: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
