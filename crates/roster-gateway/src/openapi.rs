//! The OpenAPI 3.1 document: generated from the handlers (utoipa-axum registers
//! each route and its documentation in one call), completed here with what
//! every operation shares: bearer authentication, the error body for every
//! 4xx and 5xx answer, and the table of error codes.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, ObjectBuilder, Ref, RefOr, Required, ResponseBuilder, Type,
        content::ContentBuilder,
        path::{Operation, Parameter, ParameterBuilder, ParameterIn},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
        server::Server,
    },
};

use crate::{
    error::{ErrorBody, FieldError},
    reasons,
};

const DESCRIPTION: &str = "\
Roster's HTTP API: a thin translation of REST calls to Roster's gRPC services \
(users, roles, files, moderation). JSON uses the proto field names in camelCase (as grpcurl \
shows them), enum values without their proto prefix (`PERSON`, not \
`USER_TYPE_PERSON`), ids as numbers and times as RFC 3339.

**Authentication.** `Authorization: Bearer <token>`: an admin token (`roster token \
admin`), or a user session (`POST /v1/sessions`, `POST /v1/tokens`). The services \
authorise every call. Public files (avatars, and attachments uploaded PUBLIC) are \
read without a token; a private file needs its owner's, an admin's, or a download \
link's `?token=`. `/v1/users/me` (and `me` wherever a user id goes) is the user of \
the session token.

**Names.** Custom methods follow the `resource:verb` convention \
(`/v1/permissions:check`, `/v1/users:batchGet`); a JSON merge patch (`PATCH`) \
changes what it names; `If-Match` with a resource's `ETag` (its version) guards \
against lost updates (412 when it moved on).

**Live updates.** Server-sent events: `/v1/users/me/events` (the current user), \
`/v1/presence?ids=…`, and the admin streams `/v1/events/users`, `/v1/events/roles`, \
`/v1/events/moderation`. \
Each event's `id` is the service's cursor: reconnect with `Last-Event-ID` to resume.

**Limits.** Each caller (user, admin client, or address without a token) has a \
request rate; answers carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and \
`X-RateLimit-Reset` (seconds until the whole burst is back); beyond it, 429 with \
`Retry-After`. Admins, services and holders of EXEMPT_FROM_RATE_LIMITS are exempt.

**Safe retries.** The mutations that document an `Idempotency-Key` header (creating and changing users, display pictures, grants, uploads, flags, bans, deletions) run once per caller and key: a retry with the same key within `idempotency.retention_hours` (24 by default) answers what the first request answered and changes nothing again; the same key with a different request is refused (422, IDEMPOTENCY_KEY_REUSED); while the first is still running, 409 IDEMPOTENCY_KEY_IN_FLIGHT with `Retry-After`. With 503 UNAVAILABLE answers, a client may retry these blindly.

**Errors.** Every failure answers one body: \
`{\"status\": \"error\", \"code\": 400400, \"reason\": \"USER_NOT_FOUND\", \"message\": \"…\", \"fields\": []}`, \
the reason as the services name it, the code from this table:

";

#[derive(OpenApi)]
#[openapi(
    info(title = "Roster HTTP API"),
    security(("bearer" = [])),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody, FieldError)),
    tags(
        (name = "users", description = "Users: create, query, read, update (merge patch)."),
        (name = "sessions", description = "Logging in, session tokens, and the keys that verify them."),
        (name = "presence", description = "Presence and call status."),
        (name = "display-picture", description = "A user's avatar: uploaded or external."),
        (name = "roles", description = "Built-in and custom roles."),
        (name = "grants", description = "Roles granted to users in a scope."),
        (name = "permissions", description = "The permission catalogue and checks."),
        (name = "files", description = "Uploads, downloads (Range, ETag), download links."),
        (name = "moderation", description = "Flags, global bans, user deletion jobs, the audit log."),
        (name = "events", description = "Server-sent events."),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A Roster token: admin (`roster token admin`) or a user session.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The operations whose gRPC calls honour an idempotency key (the header is
/// forwarded to every call; these are the ones that keep it).
const KEYED_OPERATIONS: &[(&str, &str)] = &[
    ("post", "/v1/users"),
    ("patch", "/v1/users/{id}"),
    ("patch", "/v1/users/me"),
    ("put", "/v1/users/{id}/display-picture"),
    ("delete", "/v1/users/{id}/display-picture"),
    ("post", "/v1/users/{id}/roles"),
    ("delete", "/v1/users/{id}/roles/{role}"),
    ("post", "/v1/files"),
    ("delete", "/v1/users/{id}"),
    ("put", "/v1/users/{id}/ban"),
    ("delete", "/v1/users/{id}/ban"),
    ("put", "/v1/users/{id}/flags/me"),
    ("delete", "/v1/users/{id}/flags/me"),
    ("delete", "/v1/users/{id}/flags"),
];

fn idempotency_key() -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Makes a retry safe: the same key (1–255 printable ASCII characters, e.g. a UUID) \
             with the same request answers the first request's answer without changing anything again.",
        ))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).max_length(Some(255))))
        .build()
}

/// Every operation of the document.
pub fn operations(document: &mut openapi::OpenApi) -> impl Iterator<Item = &mut Operation> {
    document.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .filter_map(Option::as_mut)
    })
}

/// The document of `routes`, completed; `public_url` is where the API is served.
pub fn document(routes: openapi::OpenApi, public_url: &str) -> openapi::OpenApi {
    let mut document = ApiDoc::openapi().merge_from(routes);
    document.info.description = Some(format!("{DESCRIPTION}{}", reasons::markdown_table()));
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    document.servers = Some(vec![Server::new(public_url.trim_end_matches('/'))]);
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in document.paths.paths.iter_mut() {
        for (method, operation) in [
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ] {
            if let Some(operation) = operation
                && KEYED_OPERATIONS.contains(&(method, path.as_str()))
            {
                operation
                    .parameters
                    .get_or_insert_with(Vec::new)
                    .push(RefOr::T(idempotency_key()));
            }
        }
    }
    for operation in operations(&mut document) {
        let responses = &mut operation.responses.responses;
        responses
            .entry("4XX".to_owned())
            .or_insert_with(|| error("The call was refused; see the error table."));
        responses
            .entry("5XX".to_owned())
            .or_insert_with(|| error("A service failed or did not answer."));
    }
    document
}
