//! Presence and call status, as each user's own client reports them; written
//! in batches by [`super::presence_writer`].

use roster_kit::{Actor, Error};

use super::{
    Directory, PresenceChange, User, UserKey,
    directory::{refuse_deleted, user_not_found},
    presence_writer::PresenceWrite,
};

impl Directory {
    /// Sets `key`'s presence, or the calling user's own when `key` is `None`;
    /// setting another user's follows the rules of profile changes.
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
        let write = PresenceWrite {
            user_id: user.id,
            change: change.clone(),
            origin: roster_kit::origin::current("users"),
        };
        self.presence
            .write(write)
            .await?
            .ok_or_else(|| user_not_found(&key))
    }
}
