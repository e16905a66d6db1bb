//! Property tests of every request decoder and field parser: whatever a client
//! sends, the answer is the parsed value when every field is valid, and
//! otherwise INVALID_ARGUMENT naming an offending field (in its violations and
//! its message) — never a panic, never a value from invalid input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use prost_types::Timestamp;
use roster_kit::{Error, FieldViolation, error::ErrorKind, paging};
use roster_proto::v1 as pb;

use super::{
    audit_query, bans_query, clear_flags, cursor, flags_query, job_id, jobs_query, pages,
    requests::{audit_fingerprint, bans_fingerprint, flags_fingerprint, jobs_fingerprint},
    time_from, timestamp, unban, user_id, user_ids,
};
use crate::domain::{
    bans::{BanFilter, BanInput},
    deletion::{DeleteUserInput, JobState},
    fields::{self, MAX_BATCH_USERS, MAX_NOTE_CHARS, MAX_REASON_CHARS, Note, Reason},
    flags::{FlagInput, FlagReason},
};

// Oracles: what the protocol documents as valid, written apart from the parsers.

fn valid_text(raw: &str, max: usize) -> bool {
    raw.chars().count() <= max
        && raw
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
}

fn valid_time(ts: &Timestamp) -> bool {
    (0..1_000_000_000).contains(&ts.nanos)
        && DateTime::<Utc>::from_timestamp(ts.seconds, ts.nanos as u32).is_some()
}

fn valid_page_size(size: u32) -> bool {
    size <= 100
}

/// Which fields a request got wrong: `bad` certainly, `maybe` perhaps (an
/// arbitrary page token could, in theory, decode).
#[derive(Default)]
struct Expected {
    bad: Vec<&'static str>,
    maybe: Vec<&'static str>,
}

impl Expected {
    fn bad_if(mut self, condition: bool, field: &'static str) -> Self {
        if condition {
            self.bad.push(field);
        }
        self
    }

    fn maybe_if(mut self, condition: bool, field: &'static str) -> Self {
        if condition {
            self.maybe.push(field);
        }
        self
    }

    /// The parser's answer agrees: a value only when nothing is certainly
    /// wrong (and only then without any doubt a value), otherwise
    /// INVALID_ARGUMENT naming only fields that are wrong.
    fn check<T: std::fmt::Debug>(&self, result: &Result<T, Error>) -> Result<(), TestCaseError> {
        match result {
            Ok(value) => prop_assert!(
                self.bad.is_empty(),
                "accepted {value:?} despite {:?}",
                self.bad
            ),
            Err(err) => {
                prop_assert!(
                    !self.bad.is_empty() || !self.maybe.is_empty(),
                    "refused a valid request: {err:?}"
                );
                refused_naming(err, &[&self.bad[..], &self.maybe[..]].concat())?;
            }
        }
        Ok(())
    }
}

/// INVALID_ARGUMENT whose violations each name one of `fields` (`user_ids[3]`
/// counts as `user_ids`), with the message naming them.
fn refused_naming(err: &Error, fields: &[&str]) -> Result<(), TestCaseError> {
    prop_assert_eq!(err.kind, ErrorKind::InvalidArgument, "{:?}", err);
    prop_assert!(!err.violations.is_empty(), "{err:?}");
    for violation in &err.violations {
        let base = violation.field.split('[').next().unwrap_or_default();
        prop_assert!(
            fields.contains(&base),
            "{:?} names none of {:?}",
            violation.field,
            fields
        );
        prop_assert!(err.message.contains(&violation.field), "{err:?}");
    }
    Ok(())
}

fn violations_naming(violations: &[FieldViolation], field: &str) -> bool {
    !violations.is_empty() && violations.iter().all(|v| v.field.starts_with(field))
}

// Strategies.

fn id() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), 1..1000i64, -2..3i64]
}

/// An enum field: mostly known values, the next unknown one, anything.
fn enum_value(max: i32) -> impl Strategy<Value = i32> {
    prop_oneof![0..=max + 1, any::<i32>()]
}

/// Free text around the limits, with control characters now and then.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,600}",
        "[a-z \n\t]{490,510}",
        "[a-zé]{990,1010}",
        "[a-z\\x00-\\x1f\\x7f]{0,20}",
        Just(String::new()),
    ]
}

