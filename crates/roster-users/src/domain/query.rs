//! Listing and searching users: the query, its filters, and the keyset
//! position behind page tokens.
//!
//! With a keyword, results come in two phases: exact matches first (display
//! names equal to the keyword ignoring case and accents), then the other names
//! starting with it (see [`super::collation`]), each phase in the requested
//! order. A position records the phase, so paging walks straight from one into
//! the next.

use roster_kit::{Error, paging};
use sha2::{Digest, Sha256};

use super::UserType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    /// Alphabetical by display name (the collation's order: letters, then
    /// accents, then lower case before upper case), ties on id.
    DisplayName,
    FirstCreated,
    LastCreated,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    pub user_type: Option<UserType>,
    pub is_guest: Option<bool>,
    pub is_deleted: Option<bool>,
    pub is_global_banned: Option<bool>,
    pub is_flagged: Option<bool>,
}

/// Which slice of the keyword matches a store query returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No keyword: every user passing the filter.
    All,
    /// Display name equal to the keyword, ignoring case and accents.
    Exact,
    /// Display name starting with the keyword, ignoring case and accents, but
    /// not equal to it.
    Prefix,
}

impl Phase {
    fn code(self) -> u32 {
        match self {
            Phase::All => 0,
            Phase::Exact => 1,
            Phase::Prefix => 2,
        }
    }

    fn from_code(code: u32) -> Option<Self> {
        match code {
            0 => Some(Phase::All),
            1 => Some(Phase::Exact),
            2 => Some(Phase::Prefix),
            _ => None,
        }
    }
}

/// Where the previous page ended: the last row's phase and sort position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub phase: Phase,
    pub sort_key: String,
    pub id: i64,
}

/// Whether `key` is shaped like a stored sort key (lowercase hex).
fn is_sort_key(key: &str) -> bool {
    key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[derive(Clone, PartialEq, prost::Message)]
struct PageToken {
    #[prost(uint32, tag = "1")]
    phase: u32,
    #[prost(string, tag = "2")]
    sort_key: String,
    #[prost(int64, tag = "3")]
    id: i64,
    #[prost(bytes = "vec", tag = "4")]
    fingerprint: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct UserQuery {
    /// The keyword in NFC, as typed.
    pub keyword: Option<String>,
    pub sort: UserSort,
    pub filter: UserFilter,
    pub limit: u64,
    pub after: Option<Position>,
}

impl UserQuery {
    pub fn phases(&self) -> &'static [Phase] {
        if self.keyword.is_some() {
            &[Phase::Exact, Phase::Prefix]
        } else {
            &[Phase::All]
        }
    }

    /// Binds a page token to the query's shape, so a token from another query is refused.
    fn fingerprint(&self) -> Vec<u8> {
        let shape = format!("{:?}|{:?}|{:?}", self.keyword, self.sort, self.filter);
        Sha256::digest(shape.as_bytes())[..8].to_vec()
    }

    pub fn resume_from(&mut self, token: &str, field: &str) -> Result<(), Error> {
        let Some(decoded) = paging::decode::<PageToken>(token, field)? else {
            return Ok(());
        };
        let phase = Phase::from_code(decoded.phase)
            .filter(|phase| self.phases().contains(phase))
            .filter(|_| decoded.fingerprint == self.fingerprint())
            // A sort key is lowercase hex: nothing else from a token reaches
            // the search's SQL, whose values travel inside its text.
            .filter(|_| is_sort_key(&decoded.sort_key));
        let Some(phase) = phase else {
            let mut err = Error::invalid_field(field, "belongs to a different query");
            err.reason = "PAGE_TOKEN_INVALID";
            return Err(err);
        };
        self.after = Some(Position {
            phase,
            sort_key: decoded.sort_key,
            id: decoded.id,
        });
        Ok(())
    }

    /// The token of the page after the row at `sort_key` and `id`.
    pub fn page_token_after(&self, phase: Phase, sort_key: String, id: i64) -> String {
        paging::encode(&PageToken {
            phase: phase.code(),
            sort_key,
            id,
            fingerprint: self.fingerprint(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> UserQuery {
        UserQuery {
            keyword: None,
            sort: UserSort::DisplayName,
            filter: UserFilter::default(),
            limit: 20,
            after: None,
        }
    }

    #[test]
    fn a_page_token_resumes_only_from_a_sort_key() {
        let mut resumed = query();
        let token = query().page_token_after(Phase::All, "3f2b01".into(), 7);
        assert!(resumed.resume_from(&token, "page_token").is_ok());
        assert_eq!(
            resumed.after.map(|p| (p.sort_key, p.id)),
            Some(("3f2b01".into(), 7))
        );

        for forged in ["3f' OR '1'='1", "3F2B", "3f\\", "3f2b\n"] {
            let token = query().page_token_after(Phase::All, forged.into(), 7);
            let refused = query().resume_from(&token, "page_token").err();
            assert_eq!(
                refused.map(|e| e.reason),
                Some("PAGE_TOKEN_INVALID"),
                "{forged:?}"
            );
        }
    }
}
