//! Page tokens: a keyset position bound to the query that produced it.
//!
//! Every listing here pages on a (key, id) pair in descending order; the token
//! carries that pair and a fingerprint of the listing and its filters, so a
//! token replayed against another listing or other filters is refused with
//! PAGE_TOKEN_INVALID rather than silently skipping rows. (roster-kit's paging
//! encodes and decodes; the fingerprint is ours until the kit has one.)

use roster_kit::{Error, Result, paging};

use crate::domain::reasons;

#[derive(Clone, PartialEq, prost::Message)]
struct Position {
    /// Fingerprint of the listing and its filters.
    #[prost(fixed64, tag = "1")]
    query: u64,
    #[prost(int64, tag = "2")]
    key: i64,
    #[prost(int64, tag = "3")]
    id: i64,
}

/// FNV-1a (64 bit) over the parts, each followed by a separator: stable across
/// builds and platforms, unlike `std`'s hasher.
pub fn fingerprint(parts: &[&str]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    parts
        .iter()
        .flat_map(|part| part.bytes().chain(std::iter::once(0x1f)))
        .fold(OFFSET, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        })
}

pub fn encode(query: u64, key: i64, id: i64) -> String {
    paging::encode(&Position { query, key, id })
}

/// The (key, id) a token resumes after; `None` for the first page.
pub fn decode(token: &str, query: u64) -> Result<Option<(i64, i64)>> {
    match paging::decode::<Position>(token, "page_token")? {
        None => Ok(None),
        Some(position) if position.query == query => Ok(Some((position.key, position.id))),
        Some(_) => {
            let mut err = Error::invalid_field("page_token", "belongs to another query");
            err.reason = reasons::PAGE_TOKEN_INVALID;
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_resume_their_own_query_only() {
        let flags_of_7 = fingerprint(&["flags", "7"]);
        let token = encode(flags_of_7, 1_700_000_000_000, 42);
        assert_eq!(
            decode(&token, flags_of_7).ok().flatten(),
            Some((1_700_000_000_000, 42))
        );
        let err = decode(&token, fingerprint(&["flags", "8"])).err();
        assert_eq!(err.map(|e| e.reason), Some("PAGE_TOKEN_INVALID"));
        assert_eq!(decode("", flags_of_7).ok(), Some(None));
    }

    #[test]
    fn fingerprints_separate_parts() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_eq!(
            fingerprint(&["bans", "ACTIVE"]),
            fingerprint(&["bans", "ACTIVE"])
        );
    }
}
