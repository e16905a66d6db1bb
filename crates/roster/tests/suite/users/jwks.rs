//! GetJwks publishes the session keys: a product verifies a Roster session
//! offline with them.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use roster_kit::testing::Backend;
use roster_proto::v1 as pb;
use serde::Deserialize;

use super::login::{SECRET, in_seconds, secured, with_credential};
use crate::on_both_backends;

on_both_backends!(published_keys_verify_login_sessions);

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    generation: i64,
}

async fn published_keys_verify_login_sessions(backend: Backend) {
    let app = secured(backend).await;
    let mut anonymous = app.anonymous().await;
    let session = anonymous
        .login(with_credential(SECRET, "jane", in_seconds(60)))
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let jane = session.user.unwrap_or_default();

    // Public: no token needed.
    let published = anonymous
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap_or_else(|s| panic!("{s:?}"))
        .into_inner();
    let set: JwkSet = serde_json::from_str(&published.jwks_json)
        .unwrap_or_else(|e| panic!("not a JWKS: {e}: {}", published.jwks_json));
    assert!(!published.jwks_json.contains("\"d\""), "no private key");
    assert_eq!(set.keys.len(), published.keys.len());
    for key in &published.keys {
        assert_eq!(
            (
                key.kty.as_str(),
                key.crv.as_str(),
                key.alg.as_str(),
                key.r#use.as_str()
            ),
            ("OKP", "Ed25519", "EdDSA", "sig")
        );
        assert!(
            key.kid.starts_with("session-"),
            "only session keys: {key:?}"
        );
    }

    let header =
        jsonwebtoken::decode_header(&session.access_token).unwrap_or_else(|e| panic!("{e}"));
    let kid = header.kid.unwrap_or_default();
    let jwk = set
        .find(&kid)
        .unwrap_or_else(|| panic!("the token's key {kid} is not published"));
    let key = DecodingKey::from_jwk(jwk).unwrap_or_else(|e| panic!("{e}"));
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&["roster"]);
    let claims = jsonwebtoken::decode::<Claims>(&session.access_token, &key, &validation)
        .unwrap_or_else(|e| panic!("the published key does not verify the session: {e}"))
        .claims;
    assert_eq!(
        (claims.sub, claims.iss.as_str(), claims.generation),
        (jane.id.to_string(), "roster", 0)
    );

    // A token signed by other keys does not verify with the published ones.
    let foreign = roster_kit::TokenKeys::generate("roster")
        .issue_user(jane.id, 0, std::time::Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"))
        .token;
    let foreign_kid = jsonwebtoken::decode_header(&foreign)
        .unwrap_or_else(|e| panic!("{e}"))
        .kid
        .unwrap_or_default();
    assert!(set.find(&foreign_kid).is_none());
    assert!(jsonwebtoken::decode::<Claims>(&foreign, &key, &validation).is_err());
}
