//! The user directory: the entry point of every user operation. Its methods
//! live with their capability (profiles, presence, search, login, sessions,
//! avatars, events); this module holds what they share.

use std::{sync::Arc, time::Duration};

use roster_kit::{Actor, Error, TokenKeys, authz::PermissionChecker, error::ErrorKind};

use super::{
    NewUser, User, UserKey,
    access::require_privileged,
    collation::Collation,
    fields::canonical_name,
    login::{limits::FailedLogins, policy::LoginPolicy},
    ports::{AvatarFiles, Clock, RoleGrants, UserRepository},
};

pub const MAX_BATCH_GET: usize = 100;

/// The other services and the clock the directory relies on.
pub struct Collaborators {
    pub permissions: PermissionChecker,
    pub avatar_files: Arc<dyn AvatarFiles>,
    pub role_grants: Arc<dyn RoleGrants>,
    pub clock: Arc<dyn Clock>,
}

pub struct Directory {
    pub(super) users: Arc<dyn UserRepository>,
    pub(super) keys: Arc<TokenKeys>,
    pub(super) user_token_ttl: Duration,
    pub(super) login: LoginPolicy,
    pub(super) failed_logins: FailedLogins,
    pub(super) permissions: PermissionChecker,
    pub(super) avatar_files: Arc<dyn AvatarFiles>,
    pub(super) role_grants: Arc<dyn RoleGrants>,
    pub(super) clock: Arc<dyn Clock>,
    /// How display names sort and match (the store keys them the same way).
    pub(super) collation: Arc<Collation>,
    /// Writes presence changes in batches.
    pub(super) presence: super::presence_writer::PresenceWriter,
}

pub(super) fn user_not_found(key: &UserKey) -> Error {
    let message = match key {
        UserKey::Id(id) => format!("no user with id {id}"),
        UserKey::Name(name) => format!("no user named {name:?}"),
    };
    Error::not_found("USER_NOT_FOUND", message)
}

pub(super) fn refuse_deleted(user: &User) -> Result<(), Error> {
    if user.is_deleted {
        return Err(Error::new(
            ErrorKind::FailedPrecondition,
            "USER_DELETED",
            format!("user {} is deleted; deletion is final", user.id),
        ));
    }
    Ok(())
}

impl Directory {
    pub fn new(
        users: Arc<dyn UserRepository>,
        keys: Arc<TokenKeys>,
        login: LoginPolicy,
        user_token_ttl: Duration,
        collation: Arc<Collation>,
        collaborators: Collaborators,
    ) -> Self {
        Self {
            presence: super::presence_writer::PresenceWriter::start(
                users.clone(),
                collaborators.clock.clone(),
            ),
            users,
            keys,
            user_token_ttl,
            failed_logins: FailedLogins::new(login.failure_limits),
            login,
            permissions: collaborators.permissions,
            avatar_files: collaborators.avatar_files,
            role_grants: collaborators.role_grants,
            clock: collaborators.clock,
            collation,
        }
    }

    /// The permission checker this directory asks (e.g. to wait until it has
    /// seen a role change).
    pub fn permissions(&self) -> &PermissionChecker {
        &self.permissions
    }

    pub async fn create(&self, actor: &Actor, new: NewUser) -> Result<User, Error> {
        require_privileged(actor, "create users")?;
        new.name
            .check_new("name")
            .map_err(|v| Error::invalid(vec![v]))?;
        self.users.insert(&new, None, self.clock.now()).await
    }

    pub async fn get(&self, _actor: &Actor, key: &UserKey) -> Result<User, Error> {
        self.users
            .find(key)
            .await?
            .ok_or_else(|| user_not_found(key))
    }

    /// One entry per requested key, in request order; `None` where no user exists.
    pub async fn batch_get(
        &self,
        _actor: &Actor,
        ids: &[i64],
        names: &[String],
    ) -> Result<Vec<(UserKey, Option<User>)>, Error> {
        if ids.len() + names.len() > MAX_BATCH_GET {
            return Err(Error::invalid_field(
                "ids",
                format!("ids and names together must be at most {MAX_BATCH_GET}"),
            ));
        }
        let by_id = self.users.find_by_ids(ids).await?;
        let by_name = self.users.find_by_names(names).await?;
        let mut results = Vec::with_capacity(ids.len() + names.len());
        for id in ids {
            let user = by_id.iter().find(|u| u.id == *id).cloned();
            results.push((UserKey::Id(*id), user));
        }
        for name in names {
            // Names compare in their canonical form (a name sent decomposed
            // finds the user stored composed).
            let canonical = canonical_name(name);
            let user = by_name
                .iter()
                .find(|u| &u.name == name)
                .or_else(|| {
                    by_name
                        .iter()
                        .find(|u| canonical_name(&u.name) == canonical)
                })
                .cloned();
            results.push((UserKey::Name(name.clone()), user));
        }
        Ok(results)
    }
}
