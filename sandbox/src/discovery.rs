//! API discovery as kube-apiserver serves it: `/version`, the legacy documents (`/api`, `/apis`,
//! `/apis/G`, `/api/v1`, `/apis/G/V`) and the aggregated `APIGroupDiscoveryList` that clients ask
//! for through content negotiation on `/api` and `/apis`.
//!
//! Everything is derived from the served [`ResourceType`]s, so discovery can never disagree with
//! routing or OpenAPI. Group order follows the aggregator's APIService priorities (then name), as
//! REST mappers resolve short-name clashes by that order.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use crate::resource_types::ResourceType;

/// The Kubernetes release the sandbox claims to be.
pub const SERVER_GIT_VERSION: &str = "v1.35.0";

const AGGREGATED_GROUP: &str = "apidiscovery.k8s.io";
const AGGREGATED_KIND: &str = "APIGroupDiscoveryList";
/// Content type of an aggregated discovery answer. The server lists g, v and as in this order.
const AGGREGATED_V2_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// `GET /version`.
pub fn version_info() -> Value {
    let (major, minor) = major_minor(SERVER_GIT_VERSION);
    json!({
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "minCompatibilityMajor": major,
        "minCompatibilityMinor": minor.parse::<u32>().map(|m| m.saturating_sub(1).to_string()).unwrap_or_else(|_| minor.clone()),
        "gitVersion": SERVER_GIT_VERSION,
        // Not a real build: no commit exists for this binary.
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-12-17T00:00:00Z",
        "goVersion": "go1.25.5",
        "compiler": "gc",
        "platform": platform(),
    })
}

fn major_minor(git_version: &str) -> (String, String) {
    let mut parts = git_version.trim_start_matches('v').split('.');
    let major = parts.next().unwrap_or("1").to_string();
    let minor = parts.next().unwrap_or("0").to_string();
    (major, minor)
}

fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{}/{}", std::env::consts::OS, arch)
}

/// `GET /api` in the legacy format (`APIVersions`). The server strips `apiVersion` here.
pub fn api_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        // Required (not omitempty) in the Go type; the sandbox has no address worth advertising.
        "serverAddressByClientCIDRs": [],
    })
}

