//! In-memory fakes of the other services, and a manual clock.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_kit::{Error, Result, error::ErrorKind};
use roster_moderation::domain::{
    Clock,
    deletion::{Counts, DeletionOptions},
    ports::{DeletionParticipant, RoleGrants, UserDirectory, UserFiles, UserSummary},
};

pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        Self(Mutex::new(now))
    }

    pub fn advance(&self, by: std::time::Duration) {
        let mut now = self.0.lock().unwrap();
        *now += chrono::TimeDelta::from_std(by).unwrap();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Every peer call that changes something, in order, e.g. "users.tombstone:7".
#[derive(Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    fn push(&self, call: String) {
        self.0.lock().unwrap().push(call);
    }

    pub fn calls(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn unavailable(who: &str) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        "UNAVAILABLE",
        format!("{who} did not answer"),
    )
}

/// Failures to serve before succeeding.
#[derive(Default)]
struct Failures(Mutex<u32>);

impl Failures {
    fn set(&self, n: u32) {
        *self.0.lock().unwrap() = n;
    }

    fn take_one(&self) -> bool {
        let mut left = self.0.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            true
        } else {
            false
        }
    }
}

pub struct FakeUsers {
    log: CallLog,
    users: Mutex<HashMap<i64, UserSummary>>,
    failures: Failures,
}

impl FakeUsers {
    pub fn new(log: CallLog) -> Self {
        Self {
            log,
            users: Mutex::default(),
            failures: Failures::default(),
        }
    }

    pub fn add(&self, id: i64, name: &str) {
        self.users.lock().unwrap().insert(
            id,
            UserSummary {
                id,
                name: name.into(),
                is_deleted: false,
            },
        );
    }

    pub fn mark_deleted(&self, id: i64) {
        if let Some(user) = self.users.lock().unwrap().get_mut(&id) {
            user.is_deleted = true;
        }
    }

    pub fn fail_next(&self, n: u32) {
        self.failures.set(n);
    }
}

#[async_trait]
impl UserDirectory for FakeUsers {
    async fn find_user(&self, user_id: i64) -> Result<Option<UserSummary>> {
        Ok(self.users.lock().unwrap().get(&user_id).cloned())
    }

    async fn tombstone_user(&self, user_id: i64) -> Result<bool> {
        self.log.push(format!("users.tombstone:{user_id}"));
        if self.failures.take_one() {
            return Err(unavailable("users"));
        }
        let mut users = self.users.lock().unwrap();
        let user = users
            .get_mut(&user_id)
            .ok_or_else(|| Error::not_found("USER_NOT_FOUND", "no such user"))?;
        let changed = !user.is_deleted;
        user.is_deleted = true;
        user.name = "Deleted User".into();
        Ok(changed)
    }

    async fn count_user_data(&self, _user_id: i64) -> Result<Counts> {
        Ok(Counts::from([("user_records".to_owned(), 1)]))
    }
}

pub struct FakeRoles {
    log: CallLog,
    /// Permissions each user holds network-wide.
    held: Mutex<HashMap<i64, BTreeSet<String>>>,
    grants: Mutex<HashMap<i64, i64>>,
}

impl FakeRoles {
    pub fn new(log: CallLog) -> Self {
        Self {
            log,
            held: Mutex::default(),
            grants: Mutex::default(),
        }
    }

    pub fn give(&self, user_id: i64, permission: &str) {
        self.held
            .lock()
            .unwrap()
            .entry(user_id)
            .or_default()
            .insert(permission.into());
        *self.grants.lock().unwrap().entry(user_id).or_default() += 1;
    }
}

#[async_trait]
impl RoleGrants for FakeRoles {
    async fn holds(&self, user_id: i64, permission: &str) -> Result<bool> {
        Ok(self
            .held
            .lock()
            .unwrap()
            .get(&user_id)
            .is_some_and(|set| set.contains(permission)))
    }

    async fn revoke_all_grants(&self, user_id: i64) -> Result<i64> {
        self.log.push(format!("roles.revoke_all:{user_id}"));
        self.held.lock().unwrap().remove(&user_id);
        Ok(self.grants.lock().unwrap().remove(&user_id).unwrap_or(0))
    }

    async fn count_grants(&self, user_id: i64) -> Result<i64> {
        Ok(self
            .grants
            .lock()
            .unwrap()
            .get(&user_id)
            .copied()
            .unwrap_or(0))
    }
}

pub struct FakeFiles {
    log: CallLog,
    files: Mutex<HashMap<i64, i64>>,
}

impl FakeFiles {
    pub fn new(log: CallLog) -> Self {
        Self {
            log,
            files: Mutex::default(),
        }
    }

    pub fn add(&self, user_id: i64, count: i64) {
        *self.files.lock().unwrap().entry(user_id).or_default() += count;
    }
}

#[async_trait]
impl UserFiles for FakeFiles {
    async fn erase_user_files(&self, user_id: i64) -> Result<i64> {
        self.log.push(format!("files.erase:{user_id}"));
        Ok(self.files.lock().unwrap().remove(&user_id).unwrap_or(0))
    }

    async fn count_user_files(&self, user_id: i64) -> Result<i64> {
        Ok(self
            .files
            .lock()
            .unwrap()
            .get(&user_id)
            .copied()
            .unwrap_or(0))
    }
}

pub struct FakeParticipant {
    name: String,
    log: CallLog,
    failures: Failures,
    /// What a call reports erased.
    pub erased: Mutex<Counts>,
    /// What a preview answers; `None` stands for UNIMPLEMENTED.
    pub preview: Mutex<Option<Counts>>,
    pub calls: Mutex<Vec<(i64, DeletionOptions, i64)>>,
}

impl FakeParticipant {
    pub fn new(name: &str, log: CallLog) -> Self {
        Self {
            name: name.into(),
            log,
            failures: Failures::default(),
            erased: Mutex::new(Counts::from([("messages".to_owned(), 3)])),
            preview: Mutex::new(None),
            calls: Mutex::default(),
        }
    }

    pub fn fail_next(&self, n: u32) {
        self.failures.set(n);
    }

    pub fn calls(&self) -> Vec<(i64, DeletionOptions, i64)> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl DeletionParticipant for FakeParticipant {
    fn name(&self) -> &str {
        &self.name
    }

    async fn delete_user_content(
        &self,
        user_id: i64,
        options: &DeletionOptions,
        job_id: i64,
    ) -> Result<Counts> {
        self.log.push(format!("{}.delete:{user_id}", self.name));
        self.calls.lock().unwrap().push((user_id, *options, job_id));
        if self.failures.take_one() {
            return Err(unavailable(&self.name));
        }
        Ok(self.erased.lock().unwrap().clone())
    }

    async fn preview(&self, _user_id: i64, _options: &DeletionOptions) -> Result<Option<Counts>> {
        Ok(self.preview.lock().unwrap().clone())
    }
}
