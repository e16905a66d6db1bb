//! The default matrix and the built-in roles it defines.
//!
//! [`MATRIX`] is the one place that maps each capability row of the spec's
//! default matrix (spec/permissions.md) onto catalogue permissions, and says
//! which built-in roles hold the row. The built-in roles' permission sets are
//! derived from it and nowhere else. Rows the matrix does not have but the role
//! descriptions imply are marked [`RowSource::RoleDescription`].

use std::{collections::BTreeSet, sync::LazyLock};

use super::catalogue::{CATALOGUE, names::*};

/// Where a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowSource {
    /// A row of the spec's default matrix, labelled as there.
    Matrix,
    /// Implied by the spec's description of the default roles.
    RoleDescription,
}

/// Which built-in moderator roles hold a row (member holds none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holders {
    pub global_admin: bool,
    pub super_moderator: bool,
    pub community_moderator: bool,
    pub channel_moderator: bool,
}

/// One capability row.
#[derive(Debug, Clone, Copy)]
pub struct MatrixRow {
    pub capability: &'static str,
    pub source: RowSource,
    pub holders: Holders,
    pub permissions: &'static [&'static str],
}

const fn row(
    capability: &'static str,
    [
        global_admin,
        super_moderator,
        community_moderator,
        channel_moderator,
    ]: [bool; 4],
    permissions: &'static [&'static str],
) -> MatrixRow {
    MatrixRow {
        capability,
        source: RowSource::Matrix,
        holders: Holders {
            global_admin,
            super_moderator,
            community_moderator,
            channel_moderator,
        },
        permissions,
    }
}

const fn implied(
    capability: &'static str,
    holders: [bool; 4],
    permissions: &'static [&'static str],
) -> MatrixRow {
    let mut r = row(capability, holders, permissions);
    r.source = RowSource::RoleDescription;
    r
}

const Y: bool = true;
const N: bool = false;

