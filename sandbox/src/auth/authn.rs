//! Who is asking: bearer tokens (the admin token and ServiceAccount tokens), anonymous access
//! to the health endpoints, and impersonation headers.
//!
//! ServiceAccount tokens are JWTs with the claims kube-apiserver puts in them (`iss`, `sub`,
//! `aud`, `exp`, `nbf`, `iat`, `jti`, and `kubernetes.io` naming the namespace, the
//! ServiceAccount and any bound Pod/Secret/Node), signed with HS256 by a key private to this
//! sandbox (kube-apiserver uses RS256 with the service-account key; nothing here publishes keys).
//! Like kube-apiserver's service-account authenticator, validation re-reads the ServiceAccount
//! (and bound object) and rejects the token when it is gone or has a different uid, so deleting
//! the ServiceAccount invalidates its tokens.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    ANONYMOUS_USER, AUTHENTICATED_GROUP, Attributes, ISSUER, RequestInfo, UNAUTHENTICATED_GROUP,
    UserInfo, authorize, forbidden,
};
use crate::errors::ApiError;
use crate::state::State;
use crate::store::StorageKey;

pub const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";
pub const SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";

/// Paths anonymous requests may reach (everything else needs a token).
const ANONYMOUS_PATHS: &[&str] = &["/healthz", "/livez", "/readyz"];

/// A name and uid in the `kubernetes.io` claim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectClaim {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct KubernetesClaims {
    namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    node: Option<ObjectClaim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pod: Option<ObjectClaim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<ObjectClaim>,
    serviceaccount: ObjectClaim,
}

/// Field order as kube-apiserver's tokens serialize them.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Claims {
    aud: Vec<String>,
    exp: i64,
    iat: i64,
    iss: String,
    jti: String,
    #[serde(rename = "kubernetes.io")]
    kubernetes: KubernetesClaims,
    nbf: i64,
    sub: String,
}

/// Objects a token is bound to besides its ServiceAccount.
#[derive(Clone, Debug, Default)]
pub struct BoundObjects {
    pub pod: Option<ObjectClaim>,
    pub secret: Option<ObjectClaim>,
    pub node: Option<ObjectClaim>,
}

pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}")
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `(namespace, name)` of a ServiceAccount user name (k8s: serviceaccount.SplitUsername).
pub fn split_service_account_username(username: &str) -> Option<(&str, &str)> {
    let rest = username.strip_prefix(SERVICE_ACCOUNT_PREFIX)?;
    let mut parts = rest.split(':');
    let (namespace, name) = (parts.next()?, parts.next()?);
    if parts.next().is_some() || !is_dns_label(namespace) {
        return None;
    }
    let subdomain = name.len() <= 253 && name.split('.').all(is_dns_label);
    subdomain.then_some((namespace, name))
}

/// The user a ServiceAccount authenticates as, before `system:authenticated` is added.
fn service_account_user(namespace: &str, name: &str, uid: &str) -> UserInfo {
    UserInfo {
        username: service_account_username(namespace, name),
        uid: uid.to_string(),
        groups: vec![
            SERVICE_ACCOUNTS_GROUP.to_string(),
            format!("{SERVICE_ACCOUNTS_GROUP}:{namespace}"),
        ],
        extra: BTreeMap::new(),
    }
}

/// A signed token for `sa` (a stored ServiceAccount) and when it expires.
pub fn issue(
    state: &State,
    sa: &Value,
    audiences: &[String],
    expiration_seconds: i64,
    bound: &BoundObjects,
    now: DateTime<Utc>,
) -> (String, DateTime<Utc>) {
    let meta = &sa["metadata"];
    let namespace = meta["namespace"].as_str().unwrap_or_default();
    let name = meta["name"].as_str().unwrap_or_default();
    let expires = now + chrono::Duration::seconds(expiration_seconds);
    let claims = Claims {
        aud: audiences.to_vec(),
        exp: expires.timestamp(),
        iat: now.timestamp(),
        iss: ISSUER.to_string(),
        jti: uuid::Uuid::new_v4().to_string(),
        kubernetes: KubernetesClaims {
            namespace: namespace.to_string(),
            node: bound.node.clone(),
            pod: bound.pod.clone(),
            secret: bound.secret.clone(),
            serviceaccount: ObjectClaim {
                name: name.to_string(),
                uid: meta["uid"].as_str().unwrap_or_default().to_string(),
            },
        },
        nbf: now.timestamp(),
        sub: service_account_username(namespace, name),
    };
    let payload = serde_json::to_vec(&claims).unwrap_or_default();
    let token = state.auth_keys.sign(&payload);
    // Sub-second precision is dropped, as metav1.Time serializes whole seconds.
    let expires = Utc
        .timestamp_opt(expires.timestamp(), 0)
        .single()
        .unwrap_or(expires);
    (token, expires)
}

