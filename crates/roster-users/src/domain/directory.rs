//! The user directory: every user operation, with its authorisation rule.
//!
//! Admins and Roster's own services may do everything. Any user may read
//! users. A user may change itself; changing another user needs EDIT_USER,
//! and a user exempt from moderation can be changed only by a caller who is
//! exempt too. Creating users, issuing and revoking tokens, and watching all
//! changes are platform (admin) operations.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use futures::future::BoxFuture;
use roster_kit::{
    Actor, Error, TokenKeys,
    auth::IssuedToken,
    authz::{PermissionChecker, Scope},
    error::ErrorKind,
};

use super::{
    NewUser, PresenceChange, ProfilePatch, User, UserKey,
    fields::{Description, DisplayName, UserName},
    login, properties,
    query::{Phase, UserQuery},
};
use crate::{settings::UsersSettings, store::UserStore};

/// How many times an unguarded update re-reads and retries after losing a race.
const UNGUARDED_UPDATE_ATTEMPTS: usize = 5;
/// Longest lifetime `IssueUserToken` may ask for.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
pub const MAX_BATCH_GET: usize = 100;

pub struct LoginRequest {
    /// `None` only for a guest who wants a generated name.
    pub name: Option<UserName>,
    pub display_name: Option<DisplayName>,
    pub auth_token: String,
    pub guest: bool,
}

pub struct LoginOutcome {
    pub user: User,
    pub token: IssuedToken,
    pub created: bool,
}

/// Catalogue names of the permissions this service asks for.
const EDIT_USER: &str = "EDIT_USER";
const EXEMPT_FROM_MODERATION: &str = "EXEMPT_FROM_MODERATION";

/// Uploaded files, as far as avatars need them (the file service, over gRPC).
pub trait AvatarFiles: Send + Sync + 'static {
    /// The owner of `file_id` when it is an avatar image; `None` when there is no
    /// such file or it is not an avatar.
    fn avatar_owner<'a>(&'a self, file_id: &'a str) -> BoxFuture<'a, Result<Option<i64>, Error>>;
}

/// The other services the directory relies on.
pub struct Collaborators {
    pub permissions: PermissionChecker,
    pub avatar_files: Arc<dyn AvatarFiles>,
}

pub struct Directory {
    store: UserStore,
    keys: Arc<TokenKeys>,
    settings: UsersSettings,
    user_token_ttl: Duration,
    permissions: PermissionChecker,
    avatar_files: Arc<dyn AvatarFiles>,
}

fn is_privileged(actor: &Actor) -> bool {
    matches!(actor, Actor::Admin { .. } | Actor::Service { .. })
}

fn require_privileged(actor: &Actor, action: &str) -> Result<(), Error> {
    if is_privileged(actor) {
        Ok(())
    } else {
        Err(Error::permission_denied(format!(
            "only an admin may {action}"
        )))
    }
}

fn user_not_found(key: &UserKey) -> Error {
    let message = match key {
        UserKey::Id(id) => format!("no user with id {id}"),
        UserKey::Name(name) => format!("no user named {name:?}"),
    };
    Error::not_found("USER_NOT_FOUND", message)
}

fn refuse_deleted(user: &User) -> Result<(), Error> {
    if user.is_deleted {
        return Err(Error::new(
            ErrorKind::FailedPrecondition,
            "USER_DELETED",
            format!("user {} is deleted; deletion is final", user.id),
        ));
    }
    Ok(())
}

fn version_conflict(expected: i64, found: i64) -> Error {
    Error::new(
        ErrorKind::Aborted,
        "VERSION_CONFLICT",
        format!(
            "expected_version is {expected} but the user is at version {found}; re-read and retry"
        ),
    )
}

impl Directory {
    pub fn new(
        store: UserStore,
        keys: Arc<TokenKeys>,
        settings: UsersSettings,
        user_token_ttl: Duration,
        collaborators: Collaborators,
    ) -> Result<Self, Error> {
        if settings.secured_mode && settings.login_secret.is_none() {
            return Err(Error::invalid_field(
                "users.login_secret",
                "is required when users.secured_mode is on",
            ));
        }
        Ok(Self {
            store,
            keys,
            settings,
            user_token_ttl,
            permissions: collaborators.permissions,
            avatar_files: collaborators.avatar_files,
        })
    }