fn page_size() -> impl Strategy<Value = u32> {
    prop_oneof![0..=110u32, any::<u32>()]
}

fn time() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        (any::<i64>(), any::<i32>()),
        (-62_135_596_800..253_402_300_799i64, 0..1_000_000_000i32),
        (
            1_700_000_000..1_900_000_000i64,
            999_999_990..1_000_000_010i32
        ),
    ]
    .prop_map(|(seconds, nanos)| Timestamp { seconds, nanos })
}

/// Bytes no page token of this service is made of (wire types that do not match).
#[derive(Clone, PartialEq, prost::Message)]
struct Junk {
    #[prost(bytes = "vec", tag = "1")]
    query: Vec<u8>,
    #[prost(string, tag = "2")]
    key: String,
}

#[derive(Debug, Clone)]
enum Token {
    Empty,
    /// A position token, bound to this query (`matching`) or to another.
    Real {
        matching: bool,
        other_query: u64,
        key: i64,
        id: i64,
    },
    /// Text or bytes that are no token of ours.
    Junk(String),
}

impl Token {
    fn text(&self, query: Option<u64>) -> String {
        match self {
            Token::Empty => String::new(),
            Token::Real {
                matching,
                other_query,
                key,
                id,
            } => {
                let bound = match query {
                    Some(query) if *matching => query,
                    // Never the query's own by accident.
                    Some(query) if *other_query == query => query ^ 1,
                    _ => *other_query,
                };
                pages::encode(bound, *key, *id)
            }
            Token::Junk(text) => text.clone(),
        }
    }

    /// Whether `text(query)` resumes the query: `Some(position)` when it does,
    /// `None` for the first page; `Err(certain)` when it is refused (certainly,
    /// or possibly for junk).
    fn expected(&self, query: Option<u64>) -> Result<Option<(i64, i64)>, bool> {
        match self {
            Token::Empty => Ok(None),
            Token::Real {
                matching, key, id, ..
            } if *matching && query.is_some() => Ok(Some((*key, *id))),
            Token::Real { .. } => Err(true),
            Token::Junk(_) => Err(false),
        }
    }
}

fn token() -> impl Strategy<Value = Token> {
    prop_oneof![
        Just(Token::Empty),
        (any::<bool>(), any::<u64>(), any::<i64>(), any::<i64>()).prop_map(
            |(matching, other_query, key, id)| Token::Real {
                matching,
                other_query,
                key,
                id
            }
        ),
        any::<String>().prop_map(Token::Junk),
        (
            proptest::collection::vec(any::<u8>(), 0..20),
            any::<String>()
        )
            .prop_map(|(query, key)| Token::Junk(paging::encode(&Junk { query, key }))),
    ]
}

fn options() -> impl Strategy<Value = Option<pb::DeletionOptions>> {
    proptest::option::of(
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(delete_all, mark_messages_deleted, hard_delete_posts, hard_delete_comments)| {
                pb::DeletionOptions {
                    delete_all,
                    mark_messages_deleted,
                    hard_delete_posts,
                    hard_delete_comments,
                }
            },
        ),
    )
}

/// Parses a listing request with `token` in place: first without it, to learn
/// the query it must be bound to, then with it.
fn with_token<Q, R: Clone>(
    request: R,
    token: &Token,
    set: impl Fn(&mut R, String),
    parse: impl Fn(R) -> Result<Q, Error>,
    fingerprint: impl Fn(&Q) -> u64,
) -> (Result<Q, Error>, Option<u64>) {
    let query = parse(request.clone()).ok().map(|q| fingerprint(&q));
    let mut request = request;
    set(&mut request, token.text(query));
    (parse(request), query)
}

