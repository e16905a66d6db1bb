//! Avatars: an uploaded avatar image must belong to the user it is set on, and
//! `GetUserAvatar` relays the file service's description of it.

use roster_kit::{Actor, Error};

use super::{Avatar, Directory, ProfilePatch, User, UserKey};

/// An uploaded file, as far as avatars need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarFile {
    pub owner_user_id: i64,
    /// Uploaded as an avatar (re-encoded, with sized variants), not as an attachment.
    pub is_avatar: bool,
    /// The file service's own description of the file, in its encoding, relayed
    /// to clients untouched by `GetUserAvatar` (so it keeps every field the
    /// file service adds); never read here.
    pub description: Vec<u8>,
}

/// A user's avatar resolved: the uploaded file (`None` when it no longer
/// exists), or the external picture as set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedAvatar {
    File(Option<AvatarFile>),
    External,
    None,
}

impl Directory {
    /// An avatar file must be an avatar image owned by the user it is set on.
    pub(super) async fn check_avatar(
        &self,
        target: &User,
        patch: &ProfilePatch,
    ) -> Result<(), Error> {
        let Some(Some(Avatar::File(file_id))) = &patch.avatar else {
            return Ok(());
        };
        let owned_avatar = self
            .avatar_files
            .file(file_id)
            .await?
            .is_some_and(|file| file.is_avatar && file.owner_user_id == target.id);
        if owned_avatar {
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

    /// The user and what its avatar is. Any caller may read.
    pub async fn avatar(
        &self,
        actor: &Actor,
        key: &UserKey,
    ) -> Result<(User, ResolvedAvatar), Error> {
        let user = self.get(actor, key).await?;
        let resolved = match &user.avatar {
            Some(Avatar::File(file_id)) => {
                ResolvedAvatar::File(self.avatar_files.file(file_id).await?)
            }
            Some(Avatar::External(_)) => ResolvedAvatar::External,
            None => ResolvedAvatar::None,
        };
        Ok((user, resolved))
    }
}
