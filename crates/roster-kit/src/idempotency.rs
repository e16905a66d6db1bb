//! Safe retries. A mutation called with an `idempotency-key` (gRPC metadata;
//! the gateway's `Idempotency-Key` header) runs at most once per caller and
//! key: a retry within the retention gets the first call's answer, success or
//! error, and changes nothing again; the same key with another request is
//! refused (FAILED_PRECONDITION / IDEMPOTENCY_KEY_REUSED).
//!
//! Each service keeps a ledger table in its own database. A call goes through
//! three steps:
//!
//! 1. **claim**: a row for (caller, key) with the method and a fingerprint of
//!    the request, in its own statement;
//! 2. **apply**: the mutation's own write transaction marks the claim applied
//!    ([`mark_applied`], which `db::before_append` calls, so every
//!    transaction that appends an event does it), atomically with the change;
//! 3. **answer**: the encoded response (or the error, when the change was
//!    applied anyway) is stored on the claim.
//!
//! The work runs on a task of its own, so a client that gives up (a deadline,
//! a cancelled call) does not stop it between the commit and the answer; its
//! retry waits (ABORTED / IDEMPOTENCY_KEY_IN_FLIGHT) and then gets the answer.
//! A claim whose change never committed is released on error, or taken over
//! once its lease (the request timeout) has passed, so the retry runs the call
//! again. Only a process dying between a commit and the answer's write leaves
//! an applied claim without an answer: a retry learns that the change was made
//! (FAILED_PRECONDITION / IDEMPOTENT_ANSWER_LOST) instead of making it twice.

use std::{future::Future, sync::Arc, time::Duration};

use chrono::Utc;
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, QueryResult,
    sea_query::{Alias, Expr, ExprTrait as _, Query, SimpleExpr},
};
use sha2::{Digest, Sha256};
use tonic::{Code, Status, metadata::MetadataMap};
use tracing::Instrument as _;

use crate::{
    Actor,
    error::{Error, ErrorKind},
    tasks::BackgroundTask,
};

/// The gRPC metadata key of a call's idempotency key.
pub const METADATA_KEY: &str = "idempotency-key";

/// Longest key accepted (a UUID is 36; room for a client's own scheme).
pub const MAX_KEY_CHARS: usize = 255;

/// How often a service deletes claims older than the retention.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// How long a retry waits before asking again while the first call runs.
const IN_FLIGHT_RETRY_AFTER: Duration = Duration::from_millis(100);

tokio::task_local! {
    static CLAIM: ClaimRef;
}

/// The claim a call's work runs under, for [`mark_applied`].
#[derive(Clone)]
struct ClaimRef {
    table: &'static str,
    caller: String,
    key: String,
}

/// One keyed call: who, which key, what it asked.
#[derive(Debug, Clone)]
pub struct IdempotentCall {
    caller: String,
    key: String,
    method: &'static str,
    fingerprint: Vec<u8>,
}

impl IdempotentCall {
    /// The keyed call `actor` makes of `method` with `metadata`, fingerprinted
    /// by `request` (the whole request of a unary call; the first message of a
    /// streamed one); `None` when the call carries no key.
    pub fn of(
        method: &'static str,
        actor: &Actor,
        metadata: &MetadataMap,
        request: &impl Message,
    ) -> Result<Option<Self>, Error> {
        let Some(key) = key_of(metadata)? else {
            return Ok(None);
        };
        let mut digest = Sha256::new();
        digest.update(method.as_bytes());
        digest.update([0]);
        // prost encodes fields in number order and `Struct` maps sorted, so an
        // equal request always encodes to the same bytes.
        digest.update(request.encode_to_vec());
        Ok(Some(Self {
            caller: actor.to_string(),
            key,
            method,
            fingerprint: digest.finalize().to_vec(),
        }))
    }
}

impl IdempotentCall {
    /// [`IdempotentCall::of`] a unary `request`, by its authenticated caller.
    pub fn of_request<T: Message>(
        method: &'static str,
        request: &tonic::Request<T>,
    ) -> Result<Option<Self>, Status> {
        let actor = crate::auth::actor(request)?;
        Ok(Self::of(
            method,
            &actor,
            request.metadata(),
            request.get_ref(),
        )?)
    }
}