proptest! {
    #[test]
    fn field_parsers(raw in text(), id in id(), ids in proptest::collection::vec(id(), 0..110)) {
        let note = Note::parse(&raw, "note");
        prop_assert_eq!(note.is_ok(), valid_text(&raw, MAX_NOTE_CHARS));
        if let Ok(note) = &note {
            prop_assert_eq!(note.as_str(), raw.as_str());
        }
        let reason = Reason::parse(&raw, "reason");
        prop_assert_eq!(reason.is_ok(), valid_text(&raw, MAX_REASON_CHARS));
        if let Err(violation) = reason {
            prop_assert_eq!(violation.field, "reason");
        }
        match fields::user_id(id, "user_id") {
            Ok(parsed) => prop_assert!(parsed == id && id > 0),
            Err(violation) => prop_assert!(id <= 0 && violation.field == "user_id"),
        }
        match fields::user_ids(&ids, "user_ids") {
            Ok(parsed) => {
                prop_assert_eq!(&parsed, &ids);
                prop_assert!((1..=MAX_BATCH_USERS).contains(&ids.len()));
            }
            Err(violations) => {
                prop_assert!(violations_naming(&violations, "user_ids"));
                if (1..=MAX_BATCH_USERS).contains(&ids.len()) {
                    let named: Vec<String> = violations.iter().map(|v| v.field.clone()).collect();
                    let bad: Vec<String> = ids
                        .iter()
                        .enumerate()
                        .filter(|(_, id)| **id <= 0)
                        .map(|(i, _)| format!("user_ids[{i}]"))
                        .collect();
                    prop_assert_eq!(named, bad);
                }
            }
        }
    }

    #[test]
    fn flag_user_requests(user in id(), reason in enum_value(10), note in text()) {
        let request = pb::FlagUserRequest { user_id: user, reason, note: note.clone() };
        let result = FlagInput::try_from(request);
        Expected::default()
            .bad_if(user <= 0, "user_id")
            .bad_if(pb::FlagReason::try_from(reason).is_err(), "reason")
            .bad_if(!valid_text(&note, MAX_NOTE_CHARS), "note")
            .check(&result)?;
        if let Ok(input) = result {
            prop_assert_eq!(input.user_id, user);
            prop_assert_eq!(input.note.as_str(), note.as_str());
            let named = pb::FlagReason::try_from(reason).map(|r| r.as_str_name().to_owned());
            let stored = format!("FLAG_REASON_{}", input.reason.as_str());
            // UNSPECIFIED is stored as OTHER; every other value as itself.
            prop_assert!(named == Ok(stored) || (reason == 0 && input.reason == FlagReason::Other));
        }
    }

    #[test]
    fn user_id_and_batch_requests(raw in id(), ids in proptest::collection::vec(id(), 0..110)) {
        let single = user_id(raw, "user_id");
        Expected::default().bad_if(raw <= 0, "user_id").check(&single)?;
        let batch = user_ids(&pb::IsFlaggedByMeRequest { user_ids: ids.clone() });
        let bad = ids.is_empty() || ids.len() > MAX_BATCH_USERS || ids.iter().any(|id| *id <= 0);
        Expected::default().bad_if(bad, "user_ids").check(&batch)?;
        if let Ok(parsed) = batch {
            prop_assert_eq!(parsed, ids);
        }
    }

    #[test]
    fn list_flags_requests(user in id(), size in page_size(), token in token()) {
        let request = pb::ListFlagsRequest { user_id: user, page_size: size, page_token: String::new() };
        let (result, query) = with_token(
            request,
            &token,
            |r, t| r.page_token = t,
            flags_query,
            |q| flags_fingerprint(q.user_id),
        );
        let resumes = token.expected(query);
        Expected::default()
            .bad_if(user <= 0, "user_id")
            .bad_if(!valid_page_size(size), "page_size")
            .bad_if(resumes == Err(true), "page_token")
            .maybe_if(resumes == Err(false), "page_token")
            .check(&result)?;
        if let (Ok(parsed), Ok(position)) = (result, resumes) {
            prop_assert_eq!(parsed.user_id, user);
            prop_assert_eq!(parsed.after.map(|p| (p.created_at_ms, p.id)), position);
            prop_assert!((1..=100).contains(&parsed.limit));
        }
    }

    #[test]
    fn clear_flags_and_unban_requests(user in id(), reason in text()) {
        let expected = Expected::default()
            .bad_if(user <= 0, "user_id")
            .bad_if(!valid_text(&reason, MAX_REASON_CHARS), "reason");
        let cleared = clear_flags(pb::ClearFlagsRequest { user_id: user, reason: reason.clone() });
        expected.check(&cleared)?;
        let lifted = unban(pb::UnbanUserRequest { user_id: user, reason: reason.clone() });
        expected.check(&lifted)?;
        if let (Ok((a, ra)), Ok((b, rb))) = (cleared, lifted) {
            prop_assert!(a == user && b == user);
            prop_assert!(ra.as_str() == reason && rb.as_str() == reason);
        }
    }

    #[test]
    fn ban_user_requests(user in id(), reason in text(), expires_at in proptest::option::of(time())) {
        let request = pb::BanUserRequest { user_id: user, reason: reason.clone(), expires_at };
        let result = BanInput::try_from(request);
        Expected::default()
            .bad_if(user <= 0, "user_id")
            .bad_if(!valid_text(&reason, MAX_REASON_CHARS), "reason")
            .bad_if(expires_at.as_ref().is_some_and(|t| !valid_time(t)), "expires_at")
            .check(&result)?;
        if let Ok(input) = result {
            prop_assert_eq!(input.user_id, user);
            prop_assert_eq!(input.reason.as_str(), reason.as_str());
            // What is stored reads back as what was sent.
            prop_assert_eq!(input.expires_at.map(timestamp), expires_at);
        }
    }

    #[test]
    fn list_bans_requests(filter in enum_value(4), size in page_size(), token in token()) {
        let request = pb::ListBansRequest { filter, page_size: size, page_token: String::new() };
        let (result, query) = with_token(
            request,
            &token,
            |r, t| r.page_token = t,
            bans_query,
            |q| bans_fingerprint(q.filter),
        );
        let resumes = token.expected(query);
        Expected::default()
            .bad_if(pb::BanFilter::try_from(filter).is_err(), "filter")
            .bad_if(!valid_page_size(size), "page_size")
            .bad_if(resumes == Err(true), "page_token")
            .maybe_if(resumes == Err(false), "page_token")
            .check(&result)?;
        if let (Ok(parsed), Ok(position)) = (result, resumes) {
            let expected = match pb::BanFilter::try_from(filter) {
                Ok(pb::BanFilter::Expired) => BanFilter::Expired,
                Ok(pb::BanFilter::Lifted) => BanFilter::Lifted,
                Ok(pb::BanFilter::All) => BanFilter::All,
                _ => BanFilter::Active,
            };
            prop_assert_eq!(parsed.filter, expected);
            prop_assert_eq!(parsed.after.map(|p| (p.banned_at_ms, p.user_id)), position);
        }
    }

    #[test]
    fn delete_user_requests(user in id(), options in options(), dry_run in any::<bool>(), reason in text()) {
        let request = pb::DeleteUserRequest { user_id: user, options, dry_run, reason: reason.clone() };
        let result = DeleteUserInput::try_from(request);
        Expected::default()
            .bad_if(user <= 0, "user_id")
            .bad_if(!valid_text(&reason, MAX_REASON_CHARS), "reason")
            .check(&result)?;
        if let Ok(input) = result {
            let sent = options.unwrap_or_default();
            prop_assert_eq!(input.user_id, user);
            prop_assert_eq!(input.dry_run, dry_run);
            prop_assert_eq!(
                (input.options.delete_all, input.options.mark_messages_deleted,
                 input.options.hard_delete_posts, input.options.hard_delete_comments),
                (sent.delete_all, sent.mark_messages_deleted, sent.hard_delete_posts, sent.hard_delete_comments)
            );
        }
    }

    #[test]
    fn get_deletion_job_requests(job in id()) {
        let result = job_id(&pb::GetDeletionJobRequest { job_id: job });
        Expected::default().bad_if(job <= 0, "job_id").check(&result)?;
    }

    #[test]
    fn list_deletion_jobs_requests(
        state in enum_value(3),
        user in id(),
        size in page_size(),
        token in token(),
    ) {
        let request = pb::ListDeletionJobsRequest {
            state,
            user_id: user,
            page_size: size,
            page_token: String::new(),
        };
        let (result, query) = with_token(
            request,
            &token,
            |r, t| r.page_token = t,
            jobs_query,
            |q| jobs_fingerprint(q.state, q.user_id),
        );
        let resumes = token.expected(query);
        Expected::default()
            .bad_if(pb::DeletionJobState::try_from(state).is_err(), "state")
            .bad_if(user < 0, "user_id")
            .bad_if(!valid_page_size(size), "page_size")
            .bad_if(resumes == Err(true), "page_token")
            .maybe_if(resumes == Err(false), "page_token")
            .check(&result)?;
        if let (Ok(parsed), Ok(position)) = (result, resumes) {
            prop_assert_eq!(parsed.user_id, (user != 0).then_some(user));
            let expected = match pb::DeletionJobState::try_from(state) {
                Ok(pb::DeletionJobState::Pending) => Some(JobState::Pending),
                Ok(pb::DeletionJobState::Running) => Some(JobState::Running),
                Ok(pb::DeletionJobState::Completed) => Some(JobState::Completed),
                _ => None,
            };
            prop_assert_eq!(parsed.state, expected);
            prop_assert_eq!(parsed.before_id, position.map(|(_, id)| id));
        }
    }

    #[test]
    fn list_audit_entries_requests(
        target in id(),
        actor in prop_oneof![text(), "[a-z:0-9]{195,205}"],
        action in enum_value(8),
        start in proptest::option::of(time()),
        end in proptest::option::of(time()),
        size in page_size(),
        token in token(),
    ) {
        let request = pb::ListAuditEntriesRequest {
            target_user_id: target,
            actor: actor.clone(),
            action,
            start_time: start,
            end_time: end,
            page_size: size,
            page_token: String::new(),
        };
        let (result, query) = with_token(
            request,
            &token,
            |r, t| r.page_token = t,
            audit_query,
            audit_fingerprint,
        );
        let resumes = token.expected(query);
        let start_ok = start.as_ref().is_none_or(valid_time);
        let end_ok = end.as_ref().is_none_or(valid_time);
        let ordered = match (start.as_ref(), end.as_ref()) {
            (Some(s), Some(e)) if start_ok && end_ok => (e.seconds, e.nanos) > (s.seconds, s.nanos),
            _ => true,
        };
        Expected::default()
            .bad_if(target < 0, "target_user_id")
            .bad_if(actor.chars().count() > 200, "actor")
            .bad_if(pb::AuditAction::try_from(action).is_err(), "action")
            .bad_if(!start_ok, "start_time")
            .bad_if(!end_ok || !ordered, "end_time")
            .bad_if(!valid_page_size(size), "page_size")
            .bad_if(resumes == Err(true), "page_token")
            .maybe_if(resumes == Err(false), "page_token")
            .check(&result)?;
        if let (Ok(parsed), Ok(position)) = (result, resumes) {
            prop_assert_eq!(parsed.target_user_id, (target != 0).then_some(target));
            prop_assert_eq!(parsed.actor, (!actor.is_empty()).then_some(actor));
            let named = pb::AuditAction::try_from(action).ok().filter(|a| *a != pb::AuditAction::Unspecified);
            prop_assert_eq!(
                parsed.action.map(|a| format!("AUDIT_ACTION_{}", a.as_str())),
                named.map(|a| a.as_str_name().to_owned())
            );
            prop_assert_eq!(parsed.start.map(timestamp), start);
            prop_assert_eq!(parsed.end.map(timestamp), end);
            prop_assert_eq!(parsed.after.map(|p| (p.occurred_at_ms, p.id)), position);
        }
    }

    #[test]
    fn watch_cursors(raw in prop_oneof![any::<String>(), any::<i64>().prop_map(|n| n.to_string()), Just(String::new())]) {
        let valid = raw.is_empty() || raw.parse::<i64>().is_ok_and(|n| n >= 0);
        let result = cursor(&raw);
        Expected::default().bad_if(!valid, "after_cursor").check(&result)?;
        match result {
            Ok(after) => prop_assert_eq!(after, raw.parse::<i64>().unwrap_or(0)),
            Err(err) => prop_assert_eq!(err.reason, "CURSOR_INVALID"),
        }
    }

    #[test]
    fn timestamps_round_trip_or_name_the_field(ts in time()) {
        match time_from("expires_at", &ts) {
            Ok(at) => {
                prop_assert!(valid_time(&ts));
                prop_assert_eq!(timestamp(at), ts);
            }
            Err(err) => {
                prop_assert!(!valid_time(&ts));
                refused_naming(&err, &["expires_at"])?;
            }
        }
    }
}