/// Columns: Global Admin, Super Moderator, Community Moderator, Channel Moderator.
#[rustfmt::skip]
pub const MATRIX: &[MatrixRow] = &[
    row("Console access", [Y, Y, N, N], &[CONSOLE_ACCESS]),
    row("Create, edit & delete roles", [Y, Y, Y, Y], &[CREATE_ROLE, EDIT_ROLE, DELETE_ROLE]),
    row("Ban & edit user", [Y, N, N, N], &[BAN_USER, EDIT_USER, ASSIGN_USER_ROLE]),
    row("Exempt from filters", [Y, Y, N, N], &[EXEMPT_FROM_FILTERS]),
    row("Exempt from rate limits", [Y, Y, N, N], &[EXEMPT_FROM_RATE_LIMITS]),
    row("Exempt from mute", [Y, Y, N, N], &[EXEMPT_FROM_MUTE]),
    row("Exempt from ban", [Y, Y, N, N], &[EXEMPT_FROM_BAN]),
    row("Exempt from blacklist & whitelist", [Y, Y, N, N], &[EXEMPT_FROM_BLACKLIST_WHITELIST]),
    row("Exempt from repetition check", [Y, Y, N, N], &[EXEMPT_FROM_REPETITION_CHECK]),
    row(
        "Edit, ban, add, remove & mute channel user",
        [Y, Y, N, Y],
        &[EDIT_CHANNEL_USER, BAN_CHANNEL_USER, ADD_CHANNEL_USER, REMOVE_CHANNEL_USER, MUTE_CHANNEL_USER],
    ),
    row("Edit & mute channel", [Y, Y, N, Y], &[EDIT_CHANNEL, MUTE_CHANNEL]),
    row("Edit & delete message", [Y, Y, N, Y], &[EDIT_MESSAGE, DELETE_MESSAGE]),
    row("Edit channel rate limit", [Y, N, N, N], &[EDIT_CHANNEL_RATELIMIT]),
    row(
        "Ban, mute, rate limit & manage users",
        [Y, Y, N, Y],
        &[BAN_CHANNEL_USER, MUTE_CHANNEL_USER, RATE_LIMIT_CHANNEL_USER, EDIT_CHANNEL_USER],
    ),
    row("Mute channels", [Y, Y, N, Y], &[MUTE_CHANNEL]),
    row("Rate limit channels", [Y, Y, N, Y], &[RATE_LIMIT_CHANNEL]),
    row("Manage messages", [Y, Y, N, Y], &[EDIT_MESSAGE, DELETE_MESSAGE]),
    row("Global access", [Y, Y, N, N], &[GLOBAL_ACCESS]),
    row(
        "Create, delete & edit community categories",
        [Y, Y, Y, N],
        &[CREATE_COMMUNITY_CATEGORY, DELETE_COMMUNITY_CATEGORY, EDIT_COMMUNITY_CATEGORY],
    ),
    row("Edit & delete communities", [Y, Y, Y, N], &[EDIT_COMMUNITY, DELETE_COMMUNITY]),
    row(
        "Edit, add, ban & remove community users",
        [Y, Y, Y, N],
        &[EDIT_COMMUNITY_USER, ADD_COMMUNITY_USER, BAN_COMMUNITY_USER, REMOVE_COMMUNITY_USER],
    ),
    row(
        "Edit, delete & review community posts",
        [Y, Y, Y, N],
        &[EDIT_COMMUNITY_POST, DELETE_COMMUNITY_POST, REVIEW_COMMUNITY_POST],
    ),
    row("Edit & delete community comments", [Y, Y, Y, N], &[EDIT_COMMUNITY_COMMENT, DELETE_COMMUNITY_COMMENT]),
    // Managing a community's members includes muting them, which no other row names.
    row("Manage community", [Y, Y, Y, N], &[EDIT_COMMUNITY, MUTE_COMMUNITY_USER]),
    row("Manage community stories", [Y, Y, Y, N], &[MANAGE_COMMUNITY_STORY]),
    row("Edit & delete user feed post", [Y, Y, Y, N], &[EDIT_USER_FEED_POST, DELETE_USER_FEED_POST]),
    row("Edit & delete user feed comment", [Y, Y, Y, N], &[EDIT_USER_FEED_COMMENT, DELETE_USER_FEED_COMMENT]),
    row(
        "Manage posts & comments",
        [Y, Y, Y, N],
        &[
            EDIT_COMMUNITY_POST,
            DELETE_COMMUNITY_POST,
            EDIT_COMMUNITY_COMMENT,
            DELETE_COMMUNITY_COMMENT,
            EDIT_USER_FEED_POST,
            DELETE_USER_FEED_POST,
            EDIT_USER_FEED_COMMENT,
            DELETE_USER_FEED_COMMENT,
        ],
    ),
    row("Manage network settings", [Y, Y, Y, Y], &[MANAGE_NOTIFICATION_NETWORK_SETTING]),
    // "Super Moderator — … exempt from moderation by others"; "Global Admin — … exempt from moderation".
    implied("Exempt from moderation by others", [Y, Y, N, N], &[EXEMPT_FROM_MODERATION]),
    // "Global Admin — … all moderation privileges": the one catalogue permission no matrix row names.
    implied("All moderation privileges: close channels", [Y, N, N, N], &[CLOSE_CHANNEL]),
];

/// The built-in roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltInRole {
    Member,
    ChannelModerator,
    CommunityModerator,
    SuperModerator,
    GlobalAdmin,
}

impl BuiltInRole {
    pub const ALL: [BuiltInRole; 5] = [
        BuiltInRole::Member,
        BuiltInRole::ChannelModerator,
        BuiltInRole::CommunityModerator,
        BuiltInRole::SuperModerator,
        BuiltInRole::GlobalAdmin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BuiltInRole::Member => "member",
            BuiltInRole::ChannelModerator => "channel-moderator",
            BuiltInRole::CommunityModerator => "community-moderator",
            BuiltInRole::SuperModerator => "super-moderator",
            BuiltInRole::GlobalAdmin => "global-admin",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    pub fn description(self) -> &'static str {
        match self {
            BuiltInRole::Member => {
                "Every user; no moderation privileges. Held implicitly, never granted."
            }
            BuiltInRole::ChannelModerator => {
                "General channel moderation privileges; usually granted in one channel."
            }
            BuiltInRole::CommunityModerator => {
                "General community moderation privileges; usually granted in one community."
            }
            BuiltInRole::SuperModerator => {
                "General moderation privileges everywhere; exempt from moderation by others."
            }
            BuiltInRole::GlobalAdmin => {
                "Assigns roles of others, holds all moderation privileges, exempt from moderation. \
                 Cannot be granted through the API; bootstrapped by the operator."
            }
        }
    }