fn verify_signature(state: &State, token: &str) -> Option<Claims> {
    serde_json::from_slice(&state.auth_keys.verify(token)?).ok()
}

/// Whether a stored object still exists with the uid the token names.
fn still_there(state: &State, plural: &str, namespace: &str, claim: &ObjectClaim) -> bool {
    state
        .store
        .get(&StorageKey::new("", plural), namespace, &claim.name)
        .is_some_and(|o| claim.uid.is_empty() || o["metadata"]["uid"] == claim.uid.as_str())
}

/// The user a bearer token authenticates, and the audiences it was accepted for; an error says
/// why it was rejected (shown in TokenReview status). `audiences` empty means the API server's.
pub fn authenticate_token(
    state: &State,
    token: &str,
    audiences: &[String],
) -> Result<(UserInfo, Vec<String>), String> {
    let api_audiences = vec![ISSUER.to_string()];
    let wanted = if audiences.is_empty() {
        &api_audiences
    } else {
        audiences
    };
    if !state.admin_token.is_empty() && token == state.admin_token {
        return Ok((UserInfo::admin(), wanted.to_vec()));
    }
    let claims = verify_signature(state, token).ok_or("invalid bearer token")?;
    if claims.iss != ISSUER {
        return Err("invalid bearer token".into());
    }
    let accepted: Vec<String> = wanted
        .iter()
        .filter(|a| claims.aud.contains(a))
        .cloned()
        .collect();
    if accepted.is_empty() {
        return Err("token audiences is invalid for the target audiences".into());
    }
    let now = Utc::now().timestamp();
    if now >= claims.exp {
        return Err("service account token has expired".into());
    }
    if now < claims.nbf {
        return Err("service account token is not valid yet".into());
    }
    let k = &claims.kubernetes;
    let ns = k.namespace.as_str();
    if !still_there(state, "serviceaccounts", ns, &k.serviceaccount) {
        return Err(format!(
            "service account {}/{} has been deleted",
            ns, k.serviceaccount.name
        ));
    }
    let mut user = service_account_user(ns, &k.serviceaccount.name, &k.serviceaccount.uid);
    user.extra.insert(
        "authentication.kubernetes.io/credential-id".into(),
        vec![format!("JTI={}", claims.jti)],
    );
    if let Some(pod) = &k.pod {
        if !still_there(state, "pods", ns, pod) {
            return Err(format!("pod {ns}/{} has been deleted", pod.name));
        }
        user.extra.insert(
            "authentication.kubernetes.io/pod-name".into(),
            vec![pod.name.clone()],
        );
        user.extra.insert(
            "authentication.kubernetes.io/pod-uid".into(),
            vec![pod.uid.clone()],
        );
    }
    if let Some(secret) = &k.secret
        && !still_there(state, "secrets", ns, secret)
    {
        return Err(format!("secret {ns}/{} has been deleted", secret.name));
    }
    if let Some(node) = &k.node {
        if k.pod.is_none() && !still_there(state, "nodes", "", node) {
            return Err(format!("node {} has been deleted", node.name));
        }
        user.extra.insert(
            "authentication.kubernetes.io/node-name".into(),
            vec![node.name.clone()],
        );
        if !node.uid.is_empty() {
            user.extra.insert(
                "authentication.kubernetes.io/node-uid".into(),
                vec![node.uid.clone()],
            );
        }
    }
    Ok((with_authenticated_group(user), accepted))
}

/// Every authenticated user is in `system:authenticated` (k8s: AuthenticatedGroupAdder).
fn with_authenticated_group(mut user: UserInfo) -> UserInfo {
    if !user.in_group(AUTHENTICATED_GROUP) {
        user.groups.push(AUTHENTICATED_GROUP.into());
    }
    user
}