    /// May `actor` change `target`? Themselves always; others with EDIT_USER,
    /// unless the target is exempt from moderation and the actor is not.
    async fn authorize_change(&self, actor: &Actor, target: &User) -> Result<(), Error> {
        let Some(actor_id) = actor.user_id() else {
            return Ok(()); // admin or service
        };
        if actor_id == target.id {
            return Ok(());
        }
        self.permissions
            .require(actor, EDIT_USER, Scope::Network)
            .await?;
        let target_exempt = self
            .permissions
            .check(target.id, EXEMPT_FROM_MODERATION, &Scope::Network)
            .await?;
        if target_exempt
            && !self
                .permissions
                .check(actor_id, EXEMPT_FROM_MODERATION, &Scope::Network)
                .await?
        {
            return Err(Error::permission_denied(format!(
                "user {} is exempt from moderation; only a caller exempt too may change them",
                target.id
            )));
        }
        Ok(())
    }

    /// An avatar file must be an avatar image owned by the user it is set on.
    async fn check_avatar(&self, target: &User, patch: &ProfilePatch) -> Result<(), Error> {
        let Some(Some(super::Avatar::File(file_id))) = &patch.avatar else {
            return Ok(());
        };
        if self.avatar_files.avatar_owner(file_id).await? == Some(target.id) {
            return Ok(());
        }
        let mut err = Error::invalid_field(
            "patch.avatar.file_id",
            format!(
                "{file_id:?} is not an avatar image uploaded by user {}",
                target.id
            ),
        );
        err.reason = "AVATAR_FILE_INVALID";
        Err(err)
    }

    pub fn store(&self) -> &UserStore {
        &self.store
    }

    pub fn settings(&self) -> &UsersSettings {
        &self.settings
    }

    /// The permission checker this directory asks (e.g. to wait until it has
    /// seen a role change).
    pub fn permissions(&self) -> &PermissionChecker {
        &self.permissions
    }

    pub async fn create(&self, actor: &Actor, new: NewUser) -> Result<User, Error> {
        require_privileged(actor, "create users")?;
        self.store.insert(&new, Utc::now()).await
    }