    /// Whether GrantRole may grant it: `member` is implicit, `global-admin` is bootstrap-only.
    pub fn assignable(self) -> bool {
        !matches!(self, BuiltInRole::Member | BuiltInRole::GlobalAdmin)
    }

    fn holds(self, holders: &Holders) -> bool {
        match self {
            BuiltInRole::Member => false,
            BuiltInRole::ChannelModerator => holders.channel_moderator,
            BuiltInRole::CommunityModerator => holders.community_moderator,
            BuiltInRole::SuperModerator => holders.super_moderator,
            BuiltInRole::GlobalAdmin => holders.global_admin,
        }
    }

    /// The role's permissions: the union of the matrix rows it holds.
    pub fn permissions(self) -> &'static BTreeSet<&'static str> {
        static SETS: LazyLock<Vec<BTreeSet<&'static str>>> = LazyLock::new(|| {
            BuiltInRole::ALL
                .iter()
                .map(|role| {
                    MATRIX
                        .iter()
                        .filter(|r| role.holds(&r.holders))
                        .flat_map(|r| r.permissions.iter().copied())
                        .collect()
                })
                .collect()
        });
        static EMPTY: BTreeSet<&'static str> = BTreeSet::new();
        let index = Self::ALL.iter().position(|r| *r == self).unwrap_or(0);
        SETS.get(index).unwrap_or(&EMPTY)
    }
}

/// The built-in roles holding `permission`, by name, sorted.
pub fn built_in_holders(permission: &str) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = BuiltInRole::ALL
        .into_iter()
        .filter(|r| r.permissions().contains(permission))
        .map(BuiltInRole::name)
        .collect();
    names.sort_unstable();
    names
}

