//! Profile changes: display name, description, avatar, properties, type.

use roster_kit::{Actor, Error, error::ErrorKind};

use super::{
    Directory, ProfilePatch, User, UserKey,
    directory::{refuse_deleted, user_not_found},
    properties,
};

/// How many times an unguarded update re-reads and retries after losing a race.
const UNGUARDED_UPDATE_ATTEMPTS: usize = 5;

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
    pub(super) async fn apply_patch(
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
                .users
                .save_profile(&changed, user.version, self.clock.now())
                .await?
            {
                Some(saved) => return Ok(saved),
                None => {
                    let key = UserKey::Id(user.id);
                    user = self
                        .users
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
        properties::check_limits(&changed.properties, "patch.properties")
            .map_err(|v| Error::invalid(vec![v]))?;
    }
    Ok(changed)
}
