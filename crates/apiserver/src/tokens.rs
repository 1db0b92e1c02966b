//! Service-account tokens: `POST …/serviceaccounts/{name}/token` (an `authentication.k8s.io/v1`
//! TokenRequest) issues a JWT signed with the key in `DIR/pki/sa.key`, and [`authenticate`]
//! accepts such a JWT as the account's identity, for the audiences asked (the API server's own
//! for a request's bearer token, a TokenReview's `spec.audiences`), while the account — and
//! the object the token is bound to, if any — still exists with the same uid. Its refusals
//! ([`Rejected`]) read as kube-apiserver's (`pkg/serviceaccount/jwt.go`), since a TokenReview
//! reports them.
//!
//! As kube-apiserver: the request is `pkg/registry/core/serviceaccount/storage/token.go`, the
//! limits on `spec.expirationSeconds` are `pkg/apis/authentication/validation` (at least 10
//! minutes, at most 2^32 s, default one hour), the claims and their checks
//! `pkg/serviceaccount/claims.go` (`iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `jti` and the
//! private `kubernetes.io` claim; one minute of leeway; a deleted account or bound object
//! revokes the token). Tokens are JWS compact serializations signed with ES256 (ECDSA P-256,
//! SHA-256, through ring); the `kid` header is Kubernetes' key id, base64url SHA-256 of the
//! public key's DER SubjectPublicKeyInfo (`oidc.rs` publishes the key under it). The audience
//! of the API server itself — what a token must name to authenticate here, and what a
//! TokenRequest or TokenReview without `spec.audiences` gets — is [`ISSUER`], kube-apiserver's
//! default with `--service-account-issuer` unset by kubeadm's convention.
//!
//! Suggested reading order: [`create`], [`authenticate`], then [`SigningKey`].

use std::fmt;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_store::Store;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::{AUTHENTICATED, User};
use crate::resources::{self, Context, json_response, read_object};
use crate::status::{Cause, Details, Status};
use crate::{deletion, objects};

/// The issuer of every token, and the audience the API server identifies itself as.
pub(crate) const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// `spec.expirationSeconds` when the request leaves it out.
const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// `MinTokenAgeSec`: ten minutes.
const MIN_EXPIRATION_SECONDS: i64 = 10 * 60;
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;
/// Clock skew tolerated on `exp`, `nbf` and `iat`, and how long a deleted object's tokens stay
/// valid (go-jose's `DefaultLeeway`, Kubernetes' deletion grace for bound tokens).
const LEEWAY_SECONDS: i64 = 60;

/// `TokenRequest.authentication.k8s.io`, for the Invalid Status kube-apiserver answers with.
const TOKEN_REQUEST: berth_api::kinds::ResourceType = berth_api::kinds::ResourceType {
    group: "authentication.k8s.io",
    version: "v1",
    kind: "TokenRequest",
    plural: "tokenrequests",
    singular: "tokenrequest",
    scope: berth_api::kinds::Scope::Namespaced,
    short_names: &[],
    categories: &[],
    verbs: &["create"],
    subresources: &[],
    storage_version_hash: "",
};

type Result<T, E = Status> = std::result::Result<T, E>;

// === the TokenRequest subresource ===

