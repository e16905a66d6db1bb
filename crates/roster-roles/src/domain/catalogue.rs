//! The permission catalogue: every permission a role can hold.
//!
//! The seed's catalogue, plus named capabilities for the rows of the default
//! matrix that the catalogue does not name (access, exemptions, rate limiting).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PermissionGroup {
    Channel,
    User,
    UserFeed,
    Community,
    CommunityCategory,
    Network,
    Notification,
    Access,
    Exemption,
}

/// One catalogue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PermissionInfo {
    pub name: &'static str,
    pub group: PermissionGroup,
    pub description: &'static str,
}

/// Permission names, so a typo in the matrix is a compile error.
pub mod names {
    pub const MUTE_CHANNEL: &str = "MUTE_CHANNEL";
    pub const CLOSE_CHANNEL: &str = "CLOSE_CHANNEL";
    pub const EDIT_CHANNEL: &str = "EDIT_CHANNEL";
    pub const EDIT_CHANNEL_RATELIMIT: &str = "EDIT_CHANNEL_RATELIMIT";
    pub const RATE_LIMIT_CHANNEL: &str = "RATE_LIMIT_CHANNEL";
    pub const EDIT_MESSAGE: &str = "EDIT_MESSAGE";
    pub const DELETE_MESSAGE: &str = "DELETE_MESSAGE";
    pub const BAN_CHANNEL_USER: &str = "BAN_CHANNEL_USER";
    pub const MUTE_CHANNEL_USER: &str = "MUTE_CHANNEL_USER";
    pub const RATE_LIMIT_CHANNEL_USER: &str = "RATE_LIMIT_CHANNEL_USER";
    pub const ADD_CHANNEL_USER: &str = "ADD_CHANNEL_USER";
    pub const REMOVE_CHANNEL_USER: &str = "REMOVE_CHANNEL_USER";
    pub const EDIT_CHANNEL_USER: &str = "EDIT_CHANNEL_USER";

    pub const BAN_USER: &str = "BAN_USER";
    pub const EDIT_USER: &str = "EDIT_USER";
    pub const ASSIGN_USER_ROLE: &str = "ASSIGN_USER_ROLE";

    pub const EDIT_USER_FEED_POST: &str = "EDIT_USER_FEED_POST";
    pub const DELETE_USER_FEED_POST: &str = "DELETE_USER_FEED_POST";
    pub const EDIT_USER_FEED_COMMENT: &str = "EDIT_USER_FEED_COMMENT";
    pub const DELETE_USER_FEED_COMMENT: &str = "DELETE_USER_FEED_COMMENT";

    pub const ADD_COMMUNITY_USER: &str = "ADD_COMMUNITY_USER";
    pub const REMOVE_COMMUNITY_USER: &str = "REMOVE_COMMUNITY_USER";
    pub const EDIT_COMMUNITY_USER: &str = "EDIT_COMMUNITY_USER";
    pub const BAN_COMMUNITY_USER: &str = "BAN_COMMUNITY_USER";
    pub const MUTE_COMMUNITY_USER: &str = "MUTE_COMMUNITY_USER";
    pub const EDIT_COMMUNITY: &str = "EDIT_COMMUNITY";
    pub const DELETE_COMMUNITY: &str = "DELETE_COMMUNITY";
    pub const EDIT_COMMUNITY_POST: &str = "EDIT_COMMUNITY_POST";
    pub const DELETE_COMMUNITY_POST: &str = "DELETE_COMMUNITY_POST";
    pub const EDIT_COMMUNITY_COMMENT: &str = "EDIT_COMMUNITY_COMMENT";
    pub const DELETE_COMMUNITY_COMMENT: &str = "DELETE_COMMUNITY_COMMENT";
    pub const REVIEW_COMMUNITY_POST: &str = "REVIEW_COMMUNITY_POST";
    pub const MANAGE_COMMUNITY_STORY: &str = "MANAGE_COMMUNITY_STORY";

    pub const CREATE_COMMUNITY_CATEGORY: &str = "CREATE_COMMUNITY_CATEGORY";
    pub const EDIT_COMMUNITY_CATEGORY: &str = "EDIT_COMMUNITY_CATEGORY";
    pub const DELETE_COMMUNITY_CATEGORY: &str = "DELETE_COMMUNITY_CATEGORY";

    pub const CREATE_ROLE: &str = "CREATE_ROLE";
    pub const EDIT_ROLE: &str = "EDIT_ROLE";
    pub const DELETE_ROLE: &str = "DELETE_ROLE";