/// The call's idempotency key, checked: printable ASCII, 1 to [`MAX_KEY_CHARS`].
pub fn key_of(metadata: &MetadataMap) -> Result<Option<String>, Error> {
    let Some(value) = metadata.get(METADATA_KEY) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default();
    let printable = key.bytes().all(|b| b.is_ascii_graphic());
    if key.is_empty() || key.len() > MAX_KEY_CHARS || !printable {
        return Err(Error::invalid_field(
            METADATA_KEY,
            format!("1 to {MAX_KEY_CHARS} printable ASCII characters without spaces"),
        ));
    }
    Ok(Some(key.to_owned()))
}

/// Marks the current call's claim applied inside `txn`, the transaction of
/// its change; outside a keyed call it does nothing.
pub async fn mark_applied(txn: &impl ConnectionTrait) -> Result<(), DbErr> {
    let Ok(claim) = CLAIM.try_with(ClaimRef::clone) else {
        return Ok(());
    };
    let update = Query::update()
        .table(Alias::new(claim.table))
        .value(Alias::new("applied"), true)
        .and_where(of_claim(&claim.caller, &claim.key))
        .to_owned();
    txn.execute(&update).await.map(drop)
}

/// A service's ledger of keyed calls; cheap to clone.
#[derive(Clone)]
pub struct IdempotencyLedger {
    inner: Arc<Ledger>,
}

struct Ledger {
    db: DatabaseConnection,
    table: &'static str,
    /// A claim neither applied nor answered after this long belongs to a call
    /// that is gone (the server cuts every call at its request timeout).
    lease: Duration,
    retention: Duration,
}

/// What a claim attempt found.
enum Claim {
    /// This call holds the claim: run it.
    Held,
    /// An earlier call answered: this is its answer.
    Answered(Answer),
}

enum Answer {
    Message(Vec<u8>),
    Error(Status),
}