/// `POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`: 201 with the TokenRequest and
/// `status.token`, or kube-apiserver's error for the same request.
pub(crate) async fn create(cx: &Context, key: &SigningKey, body: Body) -> Result<Response> {
    let mut request = read_object(cx, body).await?;
    let kind = request.get("kind").and_then(Value::as_str).unwrap_or("TokenRequest");
    let version =
        request.get("apiVersion").and_then(Value::as_str).unwrap_or("authentication.k8s.io/v1");
    if kind != "TokenRequest" || version != "authentication.k8s.io/v1" {
        return Err(Status::bad_request(format!(
            "the body of a token request must be an authentication.k8s.io/v1 TokenRequest, not {version} {kind}"
        )));
    }
    let name = cx.name();
    let namespace = cx.path.namespace.clone().unwrap_or_default();
    let metadata = match request.get("metadata") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(metadata)) => metadata.clone(),
        Some(_) => return Err(Status::bad_request("metadata of a TokenRequest must be an object")),
    };
    for (field, want) in [("name", name), ("namespace", namespace.as_str())] {
        let given = metadata.get(field).and_then(Value::as_str).unwrap_or_default();
        if !given.is_empty() && given != want {
            return Err(Status::invalid(
                &TOKEN_REQUEST,
                name,
                vec![invalid(
                    &format!("metadata.{field}"),
                    &json!(given),
                    &format!("must match the service account {field} if specified"),
                )],
            ));
        }
    }

    let accounts = cx.resource();
    let account = get(cx.store.as_ref(), &cx.key(name))
        .await
        .map_err(|e| Status::from_store(e, accounts, name))?
        .ok_or_else(|| Status::not_found(accounts, name))?;
    let spec = TokenRequestSpec::from_request(&request)?;
    let causes = spec.validate();
    if !causes.is_empty() {
        return Err(Status::invalid(&TOKEN_REQUEST, "", causes));
    }
    let bound = match &spec.bound_object_ref {
        Some(reference) => Some(bound_object(cx, name, &namespace, reference).await?),
        None => None,
    };

    let now = deletion::now();
    let claims = Claims {
        aud: spec.audiences.clone(),
        exp: now.saturating_add(spec.expiration_seconds),
        iat: now,
        iss: ISSUER.to_owned(),
        jti: objects::new_uid(),
        kubernetes: Private {
            namespace: namespace.clone(),
            node: bound.as_ref().and_then(|b| b.node.clone()),
            pod: bound.as_ref().and_then(|b| b.pod.clone()),
            secret: bound.as_ref().and_then(|b| b.secret.clone()),
            serviceaccount: Ref { name: name.to_owned(), uid: uid_of(&account).to_owned() },
        },
        nbf: now,
        sub: username(&namespace, name),
    };
    let token = key.issue(&claims)?;

    let mut metadata = metadata;
    metadata.insert("name".into(), json!(name));
    metadata.insert("namespace".into(), json!(namespace));
    metadata.insert("creationTimestamp".into(), json!(berth_api::metatime::format_seconds(now)));
    let mut spec_json = json!({
        "audiences": spec.audiences,
        "expirationSeconds": spec.expiration_seconds,
    });
    if spec.bound_object_ref.is_some()
        && let Some(reference) = request.pointer_mut("/spec/boundObjectRef").map(Value::take)
    {
        spec_json["boundObjectRef"] = reference;
    }
    let response = json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": metadata,
        "spec": spec_json,
        "status": {"token": token, "expirationTimestamp": berth_api::metatime::format_seconds(claims.exp)},
    });
    Ok(json_response(StatusCode::CREATED, &response))
}

/// What a TokenRequest asks for, defaulted (`SetDefaults_TokenRequestSpec`).
#[derive(Debug)]
struct TokenRequestSpec {
    audiences: Vec<String>,
    expiration_seconds: i64,
    bound_object_ref: Option<BoundObjectRef>,
}

#[derive(Debug)]
struct BoundObjectRef {
    kind: String,
    api_version: String,
    name: String,
    uid: String,
}

impl TokenRequestSpec {
    /// Reads `spec`; a field of the wrong type is the 400 a typed decoder would answer.
    fn from_request(request: &Value) -> Result<TokenRequestSpec> {
        let spec = request.get("spec").filter(|s| !s.is_null());
        let field = |name: &str| spec.and_then(|s| s.get(name)).filter(|v| !v.is_null());
        let wrong = |field: &str, want: &str| {
            Status::bad_request(format!(
                "the object provided is unrecognized or malformed: TokenRequest.spec.{field}: expected {want}"
            ))
        };
        if spec.is_some_and(|s| !s.is_object()) {
            return Err(Status::bad_request(
                "the object provided is unrecognized or malformed: TokenRequest.spec: expected an object",
            ));
        }
        let audiences = match field("audiences") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|a| a.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| wrong("audiences", "a list of strings"))?,
            Some(_) => return Err(wrong("audiences", "a list of strings")),
        };
        let audiences = if audiences.is_empty() { vec![ISSUER.to_owned()] } else { audiences };
        let expiration_seconds = match field("expirationSeconds") {
            None => DEFAULT_EXPIRATION_SECONDS,
            Some(value) => value.as_i64().ok_or_else(|| wrong("expirationSeconds", "an int64"))?,
        };
        let bound_object_ref = match field("boundObjectRef") {
            None => None,
            Some(Value::Object(reference)) => {
                let text = |key: &str| -> Result<String> {
                    match reference.get(key) {
                        None | Some(Value::Null) => Ok(String::new()),
                        Some(Value::String(s)) => Ok(s.clone()),
                        Some(_) => Err(wrong(&format!("boundObjectRef.{key}"), "a string")),
                    }
                };
                Some(BoundObjectRef {
                    kind: text("kind")?,
                    api_version: text("apiVersion")?,
                    name: text("name")?,
                    uid: text("uid")?,
                })
            }
            Some(_) => return Err(wrong("boundObjectRef", "an object")),
        };
        Ok(TokenRequestSpec { audiences, expiration_seconds, bound_object_ref })
    }

    /// `ValidateTokenRequest`.
    fn validate(&self) -> Vec<Cause> {
        let exp = self.expiration_seconds;
        let mut causes = Vec::new();
        if exp < MIN_EXPIRATION_SECONDS {
            causes.push(invalid(
                "spec.expirationSeconds",
                &json!(exp),
                "may not specify a duration less than 10 minutes",
            ));
        }
        if exp > MAX_EXPIRATION_SECONDS {
            causes.push(invalid(
                "spec.expirationSeconds",
                &json!(exp),
                "may not specify a duration larger than 2^32 seconds",
            ));
        }
        causes
    }
}

