//! OIDC discovery for the service-account token issuer: `GET /.well-known/openid-configuration`
//! and `GET /openid/v1/jwks`, as kube-apiserver serves them (`pkg/serviceaccount/
//! openidmetadata.go`, `pkg/routes/openidmetadata.go`), so that a relying party outside the
//! cluster can verify service-account tokens without asking the API server about each one.
//!
//! Both documents are rendered once at start, from the signing key and the address the server
//! is reached at. The discovery document names the issuer ([`tokens::ISSUER`]), the JWKS URI
//! (kube-apiserver's default with `--service-account-jwks-uri` unset: `https://` + its external
//! address + `/openid/v1/jwks`, here the address the admin kubeconfig dials), the `id_token`
//! response type, `public` subjects and the key's algorithm; the key set holds the public key
//! as go-jose writes an EC JWK (`use`, `kty`, `kid`, `crv`, `alg`, `x`, `y`). Both are served
//! `Cache-Control: public, max-age=3600`. Like every other path they need credentials
//! (`auth.rs`) and permission (`authz.rs`): the bootstrap policy grants them to every service
//! account (`system:service-account-issuer-discovery`), and masters may read anything.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde_json::json;

use crate::pki;
use crate::router::AppState;
use crate::tokens::{self, SigningKey};

/// Where the OIDC provider configuration is served.
pub(crate) const OPENID_CONFIG_PATH: &str = "/.well-known/openid-configuration";
/// Where the key set is served.
pub(crate) const JWKS_PATH: &str = "/openid/v1/jwks";
/// kube-apiserver's, overriding its global `private, no-cache`: relying parties may cache the
/// documents for an hour (what its static key getter reports as `GetCacheAgeMaxSeconds`).
const CACHE_CONTROL: &str = "public, max-age=3600";
/// RFC 7517 §8.5.1.
const JWK_SET_JSON: &str = "application/jwk-set+json";

/// The two documents, pre-rendered.
#[derive(Debug)]
pub(crate) struct Documents {
    configuration: Bytes,
    keys: Bytes,
}

impl Documents {
    /// The documents of the issuer whose tokens `key` signs, served by the server listening on
    /// `listen`.
    pub(crate) fn new(key: &SigningKey, listen: SocketAddr) -> Documents {
        let external = SocketAddr::new(pki::dial_ip(listen.ip()), listen.port());
        let configuration = json!({
            "issuer": tokens::ISSUER,
            "jwks_uri": format!("https://{external}{JWKS_PATH}"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        });
        // The uncompressed point: 0x04, then x and y, 32 bytes each.
        let point = key.public_point();
        let (x, y) = point.get(1..).unwrap_or_default().split_at(point.len().saturating_sub(1) / 2);
        let keys = json!({"keys": [{
            "use": "sig",
            "kty": "EC",
            "kid": key.key_id(),
            "crv": "P-256",
            "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
        }]});
        Documents {
            configuration: Bytes::from(configuration.to_string()),
            keys: Bytes::from(keys.to_string()),
        }
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(OPENID_CONFIG_PATH, get(configuration)).route(JWKS_PATH, get(keys))
}

async fn configuration(State(state): State<AppState>) -> Response {
    let body = state.openid.configuration.clone();
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, CACHE_CONTROL)], body)
        .into_response()
}

async fn keys(State(state): State<AppState>) -> Response {
    let body = state.openid.keys.clone();
    ([(header::CONTENT_TYPE, JWK_SET_JSON), (header::CACHE_CONTROL, CACHE_CONTROL)], body)
        .into_response()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn the_documents_are_kubernetes_with_our_key() {
        let key = SigningKey::from_pkcs8(&SigningKey::generate().unwrap()).unwrap();
        let documents = Documents::new(&key, "0.0.0.0:6443".parse().unwrap());
        assert_eq!(
            std::str::from_utf8(&documents.configuration).unwrap(),
            r#"{"issuer":"https://kubernetes.default.svc.cluster.local","jwks_uri":"https://127.0.0.1:6443/openid/v1/jwks","response_types_supported":["id_token"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["ES256"]}"#
        );
        let keys: Value = serde_json::from_slice(&documents.keys).unwrap();
        let jwk = &keys["keys"][0];
        let fields: Vec<&String> = jwk.as_object().unwrap().keys().collect();
        assert_eq!(fields, ["use", "kty", "kid", "crv", "alg", "x", "y"]);
        assert_eq!(jwk["kid"], key.key_id());
        let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
        let mut point = vec![4];
        point.extend(coordinate("x"));
        point.extend(coordinate("y"));
        assert_eq!(point, key.public_point());
        let v6 = Documents::new(&key, "[::]:443".parse().unwrap());
        let configuration: Value = serde_json::from_slice(&v6.configuration).unwrap();
        assert_eq!(configuration["jwks_uri"], "https://[::1]:443/openid/v1/jwks");
    }
}
