//! What a request asks to do, in the terms authorization and accounting use: the RBAC verb,
//! API group, namespace, resource, subresource and name of a resource request, or the path and
//! lower-cased method of a non-resource one — as kube-apiserver's RequestInfoFactory derives
//! them (k8s: staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go).
//!
//! This differs from `crate::request::parse`, which routes: here `/api/v1/namespaces/foo` has
//! namespace `foo` (so a RoleBinding in `foo` can grant `get` on it), `/apis/G/V` is a
//! non-resource path, `/api/v1/watch/...` is a watch, and a list whose field selector pins
//! `metadata.name` carries that name (so `resourceNames` rules apply to it).

use http::Method;

use crate::request::Query;

/// The attributes of one request that do not depend on who makes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    pub resource_request: bool,
    pub path: String,
    /// RBAC verb for resource requests; lower-cased HTTP method otherwise.
    pub verb: String,
    pub api_group: String,
    pub api_version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
}

/// Path segments that name a subresource of a namespace rather than a namespaced resource.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

impl RequestInfo {
    pub fn new(method: &Method, path: &str, query: &Query) -> RequestInfo {
        let mut info = RequestInfo {
            resource_request: false,
            path: path.to_string(),
            verb: method.as_str().to_ascii_lowercase(),
            ..Default::default()
        };
        let trimmed = path.trim_matches('/');
        let mut parts: Vec<&str> = if trimmed.is_empty() {
            Vec::new()
        } else {
            trimmed.split('/').collect()
        };
        if parts.len() < 3 {
            return info;
        }
        match parts[0] {
            "api" => parts.remove(0),
            "apis" => {
                if parts.len() < 4 {
                    return info;
                }
                parts.remove(0);
                info.api_group = parts.remove(0).to_string();
                ""
            }
            _ => return info,
        };
        info.resource_request = true;
        info.api_version = parts.remove(0).to_string();

        let mut special = false;
        if matches!(parts[0], "watch" | "proxy") {
            if parts.len() < 2 {
                return info;
            }
            info.verb = parts.remove(0).to_string();
            special = true;
        } else {
            info.verb = match *method {
                Method::POST => "create",
                Method::GET | Method::HEAD => "get",
                Method::PUT => "update",
                Method::PATCH => "patch",
                Method::DELETE => "delete",
                _ => "",
            }
            .to_string();
        }

        let mut rest: &[&str] = &parts;
        if rest[0] == "namespaces" && rest.len() > 1 {
            info.namespace = rest[1].to_string();
            if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
                rest = &rest[2..];
            }
        }
        let no_subresources = special && info.verb == "proxy";
        if rest.len() >= 3 && !no_subresources {
            info.subresource = rest[2].to_string();
        }
        if rest.len() >= 2 {
            info.name = rest[1].to_string();
        }
        if let Some(resource) = rest.first() {
            info.resource = resource.to_string();
        }

        if info.name.is_empty() && info.verb == "get" {
            info.verb = if query.flag("watch") {
                "watch".into()
            } else {
                "list".into()
            };
        }
        if info.name.is_empty()
            && matches!(info.verb.as_str(), "list" | "watch")
            && let Some(name) = query.get("fieldSelector").and_then(exact_name)
        {
            info.name = name;
        }
        if info.name.is_empty() && info.verb == "delete" {
            info.verb = "deletecollection".into();
        }
        info
    }

    /// `resource` or `resource/subresource`, as RBAC rules and messages name it.
    pub fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }

    /// `resource.group` (or the bare resource for the core group), as used in status messages.
    pub fn qualified_resource(&self) -> String {
        if self.api_group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.api_group)
        }
    }
}

/// The name a field selector requires exactly (`metadata.name=x` among its terms), when it is
/// a valid path segment (fields.Selector.RequiresExactMatch + path.IsValidPathSegmentName).
fn exact_name(selector: &str) -> Option<String> {
    selector.split(',').find_map(|term| {
        let (field, value) = term
            .split_once("==")
            .or_else(|| term.split_once('='))
            .filter(|(f, _)| !f.ends_with('!'))?;
        if field.trim() != "metadata.name" {
            return None;
        }
        let value = value.trim();
        let valid = !value.is_empty()
            && value != "."
            && value != ".."
            && !value.contains('/')
            && !value.contains('%');
        valid.then(|| value.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: Method, path: &str, query: &str) -> RequestInfo {
        RequestInfo::new(&method, path, &Query::parse(Some(query)))
    }

    #[test]
    fn resource_requests() {
        let r = info(Method::GET, "/api/v1/namespaces/ns/pods/p/log", "");
        assert!(r.resource_request);
        assert_eq!(
            (
                r.verb.as_str(),
                r.namespace.as_str(),
                r.resource.as_str(),
                r.name.as_str(),
                r.subresource.as_str()
            ),
            ("get", "ns", "pods", "p", "log")
        );
        let r = info(
            Method::DELETE,
            "/apis/apps/v1/namespaces/ns/deployments",
            "",
        );
        assert_eq!(r.verb, "deletecollection");
        assert_eq!(r.api_group, "apps");
        let r = info(Method::GET, "/api/v1/configmaps", "watch=true");
        assert_eq!((r.verb.as_str(), r.namespace.as_str()), ("watch", ""));
        let r = info(Method::GET, "/api/v1/watch/namespaces/ns/configmaps", "");
        assert_eq!(
            (r.verb.as_str(), r.namespace.as_str(), r.resource.as_str()),
            ("watch", "ns", "configmaps")
        );
        let r = info(
            Method::GET,
            "/api/v1/namespaces/ns/configmaps",
            "fieldSelector=metadata.name%3Dcm1",
        );
        assert_eq!((r.verb.as_str(), r.name.as_str()), ("list", "cm1"));
        let r = info(
            Method::POST,
            "/api/v1/namespaces/ns/serviceaccounts/sa/token",
            "",
        );
        assert_eq!(
            (r.verb.as_str(), r.combined_resource().as_str()),
            ("create", "serviceaccounts/token")
        );
    }

    #[test]
    fn namespaces_are_their_own_namespace() {
        let r = info(Method::GET, "/api/v1/namespaces/foo", "");
        assert_eq!(
            (
                r.namespace.as_str(),
                r.resource.as_str(),
                r.name.as_str(),
                r.verb.as_str()
            ),
            ("foo", "namespaces", "foo", "get")
        );
        let r = info(Method::PUT, "/api/v1/namespaces/foo/finalize", "");
        assert_eq!(
            (r.resource.as_str(), r.name.as_str(), r.subresource.as_str()),
            ("namespaces", "foo", "finalize")
        );
        let r = info(Method::GET, "/api/v1/namespaces", "");
        assert_eq!((r.verb.as_str(), r.namespace.as_str()), ("list", ""));
    }

    #[test]
    fn non_resource_requests() {
        for path in [
            "/api",
            "/api/v1",
            "/apis",
            "/apis/apps",
            "/apis/apps/v1",
            "/healthz",
        ] {
            let r = info(Method::GET, path, "");
            assert!(!r.resource_request, "{path}");
            assert_eq!(r.verb, "get");
            assert_eq!(r.path, path);
        }
        assert_eq!(info(Method::HEAD, "/version", "").verb, "head");
        assert!(!info(Method::GET, "/openapi/v3/apis/apps/v1", "").resource_request);
    }
}
