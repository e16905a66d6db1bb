//! Logins: how a user (or a guest) gets a session, and what it must prove.
//!
//! * A native login proves itself with a credential the product's backend made
//!   with `users.login_secret` ([`LoginCredential`]); admins mint sessions
//!   directly with [`Directory::issue_token`].
//! * Development logins (`users.dev_logins`) let a name alone log in, but never
//!   for a user who holds a role grant.
//! * A guest is created with a secret ([`GuestSecret`]) and resumed only with
//!   that secret or a session of its own.
//! * Failed proofs are counted per name and per address ([`FailedLogins`]).

mod credential;
mod guest;
pub(super) mod limits;
pub(super) mod policy;

use std::{net::IpAddr, time::Duration};

use roster_kit::{Actor, Error, auth::IssuedToken, error::ErrorKind};

pub use credential::{AUTH_TOKEN_CHARS, LoginCredential};
pub use guest::{GUEST_SECRET_CHARS, GuestSecret, generated_guest_name};
pub use limits::{FailedLogins, FailureLimits};
pub use policy::LoginPolicy;

use super::{
    Directory, NewUser, ProfilePatch, User, UserKey, UserType,
    access::require_privileged,
    directory::{refuse_deleted, user_not_found},
    fields::{Description, DisplayName, UserName},
};

/// Longest lifetime `IssueUserToken` may ask for.
pub const MAX_TOKEN_TTL: Duration = roster_kit::config::MAX_USER_TOKEN_TTL;

/// Refusals that mean "this proof was wrong": they count towards the limit of
/// failed logins. Malformed requests and refusals for other reasons (banned,
/// deleted, guests disabled) do not.
const FAILED_PROOFS: &[&str] = &[
    "AUTH_TOKEN_INVALID",
    "AUTH_TOKEN_EXPIRED",
    "GUEST_SECRET_INVALID",
    "LOGIN_CREDENTIAL_REQUIRED",
];

/// A parsed Login call.
pub struct LoginRequest {
    /// `None` only for a guest who wants a generated name.
    pub name: Option<UserName>,
    pub display_name: Option<DisplayName>,
    pub guest: bool,
    pub credential: Option<LoginCredential>,
    pub guest_secret: Option<GuestSecret>,
    /// The caller of a valid token sent with the call (it may resume its own guest).
    pub caller: Option<Actor>,
    /// Where the call came from, for the limit of failed logins.
    pub client_address: Option<IpAddr>,
}

pub struct LoginOutcome {
    pub user: User,
    pub token: IssuedToken,
    pub created: bool,
    /// Only when this login created a guest: the secret that resumes it.
    pub guest_secret: Option<GuestSecret>,
}

fn not_configured() -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        "LOGIN_NOT_CONFIGURED",
        "native logins are off: this deployment has no users.login_secret. Configure it \
         (ROSTER_USERS__LOGIN_SECRET) and have your backend make login credentials, or mint \
         sessions from your backend with IssueUserToken",
    )
}