/// `field.Invalid`: `Invalid value: <value>: <detail>`.
fn invalid(field: &str, value: &Value, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        message: format!("Invalid value: {value}: {detail}"),
        field: field.to_owned(),
    }
}

/// The object a token is bound to, as its claims name it.
#[derive(Debug, Default)]
struct Bound {
    pod: Option<Ref>,
    node: Option<Ref>,
    secret: Option<Ref>,
}

/// Looks up the bound object (a Pod, whose node is named too, a Secret or a Node) and checks
/// it is the one the reference means.
async fn bound_object(
    cx: &Context,
    account: &str,
    namespace: &str,
    reference: &BoundObjectRef,
) -> Result<Bound> {
    let (group, version) =
        reference.api_version.rsplit_once('/').unwrap_or(("", &reference.api_version));
    let (plural, namespaced) = match (group, reference.kind.as_str()) {
        ("", "Pod") => ("pods", true),
        ("", "Secret") => ("secrets", true),
        ("", "Node") => ("nodes", false),
        _ => {
            return Err(Status::bad_request(format!(
                "cannot bind token to object of type {group}/{version}, Kind={}",
                reference.kind
            )));
        }
    };
    let resource = cx.resource_named("", plural)?;
    let name = reference.name.as_str();
    if name.is_empty() {
        return Err(Status::bad_request("resource name may not be empty"));
    }
    let key = resources::key(resource, namespaced.then_some(namespace), name);
    let object = get(cx.store.as_ref(), &key)
        .await
        .map_err(|e| Status::from_store(e, resource, name))?
        .ok_or_else(|| Status::not_found(resource, name))?;
    let uid = uid_of(&object);
    let mut bound = Bound::default();
    let this = Some(Ref { name: name.to_owned(), uid: uid.to_owned() });
    match plural {
        "pods" => {
            let runs_as = object
                .pointer("/spec/serviceAccountName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if runs_as != account {
                return Err(Status::bad_request(format!(
                    "cannot bind token for serviceaccount {account:?} to pod running with different serviceaccount name."
                )));
            }
            bound.pod = this;
            // ServiceAccountTokenPodNodeInfo: the pod's node too, by name alone if it is gone.
            let node = object.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or("");
            if !node.is_empty() {
                let nodes = cx.resource_named("", "nodes")?;
                let found = get(cx.store.as_ref(), &resources::key(nodes, None, node))
                    .await
                    .map_err(|e| Status::from_store(e, nodes, node))?;
                let uid = found.as_ref().map(|n| uid_of(n).to_owned()).unwrap_or_default();
                bound.node = Some(Ref { name: node.to_owned(), uid });
            }
        }
        "secrets" => bound.secret = this,
        _ => bound.node = this,
    }
    if !reference.uid.is_empty() && reference.uid != uid {
        let message = format!(
            "Operation cannot be fulfilled on {} {name:?}: the UID in the bound object reference ({}) does not match the UID in record. The object might have been deleted and then recreated",
            reference.kind, reference.uid
        );
        return Err(Status::new(StatusCode::CONFLICT, "Conflict", message).with_details(Details {
            name: Some(name.to_owned()),
            kind: Some(reference.kind.clone()),
            ..Details::default()
        }));
    }
    Ok(bound)
}

// === authentication ===

