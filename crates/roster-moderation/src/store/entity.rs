//! sea-orm entities of the moderation service's tables (see the migration
//! `m20261201_000001_create_moderation`). Times are milliseconds since the Unix
//! epoch.

pub mod flag {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "moderation_flags")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub target_user_id: i64,
        pub flagger: String,
        pub flagger_user_id: Option<i64>,
        pub reason: String,
        pub note: String,
        pub created_at_ms: i64,
        pub updated_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod ban {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "moderation_bans")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
        pub reason: String,
        pub banned_by: String,
        pub banned_at_ms: i64,
        pub updated_at_ms: i64,
        pub expires_at_ms: Option<i64>,
        pub lifted_at_ms: Option<i64>,
        pub lifted_by: Option<String>,
        pub lift_reason: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod deletion_job {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "deletion_jobs")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub user_id: i64,
        /// JSON of `DeletionOptions`.
        pub options: String,
        pub state: String,
        pub requested_by: String,
        pub reason: String,
        pub request_id: String,
        pub created_at_ms: i64,
        pub updated_at_ms: i64,
        pub completed_at_ms: Option<i64>,
        pub next_run_at_ms: i64,
        pub lease_owner: Option<String>,
        pub lease_until_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod deletion_step {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "deletion_steps")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub job_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub position: i32,
        pub kind: String,
        pub service: String,
        pub state: String,
        pub attempts: i32,
        pub last_error: Option<String>,
        pub next_attempt_at_ms: Option<i64>,
        pub started_at_ms: Option<i64>,
        pub completed_at_ms: Option<i64>,
        /// JSON object of counts.
        pub erased: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "moderation_audit")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub actor: String,
        pub target_user_id: i64,
        pub action: String,
        pub reason: String,
        pub request_id: String,
        /// JSON object of strings.
        pub details: String,
        pub occurred_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "moderation_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub seq: i64,
        pub kind: String,
        pub user_id: i64,
        /// JSON: {"actor": …, "event": ModerationEvent}.
        pub payload: String,
        pub occurred_at_ms: i64,
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

pub mod stream_position {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "moderation_stream_positions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub stream: String,
        pub position: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