impl Directory {
    /// Logs in (creating the user when the name is new); see the module
    /// documentation for what each kind of login must prove.
    pub async fn login(&self, request: LoginRequest) -> Result<LoginOutcome, Error> {
        if request.guest && !self.login.allow_guests {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "GUESTS_DISABLED",
                "guest sessions are disabled on this deployment",
            ));
        }
        let name = match (request.name, request.guest) {
            (Some(name), _) => name,
            (None, true) => UserName::parse(&generated_guest_name(), "name")
                .map_err(|v| Error::invalid(vec![v]))?,
            (None, false) => return Err(Error::invalid_field("name", "is required")),
        };
        let now = self.clock.now();
        let address = request.client_address;
        self.failed_logins.check(name.as_str(), address, now)?;
        let outcome = if request.guest {
            self.guest_login(
                &name,
                request.display_name,
                request.guest_secret,
                request.caller,
            )
            .await
        } else {
            self.native_login(&name, request.display_name, request.credential)
                .await
        };
        if let Err(err) = &outcome
            && FAILED_PROOFS.contains(&err.reason)
        {
            self.failed_logins.record(name.as_str(), address, now);
        }
        outcome
    }

    async fn native_login(
        &self,
        name: &UserName,
        display_name: Option<DisplayName>,
        credential: Option<LoginCredential>,
    ) -> Result<LoginOutcome, Error> {
        match credential {
            Some(credential) => {
                let secret = self
                    .login
                    .login_secret
                    .as_ref()
                    .ok_or_else(not_configured)?;
                credential.verify(
                    secret.expose(),
                    name,
                    self.clock.now(),
                    self.login.credential_max_ttl,
                )?;
                // The backend that made the credential owns the profile; a
                // display name chosen by the client counts only in development.
                let display_name = display_name.filter(|_| self.login.dev_logins);
                let (user, created) = self
                    .find_or_create(name, display_name.as_ref(), None)
                    .await?;
                admit(&user, self.clock.now())?;
                self.start_session(user, created, display_name, None, self.user_token_ttl)
                    .await
            }
            None if self.login.dev_logins => {
                let (user, created) = self
                    .find_or_create(name, display_name.as_ref(), None)
                    .await?;
                admit(&user, self.clock.now())?;
                self.refuse_name_only_login_of_privileged(&user).await?;
                self.start_session(user, created, display_name, None, self.user_token_ttl)
                    .await
            }
            None if self.login.login_secret.is_none() => Err(not_configured()),
            None => Err(Error::unauthenticated(
                "AUTH_TOKEN_INVALID",
                "a native login needs a credential: auth_token and auth_expires_at, made by your \
                 backend with users.login_secret (see LoginRequest.auth_token)",
            )),
        }
    }

    /// Whatever the mode, a user who holds a role grant (global admins,
    /// moderators, custom roles, any exemption: exemptions are held only through
    /// grants) never logs in by name alone. Also asked for a user created just
    /// now: grants may name a user id before the user exists (`roster
    /// grant-global-admin 1` on a fresh deployment).
    async fn refuse_name_only_login_of_privileged(&self, user: &User) -> Result<(), Error> {
        if self.role_grants.holds_any_grant(user.id).await? {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "LOGIN_CREDENTIAL_REQUIRED",
                format!(
                    "user {:?} holds a role; it logs in only with a credential (auth_token), \
                     even with users.dev_logins on",
                    user.name
                ),
            ));
        }
        Ok(())
    }

    async fn guest_login(
        &self,
        name: &UserName,
        display_name: Option<DisplayName>,
        secret: Option<GuestSecret>,
        caller: Option<Actor>,
    ) -> Result<LoginOutcome, Error> {
        let fresh = GuestSecret::generate();
        let (user, created) = self
            .find_or_create(name, display_name.as_ref(), Some(&fresh))
            .await?;
        if !user.is_guest {
            return Err(Error::permission_denied(
                "this name belongs to a native user, who must authenticate",
            ));
        }
        if !created {
            self.prove_guest(&user, secret.as_ref(), caller.as_ref())
                .await?;
        }
        admit(&user, self.clock.now())?;
        let secret = created.then_some(fresh);
        self.start_session(user, created, display_name, secret, self.user_token_ttl)
            .await
    }

    /// A guest is resumed by a session of its own, or with its secret.
    async fn prove_guest(
        &self,
        guest: &User,
        secret: Option<&GuestSecret>,
        caller: Option<&Actor>,
    ) -> Result<(), Error> {
        if matches!(caller, Some(Actor::User { user_id, .. }) if *user_id == guest.id) {
            return Ok(());
        }
        if let Some(secret) = secret
            && let Some(stored) = self.users.guest_secret_hash(guest.id).await?
            && secret.matches(&stored)
        {
            return Ok(());
        }
        Err(Error::unauthenticated(
            "GUEST_SECRET_INVALID",
            format!(
                "resuming guest {:?} needs its guest_secret (returned by the Login that created it) \
                 or a session token of that guest",
                guest.name
            ),
        ))
    }

    /// Mints a session for `name` without any login proof (admins), creating
    /// the user when new and applying a passed display name.
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
        let (user, created) = self
            .find_or_create(&name, display_name.as_ref(), None)
            .await?;
        admit(&user, self.clock.now())?;
        self.start_session(user, created, display_name, None, ttl)
            .await
    }

    /// The user named `name`, or a new one (a guest when `guest_secret` is given).
    async fn find_or_create(
        &self,
        name: &UserName,
        display_name: Option<&DisplayName>,
        guest_secret: Option<&GuestSecret>,
    ) -> Result<(User, bool), Error> {
        // As given: an old name stored in another composition than NFC is
        // found by its exact form before a newer name with its canonical form.
        let key = UserKey::Name(name.as_given().to_owned());
        if let Some(user) = self.users.find(&key).await? {
            return Ok((user, false));
        }
        // Existing names log in as they are; a new one must be clean.
        name.check_new("name")
            .map_err(|v| Error::invalid(vec![v]))?;
        let new = NewUser {
            display_name: display_name
                .cloned()
                .unwrap_or_else(|| DisplayName::from_name(name)),
            name: name.clone(),
            user_type: UserType::Person,
            description: Description::default(),
            is_guest: guest_secret.is_some(),
            properties: Default::default(),
        };
        let hash = guest_secret.map(GuestSecret::hash);
        match self.users.insert(&new, hash, self.clock.now()).await {
            Ok(user) => Ok((user, true)),
            // Another login created it a moment ago: that one is an existing user.
            Err(err) if err.reason == "USER_ALREADY_EXISTS" => {
                let user = self.users.find(&key).await?;
                Ok((user.ok_or_else(|| user_not_found(&key))?, false))
            }
            Err(err) => Err(err),
        }
    }

    /// Applies a passed display name to an existing user and issues the token.
    async fn start_session(
        &self,
        mut user: User,
        created: bool,
        display_name: Option<DisplayName>,
        guest_secret: Option<GuestSecret>,
        ttl: Duration,
    ) -> Result<LoginOutcome, Error> {
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
            guest_secret,
        })
    }
}

/// Deleted and banned users get no session.
fn admit(user: &User, now: chrono::DateTime<chrono::Utc>) -> Result<(), Error> {
    refuse_deleted(user)?;
    if user.is_banned_at(now) {
        return Err(Error::new(
            ErrorKind::PermissionDenied,
            "USER_BANNED",
            format!("user {} is banned from the network", user.id),
        ));
    }
    Ok(())
}
