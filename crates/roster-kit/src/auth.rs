//! Caller identity: signed bearer tokens, the typed [`Actor`] handlers receive,
//! and the tower layer that authenticates every call.

use std::{
    fmt,
    path::Path,
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use tonic::{Request, Status};

use crate::{config::AuthSettings, error::Error};

/// Who is calling. Handlers receive it from [`actor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A platform/admin client: may do everything.
    Admin { client: String },
    /// A user session. `generation` is the user's token generation when the
    /// token was issued; revoking a user's tokens bumps it.
    User { user_id: i64, generation: i64 },
    /// One of Roster's own services calling another.
    Service { name: String },
}

impl Actor {
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Actor::User { user_id, .. } => Some(*user_id),
            _ => None,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Admin { client } => write!(f, "admin:{client}"),
            Actor::User { user_id, .. } => write!(f, "user:{user_id}"),
            Actor::Service { name } => write!(f, "service:{name}"),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum TokenKind {
    Admin,
    User,
    Service,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    kind: TokenKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generation: Option<i64>,
    iat: i64,
    exp: i64,
}

/// A token ready to hand out.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Signs and verifies Roster tokens (JWT, HS256).
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

const MIN_KEY_BYTES: usize = 32;

impl TokenKeys {
    pub fn new(secret: &[u8], issuer: &str) -> Result<Self, Error> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(Error::invalid_field(
                "auth.signing_key",
                format!("must be at least {MIN_KEY_BYTES} bytes"),
            ));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
        })
    }

    /// Keys from `auth.signing_key`, or from `<data_dir>/signing.key`, created with a
    /// random key on first use so the embedded mode needs no setup.
    pub fn from_settings(settings: &AuthSettings, data_dir: &Path) -> Result<Self, Error> {
        if let Some(key) = &settings.signing_key {
            return Self::new(key.expose().as_bytes(), &settings.issuer);
        }
        let path = data_dir.join("signing.key");
        let key = match std::fs::read_to_string(&path) {
            Ok(existing) => existing.trim().to_owned(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(Error::internal)?;
                let fresh = hex::encode(rand::random::<[u8; 32]>());
                write_private_file(&path, &fresh).map_err(Error::internal)?;
                fresh
            }
            Err(err) => return Err(Error::internal(err)),
        };
        Self::new(key.as_bytes(), &settings.issuer)
    }

    pub fn issue_admin(
        &self,
        client: &str,
        ttl: std::time::Duration,
    ) -> Result<IssuedToken, Error> {
        self.issue(TokenKind::Admin, client.to_owned(), None, ttl)
    }

    pub fn issue_user(
        &self,
        user_id: i64,
        generation: i64,
        ttl: std::time::Duration,
    ) -> Result<IssuedToken, Error> {
        self.issue(TokenKind::User, user_id.to_string(), Some(generation), ttl)
    }

    pub fn issue_service(
        &self,
        name: &str,
        ttl: std::time::Duration,
    ) -> Result<IssuedToken, Error> {
        self.issue(TokenKind::Service, name.to_owned(), None, ttl)
    }

    fn issue(
        &self,
        kind: TokenKind,
        sub: String,
        generation: Option<i64>,
        ttl: std::time::Duration,
    ) -> Result<IssuedToken, Error> {
        let now = chrono::Utc::now();
        let ttl = chrono::Duration::from_std(ttl).map_err(Error::internal)?;
        let expires_at = now + ttl;
        let claims = Claims {
            iss: self.issuer.clone(),
            sub,
            kind,
            generation,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(Error::internal)?;
        Ok(IssuedToken { token, expires_at })
    }

    /// Verifies signature, issuer and expiry, and returns the caller.
    pub fn verify(&self, token: &str) -> Result<Actor, Error> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => {
                    Error::unauthenticated("TOKEN_EXPIRED", "the token has expired")
                }
                _ => Error::unauthenticated("TOKEN_INVALID", "the token is not valid"),
            })?;
        let claims = data.claims;
        let invalid = || Error::unauthenticated("TOKEN_INVALID", "the token is not valid");
        Ok(match claims.kind {
            TokenKind::Admin => Actor::Admin { client: claims.sub },
            TokenKind::Service => Actor::Service { name: claims.sub },
            TokenKind::User => Actor::User {
                user_id: claims.sub.parse().map_err(|_| invalid())?,
                generation: claims.generation.ok_or_else(invalid)?,
            },
        })
    }
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// The error for a user session that no longer counts, by its reason:
/// `USER_BANNED` (PERMISSION_DENIED), anything else `TOKEN_REVOKED`
/// (UNAUTHENTICATED).
pub fn session_refused(reason: &str) -> Error {
    if reason == "USER_BANNED" {
        Error::new(
            crate::error::ErrorKind::PermissionDenied,
            "USER_BANNED",
            "this user is banned from the network",
        )
    } else {
        Error::unauthenticated("TOKEN_REVOKED", "this session has been revoked")
    }
}

