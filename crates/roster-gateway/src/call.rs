//! What the gateway knows of the HTTP caller, and what it forwards of it to
//! every gRPC call it makes on the caller's behalf: the caller's own
//! `Authorization`, the request id, the W3C trace context and the
//! `Idempotency-Key` of a retried mutation. The services
//! authorise every call themselves; the gateway reads the token only to name
//! the caller (`me`, rate limits, event streams).

use std::{net::SocketAddr, sync::Arc};

use axum::extract::{ConnectInfo, FromRequestParts};
use http::{HeaderMap, request::Parts};
use roster_kit::{Actor, TokenKeys};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};

use crate::error::{ApiError, ApiResult};

/// Headers passed on to the services as gRPC metadata, under the same names.
const FORWARDED: &[&str] = &[
    "authorization",
    "x-request-id",
    "traceparent",
    "tracestate",
    "idempotency-key",
];

/// Who the bearer token says the caller is.
#[derive(Debug, Clone)]
pub enum Identity {
    /// No `Authorization` header.
    Anonymous,
    Verified(Actor),
    /// A token was sent but does not verify (malformed, expired, unknown key).
    Refused(ApiError),
}

impl Identity {
    pub fn from_headers(keys: &TokenKeys, headers: &HeaderMap) -> Self {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Self::Anonymous;
        };
        let token = value.to_str().ok().and_then(|header| {
            header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
        });
        let Some(token) = token else {
            return Self::Refused(ApiError::new(
                "TOKEN_INVALID",
                "authorization must be `Bearer <token>`",
            ));
        };
        match keys.verify(token.trim()) {
            Ok(actor) => Self::Verified(actor),
            Err(err) => Self::Refused(ApiError::new(err.reason, err.message)),
        }
    }

    pub fn actor(&self) -> Option<&Actor> {
        match self {
            Self::Verified(actor) => Some(actor),
            _ => None,
        }
    }

    /// The caller's own user id: what `me` stands for.
    pub fn me(&self) -> ApiResult<i64> {
        match self {
            Self::Verified(Actor::User { user_id, .. }) => Ok(*user_id),
            Self::Verified(actor) => Err(ApiError::invalid_field(
                "id",
                format!("`me` names the calling user, and {actor} is no user session"),
            )),
            Self::Refused(err) => Err(err.clone()),
            Self::Anonymous => Err(ApiError::new(
                "TOKEN_MISSING",
                "`me` needs `Authorization: Bearer <user session token>`",
            )),
        }
    }
}

/// Names callers from their tokens. `TokenKeys` remembers the tokens it
/// verified (until they expire or the keys change), so naming the caller of a
/// token already seen costs a lookup, not an Ed25519 verification.
pub struct Verifier {
    keys: Arc<TokenKeys>,
}

impl Verifier {
    pub fn new(keys: Arc<TokenKeys>) -> Self {
        Self { keys }
    }

    pub fn identify(&self, headers: &HeaderMap) -> Identity {
        Identity::from_headers(&self.keys, headers)
    }
}

/// The caller of one HTTP request: its identity and the metadata to forward.
#[derive(Debug, Clone)]
pub struct Call {
    pub identity: Identity,
    metadata: MetadataMap,
}

impl Call {
    /// A gRPC request carrying the caller's metadata.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        *request.metadata_mut() = self.metadata.clone();
        request
    }

    pub fn me(&self) -> ApiResult<i64> {
        self.identity.me()
    }
}

/// What names callers; the router's state provides it.
pub trait HasVerifier {
    fn verifier(&self) -> &Verifier;
}

impl<S> FromRequestParts<S> for Call
where
    S: HasVerifier + Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // The rate limiter has verified the token already when it runs.
        let identity = match parts.extensions.get::<Identity>() {
            Some(identity) => identity.clone(),
            None => state.verifier().identify(&parts.headers),
        };
        let mut metadata = MetadataMap::new();
        for name in FORWARDED {
            if let Some(value) = parts
                .headers
                .get(*name)
                .and_then(|v| AsciiMetadataValue::try_from(v.as_bytes()).ok())
            {
                metadata.insert(*name, value);
            }
        }
        if let Some(forwarded) = forwarded_for(parts)
            && let Ok(value) = AsciiMetadataValue::try_from(forwarded)
        {
            metadata.insert("x-forwarded-for", value);
        }
        Ok(Self { identity, metadata })
    }
}

/// `X-Forwarded-For` with the connecting client appended, so the services
/// (e.g. the login limits per client address) can see past the gateway.
fn forwarded_for(parts: &Parts) -> Option<String> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string());
    let earlier = parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    match (earlier, peer) {
        (Some(earlier), Some(peer)) => Some(format!("{earlier}, {peer}")),
        (Some(earlier), None) => Some(earlier.to_owned()),
        (None, peer) => peer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn me_is_the_user_of_a_session_and_nobody_else() {
        let keys = TokenKeys::generate("roster");
        let mut headers = HeaderMap::new();
        assert_eq!(
            Identity::from_headers(&keys, &headers)
                .me()
                .err()
                .map(|e| e.reason),
            Some("TOKEN_MISSING".into())
        );
        let user = keys
            .issue_user(42, 0, Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{e}"))
            .token;
        headers.insert(
            "authorization",
            format!("Bearer {user}")
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(Identity::from_headers(&keys, &headers).me().ok(), Some(42));
        let admin = keys
            .issue_admin("ops", Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{e}"))
            .token;
        headers.insert(
            "authorization",
            format!("Bearer {admin}")
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(
            Identity::from_headers(&keys, &headers)
                .me()
                .err()
                .map(|e| e.reason),
            Some("INVALID_FIELD".into())
        );
        headers.insert(
            "authorization",
            "Bearer nonsense".parse().unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(
            Identity::from_headers(&keys, &headers)
                .me()
                .err()
                .map(|e| e.reason),
            Some("TOKEN_INVALID".into())
        );
    }
}