/// The bearer token of a request, if it carries one (`Authorization: Bearer <token>`).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The user of a request, or `None` for 401: a token must be valid; without one, only the
/// health endpoints are open (to `system:anonymous`).
pub fn authenticate(state: &State, headers: &HeaderMap, path: &str) -> Option<UserInfo> {
    match bearer_token(headers) {
        Some(token) => authenticate_token(state, token, &[]).ok().map(|(u, _)| u),
        None => ANONYMOUS_PATHS.contains(&path).then(UserInfo::anonymous),
    }
}

/// Why impersonation failed.
pub enum ImpersonationError {
    /// 403 for a denied `impersonate` check.
    Forbidden(ApiError),
    /// Malformed headers; kube-apiserver answers 500 with this text.
    Internal(String),
}

/// One thing asked to be impersonated (k8s: the ObjectReferences of buildImpersonationRequests).
struct Wanted {
    kind: &'static str,
    namespace: String,
    name: String,
    api_version: &'static str,
    field_path: String,
}

impl Wanted {
    /// `%v` of the corev1.ObjectReference, as it appears in the error message.
    fn go_string(&self) -> String {
        format!(
            "{{{} {} {}  {}  {}}}",
            self.kind, self.namespace, self.name, self.api_version, self.field_path
        )
    }
}

fn header_values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

