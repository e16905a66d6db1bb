use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

// Every time is stored as milliseconds since the Unix epoch (`*_ms`), so
// comparisons with "now" (ban expiry, leases, retries, audit time ranges) and
// keyset paging compare plain numbers on both backends.

/// One flag per (flagged user, flagger).
#[derive(DeriveIden)]
enum ModerationFlags {
    Table,
    Id,
    TargetUserId,
    /// The flagger's actor string ("user:42", "admin:platform", …).
    Flagger,
    /// Set when the flagger is a user, so a deleted user's flags can be found.
    FlaggerUserId,
    Reason,
    Note,
    CreatedAtMs,
    UpdatedAtMs,
}

/// A user's current (or last) global ban; at most one row per user.
#[derive(DeriveIden)]
enum ModerationBans {
    Table,
    UserId,
    Reason,
    BannedBy,
    BannedAtMs,
    UpdatedAtMs,
    ExpiresAtMs,
    LiftedAtMs,
    LiftedBy,
    LiftReason,
}

/// One deletion job per user, ever (deletion is final).
#[derive(DeriveIden)]
enum DeletionJobs {
    Table,
    Id,
    UserId,
    /// JSON object of the deletion options.
    Options,
    State,
    RequestedBy,
    Reason,
    RequestId,
    CreatedAtMs,
    UpdatedAtMs,
    CompletedAtMs,
    /// When a runner should next look at the job (now, or a step's retry time).
    NextRunAtMs,
    LeaseOwner,
    LeaseUntilMs,
}

/// The steps of a job, in order; `erased` (JSON counts) is the receipt.
#[derive(DeriveIden)]
enum DeletionSteps {
    Table,
    JobId,
    Position,
    Kind,
    Service,
    State,
    Attempts,
    LastError,
    NextAttemptAtMs,
    StartedAtMs,
    CompletedAtMs,
    Erased,
}

#[derive(DeriveIden)]
enum ModerationAudit {
    Table,
    Id,
    Actor,
    TargetUserId,
    Action,
    Reason,
    RequestId,
    /// JSON object of string facts about the action.
    Details,
    OccurredAtMs,
}

/// The outbox.
#[derive(DeriveIden)]
enum ModerationEvents {
    Table,
    Seq,
    Kind,
    UserId,
    Payload,
    OccurredAtMs,
}

/// How far this service has consumed other services' event streams (e.g. the
/// role service's, for the audit log of grants and revokes).
#[derive(DeriveIden)]
enum ModerationStreamPositions {
    Table,
    Stream,
    Position,
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    columns: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column);
    }
    if unique {
        index.unique();
    }
    manager.create_index(index.to_owned()).await
}