    pub async fn login(&self, request: LoginRequest) -> Result<LoginOutcome, Error> {
        let LoginRequest {
            name,
            display_name,
            auth_token,
            guest,
        } = request;
        if guest && !self.settings.allow_guests {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "GUESTS_DISABLED",
                "guest sessions are disabled on this deployment",
            ));
        }
        let name = match (name, guest) {
            (Some(name), _) => name,
            (None, true) => UserName::parse(&login::generated_guest_name(), "name")
                .map_err(|v| Error::invalid(vec![v]))?,
            (None, false) => return Err(Error::invalid_field("name", "is required")),
        };
        let mut display_name = display_name;
        if !guest && self.settings.secured_mode {
            let secret = self
                .settings
                .login_secret
                .as_ref()
                .map(|s| s.expose())
                .unwrap_or_default();
            if !login::verify_login_auth_token(secret, name.as_str(), &auth_token) {
                return Err(Error::unauthenticated(
                    "AUTH_TOKEN_INVALID",
                    "secured mode: auth_token is missing or does not match the name",
                ));
            }
            // In secured mode the profile is the backend's to set, not the client's.
            display_name = None;
        }
        self.sign_in(name, display_name, guest, self.user_token_ttl)
            .await
    }

    pub async fn issue_token(
        &self,
        actor: &Actor,
        name: UserName,
        display_name: Option<DisplayName>,
        ttl: Option<Duration>,
    ) -> Result<LoginOutcome, Error> {
        require_privileged(actor, "issue user tokens")?;
        let ttl = ttl.unwrap_or(self.user_token_ttl);
        if ttl > MAX_TOKEN_TTL {
            return Err(Error::invalid_field(
                "ttl_seconds",
                format!("must be at most {} seconds", MAX_TOKEN_TTL.as_secs()),
            ));
        }
        self.sign_in(name, display_name, false, ttl).await
    }

    /// Finds or creates the user, applies a passed display name, and issues a token.
    async fn sign_in(
        &self,
        name: UserName,
        display_name: Option<DisplayName>,
        guest: bool,
        ttl: Duration,
    ) -> Result<LoginOutcome, Error> {
        let key = UserKey::Name(name.as_str().to_owned());
        let (mut user, created) = match self.store.find(&key).await? {
            Some(user) => (user, false),
            None => {
                let new = NewUser {
                    display_name: display_name
                        .clone()
                        .unwrap_or_else(|| DisplayName::from_name(&name)),
                    name: name.clone(),
                    user_type: super::UserType::Person,
                    description: Description::default(),
                    is_guest: guest,
                    properties: Default::default(),
                };
                match self.store.insert(&new, Utc::now()).await {
                    Ok(user) => (user, true),
                    // Another login created it a moment ago: log into that one.
                    Err(err) if err.reason == "USER_ALREADY_EXISTS" => (
                        self.store
                            .find(&key)
                            .await?
                            .ok_or_else(|| user_not_found(&key))?,
                        false,
                    ),
                    Err(err) => return Err(err),
                }
            }
        };
        refuse_deleted(&user)?;
        if user.is_global_banned {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "USER_BANNED",
                format!("user {} is banned from the network", user.id),
            ));
        }
        if guest && !user.is_guest {
            return Err(Error::permission_denied(
                "this name belongs to a native user, who must authenticate",
            ));
        }
        if !created
            && let Some(display_name) = display_name.filter(|d| d.as_str() != user.display_name)
        {
            let patch = ProfilePatch {
                display_name: Some(display_name),
                ..ProfilePatch::default()
            };
            user = self.apply_patch(user, &patch, None).await?;
        }
        let token = self.keys.issue_user(user.id, user.token_generation, ttl)?;
        Ok(LoginOutcome {
            user,
            token,
            created,
        })
    }

    pub async fn get(&self, _actor: &Actor, key: &UserKey) -> Result<User, Error> {
        self.store
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
        let by_id = self.store.find_by_ids(ids).await?;
        let by_name = self.store.find_by_names(names).await?;
        let mut results = Vec::with_capacity(ids.len() + names.len());
        for id in ids {
            let user = by_id.iter().find(|u| u.id == *id).cloned();
            results.push((UserKey::Id(*id), user));
        }
        for name in names {
            let user = by_name.iter().find(|u| &u.name == name).cloned();
            results.push((UserKey::Name(name.clone()), user));
        }
        Ok(results)
    }

    pub async fn update(
        &self,
        actor: &Actor,
        key: &UserKey,
        patch: &ProfilePatch,
        expected_version: Option<i64>,
    ) -> Result<User, Error> {
        let user = self.get(actor, key).await?;
        self.authorize_change(actor, &user).await?;
        self.check_avatar(&user, patch).await?;
        self.apply_patch(user, patch, expected_version).await
    }

    /// Writes `patch` over `user`. With `expected_version`, exactly that version
    /// must still be stored; without, a lost race re-reads and retries.
    async fn apply_patch(
        &self,
        mut user: User,
        patch: &ProfilePatch,
        expected_version: Option<i64>,
    ) -> Result<User, Error> {
        for _ in 0..UNGUARDED_UPDATE_ATTEMPTS {
            refuse_deleted(&user)?;
            if let Some(expected) = expected_version
                && expected != user.version
            {
                return Err(version_conflict(expected, user.version));
            }
            let changed = patched(&user, patch)?;
            match self
                .store
                .save_profile(&changed, user.version, Utc::now())
                .await?
            {
                Some(saved) => return Ok(saved),
                None => {
                    let key = UserKey::Id(user.id);
                    user = self
                        .store
                        .find(&key)
                        .await?
                        .ok_or_else(|| user_not_found(&key))?;
                }
            }
        }
        Err(Error::new(
            ErrorKind::Aborted,
            "VERSION_CONFLICT",
            "the user kept changing concurrently; retry",
        ))
    }

    /// A page of users and, when more follow, the token of the next page.
    pub async fn query(
        &self,
        _actor: &Actor,
        query: &UserQuery,
    ) -> Result<(Vec<User>, Option<String>), Error> {
        let wanted = query.limit + 1;
        let mut found: Vec<(Phase, User)> = Vec::new();
        let start = query.after.as_ref().map(|p| p.phase);
        let mut started = start.is_none();
        for &phase in query.phases() {
            started |= Some(phase) == start;
            if !started {
                continue;
            }
            let after = query.after.as_ref().filter(|p| p.phase == phase);
            let remaining = wanted - found.len() as u64;
            let rows = self.store.query(query, phase, after, remaining).await?;
            found.extend(rows.into_iter().map(|user| (phase, user)));
            if found.len() as u64 >= wanted {
                break;
            }
        }
        let next = if found.len() as u64 > query.limit {
            found.truncate(query.limit as usize);
            found
                .last()
                .map(|(phase, user)| query.page_token_after(*phase, &user.display_name, user.id))
        } else {
            None
        };
        Ok((found.into_iter().map(|(_, user)| user).collect(), next))
    }

    pub async fn set_presence(
        &self,
        actor: &Actor,
        key: Option<&UserKey>,
        change: &PresenceChange,
    ) -> Result<User, Error> {
        let key = match (key, actor.user_id()) {
            (Some(key), _) => key.clone(),
            (None, Some(id)) => UserKey::Id(id),
            (None, None) => {
                return Err(Error::invalid_field(
                    "user",
                    "is required for non-user callers",
                ));
            }
        };
        let user = self.get(actor, &key).await?;
        self.authorize_change(actor, &user).await?;
        refuse_deleted(&user)?;
        let mut presence = user.presence.clone();
        if let Some(status) = &change.status {
            presence.status = status.as_str().to_owned();
        }
        if let Some(online) = change.online {
            presence.online = online;
        }
        let call_status = change.call_status.unwrap_or(user.call_status);
        self.store
            .save_presence(user.id, &presence, call_status, Utc::now())
            .await?
            .ok_or_else(|| user_not_found(&key))
    }

    pub async fn revoke_tokens(&self, actor: &Actor, key: &UserKey) -> Result<User, Error> {
        require_privileged(actor, "revoke user tokens")?;
        let user = self.get(actor, key).await?;
        self.store
            .bump_token_generation(user.id, Utc::now())
            .await?
            .ok_or_else(|| user_not_found(key))
    }

    /// Why a user session no longer counts, `None` while valid (see
    /// [`super::session_refusal`]). For Roster's own services only.
    pub async fn check_session(
        &self,
        actor: &Actor,
        user_id: i64,
        generation: i64,
    ) -> Result<Option<&'static str>, Error> {
        require_privileged(actor, "check sessions")?;
        let user = self.store.find(&UserKey::Id(user_id)).await?;
        Ok(super::session_refusal(user.as_ref(), generation))
    }

    pub fn authorize_watch(&self, actor: &Actor) -> Result<(), Error> {
        require_privileged(actor, "watch user events")
    }
}

/// `user` with `patch` applied and validated as a whole.
fn patched(user: &User, patch: &ProfilePatch) -> Result<User, Error> {
    let mut changed = user.clone();
    if let Some(display_name) = &patch.display_name {
        changed.display_name = display_name.as_str().to_owned();
    }
    if let Some(description) = &patch.description {
        changed.description = description.as_str().to_owned();
    }
    if let Some(avatar) = &patch.avatar {
        changed.avatar = avatar.clone();
    }
    if let Some(user_type) = patch.user_type {
        changed.user_type = user_type;
    }
    if let Some(props) = &patch.properties {
        changed.properties = properties::merge(&user.properties, props);
        properties::check_size(&changed.properties, "patch.properties")
            .map_err(|v| Error::invalid(vec![v]))?;
    }
    Ok(changed)
}