    pub const MANAGE_NOTIFICATION_NETWORK_SETTING: &str = "MANAGE_NOTIFICATION_NETWORK_SETTING";

    pub const CONSOLE_ACCESS: &str = "CONSOLE_ACCESS";
    pub const GLOBAL_ACCESS: &str = "GLOBAL_ACCESS";

    pub const EXEMPT_FROM_MODERATION: &str = "EXEMPT_FROM_MODERATION";
    pub const EXEMPT_FROM_BAN: &str = "EXEMPT_FROM_BAN";
    pub const EXEMPT_FROM_MUTE: &str = "EXEMPT_FROM_MUTE";
    pub const EXEMPT_FROM_RATE_LIMITS: &str = "EXEMPT_FROM_RATE_LIMITS";
    pub const EXEMPT_FROM_FILTERS: &str = "EXEMPT_FROM_FILTERS";
    pub const EXEMPT_FROM_BLACKLIST_WHITELIST: &str = "EXEMPT_FROM_BLACKLIST_WHITELIST";
    pub const EXEMPT_FROM_REPETITION_CHECK: &str = "EXEMPT_FROM_REPETITION_CHECK";
}

use PermissionGroup::*;
use names::*;

const fn p(
    name: &'static str,
    group: PermissionGroup,
    description: &'static str,
) -> PermissionInfo {
    PermissionInfo {
        name,
        group,
        description,
    }
}

/// Every permission, in the order `ListPermissions` returns them.
#[rustfmt::skip]
pub const CATALOGUE: &[PermissionInfo] = &[
    p(MUTE_CHANNEL, Channel, "Mute a whole channel: nobody but moderators can send messages."),
    p(CLOSE_CHANNEL, Channel, "Close a channel for good."),
    p(EDIT_CHANNEL, Channel, "Edit a channel's name, picture, metadata and settings."),
    p(EDIT_CHANNEL_RATELIMIT, Channel, "Change a channel's configured message rate limit."),
    p(RATE_LIMIT_CHANNEL, Channel, "Apply or lift a temporary rate limit on a channel (moderation action)."),
    p(EDIT_MESSAGE, Channel, "Edit any message in a channel."),
    p(DELETE_MESSAGE, Channel, "Delete any message in a channel."),
    p(BAN_CHANNEL_USER, Channel, "Ban or unban a user from a channel."),
    p(MUTE_CHANNEL_USER, Channel, "Mute or unmute a user in a channel."),
    p(RATE_LIMIT_CHANNEL_USER, Channel, "Rate-limit a user's messages in a channel."),
    p(ADD_CHANNEL_USER, Channel, "Add a user to a channel."),
    p(REMOVE_CHANNEL_USER, Channel, "Remove a user from a channel."),
    p(EDIT_CHANNEL_USER, Channel, "Edit a channel member's settings (membership, channel roles)."),
    p(BAN_USER, User, "Ban or unban a user from the whole network."),
    p(EDIT_USER, User, "Edit any user's profile."),
    p(ASSIGN_USER_ROLE, User, "Grant and revoke roles of users."),
    p(EDIT_USER_FEED_POST, UserFeed, "Edit any post on a user's feed."),
    p(DELETE_USER_FEED_POST, UserFeed, "Delete any post on a user's feed."),
    p(EDIT_USER_FEED_COMMENT, UserFeed, "Edit any comment on a user's feed."),
    p(DELETE_USER_FEED_COMMENT, UserFeed, "Delete any comment on a user's feed."),
    p(ADD_COMMUNITY_USER, Community, "Add a user to a community."),
    p(REMOVE_COMMUNITY_USER, Community, "Remove a user from a community."),
    p(EDIT_COMMUNITY_USER, Community, "Edit a community member's settings (membership, community roles)."),
    p(BAN_COMMUNITY_USER, Community, "Ban or unban a user from a community."),
    p(MUTE_COMMUNITY_USER, Community, "Mute or unmute a user in a community."),
    p(EDIT_COMMUNITY, Community, "Edit a community's name, picture, metadata and settings."),
    p(DELETE_COMMUNITY, Community, "Delete a community."),
    p(EDIT_COMMUNITY_POST, Community, "Edit any post in a community."),
    p(DELETE_COMMUNITY_POST, Community, "Delete any post in a community."),
    p(EDIT_COMMUNITY_COMMENT, Community, "Edit any comment in a community."),
    p(DELETE_COMMUNITY_COMMENT, Community, "Delete any comment in a community."),
    p(REVIEW_COMMUNITY_POST, Community, "Approve or decline posts awaiting review in a community."),
    p(MANAGE_COMMUNITY_STORY, Community, "Create, edit and delete a community's stories."),
    p(CREATE_COMMUNITY_CATEGORY, CommunityCategory, "Create community categories."),
    p(EDIT_COMMUNITY_CATEGORY, CommunityCategory, "Edit community categories."),
    p(DELETE_COMMUNITY_CATEGORY, CommunityCategory, "Delete community categories."),
    p(CREATE_ROLE, Network, "Create custom roles."),
    p(EDIT_ROLE, Network, "Change the description and permissions of custom roles."),
    p(DELETE_ROLE, Network, "Delete custom roles."),
    p(MANAGE_NOTIFICATION_NETWORK_SETTING, Notification, "Manage the network's notification settings."),
    p(CONSOLE_ACCESS, Access, "Sign in to the administration console."),
    p(GLOBAL_ACCESS, Access, "Read every channel and community, including private ones."),
    p(EXEMPT_FROM_MODERATION, Exemption, "Cannot be moderated by others: bans, mutes and role changes need someone exempt too."),
    p(EXEMPT_FROM_BAN, Exemption, "Cannot be banned."),
    p(EXEMPT_FROM_MUTE, Exemption, "Cannot be muted."),
    p(EXEMPT_FROM_RATE_LIMITS, Exemption, "Not subject to message rate limits."),
    p(EXEMPT_FROM_FILTERS, Exemption, "Messages are not checked by content filters."),
    p(EXEMPT_FROM_BLACKLIST_WHITELIST, Exemption, "Messages are not checked against word blacklists and URL whitelists."),
    p(EXEMPT_FROM_REPETITION_CHECK, Exemption, "Messages are not checked for repetition (flood)."),
];