impl IdempotencyLedger {
    /// The ledger in `table` of `db`; claims are kept for `retention`.
    pub fn new(
        db: DatabaseConnection,
        table: &'static str,
        lease: Duration,
        retention: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Ledger {
                db,
                table,
                lease,
                retention,
            }),
        }
    }

    /// Deletes claims older than the retention, now and every hour, until the
    /// returned task is dropped.
    pub fn prune_task(&self) -> BackgroundTask {
        let ledger = self.clone();
        BackgroundTask::spawn(async move {
            let mut ticks = tokio::time::interval(PRUNE_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match ledger.prune().await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(
                        table = ledger.inner.table,
                        pruned,
                        "idempotency keys pruned"
                    ),
                    Err(err) => tracing::warn!(error = %err, "pruning idempotency keys failed"),
                }
            }
        })
    }

    /// Deletes the claims older than the retention; returns how many.
    pub async fn prune(&self) -> Result<u64, DbErr> {
        let delete = Query::delete()
            .from_table(Alias::new(self.inner.table))
            .and_where(Expr::col(Alias::new("claimed_at")).lt(self.cutoff()))
            .to_owned();
        let db = &self.inner.db;
        Ok(db.execute(&delete).await?.rows_affected())
    }

    /// Runs `work` once for `call` (directly when the call has no key) and
    /// answers what its first run answered.
    pub async fn once<R, W>(&self, call: Option<IdempotentCall>, work: W) -> Result<R, Status>
    where
        R: Message + Default + Send + 'static,
        W: Future<Output = Result<R, Status>> + Send + 'static,
    {
        let Some(call) = call else {
            return work.await;
        };
        match self.claim(&call).await? {
            Claim::Answered(Answer::Message(bytes)) => {
                return R::decode(bytes.as_slice())
                    .map_err(|err| Error::internal(format!("stored answer: {err}")).into());
            }
            Claim::Answered(Answer::Error(status)) => return Err(status),
            Claim::Held => {}
        }
        let ledger = self.clone();
        let claim = ClaimRef {
            table: self.inner.table,
            caller: call.caller.clone(),
            key: call.key.clone(),
        };
        let run = crate::origin::carried(CLAIM.scope(claim, work));
        let task = tokio::spawn(
            async move {
                let outcome = run.await;
                if let Err(err) = ledger.settle(&call, &outcome).await {
                    tracing::warn!(error = %err, method = call.method, "keeping an idempotent answer failed");
                }
                outcome
            }
            .in_current_span(),
        );
        task.await
            .map_err(|err| Error::internal(err).into())
            .and_then(|r| r)
    }

    async fn claim(&self, call: &IdempotentCall) -> Result<Claim, Error> {
        // Two rounds at most: a lost race to insert, or to take over a
        // lapsed claim, is settled by reading the winner's row again.
        for _ in 0..3 {
            let Some(row) = self.read(call).await? else {
                if self.insert(call).await? {
                    return Ok(Claim::Held);
                }
                continue;
            };
            if row.method != call.method || row.fingerprint != call.fingerprint {
                return Err(Error::new(
                    ErrorKind::FailedPrecondition,
                    "IDEMPOTENCY_KEY_REUSED",
                    format!(
                        "idempotency-key was already used for another request ({}); use a new key for a new request",
                        row.method
                    ),
                ));
            }
            if let Some(answer) = row.answer {
                return Ok(Claim::Answered(answer));
            }
            if row.applied {
                return Err(Error::new(
                    ErrorKind::FailedPrecondition,
                    "IDEMPOTENT_ANSWER_LOST",
                    "the call with this idempotency-key was applied but its answer was not kept; read the result instead of retrying",
                ));
            }
            let lapsed = Utc::now().timestamp_millis() - row.claimed_at
                > i64::try_from(self.inner.lease.as_millis()).unwrap_or(i64::MAX);
            if !lapsed {
                let mut in_flight = Error::new(
                    ErrorKind::Aborted,
                    "IDEMPOTENCY_KEY_IN_FLIGHT",
                    "a call with this idempotency-key is still running; retry to get its answer",
                );
                in_flight.retry_after = Some(IN_FLIGHT_RETRY_AFTER);
                return Err(in_flight);
            }
            if self.take_over(call, row.claimed_at).await? {
                return Ok(Claim::Held);
            }
        }
        Err(Error::new(
            ErrorKind::Aborted,
            "IDEMPOTENCY_KEY_IN_FLIGHT",
            "calls with this idempotency-key are racing; retry",
        ))
    }

    /// The live claim of `call`'s caller and key (older ones are expired).
    async fn read(&self, call: &IdempotentCall) -> Result<Option<ClaimRow>, Error> {
        let select = Query::select()
            .columns(
                [
                    "method",
                    "fingerprint",
                    "claimed_at",
                    "applied",
                    "answer",
                    "error_code",
                    "error_message",
                    "error_details",
                ]
                .map(Alias::new),
            )
            .from(Alias::new(self.inner.table))
            .and_where(of_claim(&call.caller, &call.key))
            .and_where(Expr::col(Alias::new("claimed_at")).gte(self.cutoff()))
            .to_owned();
        let db = &self.inner.db;
        let row = db.query_one(&select).await?;
        row.map(|row| ClaimRow::read(&row)).transpose()
    }

    /// Claims `call`'s key; false when another call claimed it first.
    async fn insert(&self, call: &IdempotentCall) -> Result<bool, Error> {
        let db = &self.inner.db;
        // An expired claim of the same key would block the insert.
        let expired = Query::delete()
            .from_table(Alias::new(self.inner.table))
            .and_where(of_claim(&call.caller, &call.key))
            .and_where(Expr::col(Alias::new("claimed_at")).lt(self.cutoff()))
            .to_owned();
        db.execute(&expired).await?;
        let insert = Query::insert()
            .into_table(Alias::new(self.inner.table))
            .columns(
                [
                    "caller",
                    "idem_key",
                    "method",
                    "fingerprint",
                    "claimed_at",
                    "applied",
                ]
                .map(Alias::new),
            )
            .values_panic([
                call.caller.clone().into(),
                call.key.clone().into(),
                call.method.into(),
                call.fingerprint.clone().into(),
                Utc::now().timestamp_millis().into(),
                false.into(),
            ])
            .to_owned();
        match db.execute(&insert).await {
            Ok(_) => Ok(true),
            Err(err) if crate::error::is_unique_violation(&err) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Takes over a lapsed claim last claimed at `claimed_at`; false when
    /// another retry took it first.
    async fn take_over(&self, call: &IdempotentCall, claimed_at: i64) -> Result<bool, Error> {
        let update = Query::update()
            .table(Alias::new(self.inner.table))
            .value(Alias::new("claimed_at"), Utc::now().timestamp_millis())
            .and_where(of_claim(&call.caller, &call.key))
            .and_where(Expr::col(Alias::new("claimed_at")).eq(claimed_at))
            .and_where(Expr::col(Alias::new("applied")).eq(false))
            .to_owned();
        let db = &self.inner.db;
        let result = db.execute(&update).await?;
        Ok(result.rows_affected() == 1)
    }

    /// Keeps `outcome` as the answer to `call`. An error whose change never
    /// committed releases the claim instead: nothing happened, so a retry
    /// runs the call afresh (after a transient failure it may well succeed).
    async fn settle<R: Message>(
        &self,
        call: &IdempotentCall,
        outcome: &Result<R, Status>,
    ) -> Result<(), DbErr> {
        let db = &self.inner.db;
        let table = Alias::new(self.inner.table);
        let values: Vec<(&str, sea_orm::Value)> = match outcome {
            Ok(message) => vec![("answer", message.encode_to_vec().into())],
            Err(status) => {
                let release = Query::delete()
                    .from_table(table.clone())
                    .and_where(of_claim(&call.caller, &call.key))
                    .and_where(Expr::col(Alias::new("applied")).eq(false))
                    .to_owned();
                if db.execute(&release).await?.rows_affected() == 1 {
                    return Ok(());
                }
                vec![
                    ("error_code", (status.code() as i32).into()),
                    ("error_message", status.message().to_owned().into()),
                    ("error_details", status.details().to_vec().into()),
                ]
            }
        };
        let mut update = Query::update();
        update
            .table(table)
            .and_where(of_claim(&call.caller, &call.key));
        for (column, value) in values {
            update.value(Alias::new(column), value);
        }
        db.execute(&update).await.map(drop)
    }

    fn cutoff(&self) -> i64 {
        let retention = i64::try_from(self.inner.retention.as_millis()).unwrap_or(i64::MAX);
        Utc::now().timestamp_millis().saturating_sub(retention)
    }
}

fn of_claim(caller: &str, key: &str) -> SimpleExpr {
    Expr::col(Alias::new("caller"))
        .eq(caller)
        .and(Expr::col(Alias::new("idem_key")).eq(key))
}

struct ClaimRow {
    method: String,
    fingerprint: Vec<u8>,
    claimed_at: i64,
    applied: bool,
    answer: Option<Answer>,
}

impl ClaimRow {
    fn read(row: &QueryResult) -> Result<Self, Error> {
        let answer = match (
            row.try_get::<Option<Vec<u8>>>("", "answer")?,
            row.try_get::<Option<i32>>("", "error_code")?,
        ) {
            (Some(bytes), _) => Some(Answer::Message(bytes)),
            (None, Some(code)) => Some(Answer::Error(Status::with_details(
                Code::from_i32(code),
                row.try_get::<Option<String>>("", "error_message")?
                    .unwrap_or_default(),
                row.try_get::<Option<Vec<u8>>>("", "error_details")?
                    .unwrap_or_default()
                    .into(),
            ))),
            (None, None) => None,
        };
        Ok(Self {
            method: row.try_get("", "method")?,
            fingerprint: row.try_get("", "fingerprint")?,
            claimed_at: row.try_get("", "claimed_at")?,
            applied: row.try_get("", "applied")?,
            answer,
        })
    }
}