/// Why a bearer token does not authenticate as a service account. `Display` is
/// kube-apiserver's error text for the same token (`pkg/serviceaccount/jwt.go`, `claims.go`):
/// what a TokenReview reports in `status.error`. A request bearing the token just gets 401.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Rejected {
    /// Not a token of this issuer at all (not a compact JWS, an unsupported algorithm, another
    /// `iss`): the service-account authenticator passes it on without an error of its own
    /// (`hasCorrectIssuer`, `jwt.ParseSigned`).
    #[error("not a service account token of this issuer")]
    NotOurs,
    /// The `kid` header names a key this server does not have.
    #[error("invalid signature, no keys found")]
    UnknownKey,
    /// go-jose's `ErrCryptoFailure`: the signature does not verify with our key.
    #[error("go-jose/go-jose: error in cryptographic primitive")]
    Signature,
    /// The signature holds but the claims are not a service account's.
    #[error(
        "service account token claims could not be validated due to unexpected validation error"
    )]
    Claims,
    #[error(
        "token audiences {} is invalid for the target audiences {}",
        go_quote_list(token),
        go_quote_list(requested)
    )]
    Audience { token: Vec<String>, requested: Vec<String> },
    #[error("service account token is not valid yet")]
    NotYetValid,
    #[error("service account token has expired")]
    Expired,
    #[error("service account token is issued in the future")]
    IssuedInTheFuture,
    /// The account is gone: the 404 kube-apiserver's getter falls back to reading.
    #[error("serviceaccounts {name:?} not found")]
    AccountNotFound { name: String },
    #[error("service account UID ({live}) does not match claim ({claimed})")]
    AccountUid { live: String, claimed: String },
    #[error("service account {namespace}/{name} has been deleted")]
    AccountDeleted { namespace: String, name: String },
    /// The secret, pod or node the token is bound to is gone, or deleted.
    #[error("service account token has been invalidated")]
    Invalidated,
    #[error("{kind} UID ({live}) does not match service account {kind} ref claim ({claimed})")]
    BoundUid { kind: &'static str, live: String, claimed: String },
    /// Says which object could not be read, never why (that is logged).
    #[error("the {kind} the token names could not be read")]
    Store {
        kind: &'static str,
        #[source]
        source: berth_store::Error,
    },
}

/// A user and the audiences (of those requested) its token is valid for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authenticated {
    pub(crate) user: User,
    pub(crate) audiences: Vec<String>,
}

/// The service account a token this server issued stands for, if the token is valid `now`
/// (Unix seconds) for at least one of `requested` (the API server's own audience when a
/// request or review names none): signature, issuer, audience, times, and the account and the
/// object it is bound to still existing with their uids (deleted ones count for a minute
/// more). The audiences answered are the token's among `requested`, in `requested`'s order.
pub(crate) async fn authenticate(
    store: &dyn Store,
    key: &SigningKey,
    token: &str,
    requested: &[String],
    now: i64,
) -> std::result::Result<Authenticated, Rejected> {
    let (claims, audiences) = key.verify(token, requested, now)?;
    let namespace = claims.kubernetes.namespace.as_str();
    let account = &claims.kubernetes.serviceaccount;
    if claims.sub != username(namespace, &account.name) {
        return Err(Rejected::Claims);
    }
    // `validator.Validate`: what is gone, or was deleted more than a minute ago, revokes.
    let deleted_long_ago = |object: &Value| {
        object
            .pointer("/metadata/deletionTimestamp")
            .and_then(Value::as_str)
            .and_then(berth_api::metatime::unix_seconds)
            .is_some_and(|at| at < now - LEEWAY_SECONDS)
    };
    let lookup = |kind: &'static str, plural: &'static str, namespaced: bool, name: String| async move {
        let Some(resource) = berth_api::kinds::find("", "v1", plural) else { return Ok(None) };
        let key = resources::key(resource, namespaced.then_some(namespace), &name);
        get(store, &key).await.map_err(|source| Rejected::Store { kind, source })
    };

    let live = lookup("ServiceAccount", "serviceaccounts", true, account.name.clone())
        .await?
        .ok_or_else(|| Rejected::AccountNotFound { name: account.name.clone() })?;
    if uid_of(&live) != account.uid {
        return Err(Rejected::AccountUid {
            live: uid_of(&live).to_owned(),
            claimed: account.uid.clone(),
        });
    }
    if deleted_long_ago(&live) {
        return Err(Rejected::AccountDeleted {
            namespace: namespace.to_owned(),
            name: account.name.clone(),
        });
    }
    let bound = [
        ("secret", "Secret", "secrets", true, claims.kubernetes.secret.as_ref()),
        ("pod", "Pod", "pods", true, claims.kubernetes.pod.as_ref()),
        // A pod-bound token names its node for information only; a node-bound one lives with it.
        (
            "node",
            "Node",
            "nodes",
            false,
            claims.kubernetes.node.as_ref().filter(|_| claims.kubernetes.pod.is_none()),
        ),
    ];
    for (label, kind, plural, namespaced, reference) in bound {
        let Some(reference) = reference else { continue };
        let object = lookup(kind, plural, namespaced, reference.name.clone())
            .await?
            .ok_or(Rejected::Invalidated)?;
        if uid_of(&object) != reference.uid {
            return Err(Rejected::BoundUid {
                kind: label,
                live: uid_of(&object).to_owned(),
                claimed: reference.uid.clone(),
            });
        }
        if deleted_long_ago(&object) {
            return Err(Rejected::Invalidated);
        }
    }

    // `ServiceAccountInfo.UserInfo`.
    let mut extra = Vec::new();
    if let Some(pod) = &claims.kubernetes.pod {
        extra.push(("authentication.kubernetes.io/pod-name".to_owned(), vec![pod.name.clone()]));
        extra.push(("authentication.kubernetes.io/pod-uid".to_owned(), vec![pod.uid.clone()]));
    }
    if let Some(node) = &claims.kubernetes.node {
        extra.push(("authentication.kubernetes.io/node-name".to_owned(), vec![node.name.clone()]));
        if !node.uid.is_empty() {
            extra
                .push(("authentication.kubernetes.io/node-uid".to_owned(), vec![node.uid.clone()]));
        }
    }
    if !claims.jti.is_empty() {
        extra.push((
            "authentication.kubernetes.io/credential-id".to_owned(),
            vec![format!("JTI={}", claims.jti)],
        ));
    }
    extra.sort();
    let user = User {
        name: claims.sub.clone(),
        uid: Some(account.uid.clone()),
        groups: vec![
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{namespace}"),
            AUTHENTICATED.to_owned(),
        ],
        extra,
    };
    Ok(Authenticated { user, audiences })
}

