//! Turns a request path and method into what it asks for, as kube-apiserver's
//! RequestInfoFactory does (k8s: staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go).

use std::collections::HashMap;

use http::Method;

/// A resource request: `/api/v1/...` or `/apis/G/V/...`.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceRequest {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    pub verb: Verb,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
}

impl Verb {
    /// The RBAC verb.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
        }
    }
}

/// Subresources of namespaces that look like a namespaced resource in the path.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Parses a resource path; `None` for anything else (discovery, OpenAPI, unknown paths).
pub fn parse(method: &Method, path: &str, query: &Query) -> Option<ResourceRequest> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => (String::new(), version.to_string(), rest),
        ["apis", group, version, rest @ ..] => (group.to_string(), version.to_string(), rest),
        _ => return None,
    };
    if rest.is_empty() || rest.iter().any(|p| p.is_empty()) {
        return None;
    }
    let mut rest: &[&str] = rest;
    let mut namespace = None;
    if rest[0] == "namespaces" && rest.len() > 1 {
        namespace = Some(rest[1].to_string());
        if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
            rest = &rest[2..];
        } else {
            // `namespaces/NAME[/status]` addresses the namespace object itself.
            namespace = None;
        }
    }
    let (resource, name, subresource) = match rest {
        [resource] => (resource.to_string(), None, None),
        [resource, name] => (resource.to_string(), Some(name.to_string()), None),
        [resource, name, sub] => (
            resource.to_string(),
            Some(name.to_string()),
            Some(sub.to_string()),
        ),
        _ => return None,
    };
    let verb = match *method {
        Method::GET | Method::HEAD => {
            if name.is_some() {
                Verb::Get
            } else if query.flag("watch") {
                Verb::Watch
            } else {
                Verb::List
            }
        }
        Method::POST => Verb::Create,
        Method::PUT => Verb::Update,
        Method::PATCH => Verb::Patch,
        Method::DELETE => {
            if name.is_some() {
                Verb::Delete
            } else {
                Verb::DeleteCollection
            }
        }
        _ => return None,
    };
    Some(ResourceRequest {
        group,
        version,
        namespace,
        resource,
        name,
        subresource,
        verb,
    })
}

/// Decoded query parameters (last value wins, as url.Values.Get returns the first — the
/// clients we serve never repeat one).
#[derive(Clone, Debug, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut map = HashMap::new();
        for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(decode(k), decode(v));
        }
        Query(map)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Boolean parameters as the apiserver's conversion reads them (`1`, `true`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("1" | "true" | "True" | "TRUE"))
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| format!("invalid value {v:?} for {key}")),
        }
    }
}

/// Every value of a repeated parameter, in order (`command=sh&command=-c` for exec).
pub fn query_values(raw: Option<&str>, key: &str) -> Vec<String> {
    raw.unwrap_or_default()
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k) == key).then(|| decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(method: Method, path: &str, q: &str) -> Option<ResourceRequest> {
        parse(&method, path, &Query::parse(Some(q)))
    }

    #[test]
    fn paths() {
        let r = p(Method::GET, "/api/v1/namespaces/default/pods/x/log", "").unwrap();
        assert_eq!(r.namespace.as_deref(), Some("default"));
        assert_eq!(r.resource, "pods");
        assert_eq!(r.subresource.as_deref(), Some("log"));
        let r = p(Method::GET, "/api/v1/namespaces/foo", "").unwrap();
        assert_eq!(r.resource, "namespaces");
        assert_eq!(r.name.as_deref(), Some("foo"));
        assert_eq!(r.namespace, None);
        let r = p(Method::PUT, "/api/v1/namespaces/foo/status", "").unwrap();
        assert_eq!(r.subresource.as_deref(), Some("status"));
        assert_eq!(r.verb, Verb::Update);
        let r = p(Method::GET, "/apis/apps/v1/deployments", "watch=1").unwrap();
        assert_eq!(r.verb, Verb::Watch);
        assert_eq!(r.group, "apps");
        let r = p(Method::GET, "/api/v1/namespaces", "").unwrap();
        assert_eq!(r.verb, Verb::List);
        assert!(p(Method::GET, "/apis/apps", "").is_none());
    }

    #[test]
    fn query_decoding() {
        let q = Query::parse(Some("labelSelector=a%3Db%2Cc+in+%28x%29&watch=true"));
        assert_eq!(q.get("labelSelector"), Some("a=b,c in (x)"));
        assert!(q.flag("watch"));
    }
}