/// Decides whether a verified session is still valid, e.g. not revoked.
/// The user service provides one backed by its own table.
pub trait SessionCheck: Send + Sync + 'static {
    fn check<'a>(&'a self, actor: &'a Actor) -> BoxFuture<'a, Result<(), Error>>;
}

/// The caller of the current request; the auth layer guarantees one on every
/// non-public method.
pub fn actor<T>(request: &Request<T>) -> Result<Actor, Status> {
    request
        .extensions()
        .get::<Actor>()
        .cloned()
        .ok_or_else(|| Error::unauthenticated("TOKEN_MISSING", "no caller identity").into())
}

/// Methods callable without a token: health, reflection, and the ones a
/// service declares public (e.g. `Login`).
#[derive(Clone, Default)]
pub struct PublicMethods(Arc<Vec<String>>);

impl PublicMethods {
    pub fn new(paths: impl IntoIterator<Item = String>) -> Self {
        Self(Arc::new(paths.into_iter().collect()))
    }

    fn contains(&self, path: &str) -> bool {
        path.starts_with("/grpc.health.v1.")
            || path.starts_with("/grpc.reflection.")
            || self.0.iter().any(|p| p == path)
    }
}

/// Tower layer: verifies `authorization: Bearer <token>` and puts the [`Actor`]
/// into the request extensions; refuses with `UNAUTHENTICATED` otherwise.
#[derive(Clone)]
pub struct AuthLayer {
    keys: Arc<TokenKeys>,
    public: PublicMethods,
    session_check: Option<Arc<dyn SessionCheck>>,
}

impl AuthLayer {
    pub fn new(
        keys: Arc<TokenKeys>,
        public: PublicMethods,
        session_check: Option<Arc<dyn SessionCheck>>,
    ) -> Self {
        Self {
            keys,
            public,
            session_check,
        }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone that was polled ready handles this request; the fresh clone
        // stays behind for the next one (tower's documented pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            if layer.public.contains(request.uri().path()) {
                return inner.call(request).await;
            }
            match authenticate(&layer, request.headers()).await {
                Ok(actor) => {
                    tracing::Span::current().record("actor", tracing::field::display(&actor));
                    request.extensions_mut().insert(actor);
                    inner.call(request).await
                }
                Err(err) => Ok(Status::from(err).into_http()),
            }
        })
    }
}

async fn authenticate(layer: &AuthLayer, headers: &http::HeaderMap) -> Result<Actor, Error> {
    let header = headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| {
            Error::unauthenticated(
                "TOKEN_MISSING",
                "missing `authorization: Bearer <token>` metadata",
            )
        })?
        .to_str()
        .map_err(|_| Error::unauthenticated("TOKEN_INVALID", "the token is not valid"))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(|| {
            Error::unauthenticated("TOKEN_INVALID", "authorization must be `Bearer <token>`")
        })?;
    let actor = layer.keys.verify(token.trim())?;
    if let Some(check) = &layer.session_check {
        check.check(&actor).await?;
    }
    Ok(actor)
}

/// Adds a bearer token (and the current trace context) to outgoing calls of a
/// gRPC client.
#[derive(Clone)]
pub struct BearerToken(tonic::metadata::AsciiMetadataValue);

impl BearerToken {
    pub fn new(token: &str) -> Result<Self, Error> {
        format!("Bearer {token}")
            .parse()
            .map(Self)
            .map_err(Error::internal)
    }
}

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        crate::telemetry::inject_trace_context(request.metadata_mut());
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn keys() -> TokenKeys {
        TokenKeys::new(&[7u8; 32], "roster-test").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn tokens_round_trip_for_each_kind() {
        let keys = keys();
        let hour = Duration::from_secs(3600);
        let admin = keys
            .issue_admin("ops", hour)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            keys.verify(&admin.token).ok(),
            Some(Actor::Admin {
                client: "ops".into()
            })
        );
        let user = keys
            .issue_user(42, 3, hour)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            keys.verify(&user.token).ok(),
            Some(Actor::User {
                user_id: 42,
                generation: 3
            })
        );
    }

    #[test]
    fn tokens_from_other_keys_or_issuers_are_refused() {
        let hour = Duration::from_secs(3600);
        let token = keys()
            .issue_admin("ops", hour)
            .unwrap_or_else(|e| panic!("{e}"));
        let other_key = TokenKeys::new(&[8u8; 32], "roster-test").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            other_key.verify(&token.token).err().map(|e| e.reason),
            Some("TOKEN_INVALID")
        );
        let other_issuer =
            TokenKeys::new(&[7u8; 32], "elsewhere").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            other_issuer.verify(&token.token).err().map(|e| e.reason),
            Some("TOKEN_INVALID")
        );
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(TokenKeys::new(b"short", "roster").is_err());
    }
}
