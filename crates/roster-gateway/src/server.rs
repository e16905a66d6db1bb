//! The HTTP server: the routes, the API document and page, and the tower
//! stack every request passes (outermost first): CORS, request id, tracing,
//! timeout, rate limits, body limit; then, on the API's routes, the caller's
//! credentials, as the services' own auth layer checks them.

use std::{collections::HashSet, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use http::{HeaderName, HeaderValue, Method, header};
use roster_kit::Error;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    app::App,
    call::{Identity, Verifier},
    console,
    error::ApiError,
    openapi,
    rate_limit::{self, RateLimits},
    routes,
    settings::GatewaySettings,
};

/// Where the API document and the API page are served.
pub const DOCUMENT_PATH: &str = "/openapi.json";
pub const PAGE_PATH: &str = "/docs";

/// The whole gateway as one axum router.
pub fn router(
    app: App,
    settings: &GatewaySettings,
    public_url: &str,
    limits: Option<Arc<RateLimits>>,
) -> Result<Router, Error> {
    let (api, document) = routes::api().split_for_parts();
    let credentials = Arc::new(Credentials {
        public: public_operations(&document),
        verifier: app.verifier.clone(),
    });
    let document = openapi::document(document, public_url);
    let mut router = api
        .route_layer(middleware::from_fn_with_state(
            credentials,
            require_credentials,
        ))
        .merge(SwaggerUi::new(PAGE_PATH).url(DOCUMENT_PATH, document))
        .route("/healthz", get(|| async { "ok" }))
        .merge(console::routes())
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
        .layer(DefaultBodyLimit::max(settings.max_body_bytes));
    if let Some(limits) = limits {
        router = router.layer(middleware::from_fn_with_state(limits, rate_limit::limit));
    }
    let timeout = Duration::from_millis(settings.request_timeout_ms.max(1));
    let router = router
        .layer(middleware::from_fn_with_state(timeout, deadline))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid));
    Ok(match cors(&settings.cors_allowed_origins)? {
        Some(cors) => router.layer(cors),
        None => router,
    })
}

/// What the services' auth layer would ask of a caller, asked first: a call
/// that carries no (valid) credential is refused as the service would refuse
/// it, before the gateway looks at its input, so that every route
/// authenticates before it validates. Which operations take no token is what
/// the document says (`security` allowing `{}`).
struct Credentials {
    public: HashSet<(Method, String)>,
    verifier: Arc<Verifier>,
}

fn public_operations(document: &utoipa::openapi::OpenApi) -> HashSet<(Method, String)> {
    let mut public = HashSet::new();
    for (path, item) in &document.paths.paths {
        let operations = [
            (Method::GET, &item.get),
            (Method::PUT, &item.put),
            (Method::POST, &item.post),
            (Method::DELETE, &item.delete),
            (Method::PATCH, &item.patch),
        ];
        for (method, operation) in operations {
            let anonymous = operation
                .as_ref()
                .and_then(|op| serde_json::to_value(&op.security).ok())
                .and_then(|security| security.as_array().cloned())
                .is_some_and(|options| {
                    options
                        .iter()
                        .any(|option| option.as_object().is_some_and(|o| o.is_empty()))
                });
            if anonymous {
                public.insert((method, path.clone()));
            }
        }
    }
    public
}

async fn require_credentials(
    State(credentials): State<Arc<Credentials>>,
    matched: MatchedPath,
    mut request: Request,
    next: Next,
) -> Response {
    let method = match request.method() {
        &Method::HEAD => Method::GET,
        other => other.clone(),
    };
    if credentials
        .public
        .contains(&(method, matched.as_str().to_owned()))
    {
        return next.run(request).await;
    }
    let identity = match request.extensions().get::<Identity>() {
        Some(identity) => identity.clone(),
        None => {
            let identity = credentials.verifier.identify(request.headers());
            request.extensions_mut().insert(identity.clone());
            identity
        }
    };
    match identity {
        Identity::Verified(_) => next.run(request).await,
        Identity::Refused(error) => error.into_response(),
        Identity::Anonymous => {
            ApiError::new("TOKEN_MISSING", "missing `Authorization: Bearer <token>`")
                .into_response()
        }
    }
}

async fn route_not_found(request: Request) -> ApiError {
    ApiError::new(
        "ROUTE_NOT_FOUND",
        format!(
            "no route {} {}; see /openapi.json",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        "METHOD_NOT_ALLOWED",
        format!(
            "{} does not answer {}",
            request.uri().path(),
            request.method()
        ),
    )
}

/// Answers 504 when the response has not started within `timeout`.
async fn deadline(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::new("DEADLINE_EXCEEDED", "the call did not finish in time").into_response()
        }
    }
}

/// The CORS layer of `origins` (`*` for any); none when the list is empty.
fn cors(origins: &[String]) -> Result<Option<CorsLayer>, Error> {
    if origins.is_empty() {
        return Ok(None);
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let values = origins
            .iter()
            .map(|origin| {
                HeaderValue::from_str(origin.trim_end_matches('/')).map_err(|_| {
                    Error::invalid_field(
                        "gateway.cors_allowed_origins",
                        format!("{origin:?} is not an origin"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(values)
    };
    let names = |names: &[&'static str]| {
        names
            .iter()
            .map(|n| HeaderName::from_static(n))
            .collect::<Vec<_>>()
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::HEAD,
            ])
            .allow_headers(
                [
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::IF_MATCH,
                    header::IF_NONE_MATCH,
                    header::RANGE,
                ]
                .into_iter()
                .chain(names(&[
                    "last-event-id",
                    "x-request-id",
                    "traceparent",
                    "tracestate",
                ]))
                .collect::<Vec<_>>(),
            )
            .expose_headers(
                [
                    header::ETAG,
                    header::LOCATION,
                    header::RETRY_AFTER,
                    header::CONTENT_DISPOSITION,
                    header::CONTENT_RANGE,
                    header::ACCEPT_RANGES,
                ]
                .into_iter()
                .chain(names(&[
                    "x-request-id",
                    "x-ratelimit-limit",
                    "x-ratelimit-remaining",
                    "x-ratelimit-reset",
                ]))
                .collect::<Vec<_>>(),
            )
            .max_age(Duration::from_secs(600)),
    ))
}
