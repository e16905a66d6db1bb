//! The tower layer that authenticates every call, and the helpers handlers
//! use to read who is calling.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use tonic::{Request, Status};

use crate::error::Error;

use super::{Actor, TokenKeys};

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

/// The caller of a public method, when it sent a (valid) token.
pub fn optional_actor<T>(request: &Request<T>) -> Option<Actor> {
    request.extensions().get::<Actor>().cloned()
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

/// A set of full method paths (e.g. `/roster.v1.UserService/Login`).
#[derive(Clone, Default)]
pub struct MethodSet(Arc<Vec<String>>);

impl MethodSet {
    pub fn new(paths: impl IntoIterator<Item = String>) -> Self {
        Self(Arc::new(paths.into_iter().collect()))
    }

    fn contains(&self, path: &str) -> bool {
        self.0.iter().any(|p| p == path)
    }
}

/// Methods callable without a token: health, reflection, and the ones a
/// service declares public (e.g. `Login`). A valid token sent to a public
/// method still names its caller (see [`optional_actor`]); an invalid one is
/// ignored there, as if none had been sent.
fn is_public(public: &MethodSet, path: &str) -> bool {
    path.starts_with("/grpc.health.v1.")
        || path.starts_with("/grpc.reflection.")
        || public.contains(path)
}

/// Tower layer: verifies `authorization: Bearer <token>` and puts the [`Actor`]
/// into the request extensions; refuses with `UNAUTHENTICATED` otherwise. A
/// service token is accepted only for the methods services call (`service_methods`).
#[derive(Clone)]
pub struct AuthLayer {
    keys: Arc<TokenKeys>,
    public: MethodSet,
    service_methods: MethodSet,
    session_check: Option<Arc<dyn SessionCheck>>,
}

impl AuthLayer {
    pub fn new(
        keys: Arc<TokenKeys>,
        public: MethodSet,
        service_methods: MethodSet,
        session_check: Option<Arc<dyn SessionCheck>>,
    ) -> Self {
        Self {
            keys,
            public,
            service_methods,
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
            let path = request.uri().path();
            if is_public(&layer.public, path) {
                if request.headers().contains_key(http::header::AUTHORIZATION)
                    && let Ok(actor) = authenticate(&layer, request.headers(), path).await
                {
                    request.extensions_mut().insert(actor);
                }
                return inner.call(request).await;
            }
            match authenticate(&layer, request.headers(), path).await {
                Ok(actor) => {
                    tracing::Span::current().record("actor", tracing::field::display(&actor));
                    let origin = crate::origin::Origin::of_request(&actor, request.headers());
                    request.extensions_mut().insert(actor);
                    crate::origin::scope(origin, inner.call(request)).await
                }
                Err(err) => Ok(Status::from(err).into_http()),
            }
        })
    }
}

async fn authenticate(
    layer: &AuthLayer,
    headers: &http::HeaderMap,
    path: &str,
) -> Result<Actor, Error> {
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
    if let Actor::Service { name } = &actor
        && !layer.service_methods.contains(path)
    {
        return Err(Error::permission_denied(format!(
            "service {name} may not call {path}: service tokens are accepted only for the calls services make"
        )));
    }
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