fn unescape_path(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

const EXTRA_PREFIX: &str = "impersonate-extra-";

/// Applies `Impersonate-*` headers: `Ok(None)` when there are none, the impersonated user when
/// every part is allowed to `requester` (k8s: filters.WithImpersonation).
pub fn impersonate(
    state: &State,
    requester: &UserInfo,
    headers: &HeaderMap,
) -> Result<Option<UserInfo>, ImpersonationError> {
    let mut wanted = Vec::new();
    let requested_user = headers
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !requested_user.is_empty() {
        wanted.push(match split_service_account_username(requested_user) {
            Some((ns, name)) => Wanted {
                kind: "ServiceAccount",
                namespace: ns.into(),
                name: name.into(),
                api_version: "",
                field_path: String::new(),
            },
            None => Wanted {
                kind: "User",
                namespace: String::new(),
                name: requested_user.into(),
                api_version: "",
                field_path: String::new(),
            },
        });
    }
    let groups_specified = !header_values(headers, "impersonate-group").is_empty();
    for group in header_values(headers, "impersonate-group") {
        wanted.push(Wanted {
            kind: "Group",
            namespace: String::new(),
            name: group.into(),
            api_version: "",
            field_path: String::new(),
        });
    }
    let mut extra_headers: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| {
            let key = k.as_str().strip_prefix(EXTRA_PREFIX)?;
            Some((key, v.to_str().ok()?))
        })
        .collect();
    extra_headers.sort();
    for (key, value) in extra_headers {
        wanted.push(Wanted {
            kind: "UserExtra",
            namespace: String::new(),
            name: value.into(),
            api_version: "authentication.k8s.io/v1",
            field_path: unescape_path(key),
        });
    }
    let uid = headers
        .get("impersonate-uid")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !uid.is_empty() {
        wanted.push(Wanted {
            kind: "UID",
            namespace: String::new(),
            name: uid.into(),
            api_version: "authentication.k8s.io/v1",
            field_path: String::new(),
        });
    }
    if wanted.is_empty() {
        return Ok(None);
    }
    if requested_user.is_empty() {
        let list: Vec<String> = wanted.iter().map(Wanted::go_string).collect();
        return Err(ImpersonationError::Internal(format!(
            "requested [{}] without impersonating a user",
            list.join(" ")
        )));
    }

    let mut user = UserInfo::default();
    for w in &wanted {
        let mut request = RequestInfo {
            resource_request: true,
            verb: "impersonate".into(),
            api_version: "v1".into(),
            namespace: w.namespace.clone(),
            name: w.name.clone(),
            ..Default::default()
        };
        match w.kind {
            "ServiceAccount" => {
                request.resource = "serviceaccounts".into();
                user.username = service_account_username(&w.namespace, &w.name);
                if !groups_specified {
                    user.groups = vec![
                        SERVICE_ACCOUNTS_GROUP.into(),
                        format!("{SERVICE_ACCOUNTS_GROUP}:{}", w.namespace),
                    ];
                }
            }
            "User" => {
                request.resource = "users".into();
                user.username = w.name.clone();
            }
            "Group" => {
                request.resource = "groups".into();
                user.groups.push(w.name.clone());
            }
            "UserExtra" => {
                request.api_group = "authentication.k8s.io".into();
                request.resource = "userextras".into();
                request.subresource = w.field_path.clone();
                user.extra
                    .entry(w.field_path.clone())
                    .or_default()
                    .push(w.name.clone());
            }
            _ => {
                request.api_group = "authentication.k8s.io".into();
                request.resource = "uids".into();
                user.uid = w.name.clone();
            }
        }
        let attrs = Attributes {
            user: requester.clone(),
            request,
        };
        let decision = authorize(state, &attrs);
        if !decision.allowed {
            return Err(ImpersonationError::Forbidden(forbidden(
                &attrs,
                &decision.reason,
            )));
        }
    }
    let has = |g: &str| user.groups.iter().any(|x| x == g);
    if user.username != ANONYMOUS_USER {
        if !has(AUTHENTICATED_GROUP) && !has(UNAUTHENTICATED_GROUP) {
            user.groups.push(AUTHENTICATED_GROUP.into());
        }
    } else if !has(UNAUTHENTICATED_GROUP) {
        user.groups.push(UNAUTHENTICATED_GROUP.into());
    }
    Ok(Some(user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_usernames() {
        assert_eq!(
            split_service_account_username("system:serviceaccount:ns:sa"),
            Some(("ns", "sa"))
        );
        assert_eq!(
            split_service_account_username("system:serviceaccount:ns"),
            None
        );
        assert_eq!(
            split_service_account_username("system:serviceaccount:ns:a:b"),
            None
        );
        assert_eq!(
            split_service_account_username("system:serviceaccount:NS:sa"),
            None
        );
        assert_eq!(split_service_account_username("bob"), None);
    }

    #[test]
    fn bearer_tokens() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert(http::header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(http::header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
        h.insert(http::header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer_token(&h), None);
    }

    #[test]
    fn unescapes_extra_keys() {
        assert_eq!(unescape_path("example.com%2fscopes"), "example.com/scopes");
        assert_eq!(unescape_path("plain"), "plain");
        assert_eq!(unescape_path("bad%zz"), "bad%zz");
    }

    #[test]
    fn service_account_tokens_authenticate_until_invalid() {
        let state = State::new(100, "admin-token".into());
        let sa = serde_json::json!({"metadata": {"name": "sa", "namespace": "ns", "uid": "u1"}});
        let key = StorageKey::new("", "serviceaccounts");
        state.store.create(&key, sa.clone()).unwrap();
        let now = Utc::now();
        let auds = vec![ISSUER.to_string()];
        let (token, expires) = issue(&state, &sa, &auds, 3600, &BoundObjects::default(), now);
        assert_eq!(expires.timestamp(), now.timestamp() + 3600);

        let (user, accepted) = authenticate_token(&state, &token, &[]).unwrap();
        assert_eq!(user.username, "system:serviceaccount:ns:sa");
        assert_eq!(user.uid, "u1");
        assert_eq!(
            user.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns",
                "system:authenticated"
            ]
        );
        assert_eq!(accepted, auds);
        assert!(authenticate_token(&state, &token, &["other".to_string()]).is_err());

        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(authenticate_token(&state, &tampered, &[]).is_err());
        let (expired, _) = issue(
            &state,
            &sa,
            &auds,
            1,
            &BoundObjects::default(),
            now - chrono::Duration::seconds(10),
        );
        assert!(authenticate_token(&state, &expired, &[]).is_err());
        // Another sandbox's key does not verify.
        let other = State::new(100, "x".into());
        assert!(authenticate_token(&other, &token, &[]).is_err());

        let (admin, _) = authenticate_token(&state, "admin-token", &[]).unwrap();
        assert_eq!(admin, UserInfo::admin());

        state.store.remove(&key, "ns", "sa");
        assert!(authenticate_token(&state, &token, &[]).is_err());
        let mut recreated = sa.clone();
        recreated["metadata"]["uid"] = serde_json::json!("u2");
        state.store.create(&key, recreated).unwrap();
        assert!(authenticate_token(&state, &token, &[]).is_err());
    }

    #[test]
    fn impersonation_reference_formatting() {
        let w = Wanted {
            kind: "Group",
            namespace: String::new(),
            name: "system:masters".into(),
            api_version: "",
            field_path: String::new(),
        };
        assert_eq!(w.go_string(), "{Group  system:masters    }");
    }
}
