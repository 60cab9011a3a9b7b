//! Authentication and authorization, as kube-apiserver's filter chain does them.
//!
//! * Who: the kubeconfig's admin token is `kubernetes-admin` in `system:masters`; ServiceAccount
//!   tokens from the TokenRequest API (`POST .../serviceaccounts/NAME/token`) authenticate as
//!   `system:serviceaccount:NS:NAME` ([`authn`]). Requests without credentials are anonymous
//!   only for `/healthz`, `/livez` and `/readyz` (the structured-authentication "anonymous with
//!   conditions" setup); anything else without a valid token is 401.
//! * As whom: `Impersonate-*` headers, each checked with the `impersonate` verb ([`authn`]).
//! * May they: `system:masters` may do anything; everyone else is judged by RBAC from the stored
//!   Roles, ClusterRoles and bindings ([`rbac`]), with the default ClusterRoles and bindings of a
//!   fresh cluster bootstrapped. Denials are 403 with kube-apiserver's wording.
//! * The authentication/authorization APIs themselves (TokenRequest, TokenReview,
//!   SelfSubjectReview, the four access reviews) are served by [`api`].

pub(crate) mod api;
pub(crate) mod authn;
pub(crate) mod rbac;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::gofmt;
pub use crate::request_info::RequestInfo;
use crate::state::State;

/// The user name the admin token authenticates as (kubeadm's admin kubeconfig user).
pub const ADMIN_USER: &str = "kubernetes-admin";
/// The group that bypasses authorization (k8s: user.SystemPrivilegedGroup).
pub const MASTERS_GROUP: &str = "system:masters";
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
pub const ANONYMOUS_USER: &str = "system:anonymous";
/// The API server's token issuer and (default) audience, as on kind and kubeadm clusters.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// An authenticated identity (k8s: user.Info).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn admin() -> UserInfo {
        UserInfo {
            username: ADMIN_USER.into(),
            groups: vec![MASTERS_GROUP.into(), AUTHENTICATED_GROUP.into()],
            ..Default::default()
        }
    }

    pub fn anonymous() -> UserInfo {
        UserInfo {
            username: ANONYMOUS_USER.into(),
            groups: vec![UNAUTHENTICATED_GROUP.into()],
            ..Default::default()
        }
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// The `userInfo`/`user` object of TokenReview and SelfSubjectReview (empty fields omitted).
    pub fn to_json(&self) -> Value {
        let mut out = json!({"username": self.username});
        if !self.uid.is_empty() {
            out["uid"] = json!(self.uid);
        }
        if !self.groups.is_empty() {
            out["groups"] = json!(self.groups);
        }
        if !self.extra.is_empty() {
            out["extra"] = json!(self.extra);
        }
        out
    }
}

/// What is being authorized: a user and a request's attributes (k8s: authorizer.Attributes).
#[derive(Clone, Debug)]
pub struct Attributes {
    pub user: UserInfo,
    pub request: RequestInfo,
}

/// An authorizer's answer. `reason` is shown in denials and access reviews.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

/// The authorizer chain: `system:masters` first (always allowed, no reason), then RBAC.
pub fn authorize(state: &State, attrs: &Attributes) -> Decision {
    if attrs.user.in_group(MASTERS_GROUP) {
        return Decision {
            allowed: true,
            reason: String::new(),
        };
    }
    rbac::authorize(state, attrs)
}

/// The 403 for a denied request (k8s: responsewriters.Forbidden → apierrors.NewForbidden).
pub fn forbidden(attrs: &Attributes, reason: &str) -> ApiError {
    let req = &attrs.request;
    let user = &attrs.user.username;
    let q = gofmt::quote;
    let mut msg = if !req.resource_request {
        format!("User {} cannot {} path {}", q(user), req.verb, q(&req.path))
    } else if !req.namespace.is_empty() {
        format!(
            "User {} cannot {} resource {} in API group {} in the namespace {}",
            q(user),
            req.verb,
            q(&req.combined_resource()),
            q(&req.api_group),
            q(&req.namespace)
        )
    } else {
        format!(
            "User {} cannot {} resource {} in API group {} at the cluster scope",
            q(user),
            req.verb,
            q(&req.combined_resource()),
            q(&req.api_group)
        )
    };
    if !reason.is_empty() {
        msg = format!("{msg}: {reason}");
    }
    // The qualified resource leaves out the subresource; it is empty for non-resource paths.
    let (message, mut details) = if !req.resource_request || req.resource.is_empty() {
        (format!("forbidden: {msg}"), json!({}))
    } else if req.name.is_empty() {
        (
            format!("{} is forbidden: {msg}", req.qualified_resource()),
            json!({"kind": req.resource}),
        )
    } else {
        (
            format!(
                "{} {} is forbidden: {msg}",
                req.qualified_resource(),
                q(&req.name)
            ),
            json!({"name": req.name, "kind": req.resource}),
        )
    };
    if req.resource_request && !req.api_group.is_empty() {
        details["group"] = json!(req.api_group);
    }
    ApiError {
        code: 403,
        status: json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": "Forbidden", "details": details, "code": 403,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Query;
    use http::Method;

    fn attrs(user: &str, method: Method, path: &str) -> Attributes {
        Attributes {
            user: UserInfo {
                username: user.into(),
                ..Default::default()
            },
            request: RequestInfo::new(&method, path, &Query::default()),
        }
    }

    #[test]
    fn forbidden_messages_match_kube_apiserver() {
        let a = attrs(
            "system:serviceaccount:ns:sa",
            Method::POST,
            "/api/v1/namespaces/ns/pods",
        );
        let e = forbidden(&a, "");
        assert_eq!(e.code, 403);
        assert_eq!(
            e.status["message"],
            "pods is forbidden: User \"system:serviceaccount:ns:sa\" cannot create resource \"pods\" in API group \"\" in the namespace \"ns\""
        );
        assert_eq!(e.status["details"], json!({"kind": "pods"}));

        let a = attrs(
            "u",
            Method::DELETE,
            "/apis/example.com/v1/namespaces/ns/testjobs/j1",
        );
        assert_eq!(
            forbidden(&a, "").status["message"],
            "testjobs.example.com \"j1\" is forbidden: User \"u\" cannot delete resource \"testjobs\" in API group \"example.com\" in the namespace \"ns\""
        );
        let a = attrs(
            "u",
            Method::PUT,
            "/apis/example.com/v1/namespaces/ns/testjobs/j1/status",
        );
        assert!(
            forbidden(&a, "").status["message"]
                .as_str()
                .unwrap()
                .contains("cannot update resource \"testjobs/status\"")
        );
        let a = attrs("u", Method::GET, "/api/v1/nodes");
        assert_eq!(
            forbidden(
                &a,
                "RBAC: clusterrole.rbac.authorization.k8s.io \"x\" not found"
            )
            .status["message"],
            "nodes is forbidden: User \"u\" cannot list resource \"nodes\" in API group \"\" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io \"x\" not found"
        );
        let a = attrs("u", Method::GET, "/foo");
        let e = forbidden(&a, "");
        assert_eq!(
            e.status["message"],
            "forbidden: User \"u\" cannot get path \"/foo\""
        );
        assert_eq!(e.status["details"], json!({}));
    }
}
