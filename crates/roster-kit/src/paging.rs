//! Opaque page tokens: a protobuf message, base64url-encoded, bound to the
//! query that produced it by a fingerprint so a token cannot be replayed
//! against a different query.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{Error, ErrorKind};

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

/// `0` means the default; above the maximum is invalid input.
pub fn page_size(requested: u32, field: &str) -> Result<u64, Error> {
    match requested {
        0 => Ok(u64::from(DEFAULT_PAGE_SIZE)),
        n if n <= MAX_PAGE_SIZE => Ok(u64::from(n)),
        _ => Err(Error::invalid_field(
            field,
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        )),
    }
}

pub fn encode<M: prost::Message>(position: &M) -> String {
    URL_SAFE_NO_PAD.encode(position.encode_to_vec())
}

/// Decodes a token made by [`encode`]; an empty token means "first page".
pub fn decode<M: prost::Message + Default>(token: &str, field: &str) -> Result<Option<M>, Error> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        let mut err = Error::invalid_field(field, "is not a token returned by this call");
        err.reason = "PAGE_TOKEN_INVALID";
        debug_assert_eq!(err.kind, ErrorKind::InvalidArgument);
        err
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    M::decode(bytes.as_slice()).map(Some).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Position {
        #[prost(string, tag = "1")]
        key: String,
        #[prost(int64, tag = "2")]
        id: i64,
    }

    #[test]
    fn tokens_round_trip() {
        let position = Position {
            key: "aA".into(),
            id: 9,
        };
        let token = encode(&position);
        assert_eq!(
            decode::<Position>(&token, "page_token").ok().flatten(),
            Some(position)
        );
    }

    #[test]
    fn garbage_tokens_are_invalid_input() {
        let err = decode::<Position>("not base64!", "page_token").err();
        assert_eq!(err.map(|e| e.reason), Some("PAGE_TOKEN_INVALID"));
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(0, "page_size").ok(), Some(20));
        assert_eq!(page_size(100, "page_size").ok(), Some(100));
        assert!(page_size(101, "page_size").is_err());
    }
}
