//! What the moderation service decides about a user, as the user record shows
//! it: a global ban (in force until its expiry, judged at read time), the flag
//! count, and the tombstone a deletion leaves behind.

use std::collections::BTreeMap;

use roster_kit::{Actor, Error};

use super::{Directory, User, UserKey, access::require_privileged, directory::user_not_found};

pub use super::user::ModerationChange;

/// What TombstoneUser did, or would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    pub changed: bool,
    /// What was (or would be) erased, by kind; counts only, never the data.
    pub erased: BTreeMap<String, i64>,
}

/// What making `user` a tombstone erases (nothing once it is one).
fn erased_by_tombstone(user: &User) -> BTreeMap<String, i64> {
    if user.is_deleted {
        return BTreeMap::from([("user_records".to_owned(), 0)]);
    }
    let profile_fields = [
        !user.display_name.is_empty(),
        !user.description.is_empty(),
        user.avatar.is_some(),
    ]
    .into_iter()
    .filter(|held| *held)
    .count();
    BTreeMap::from([
        ("user_records".to_owned(), 1),
        ("profile_fields".to_owned(), profile_fields as i64),
        ("properties".to_owned(), user.properties.len() as i64),
        ("sessions".to_owned(), 1),
    ])
}

impl Directory {
    /// Makes `user_id` the tombstone of a deleted user (the moderation service's
    /// deletion cascade); idempotent. Services and admins only.
    pub async fn tombstone(
        &self,
        actor: &Actor,
        user_id: i64,
        dry_run: bool,
    ) -> Result<Tombstone, Error> {
        require_privileged(actor, "delete users")?;
        let key = UserKey::Id(user_id);
        let user = self.get(actor, &key).await?;
        let erased = erased_by_tombstone(&user);
        if dry_run || user.is_deleted {
            return Ok(Tombstone {
                changed: false,
                erased,
            });
        }
        let (_, changed) = self
            .users
            .tombstone(user_id, self.clock.now())
            .await?
            .ok_or_else(|| user_not_found(&key))?;
        Ok(Tombstone { changed, erased })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::domain::user::test_user;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap_or_default()
    }

    #[test]
    fn a_ban_applies_until_its_expiry_and_not_after() {
        let mut user = test_user();
        ModerationChange::Banned {
            until_ms: Some(5_000),
        }
        .apply(&mut user);
        assert!(user.is_banned_at(at(4_999)));
        assert!(!user.is_banned_at(at(5_000)));
        ModerationChange::Banned { until_ms: None }.apply(&mut user);
        assert!(user.is_banned_at(at(i64::MAX / 2)));
        ModerationChange::Unbanned.apply(&mut user);
        assert!(!user.is_banned_at(at(0)));
    }

    #[test]
    fn a_tombstone_counts_what_it_erases_once() {
        let mut user = test_user();
        user.properties.insert("team".into(), "blue".into());
        let erased = erased_by_tombstone(&user);
        assert_eq!(erased.get("user_records"), Some(&1));
        assert_eq!(erased.get("properties"), Some(&1));
        user.is_deleted = true;
        assert_eq!(
            erased_by_tombstone(&user),
            BTreeMap::from([("user_records".to_owned(), 0)])
        );
    }
}
