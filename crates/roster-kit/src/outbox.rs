//! Reading an outbox in sequence order without passing over an append that
//! commits late.
//!
//! On PostgreSQL the users' and roles' outboxes let appends run side by side
//! (the migrations' `outbox_turn::share`): each draws its sequence number
//! inside its INSERT and may commit after an append numbered later. A reader
//! that went on past a gap could skip an event for good. So a read hands on
//! only the events that follow its position without a gap; a gap right
//! after the position is settled by the outbox's horizon
//! (`<table>_horizon()`), which waits for the appends in flight: every gap
//! below the newest sequence number it answers is final (a rolled-back
//! append, or events pruned). Gaps are only settled when a reader is stuck
//! on one, so appends wait for a reader at most once per read, never for
//! each other.
//!
//! SQLite has one writer at a time: its sequence numbers commit in order.

use std::future::Future;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// The events after sequence `after` that `read()` returns (oldest first,
/// at most its limit), cut where a later read could still find an event
/// before the next one: a reader that hands these on and continues after
/// the last never skips one. `seq_of` gives an event's sequence number;
/// `outbox` is the outbox table (e.g. `user_events`).
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
    let mut events = read().await?;
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(events);
    }
    let settled = settled_len(after, None, events.iter().map(&seq_of));
    if settled > 0 || settled == events.len() {
        events.truncate(settled);
        return Ok(events);
    }
    // Stuck on a gap: wait for the appends in flight, then read again.
    let horizon = horizon(db, outbox).await?;
    let mut events = read().await?;
    events.truncate(settled_len(
        after,
        Some(horizon),
        events.iter().map(&seq_of),
    ));
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

/// How many of `seqs` (ascending, all after `after`) a reader may hand on:
/// those without a gap before them, and, once a `horizon` is known, every
/// one up to it (a gap below it is final) and those following it without a gap.
fn settled_len(after: i64, horizon: Option<i64>, seqs: impl Iterator<Item = i64>) -> usize {
    let mut last = after;
    let mut settled = 0;
    for seq in seqs {
        let final_up_to = horizon.unwrap_or(after).max(last);
        if seq > final_up_to + 1 {
            break;
        }
        last = seq;
        settled += 1;
    }
    settled
}

#[cfg(test)]
mod tests {
    use super::settled_len;

    #[test]
    fn events_are_handed_on_up_to_the_first_gap() {
        assert_eq!(settled_len(4, None, [5, 6, 7].into_iter()), 3);
        assert_eq!(settled_len(4, None, [5, 6, 8, 9].into_iter()), 2);
        assert_eq!(settled_len(4, None, [6, 7].into_iter()), 0);
        assert_eq!(settled_len(4, None, [].into_iter()), 0);
    }

    #[test]
    fn gaps_below_the_horizon_are_final_and_above_it_are_not() {
        // Up to the horizon (9) everything goes, gaps included; past it,
        // only what follows it (or the last event past it) without a gap.
        assert_eq!(settled_len(4, Some(9), [6, 8, 10, 11, 13].into_iter()), 4);
        assert_eq!(settled_len(4, Some(9), [11].into_iter()), 0);
        assert_eq!(settled_len(4, Some(9), [10].into_iter()), 1);
        assert_eq!(settled_len(4, Some(3), [5, 7].into_iter()), 1);
    }
}