/// `requested` ∩ `token`'s audiences, in `requested`'s order (`authenticator.Audiences.Intersect`).
pub(crate) fn intersect(token: &[String], requested: &[String]) -> Vec<String> {
    requested.iter().filter(|audience| token.contains(audience)).cloned().collect()
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_quote_list(list: &[String]) -> String {
    let quoted: Vec<String> =
        list.iter().map(|item| berth_api::validation::go_quote(item)).collect();
    format!("[{}]", quoted.join(" "))
}

/// `system:serviceaccount:NS:NAME`.
fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

async fn get(
    store: &dyn Store,
    key: &str,
) -> std::result::Result<Option<Value>, berth_store::Error> {
    // A stored object that does not decode (`decode` logs it) is as good as absent to a token.
    Ok(store.get(key).await?.and_then(|kv| resources::decode(&kv).ok()))
}

fn uid_of(object: &Value) -> &str {
    object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default()
}

// === claims ===

/// A token's claims, Kubernetes' public and private ones, serialized with sorted keys as
/// go-jose writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Claims {
    #[serde(default, deserialize_with = "one_or_many")]
    aud: Vec<String>,
    exp: i64,
    iat: i64,
    iss: String,
    #[serde(default)]
    jti: String,
    #[serde(rename = "kubernetes.io")]
    kubernetes: Private,
    nbf: i64,
    sub: String,
}

/// The `kubernetes.io` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Private {
    namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pod: Option<Ref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<Ref>,
    serviceaccount: Ref,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Ref {
    name: String,
    uid: String,
}

/// `aud` may be one string or a list (RFC 7519 §4.1.3).
fn one_or_many<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

// === impl SigningKey ===

/// The service-account signing key: an ECDSA P-256 key pair.
pub(crate) struct SigningKey {
    pair: EcdsaKeyPair,
    key_id: String,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// A key file that does not hold an ECDSA P-256 PKCS#8 private key.
#[derive(Debug, thiserror::Error)]
#[error("not an ECDSA P-256 PKCS#8 private key ({0})")]
pub(crate) struct InvalidKey(String);

/// The DER prefix of a P-256 SubjectPublicKeyInfo, before the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

impl SigningKey {
    /// A new key pair, as PKCS#8 DER (what `DIR/pki/sa.key` holds, PEM-armoured).
    pub(crate) fn generate() -> Option<Vec<u8>> {
        let rng = SystemRandom::new();
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .ok()
            .map(|document| document.as_ref().to_vec())
    }