/// The catalogue entry named `name`.
pub fn lookup(name: &str) -> Option<&'static PermissionInfo> {
    CATALOGUE.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_upper_snake_case() {
        let mut seen = HashSet::new();
        for entry in CATALOGUE {
            assert!(seen.insert(entry.name), "{} listed twice", entry.name);
            assert!(
                entry
                    .name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_'),
                "{}",
                entry.name
            );
            assert!(!entry.description.is_empty());
        }
    }

    #[test]
    fn every_permission_of_the_spec_is_in_the_catalogue() {
        // The seed's catalogue table, group by group.
        let spec: &[(PermissionGroup, &str)] = &[
            (
                Channel,
                "MUTE_CHANNEL, CLOSE_CHANNEL, EDIT_CHANNEL, EDIT_CHANNEL_RATELIMIT, EDIT_MESSAGE, DELETE_MESSAGE, BAN_CHANNEL_USER, MUTE_CHANNEL_USER, ADD_CHANNEL_USER, REMOVE_CHANNEL_USER, EDIT_CHANNEL_USER",
            ),
            (User, "BAN_USER, EDIT_USER, ASSIGN_USER_ROLE"),
            (
                UserFeed,
                "EDIT_USER_FEED_POST, DELETE_USER_FEED_POST, EDIT_USER_FEED_COMMENT, DELETE_USER_FEED_COMMENT",
            ),
            (
                Community,
                "ADD_COMMUNITY_USER, REMOVE_COMMUNITY_USER, EDIT_COMMUNITY_USER, BAN_COMMUNITY_USER, MUTE_COMMUNITY_USER, EDIT_COMMUNITY, DELETE_COMMUNITY, EDIT_COMMUNITY_POST, DELETE_COMMUNITY_POST, EDIT_COMMUNITY_COMMENT, DELETE_COMMUNITY_COMMENT, REVIEW_COMMUNITY_POST, MANAGE_COMMUNITY_STORY",
            ),
            (
                CommunityCategory,
                "CREATE_COMMUNITY_CATEGORY, EDIT_COMMUNITY_CATEGORY, DELETE_COMMUNITY_CATEGORY",
            ),
            (Network, "CREATE_ROLE, EDIT_ROLE, DELETE_ROLE"),
            (Notification, "MANAGE_NOTIFICATION_NETWORK_SETTING"),
        ];
        for (group, list) in spec {
            for name in list.split(", ") {
                let entry = lookup(name).unwrap_or_else(|| panic!("{name} missing"));
                assert_eq!(entry.group, *group, "{name}");
            }
        }
    }
}
