//! The admin console: a page for operators at `/console`, built on the public
//! REST API only. Its assets are plain ES modules compiled into the binary (no
//! build step, no CDN: it works offline), served with their content types, a
//! content security policy that allows only this origin, and ETags so that a
//! browser revalidates instead of downloading again.

use std::sync::LazyLock;

use axum::{
    Router,
    extract::Path,
    response::{IntoResponse, Response},
    routing::get,
};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Where the console is served.
pub const CONSOLE_PATH: &str = "/console";

/// Only this origin: no inline script, no third-party anything. `connect-src`
/// covers the API calls and the event streams (fetch), `img-src` avatars
/// (`data:`/`blob:` for previews).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
frame-ancestors 'none'; form-action 'self'";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
    etag: HeaderValue,
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        ($name, $type, include_str!(concat!("../console/", $name)))
    };
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    [
        asset!("index.html", "text/html; charset=utf-8"),
        asset!("console.css", "text/css; charset=utf-8"),
        asset!("api.js", "text/javascript; charset=utf-8"),
        asset!("app.js", "text/javascript; charset=utf-8"),
        asset!("users.js", "text/javascript; charset=utf-8"),
        asset!("user.js", "text/javascript; charset=utf-8"),
        asset!("moderation.js", "text/javascript; charset=utf-8"),
        asset!("roles.js", "text/javascript; charset=utf-8"),
    ]
    .into_iter()
    .map(|(name, content_type, body)| {
        // A strong validator from the content: a new build with a changed
        // file changes its tag, an unchanged file keeps it across restarts.
        let digest = Sha256::digest(body.as_bytes());
        let etag = HeaderValue::from_str(&format!("\"{}\"", &hex::encode(digest)[..32]))
            .unwrap_or(HeaderValue::from_static("\"0\""));
        Asset {
            name,
            content_type,
            body,
            etag,
        }
    })
    .collect()
});

/// The console's routes (outside the API: they take no credentials; the page
/// signs in through the API itself).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(CONSOLE_PATH, get(|headers: HeaderMap| async move { serve("index.html", &headers) }))
        .route(
            "/console/",
            get(|headers: HeaderMap| async move { serve("index.html", &headers) }),
        )
        .route(
            "/console/{asset}",
            get(|Path(asset): Path<String>, headers: HeaderMap| async move {
                serve(&asset, &headers)
            }),
        )
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == name) else {
        return ApiError::new(
            "ROUTE_NOT_FOUND",
            format!("the console has no file {name:?}"),
        )
        .into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .map(|tag| tag.trim().trim_start_matches("W/"))
                .any(|tag| tag == "*" || tag.as_bytes() == asset.etag.as_bytes())
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, asset.body).into_response()
    };
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    out.insert(header::ETAG, asset.etag.clone());
    // Revalidate every time: a cheap 304 while unchanged, never a stale page
    // against a newer API after an upgrade.
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_distinct_tag() {
        let mut tags: Vec<_> = ASSETS.iter().map(|a| a.etag.clone()).collect();
        tags.sort();
        tags.dedup();
        assert_eq!(tags.len(), ASSETS.len());
    }

    #[test]
    fn a_known_tag_is_not_modified() {
        let first = serve("app.js", &HeaderMap::new());
        assert_eq!(first.status(), StatusCode::OK);
        let tag = first.headers()[header::ETAG].clone();
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, tag);
        assert_eq!(serve("app.js", &headers).status(), StatusCode::NOT_MODIFIED);
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert_eq!(serve("app.js", &headers).status(), StatusCode::OK);
        assert_eq!(
            serve("missing.js", &headers).status(),
            StatusCode::NOT_FOUND
        );
    }
}