/// `GET /apis` in the legacy format (`APIGroupList`): every group except the core one.
pub fn api_group_list(types: &[ResourceType]) -> Value {
    let groups: Vec<Value> = ordered_groups(types)
        .into_iter()
        .filter(|(group, _)| !group.is_empty())
        .map(|(group, versions)| api_group_body(&group, &versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/G` (`APIGroup`), or `None` when nothing is served in that group.
pub fn api_group(types: &[ResourceType], group: &str) -> Option<Value> {
    if group.is_empty() {
        return None;
    }
    let versions = group_versions(types, group);
    if versions.is_empty() {
        return None;
    }
    let mut body = api_group_body(group, &versions);
    let object = body.as_object_mut()?;
    let mut out = Map::new();
    out.insert("kind".into(), "APIGroup".into());
    out.insert("apiVersion".into(), "v1".into());
    out.append(object);
    Some(Value::Object(out))
}

fn api_group_body(group: &str, versions: &[String]) -> Value {
    let entries: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = entries.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": entries, "preferredVersion": preferred})
}

/// `GET /api/v1` or `GET /apis/G/V` (`APIResourceList`), with one entry per subresource
/// (`pods/status`, `pods/log`). `None` when the group-version is not served.
pub fn api_resource_list(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let mut served: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    served.sort_by(|a, b| a.plural.cmp(&b.plural));
    let mut resources = Vec::new();
    for t in served {
        let mut entry = Map::new();
        entry.insert("name".into(), t.plural.clone().into());
        entry.insert("singularName".into(), t.singular.clone().into());
        entry.insert("namespaced".into(), t.namespaced.into());
        entry.insert("kind".into(), t.kind.clone().into());
        entry.insert("verbs".into(), json!(t.verbs));
        if !t.short_names.is_empty() {
            entry.insert("shortNames".into(), json!(t.short_names));
        }
        if !t.categories.is_empty() {
            entry.insert("categories".into(), json!(t.categories));
        }
        resources.push(Value::Object(entry));

        let mut subresources: Vec<_> = t.subresources.iter().collect();
        subresources.sort_by(|a, b| a.name.cmp(&b.name));
        for s in subresources {
            let mut entry = Map::new();
            entry.insert("name".into(), format!("{}/{}", t.plural, s.name).into());
            entry.insert("singularName".into(), "".into());
            entry.insert("namespaced".into(), t.namespaced.into());
            // Group and version appear only when they differ from the list's group-version.
            if s.response_group != group || s.response_version != version {
                entry.insert("group".into(), s.response_group.clone().into());
                entry.insert("version".into(), s.response_version.clone().into());
            }
            entry.insert("kind".into(), s.response_kind.clone().into());
            entry.insert("verbs".into(), json!(s.verbs));
            resources.push(Value::Object(entry));
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut list = Map::new();
    list.insert("kind".into(), "APIResourceList".into());
    // Like `/api`, the core group's list is served without apiVersion (release 1.1 compatibility).
    if !group.is_empty() {
        list.insert("apiVersion".into(), "v1".into());
    }
    list.insert("groupVersion".into(), group_version.into());
    list.insert("resources".into(), resources.into());
    Some(Value::Object(list))
}

/// One clause of an HTTP `Accept` header.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MediaRange {
    pub type_: String,
    pub sub_type: String,
    pub q: f32,
    /// Parameters other than `q`, lower-cased keys, in header order.
    pub params: Vec<(String, String)>,
}

impl MediaRange {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether this range covers `type_/sub_type`.
    pub fn matches(&self, type_: &str, sub_type: &str) -> bool {
        (self.type_ == "*" || self.type_.eq_ignore_ascii_case(type_))
            && (self.sub_type == "*" || self.sub_type.eq_ignore_ascii_case(sub_type))
    }
}

/// Parses an `Accept` header the way goautoneg does: clauses ordered by quality, more specific
/// ranges first among equals, header order otherwise.
pub(crate) fn parse_accept(header: &str) -> Vec<MediaRange> {
    let mut clauses: Vec<MediaRange> = header
        .split(',')
        .filter_map(|clause| {
            let mut parts = clause.split(';');
            let media = parts.next()?.trim();
            if media.is_empty() {
                return None;
            }
            let (type_, sub_type) = match media.split_once('/') {
                Some((t, s)) => (t.trim().to_string(), s.trim().to_string()),
                None if media == "*" => ("*".to_string(), "*".to_string()),
                None => return None,
            };
            let mut q = 1.0;
            let mut params = Vec::new();
            for param in parts {
                let Some((key, value)) = param.split_once('=') else {
                    continue;
                };
                let key = key.trim().to_ascii_lowercase();
                let value = value.trim().trim_matches('"').to_string();
                if key == "q" {
                    q = value.parse().unwrap_or(0.0);
                } else {
                    params.push((key, value));
                }
            }
            Some(MediaRange {
                type_,
                sub_type,
                q,
                params,
            })
        })
        .collect();
    clauses.sort_by(|a, b| {
        b.q.partial_cmp(&a.q)
            .unwrap_or(Ordering::Equal)
            .then_with(|| (a.type_ == "*").cmp(&(b.type_ == "*")))
            .then_with(|| (a.sub_type == "*").cmp(&(b.sub_type == "*")))
    });
    clauses
}

/// For `GET /api` and `GET /apis`: `Some(content type)` when the `Accept` header asks for the
/// aggregated `APIGroupDiscoveryList`, `None` for the legacy documents.
///
/// Mirrors kube-apiserver 1.35: the first clause (by preference) that the discovery endpoint can
/// serve decides. A clause with `g`/`v`/`as` parameters is servable only when they name
/// `apidiscovery.k8s.io/v2 APIGroupDiscoveryList`; 1.35 no longer serves `v2beta1`
/// (feature gate AggregatedDiscoveryRemoveBetaType is locked on), so such a clause is skipped.
/// Only the JSON encoding is produced here, so protobuf and YAML clauses are skipped too.
pub fn aggregated_content_type(accept: Option<&str>) -> Option<String> {
    let accept = accept.map(str::trim).filter(|a| !a.is_empty())?;
    for clause in parse_accept(accept) {
        if !clause.matches("application", "json") {
            continue;
        }
        // `sv` selects a server version, which discovery never allows.
        if clause.param("sv").is_some_and(|v| !v.is_empty()) {
            continue;
        }
        let g = clause.param("g");
        let v = clause.param("v");
        let as_ = clause.param("as");
        if g.is_none() && v.is_none() && as_.is_none() {
            return None;
        }
        if g == Some(AGGREGATED_GROUP) && v == Some("v2") && as_ == Some(AGGREGATED_KIND) {
            return Some(AGGREGATED_V2_CONTENT_TYPE.to_string());
        }
    }
    None
}

/// The `APIGroupDiscoveryList` for `/api` (`core == true`: only the core group) or `/apis`
/// (every other group). Its `apiVersion` follows the `v` parameter of `content_type`, the value
/// [`aggregated_content_type`] returned (`v2` when absent).
pub fn aggregated_discovery(types: &[ResourceType], core: bool, content_type: &str) -> Value {
    let version = parse_accept(content_type)
        .first()
        .and_then(|c| c.param("v").map(str::to_string))
        .unwrap_or_else(|| "v2".to_string());
    let items: Vec<Value> = ordered_groups(types)
        .into_iter()
        .filter(|(group, _)| group.is_empty() == core)
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| {
                    json!({
                        "version": v,
                        "resources": aggregated_resources(types, &group, v),
                        "freshness": "Current",
                    })
                })
                .collect();
            // ObjectMeta.name is omitempty: the core group's metadata carries no name at all.
            let metadata = if group.is_empty() {
                json!({})
            } else {
                json!({"name": group})
            };
            json!({"metadata": metadata, "versions": versions})
        })
        .collect();
    json!({
        "kind": AGGREGATED_KIND,
        "apiVersion": format!("{AGGREGATED_GROUP}/{version}"),
        "metadata": {},
        "items": items,
    })
}

fn aggregated_resources(types: &[ResourceType], group: &str, version: &str) -> Vec<Value> {
    let mut served: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    served.sort_by(|a, b| a.plural.cmp(&b.plural));
    served
        .into_iter()
        .map(|t| {
            let mut entry = Map::new();
            entry.insert("resource".into(), t.plural.clone().into());
            entry.insert(
                "responseKind".into(),
                json!({"group": t.group, "version": t.version, "kind": t.kind}),
            );
            entry.insert(
                "scope".into(),
                if t.namespaced {
                    "Namespaced"
                } else {
                    "Cluster"
                }
                .into(),
            );
            entry.insert("singularResource".into(), t.singular.clone().into());
            entry.insert("verbs".into(), json!(t.verbs));
            if !t.short_names.is_empty() {
                entry.insert("shortNames".into(), json!(t.short_names));
            }
            if !t.categories.is_empty() {
                entry.insert("categories".into(), json!(t.categories));
            }
            let mut subresources: Vec<_> = t.subresources.iter().collect();
            subresources.sort_by(|a, b| a.name.cmp(&b.name));
            if !subresources.is_empty() {
                let subs: Vec<Value> = subresources
                    .into_iter()
                    .map(|s| {
                        json!({
                            "subresource": s.name,
                            "responseKind": {
                                "group": s.response_group,
                                "version": s.response_version,
                                "kind": s.response_kind,
                            },
                            "verbs": s.verbs,
                        })
                    })
                    .collect();
                entry.insert("subresources".into(), subs.into());
            }
            Value::Object(entry)
        })
        .collect()
}

/// `groupPriorityMinimum` of the built-in APIServices (kube-apiserver's aggregator table);
/// groups not listed (CRDs) get 1000, the default for CRD-backed APIServices.
const GROUP_PRIORITIES: &[(&str, i32)] = &[
    ("", 18000),
    ("apiregistration.k8s.io", 18000),
    ("apps", 17800),
    ("events.k8s.io", 17750),
    ("authentication.k8s.io", 17700),
    ("authorization.k8s.io", 17600),
    ("autoscaling", 17500),
    ("batch", 17400),
    ("certificates.k8s.io", 17300),
    ("networking.k8s.io", 17200),
    ("policy", 17100),
    ("rbac.authorization.k8s.io", 17000),
    ("storage.k8s.io", 16800),
    ("admissionregistration.k8s.io", 16700),
    ("apiextensions.k8s.io", 16700),
    ("scheduling.k8s.io", 16600),
    ("coordination.k8s.io", 16500),
    ("node.k8s.io", 16300),
    ("discovery.k8s.io", 16200),
    ("flowcontrol.apiserver.k8s.io", 16100),
    ("internal.apiserver.k8s.io", 16000),
    ("resource.k8s.io", 15900),
    ("storagemigration.k8s.io", 15800),
];

fn group_priority(group: &str) -> i32 {
    GROUP_PRIORITIES
        .iter()
        .find(|(g, _)| *g == group)
        .map(|(_, p)| *p)
        .unwrap_or(1000)
}

/// Served groups in discovery order, each with its versions, preferred version first.
fn ordered_groups(types: &[ResourceType]) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<String> = Vec::new();
    for t in types {
        if !groups.contains(&t.group) {
            groups.push(t.group.clone());
        }
    }
    groups.sort_by(|a, b| {
        group_priority(b)
            .cmp(&group_priority(a))
            .then_with(|| a.cmp(b))
    });
    groups
        .into_iter()
        .map(|g| {
            let versions = group_versions(types, &g);
            (g, versions)
        })
        .collect()
}

/// Versions served in `group`, most preferred first (Kubernetes version ordering).
fn group_versions(types: &[ResourceType], group: &str) -> Vec<String> {
    let mut versions: Vec<String> = Vec::new();
    for t in types.iter().filter(|t| t.group == group) {
        if !versions.contains(&t.version) {
            versions.push(t.version.clone());
        }
    }
    versions.sort_by(|a, b| compare_kube_versions(b, a));
    versions
}

/// Kubernetes-aware version comparison (`v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > foo`),
/// as apimachinery's `CompareKubeAwareVersionStrings`: `Greater` means `a` is preferred.
fn compare_kube_versions(a: &str, b: &str) -> Ordering {
    match (parse_kube_version(a), parse_kube_version(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        // Non-Kubernetes versions sort alphabetically, the earlier one preferred.
        (None, None) => b.cmp(a),
    }
}

/// `(stability, major, minor)` with stability 2 = GA, 1 = beta, 0 = alpha; comparing the
/// tuples orders versions by preference (every GA version before any beta, betas before alphas).
fn parse_kube_version(v: &str) -> Option<(u8, u64, u64)> {
    let rest = v.strip_prefix('v')?;
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits_end == 0 {
        return None;
    }
    let major: u64 = rest[..digits_end].parse().ok()?;
    let tail = &rest[digits_end..];
    if tail.is_empty() {
        return Some((2, major, 0));
    }
    let (stability, number) = if let Some(n) = tail.strip_prefix("beta") {
        (1, n)
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (0, n)
    } else {
        return None;
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((stability, major, number.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource_types::{builtin_types, type_from_crd};

    /// The exact header client-go's discovery client sends (discovery_client.go).
    const KUBECTL_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

    fn widget_crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {
                    "plural": "widgets", "singular": "widget", "kind": "Widget",
                    "shortNames": ["wd"], "categories": ["all", "toys"],
                },
                "scope": "Namespaced",
                "versions": [{
                    "name": "v1", "served": true, "storage": true,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }],
            },
        })
    }

    fn sample_types() -> Vec<ResourceType> {
        let mut types = builtin_types();
        types.push(type_from_crd(&widget_crd()).expect("valid CRD"));
        types
    }

    #[test]
    fn version_is_semver_with_matching_major_minor() {
        let v = version_info();
        assert_eq!(v["gitVersion"], SERVER_GIT_VERSION);
        assert_eq!(v["major"], "1");
        assert_eq!(v["minor"], "35");
        assert_eq!(v["minCompatibilityMinor"], "34");
        for key in [
            "gitCommit",
            "gitTreeState",
            "buildDate",
            "goVersion",
            "compiler",
            "platform",
        ] {
            assert!(v[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
        }
    }

    #[test]
    fn kubectl_accept_negotiates_v2() {
        assert_eq!(
            aggregated_content_type(Some(KUBECTL_ACCEPT)).as_deref(),
            Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
        );
        // client-go with NoPeerDiscovery prepends a profile=nopeer clause.
        let nopeer = format!(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;profile=nopeer,{KUBECTL_ACCEPT}"
        );
        assert!(aggregated_content_type(Some(&nopeer)).is_some());
    }

    #[test]
    fn legacy_and_beta_only_accepts_fall_back_to_legacy() {
        assert_eq!(aggregated_content_type(None), None);
        assert_eq!(aggregated_content_type(Some("")), None);
        assert_eq!(aggregated_content_type(Some("application/json")), None);
        assert_eq!(aggregated_content_type(Some("*/*")), None);
        // kubectl 1.27/1.28 asked only for v2beta1, which 1.35 no longer serves.
        assert_eq!(
            aggregated_content_type(Some(
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
            )),
            None
        );
    }

    #[test]
    fn accept_preference_is_honoured() {
        // Plain JSON preferred by quality: legacy wins even though v2 is listed.
        assert_eq!(
            aggregated_content_type(Some(
                "application/json;q=0.9;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
            )),
            None
        );
        // Plain JSON listed first with equal quality: legacy.
        assert_eq!(
            aggregated_content_type(Some(
                "application/json,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            )),
            None
        );
        // Protobuf aggregated first: skipped (JSON only), JSON aggregated next.
        assert!(
            aggregated_content_type(Some(
                "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            ))
            .is_some()
        );
        // Parameter order and spacing do not matter.
        assert!(
            aggregated_content_type(Some(
                "application/json; as=APIGroupDiscoveryList; v=v2; g=apidiscovery.k8s.io"
            ))
            .is_some()
        );
        // An incomplete conversion request is not servable and is skipped.
        assert_eq!(
            aggregated_content_type(Some("application/json;as=APIGroupDiscoveryList")),
            None
        );
    }

    #[test]
    fn aggregated_core_has_pods_with_subresources() {
        let types = sample_types();
        let ct = aggregated_content_type(Some(KUBECTL_ACCEPT)).expect("aggregated");
        let doc = aggregated_discovery(&types, true, &ct);
        assert_eq!(doc["kind"], "APIGroupDiscoveryList");
        assert_eq!(doc["apiVersion"], "apidiscovery.k8s.io/v2");
        let items = doc["items"].as_array().expect("items");
        assert_eq!(items.len(), 1);
        assert!(items[0]["metadata"].get("name").is_none());
        let v1 = &items[0]["versions"][0];
        assert_eq!(v1["version"], "v1");
        assert_eq!(v1["freshness"], "Current");
        let resources = v1["resources"].as_array().expect("resources");
        let pods = resources
            .iter()
            .find(|r| r["resource"] == "pods")
            .expect("pods");
        assert_eq!(
            pods["responseKind"],
            json!({"group": "", "version": "v1", "kind": "Pod"})
        );
        assert_eq!(pods["scope"], "Namespaced");
        assert_eq!(pods["singularResource"], "pod");
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert_eq!(
            pods["subresources"],
            json!([
                {"subresource": "attach", "responseKind": {"group": "", "version": "v1", "kind": "PodAttachOptions"}, "verbs": ["create", "get"]},
                {"subresource": "eviction", "responseKind": {"group": "policy", "version": "v1", "kind": "Eviction"}, "verbs": ["create"]},
                {"subresource": "exec", "responseKind": {"group": "", "version": "v1", "kind": "PodExecOptions"}, "verbs": ["create", "get"]},
                {"subresource": "log", "responseKind": {"group": "", "version": "v1", "kind": "Pod"}, "verbs": ["get"]},
                {"subresource": "portforward", "responseKind": {"group": "", "version": "v1", "kind": "PodPortForwardOptions"}, "verbs": ["create", "get"]},
                {"subresource": "status", "responseKind": {"group": "", "version": "v1", "kind": "Pod"}, "verbs": ["get", "patch", "update"]},
            ])
        );
        let namespaces = resources
            .iter()
            .find(|r| r["resource"] == "namespaces")
            .expect("namespaces");
        assert_eq!(namespaces["scope"], "Cluster");
        let configmaps = resources
            .iter()
            .find(|r| r["resource"] == "configmaps")
            .expect("configmaps");
        assert!(configmaps.get("subresources").is_none());
        assert!(configmaps.get("categories").is_none());
        // Sorted by resource name, as the server's installer does.
        let names: Vec<&str> = resources
            .iter()
            .filter_map(|r| r["resource"].as_str())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }

    #[test]
    fn aggregated_apis_has_crd_and_no_core() {
        let types = sample_types();
        let doc = aggregated_discovery(&types, false, AGGREGATED_V2_CONTENT_TYPE);
        let items = doc["items"].as_array().expect("items");
        assert!(items.iter().all(|i| i["metadata"]["name"] != ""));
        let names: Vec<&str> = items
            .iter()
            .filter_map(|i| i["metadata"]["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "apps",
                "events.k8s.io",
                "authentication.k8s.io",
                "authorization.k8s.io",
                "autoscaling",
                "batch",
                "networking.k8s.io",
                "policy",
                "rbac.authorization.k8s.io",
                "storage.k8s.io",
                "apiextensions.k8s.io",
                "coordination.k8s.io",
                "discovery.k8s.io",
                "example.com",
            ]
        );
        let example = items
            .iter()
            .find(|i| i["metadata"]["name"] == "example.com")
            .expect("crd group");
        let widget = &example["versions"][0]["resources"][0];
        assert_eq!(
            *widget,
            json!({
                "resource": "widgets",
                "responseKind": {"group": "example.com", "version": "v1", "kind": "Widget"},
                "scope": "Namespaced",
                "singularResource": "widget",
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                "shortNames": ["wd"],
                "categories": ["all", "toys"],
                "subresources": [{
                    "subresource": "status",
                    "responseKind": {"group": "example.com", "version": "v1", "kind": "Widget"},
                    "verbs": ["get", "patch", "update"],
                }],
            })
        );
        // Both Event kinds are served, each in its own group.
        let events = items
            .iter()
            .find(|i| i["metadata"]["name"] == "events.k8s.io")
            .expect("events group");
        assert_eq!(events["versions"][0]["resources"][0]["resource"], "events");
        assert_eq!(
            aggregated_discovery(
                &types,
                false,
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
            )["apiVersion"],
            "apidiscovery.k8s.io/v2beta1"
        );
    }

    #[test]
    fn legacy_documents() {
        let types = sample_types();
        assert_eq!(
            api_versions(),
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        );
        let groups = api_group_list(&types);
        assert_eq!(groups["kind"], "APIGroupList");
        assert_eq!(groups["apiVersion"], "v1");
        assert_eq!(groups["groups"][0]["name"], "apps");
        assert_eq!(
            groups["groups"][0]["preferredVersion"],
            json!({"groupVersion": "apps/v1", "version": "v1"})
        );
        assert!(
            groups["groups"]
                .as_array()
                .expect("groups")
                .iter()
                .all(|g| g["name"] != "")
        );

        let group = api_group(&types, "example.com").expect("served group");
        assert_eq!(
            group,
            json!({
                "kind": "APIGroup", "apiVersion": "v1", "name": "example.com",
                "versions": [{"groupVersion": "example.com/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "example.com/v1", "version": "v1"},
            })
        );
        assert!(api_group(&types, "nope.io").is_none());
        assert!(api_group(&types, "").is_none());

        let core = api_resource_list(&types, "", "v1").expect("core list");
        assert!(core.get("apiVersion").is_none());
        assert_eq!(core["groupVersion"], "v1");
        let resources = core["resources"].as_array().expect("resources");
        let names: Vec<&str> = resources
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        let log = resources
            .iter()
            .find(|r| r["name"] == "pods/log")
            .expect("pods/log");
        assert_eq!(
            *log,
            json!({"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]})
        );
        let token = resources
            .iter()
            .find(|r| r["name"] == "serviceaccounts/token")
            .expect("token");
        assert_eq!(token["group"], "authentication.k8s.io");
        assert_eq!(token["version"], "v1");
        assert_eq!(token["kind"], "TokenRequest");

        let widgets = api_resource_list(&types, "example.com", "v1").expect("crd list");
        assert_eq!(widgets["apiVersion"], "v1");
        assert_eq!(widgets["groupVersion"], "example.com/v1");
        assert_eq!(widgets["resources"][0]["shortNames"], json!(["wd"]));
        assert_eq!(widgets["resources"][1]["name"], "widgets/status");
        assert!(api_resource_list(&types, "example.com", "v2").is_none());
    }

    #[test]
    fn versions_are_ordered_by_kubernetes_preference() {
        let mut versions = vec![
            "v1alpha1", "v1", "v2beta1", "v1beta2", "foo", "v2", "v1beta1", "bar",
        ];
        versions.sort_by(|a, b| compare_kube_versions(b, a));
        assert_eq!(
            versions,
            [
                "v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "bar", "foo"
            ]
        );
    }
}