    pub(crate) fn from_pkcs8(der: &[u8]) -> std::result::Result<SigningKey, InvalidKey> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|rejected| InvalidKey(rejected.to_string()))?;
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(pair.public_key().as_ref());
        let key_id = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &spki));
        Ok(SigningKey { pair, key_id, rng })
    }

    /// The signed token for `claims`.
    fn issue(&self, claims: &Claims) -> Result<String> {
        let header = json!({"alg": "ES256", "kid": self.key_id});
        let signing_input = format!("{}.{}", base64_json(&header), base64_json(claims));
        let signature = self.pair.sign(&self.rng, signing_input.as_bytes()).map_err(|_| {
            tracing::error!("signing a service account token failed");
            Status::internal()
        })?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref())))
    }

    /// The key id (`kid`): base64url SHA-256 of the public key's DER SubjectPublicKeyInfo.
    pub(crate) fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key, an uncompressed P-256 point: `0x04 ‖ x ‖ y`, 65 bytes.
    pub(crate) fn public_point(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The claims of `token` and the audiences of `requested` it is valid for, if this key
    /// signed it for this issuer and its times hold `now`, checked in kube-apiserver's order
    /// (`jwtTokenAuthenticator.AuthenticateToken`, then go-jose's `Claims.Validate`).
    fn verify(
        &self,
        token: &str,
        requested: &[String],
        now: i64,
    ) -> std::result::Result<(Claims, Vec<String>), Rejected> {
        let (signing_input, signature) = self.parse(token)?;
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, self.public_point())
            .verify(signing_input.as_bytes(), &signature)
            .map_err(|_| Rejected::Signature)?;
        let payload = signing_input.split_once('.').map_or("", |(_, payload)| payload);
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| Rejected::NotOurs)?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| Rejected::Claims)?;
        // Legacy tokens without `aud` are for the API server alone.
        let token_audiences =
            if claims.aud.is_empty() { vec![ISSUER.to_owned()] } else { claims.aud.clone() };
        let audiences = intersect(&token_audiences, requested);
        if audiences.is_empty() {
            return Err(Rejected::Audience {
                token: token_audiences,
                requested: requested.to_vec(),
            });
        }
        if now + LEEWAY_SECONDS < claims.nbf {
            return Err(Rejected::NotYetValid);
        }
        if now - LEEWAY_SECONDS > claims.exp {
            return Err(Rejected::Expired);
        }
        if now + LEEWAY_SECONDS < claims.iat {
            return Err(Rejected::IssuedInTheFuture);
        }
        Ok((claims, audiences))
    }

    /// The signing input and decoded signature of a compact JWS of this issuer, signed by this
    /// key's id (or none) with an algorithm kube-apiserver accepts; [`Rejected::NotOurs`] for
    /// anything that is not one, as `hasCorrectIssuer` and `jwt.ParseSigned` pass it on.
    fn parse<'t>(&self, token: &'t str) -> std::result::Result<(&'t str, Vec<u8>), Rejected> {
        #[derive(Deserialize)]
        struct Unverified {
            #[serde(default)]
            iss: String,
        }
        #[derive(Deserialize)]
        struct Header {
            #[serde(default)]
            alg: String,
            #[serde(default)]
            kid: String,
        }
        if token.trim_start().starts_with('{') {
            return Err(Rejected::NotOurs);
        }
        let Some((signing_input, signature)) = token.rsplit_once('.') else {
            return Err(Rejected::NotOurs);
        };
        let Some((header, payload)) = signing_input.split_once('.') else {
            return Err(Rejected::NotOurs);
        };
        if payload.contains('.') {
            return Err(Rejected::NotOurs);
        }
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| Rejected::NotOurs);
        let unverified: Unverified =
            serde_json::from_slice(&decode(payload)?).map_err(|_| Rejected::NotOurs)?;
        if unverified.iss != ISSUER {
            return Err(Rejected::NotOurs);
        }
        let header: Header =
            serde_json::from_slice(&decode(header)?).map_err(|_| Rejected::NotOurs)?;
        let signature = decode(signature)?;
        if !JWS_ALGORITHMS.contains(&header.alg.as_str()) {
            return Err(Rejected::NotOurs);
        }
        if !header.kid.is_empty() && header.kid != self.key_id {
            return Err(Rejected::UnknownKey);
        }
        // Another algorithm kube-apiserver parses does not verify with an ECDSA P-256 key.
        if header.alg != "ES256" {
            return Err(Rejected::Signature);
        }
        Ok((signing_input, signature))
    }
}

