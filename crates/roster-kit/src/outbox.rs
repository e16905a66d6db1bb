//! Reading an outbox in sequence order without passing over an append that
//! commits late.
//!
//! On PostgreSQL the users' and roles' outboxes let appends run side by side
//! (the migrations' `outbox_turn::share`): each draws its sequence number
//! inside its INSERT and may commit after an append numbered later. A reader
//! that went on past a gap could skip an event for good. So a read that finds
//! its events without a gap hands them all on; one that finds a gap asks the
//! outbox's horizon (`<table>_horizon()`), which waits for the appends in
//! flight, and hands on everything up to it: every gap below it is final (a
//! rolled-back append, or events pruned). Handing on only the events before
//! the gap instead would leave those after it waiting for a wake-up that,
//! when the gap is a rolled-back append, never comes: their commits woke the
//! reader already. Appends wait for a reader only when it met a gap, never
//! for each other.
//!
//! SQLite has one writer at a time: its sequence numbers commit in order.

use std::future::Future;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// The events after sequence `after` that `read()` returns (oldest first,
/// at most its limit), cut where a later read could still find an event
/// before the next one: a reader that hands these on and continues after
/// the last never skips one, and one that then waits for the next commit
/// misses none that committed before. `seq_of` gives an event's sequence
/// number; `outbox` is the outbox table (e.g. `user_events`).
pub async fn read_in_order<T, R, Fut>(
    db: &impl ConnectionTrait,
    outbox: &str,
    after: i64,
    seq_of: impl Fn(&T) -> i64,
    read: R,
) -> Result<Vec<T>, DbErr>
where
    R: Fn() -> Fut,
    Fut: Future<Output = Result<Vec<T>, DbErr>>,
{
    let events = read().await?;
    if db.get_database_backend() != DbBackend::Postgres
        || gapless(after, events.iter().map(&seq_of))
    {
        return Ok(events);
    }
    // Wait for the appends in flight; up to the horizon every event is in.
    let horizon = horizon(db, outbox).await?;
    let mut events = read().await?;
    let settled = events
        .iter()
        .take_while(|event| seq_of(event) <= horizon)
        .count();
    events.truncate(settled);
    Ok(events)
}

/// The newest sequence number of `outbox` that a reader may start after
/// without skipping an event (0: none): on PostgreSQL its horizon, which
/// waits for the appends in flight; on SQLite the newest event's.
pub async fn newest_settled(db: &impl ConnectionTrait, outbox: &str) -> Result<i64, DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        return horizon(db, outbox).await;
    }
    let newest = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("SELECT coalesce(max(seq), 0) FROM {outbox}"),
        ))
        .await?;
    newest.map_or(Ok(0), |row| row.try_get_by_index(0))
}

async fn horizon(db: &impl ConnectionTrait, outbox: &str) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT {outbox}_horizon()"),
        ))
        .await?;
    row.map_or(Ok(0), |row| row.try_get_by_index(0))
}

/// Whether `seqs` (ascending, all after `after`) follow `after` without a gap.
fn gapless(after: i64, seqs: impl Iterator<Item = i64>) -> bool {
    seqs.zip(after + 1..).all(|(seq, expected)| seq == expected)
}

#[cfg(test)]
mod tests {
    use super::gapless;

    #[test]
    fn a_gap_is_a_missing_sequence_number_after_the_position() {
        assert!(gapless(4, [5, 6, 7].into_iter()));
        assert!(gapless(4, [].into_iter()));
        assert!(!gapless(4, [5, 6, 8].into_iter()));
        assert!(!gapless(4, [6, 7].into_iter()));
    }
}
