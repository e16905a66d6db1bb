//! Download links: short-lived signed tokens (the chassis' file-link tokens,
//! signed with the service keys) that let their bearer read one file. Whoever
//! may decide who reads a file mints them; see [`access::may_create_link`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use roster_kit::{Actor, Error, Result};

use super::{
    Files,
    access::{self, LinkCheck},
    types::FileId,
};

/// How long a link works when the request does not say.
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(300);
/// The longest a link may work: one day.
pub const MAX_LINK_TTL: Duration = Duration::from_secs(86_400);

/// How long a new link works, within [`MAX_LINK_TTL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkTtl(Duration);

impl LinkTtl {
    /// `0` means [`DEFAULT_LINK_TTL`]; more than [`MAX_LINK_TTL`] is invalid
    /// input naming `field`.
    pub fn parse(seconds: u32, field: &str) -> Result<Self> {
        let ttl = Duration::from_secs(u64::from(seconds));
        if seconds == 0 {
            Ok(Self(DEFAULT_LINK_TTL))
        } else if ttl <= MAX_LINK_TTL {
            Ok(Self(ttl))
        } else {
            Err(Error::invalid_field(
                field,
                format!(
                    "must be between 1 and {} seconds (0 means {})",
                    MAX_LINK_TTL.as_secs(),
                    DEFAULT_LINK_TTL.as_secs()
                ),
            ))
        }
    }

    pub fn duration(self) -> Duration {
        self.0
    }
}

/// A signed link to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadLink {
    pub file_id: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl Files {
    /// Mints a link to file `id` for a caller who may hand it out.
    #[tracing::instrument(skip_all, fields(file_id = %id, actor = %actor, ttl_secs = ttl.0.as_secs()))]
    pub async fn create_download_link(
        &self,
        actor: &Actor,
        id: &FileId,
        ttl: LinkTtl,
    ) -> Result<DownloadLink> {
        let record = self.find(id).await?;
        access::may_create_link(actor, &record)?;
        let issued = self.keys.issue_file_link(&record.id, ttl.0)?;
        Ok(DownloadLink {
            file_id: record.id,
            token: issued.token,
            expires_at: issued.expires_at,
        })
    }

    /// What a presented link grants. Checked before the file is looked up, so
    /// the answer cannot depend on what exists.
    pub(crate) fn check_link(&self, token: Option<&str>) -> LinkCheck {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return LinkCheck::Absent;
        };
        match self.keys.verify_file_link(token) {
            Ok(file_id) => LinkCheck::Grants(file_id),
            Err(err) if err.reason == "TOKEN_EXPIRED" => LinkCheck::Invalid("it has expired"),
            Err(_) => LinkCheck::Invalid("it is malformed or not signed by this deployment"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ttls_default_and_stop_at_a_day() {
        assert_eq!(
            LinkTtl::parse(0, "ttl_seconds").ok(),
            Some(LinkTtl(DEFAULT_LINK_TTL))
        );
        assert_eq!(
            LinkTtl::parse(86_400, "ttl_seconds").ok(),
            Some(LinkTtl(MAX_LINK_TTL))
        );
        let err = LinkTtl::parse(86_401, "ttl_seconds").err();
        assert_eq!(
            err.map(|e| e.violations[0].field.clone()).as_deref(),
            Some("ttl_seconds")
        );
    }

    proptest! {
        #[test]
        fn any_ttl_is_within_bounds_or_invalid_input(seconds in any::<u32>()) {
            match LinkTtl::parse(seconds, "ttl_seconds") {
                Ok(ttl) => {
                    prop_assert!(ttl.duration() >= Duration::from_secs(1));
                    prop_assert!(ttl.duration() <= MAX_LINK_TTL);
                }
                Err(err) => {
                    prop_assert!(u64::from(seconds) > MAX_LINK_TTL.as_secs());
                    prop_assert_eq!(err.reason, "INVALID_FIELD");
                }
            }
        }
    }
}