/// The signature algorithms kube-apiserver parses service-account tokens with.
const JWS_ALGORITHMS: [&str; 9] =
    ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"];

/// base64url (no padding) of `value`'s JSON.
fn base64_json(value: &impl Serialize) -> String {
    // Values and derived structs of strings and integers always serialize.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_pkcs8(&SigningKey::generate().unwrap()).unwrap()
    }

    fn claims(now: i64) -> Claims {
        Claims {
            aud: vec![ISSUER.into()],
            exp: now + 3600,
            iat: now,
            iss: ISSUER.into(),
            jti: "j".into(),
            kubernetes: Private {
                namespace: "default".into(),
                node: None,
                pod: None,
                secret: None,
                serviceaccount: Ref { name: "default".into(), uid: "u1".into() },
            },
            nbf: now,
            sub: "system:serviceaccount:default:default".into(),
        }
    }

    const NOW: i64 = 1_800_000_000;

    fn api() -> Vec<String> {
        vec![ISSUER.to_owned()]
    }

    /// What kube-apiserver would report for `token`, or the audiences it is valid for.
    fn check(key: &SigningKey, token: &str, now: i64) -> std::result::Result<Vec<String>, String> {
        key.verify(token, &api(), now).map(|(_, audiences)| audiences).map_err(|e| e.to_string())
    }

    #[test]
    fn a_token_verifies_with_its_key_only() {
        let key = key();
        let token = key.issue(&claims(NOW)).unwrap();
        assert_eq!(key.verify(&token, &api(), NOW).unwrap(), (claims(NOW), api()));
        // Another key has another id; without one, its signature is tried and fails.
        assert!(matches!(self::key().verify(&token, &api(), NOW), Err(Rejected::UnknownKey)));
        let other = self::key();
        let no_kid = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256"}"#),
            token.split_once('.').unwrap().1
        );
        assert!(matches!(other.verify(&no_kid, &api(), NOW), Err(Rejected::Signature)));
    }

    #[test]
    fn the_header_and_claims_are_shaped_like_kubernetes_tokens() {
        let key = key();
        let token = key.issue(&claims(NOW)).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "ES256", "kid": key.key_id}));
        assert_eq!(key.key_id.len(), 43, "base64url of a SHA-256");
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            payload,
            format!(
                r#"{{"aud":["{ISSUER}"],"exp":{},"iat":{NOW},"iss":"{ISSUER}","jti":"j","kubernetes.io":{{"namespace":"default","serviceaccount":{{"name":"default","uid":"u1"}}}},"nbf":{NOW},"sub":"system:serviceaccount:default:default"}}"#,
                NOW + 3600
            )
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 64, "r||s");
    }

    #[test]
    fn tampered_expired_early_and_foreign_tokens_are_rejected_with_kubernetes_errors() {
        let key = key();
        let token = key.issue(&claims(NOW)).unwrap();
        // Another payload under the same signature.
        let mut other = claims(NOW);
        other.sub = "system:serviceaccount:kube-system:admin".into();
        let forged = format!(
            "{}.{}.{}",
            token.split('.').next().unwrap(),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap()),
            token.rsplit('.').next().unwrap()
        );
        assert_eq!(
            check(&key, &forged, NOW).unwrap_err(),
            "go-jose/go-jose: error in cryptographic primitive"
        );
        // Times, with a minute of leeway, in go-jose's order.
        assert!(check(&key, &token, NOW + 3600 + 60).is_ok());
        assert_eq!(
            check(&key, &token, NOW + 3600 + 61).unwrap_err(),
            "service account token has expired"
        );
        assert!(check(&key, &token, NOW - 60).is_ok());
        assert_eq!(
            check(&key, &token, NOW - 61).unwrap_err(),
            "service account token is not valid yet"
        );
        let mut future = claims(NOW);
        future.iat = NOW + 120;
        assert_eq!(
            check(&key, &key.issue(&future).unwrap(), NOW).unwrap_err(),
            "service account token is issued in the future"
        );
        // Another audience: kube-apiserver names both lists, Go-quoted.
        let mut elsewhere = claims(NOW);
        elsewhere.aud = vec!["vault".into(), "a \"b\"".into()];
        let elsewhere = key.issue(&elsewhere).unwrap();
        assert_eq!(
            check(&key, &elsewhere, NOW).unwrap_err(),
            format!(
                r#"token audiences ["vault" "a \"b\""] is invalid for the target audiences ["{ISSUER}"]"#
            )
        );
        // Another issuer, `alg: none`, other algorithms and garbage are not ours at all.
        let mut issuer = claims(NOW);
        issuer.iss = "https://example.com".into();
        let issuer = key.issue(&issuer).unwrap();
        assert!(matches!(key.verify(&issuer, &api(), NOW), Err(Rejected::NotOurs)));
        let parts: Vec<&str> = token.split('.').collect();
        let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#), parts[1]);
        assert!(matches!(key.verify(&none, &api(), NOW), Err(Rejected::NotOurs)));
        let hs256 =
            format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256"}"#), parts[1], parts[2]);
        assert!(matches!(key.verify(&hs256, &api(), NOW), Err(Rejected::NotOurs)));
        let rs256 =
            format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#), parts[1], parts[2]);
        assert!(matches!(key.verify(&rs256, &api(), NOW), Err(Rejected::Signature)));
        let huge = "a".repeat(1 << 20);
        let garbage = [
            "",
            "a.b",
            "a.b.c",
            "a.b.c.d",
            "...",
            "é.é.é",
            &token[1..],
            &huge,
            &format!("{}.{}.%%%", parts[0], parts[1]),
            &format!("{}.{}.{}", parts[0], parts[1], &parts[2][..10]),
            &format!("{}.{}", token, parts[2]),
            &format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(b"[1,2]"), parts[2]),
            &format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(br#"{"iss":7}"#), parts[2]),
            &format!(" {{\"iss\":\"{ISSUER}\"}}"),
        ];
        for garbage in garbage {
            assert!(key.verify(garbage, &api(), NOW).is_err(), "{garbage}");
        }
    }

    #[test]
    fn audiences_are_the_requested_ones_the_token_names_in_request_order() {
        let key = key();
        let mut many = claims(NOW);
        many.aud = vec!["b".into(), ISSUER.into(), "a".into()];
        let token = key.issue(&many).unwrap();
        let requested = vec!["a".to_owned(), "c".to_owned(), "b".to_owned()];
        assert_eq!(key.verify(&token, &requested, NOW).unwrap().1, ["a", "b"]);
        assert_eq!(key.verify(&token, &api(), NOW).unwrap().1, [ISSUER]);
        // No `aud` at all: the API server's audience (a legacy token).
        let mut none = claims(NOW);
        none.aud = vec![];
        let token = key.issue(&none).unwrap();
        assert_eq!(key.verify(&token, &api(), NOW).unwrap().1, [ISSUER]);
        assert!(matches!(
            key.verify(&token, &["a".to_owned()], NOW),
            Err(Rejected::Audience { .. })
        ));
    }

    #[test]
    fn a_single_audience_string_is_accepted() {
        let value = json!({"aud": ISSUER, "exp": 1, "iat": 1, "iss": ISSUER, "nbf": 1,
            "kubernetes.io": {"namespace": "n", "serviceaccount": {"name": "s", "uid": "u"}},
            "sub": "system:serviceaccount:n:s"});
        let claims: Claims = serde_json::from_value(value).unwrap();
        assert_eq!(claims.aud, [ISSUER]);
    }

    #[test]
    fn expiration_limits_are_kubernetes_messages() {
        let spec = |exp: i64| TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: exp,
            bound_object_ref: None,
        };
        assert!(spec(600).validate().is_empty());
        assert!(spec(1 << 32).validate().is_empty());
        let short = spec(599).validate();
        assert_eq!(short[0].field, "spec.expirationSeconds");
        assert_eq!(
            short[0].message,
            "Invalid value: 599: may not specify a duration less than 10 minutes"
        );
        let long = spec((1 << 32) + 1).validate();
        assert_eq!(
            long[0].message,
            "Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds"
        );
    }

    #[test]
    fn the_spec_defaults_and_refuses_wrong_types() {
        let spec = TokenRequestSpec::from_request(&json!({"spec": {}})).unwrap();
        assert_eq!((spec.audiences, spec.expiration_seconds), (vec![ISSUER.to_owned()], 3600));
        let spec = TokenRequestSpec::from_request(&json!({})).unwrap();
        assert_eq!(spec.expiration_seconds, 3600);
        for bad in [
            json!({"spec": {"expirationSeconds": "600"}}),
            json!({"spec": {"audiences": "x"}}),
            json!({"spec": {"audiences": [1]}}),
            json!({"spec": {"boundObjectRef": {"name": 1}}}),
            json!({"spec": 3}),
        ] {
            let status = TokenRequestSpec::from_request(&bad).unwrap_err();
            assert_eq!(status.code(), StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}