/// Every catalogue name, for the global admin check below.
pub fn catalogue_names() -> BTreeSet<&'static str> {
    CATALOGUE.iter().map(|p| p.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::lookup;

    /// The spec's default matrix, verbatim (GA, SM, CoM, ChM).
    const SPEC_MATRIX: &str = "\
| Console access | ✓ | ✓ | – | – |
| Create, edit & delete roles | ✓ | ✓ | ✓ | ✓ |
| Ban & edit user | ✓ | – | – | – |
| Exempt from filters | ✓ | ✓ | – | – |
| Exempt from rate limits | ✓ | ✓ | – | – |
| Exempt from mute | ✓ | ✓ | – | – |
| Exempt from ban | ✓ | ✓ | – | – |
| Exempt from blacklist & whitelist | ✓ | ✓ | – | – |
| Exempt from repetition check | ✓ | ✓ | – | – |
| Edit, ban, add, remove & mute channel user | ✓ | ✓ | – | ✓ |
| Edit & mute channel | ✓ | ✓ | – | ✓ |
| Edit & delete message | ✓ | ✓ | – | ✓ |
| Edit channel rate limit | ✓ | – | – | – |
| Ban, mute, rate limit & manage users | ✓ | ✓ | – | ✓ |
| Mute channels | ✓ | ✓ | – | ✓ |
| Rate limit channels | ✓ | ✓ | – | ✓ |
| Manage messages | ✓ | ✓ | – | ✓ |
| Global access | ✓ | ✓ | – | – |
| Create, delete & edit community categories | ✓ | ✓ | ✓ | – |
| Edit & delete communities | ✓ | ✓ | ✓ | – |
| Edit, add, ban & remove community users | ✓ | ✓ | ✓ | – |
| Edit, delete & review community posts | ✓ | ✓ | ✓ | – |
| Edit & delete community comments | ✓ | ✓ | ✓ | – |
| Manage community | ✓ | ✓ | ✓ | – |
| Manage community stories | ✓ | ✓ | ✓ | – |
| Edit & delete user feed post | ✓ | ✓ | ✓ | – |
| Edit & delete user feed comment | ✓ | ✓ | ✓ | – |
| Manage posts & comments | ✓ | ✓ | ✓ | – |
| Manage network settings | ✓ | ✓ | ✓ | ✓ |
";

    const COLUMNS: [BuiltInRole; 4] = [
        BuiltInRole::GlobalAdmin,
        BuiltInRole::SuperModerator,
        BuiltInRole::CommunityModerator,
        BuiltInRole::ChannelModerator,
    ];

    fn spec_rows() -> Vec<(String, [bool; 4])> {
        SPEC_MATRIX
            .lines()
            .map(|line| {
                let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
                assert_eq!(cells.len(), 5, "{line}");
                let ticks = [1, 2, 3, 4].map(|i| match cells[i] {
                    "✓" => true,
                    "–" => false,
                    other => panic!("unexpected cell {other:?}"),
                });
                (cells[0].to_owned(), ticks)
            })
            .collect()
    }

    #[test]
    fn the_table_has_every_spec_row_once_with_the_spec_columns() {
        let spec = spec_rows();
        let ours: Vec<&MatrixRow> = MATRIX
            .iter()
            .filter(|r| r.source == RowSource::Matrix)
            .collect();
        assert_eq!(ours.len(), spec.len());
        for ((label, ticks), row) in spec.iter().zip(ours) {
            assert_eq!(row.capability, label);
            let h = row.holders;
            assert_eq!(
                [
                    h.global_admin,
                    h.super_moderator,
                    h.community_moderator,
                    h.channel_moderator
                ],
                *ticks,
                "{label}"
            );
        }
    }

    #[test]
    fn default_matrix_row_by_row() {
        for (label, ticks) in spec_rows() {
            let row = MATRIX
                .iter()
                .find(|r| r.capability == label)
                .unwrap_or_else(|| panic!("row {label} not mapped"));
            assert!(!row.permissions.is_empty(), "{label} maps to nothing");
            for (role, ticked) in COLUMNS.iter().zip(ticks) {
                for permission in row.permissions {
                    assert_eq!(
                        role.permissions().contains(permission),
                        ticked,
                        "row {label:?}: {} / {permission}",
                        role.name()
                    );
                }
            }
            for permission in row.permissions {
                assert!(!BuiltInRole::Member.permissions().contains(permission));
            }
        }
    }

    #[test]
    fn rows_name_only_catalogue_permissions_and_cover_the_catalogue() {
        let mut named = BTreeSet::new();
        for row in MATRIX {
            for permission in row.permissions {
                assert!(
                    lookup(permission).is_some(),
                    "{permission} is not in the catalogue"
                );
                named.insert(*permission);
            }
        }
        assert_eq!(named, catalogue_names());
    }

    #[test]
    fn role_descriptions_hold() {
        assert!(BuiltInRole::Member.permissions().is_empty());
        assert_eq!(*BuiltInRole::GlobalAdmin.permissions(), catalogue_names());
        for role in [BuiltInRole::SuperModerator, BuiltInRole::GlobalAdmin] {
            assert!(role.permissions().contains(EXEMPT_FROM_MODERATION));
        }
        for role in [
            BuiltInRole::ChannelModerator,
            BuiltInRole::CommunityModerator,
        ] {
            assert!(!role.permissions().contains(EXEMPT_FROM_MODERATION));
        }
        assert!(
            BuiltInRole::GlobalAdmin
                .permissions()
                .contains(ASSIGN_USER_ROLE)
        );
        assert!(!BuiltInRole::GlobalAdmin.assignable());
        assert!(!BuiltInRole::Member.assignable());
        assert_eq!(BuiltInRole::ChannelModerator.permissions().len(), 15);
        assert_eq!(BuiltInRole::CommunityModerator.permissions().len(), 24);
        assert_eq!(
            BuiltInRole::SuperModerator.permissions().len(),
            CATALOGUE.len() - 5
        );
    }
}