fn cols<const N: usize>(columns: [DynIden; N]) -> Vec<DynIden> {
    columns.into()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ModerationFlags as F;
        manager
            .create_table(
                Table::create()
                    .table(F::Table)
                    .col(big_pk_auto(F::Id))
                    .col(big_integer(F::TargetUserId))
                    .col(string_len(F::Flagger, 200))
                    .col(big_integer_null(F::FlaggerUserId))
                    .col(string_len(F::Reason, 32))
                    .col(text(F::Note))
                    .col(big_integer(F::CreatedAtMs))
                    .col(big_integer(F::UpdatedAtMs))
                    .to_owned(),
            )
            .await?;
        // One flag per flagger and target; also answers IsFlaggedByMe.
        index(
            manager,
            "moderation_flags_target_flagger",
            F::Table,
            cols([F::TargetUserId.into_iden(), F::Flagger.into_iden()]),
            true,
        )
        .await?;
        // ListFlags: a target's flags, newest first.
        index(
            manager,
            "moderation_flags_target_created",
            F::Table,
            cols([
                F::TargetUserId.into_iden(),
                F::CreatedAtMs.into_iden(),
                F::Id.into_iden(),
            ]),
            false,
        )
        .await?;
        // The flags a (deleted) user raised.
        index(
            manager,
            "moderation_flags_flagger_user",
            F::Table,
            cols([F::FlaggerUserId.into_iden()]),
            false,
        )
        .await?;

        use ModerationBans as B;
        manager
            .create_table(
                Table::create()
                    .table(B::Table)
                    .col(big_integer(B::UserId).primary_key())
                    .col(text(B::Reason))
                    .col(string_len(B::BannedBy, 200))
                    .col(big_integer(B::BannedAtMs))
                    .col(big_integer(B::UpdatedAtMs))
                    .col(big_integer_null(B::ExpiresAtMs))
                    .col(big_integer_null(B::LiftedAtMs))
                    .col(string_len_null(B::LiftedBy, 200))
                    .col(text_null(B::LiftReason))
                    .to_owned(),
            )
            .await?;
        // ListBans: newest first.
        index(
            manager,
            "moderation_bans_banned_at",
            B::Table,
            cols([B::BannedAtMs.into_iden(), B::UserId.into_iden()]),
            false,
        )
        .await?;

        use DeletionJobs as J;
        manager
            .create_table(
                Table::create()
                    .table(J::Table)
                    .col(big_pk_auto(J::Id))
                    // Unique: of two simultaneous DeleteUser calls exactly one job.
                    .col(big_integer_uniq(J::UserId))
                    .col(text(J::Options))
                    .col(string_len(J::State, 16))
                    .col(string_len(J::RequestedBy, 200))
                    .col(text(J::Reason))
                    .col(string_len(J::RequestId, 128))
                    .col(big_integer(J::CreatedAtMs))
                    .col(big_integer(J::UpdatedAtMs))
                    .col(big_integer_null(J::CompletedAtMs))
                    .col(big_integer(J::NextRunAtMs))
                    .col(string_len_null(J::LeaseOwner, 128))
                    .col(big_integer_null(J::LeaseUntilMs))
                    .to_owned(),
            )
            .await?;
        // Runners: unfinished jobs that are due.
        index(
            manager,
            "deletion_jobs_state_next_run",
            J::Table,
            cols([J::State.into_iden(), J::NextRunAtMs.into_iden()]),
            false,
        )
        .await?;

        use DeletionSteps as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(big_integer(S::JobId))
                    .col(integer(S::Position))
                    .col(string_len(S::Kind, 32))
                    .col(string_len(S::Service, 128))
                    .col(string_len(S::State, 16))
                    .col(integer(S::Attempts))
                    .col(text_null(S::LastError))
                    .col(big_integer_null(S::NextAttemptAtMs))
                    .col(big_integer_null(S::StartedAtMs))
                    .col(big_integer_null(S::CompletedAtMs))
                    .col(text(S::Erased))
                    .primary_key(Index::create().col(S::JobId).col(S::Position))
                    .foreign_key(
                        ForeignKey::create()
                            .name("deletion_steps_job")
                            .from(S::Table, S::JobId)
                            .to(J::Table, J::Id),
                    )
                    .to_owned(),
            )
            .await?;

        use ModerationAudit as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(big_pk_auto(A::Id))
                    .col(string_len(A::Actor, 200))
                    .col(big_integer(A::TargetUserId))
                    .col(string_len(A::Action, 32))
                    .col(text(A::Reason))
                    .col(string_len(A::RequestId, 128))
                    .col(text(A::Details))
                    .col(big_integer(A::OccurredAtMs))
                    .to_owned(),
            )
            .await?;
        // Newest first, unfiltered and per filter.
        index(
            manager,
            "moderation_audit_time",
            A::Table,
            cols([A::OccurredAtMs.into_iden(), A::Id.into_iden()]),
            false,
        )
        .await?;
        for (name, column) in [
            ("moderation_audit_target_time", A::TargetUserId.into_iden()),
            ("moderation_audit_actor_time", A::Actor.into_iden()),
            ("moderation_audit_action_time", A::Action.into_iden()),
        ] {
            index(
                manager,
                name,
                A::Table,
                cols([column, A::OccurredAtMs.into_iden(), A::Id.into_iden()]),
                false,
            )
            .await?;
        }

        use ModerationEvents as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(big_pk_auto(E::Seq))
                    .col(string_len(E::Kind, 32))
                    .col(big_integer(E::UserId))
                    .col(text(E::Payload))
                    .col(big_integer(E::OccurredAtMs))
                    .to_owned(),
            )
            .await?;

        use ModerationStreamPositions as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(string_len(P::Stream, 32).primary_key())
                    .col(big_integer(P::Position))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ModerationStreamPositions::Table.into_iden(),
            ModerationEvents::Table.into_iden(),
            ModerationAudit::Table.into_iden(),
            DeletionSteps::Table.into_iden(),
            DeletionJobs::Table.into_iden(),
            ModerationBans::Table.into_iden(),
            ModerationFlags::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
