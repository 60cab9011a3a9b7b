//! RBAC authorization from the stored Roles, ClusterRoles, RoleBindings and
//! ClusterRoleBindings, as kube-apiserver's RBAC authorizer evaluates them
//! (k8s: plugin/pkg/auth/authorizer/rbac/rbac.go, pkg/registry/rbac/validation/rule.go,
//! pkg/apis/rbac/v1/evaluation_helpers.go), plus the default policy of a fresh cluster.
//!
//! Rules are read from the store on every check, so a binding takes effect with the write that
//! creates it. ClusterRole aggregation is evaluated at check time: an aggregated role's rules are
//! its own plus those of every ClusterRole its selectors match (kube-apiserver's controller
//! writes the union into the role instead, so `kubectl get clusterrole view -o yaml` shows only
//! what was stored — the bootstrap roles are stored with their aggregated rules filled in).

use std::collections::BTreeSet;

use anyhow::Context;
use serde_json::{Map, Value, json};

use super::authn::split_service_account_username;
use super::{Attributes, Decision, RequestInfo, UserInfo};
use crate::gofmt;
use crate::selectors::label_selector_from_json;
use crate::state::State;
use crate::store::StorageKey;

pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// One `rules[]` entry of a Role or ClusterRole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyRule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

impl PolicyRule {
    pub fn from_json(v: &Value) -> PolicyRule {
        PolicyRule {
            verbs: strings(&v["verbs"]),
            api_groups: strings(&v["apiGroups"]),
            resources: strings(&v["resources"]),
            resource_names: strings(&v["resourceNames"]),
            non_resource_urls: strings(&v["nonResourceURLs"]),
        }
    }

    fn verb_matches(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == "*" || v == verb)
    }

    fn api_group_matches(&self, group: &str) -> bool {
        self.api_groups.iter().any(|g| g == "*" || g == group)
    }

    fn resource_matches(&self, combined: &str, subresource: &str) -> bool {
        self.resources.iter().any(|r| {
            r == "*"
                || r == combined
                || (!subresource.is_empty()
                    && r.len() == subresource.len() + 2
                    && r.starts_with("*/")
                    && r.ends_with(subresource))
        })
    }

    fn resource_name_matches(&self, name: &str) -> bool {
        self.resource_names.is_empty() || self.resource_names.iter().any(|n| n == name)
    }

    fn non_resource_url_matches(&self, path: &str) -> bool {
        self.non_resource_urls.iter().any(|u| {
            u == "*"
                || u == path
                || u.strip_suffix('*')
                    .is_some_and(|prefix| path.starts_with(prefix.trim_end_matches('*')))
        })
    }

    /// Whether this rule allows the request (k8s: rbac.RuleAllows).
    pub fn allows(&self, req: &RequestInfo) -> bool {
        if req.resource_request {
            self.verb_matches(&req.verb)
                && self.api_group_matches(&req.api_group)
                && self.resource_matches(&req.combined_resource(), &req.subresource)
                && self.resource_name_matches(&req.name)
        } else {
            self.verb_matches(&req.verb) && self.non_resource_url_matches(&req.path)
        }
    }
}

fn key(plural: &str) -> StorageKey {
    StorageKey::new(RBAC_GROUP, plural)
}

fn not_found(singular: &str, name: &str) -> String {
    format!("{singular}.{RBAC_GROUP} {} not found", gofmt::quote(name))
}

fn rules_of(obj: &Value) -> Vec<PolicyRule> {
    obj["rules"]
        .as_array()
        .map(|r| r.iter().map(PolicyRule::from_json).collect())
        .unwrap_or_default()
}

/// A ClusterRole's rules, with those of the ClusterRoles its aggregationRule selects.
fn cluster_role_rules(state: &State, name: &str) -> Result<Vec<PolicyRule>, String> {
    let role = state
        .store
        .get(&key("clusterroles"), "", name)
        .ok_or_else(|| not_found("clusterrole", name))?;
    let mut rules = rules_of(&role);
    let mut seen = BTreeSet::from([name.to_string()]);
    aggregate(state, &role, &mut seen, &mut rules);
    Ok(rules)
}

fn aggregate(
    state: &State,
    role: &Value,
    seen: &mut BTreeSet<String>,
    rules: &mut Vec<PolicyRule>,
) {
    let Some(selectors) = role["aggregationRule"]["clusterRoleSelectors"].as_array() else {
        return;
    };
    let selectors: Vec<_> = selectors
        .iter()
        .filter_map(|s| label_selector_from_json(s).ok())
        .collect();
    let (all, _) = state.store.list(&key("clusterroles"), None);
    let empty = Map::new();
    for other in all {
        let name = other["metadata"]["name"].as_str().unwrap_or_default();
        let labels = other["metadata"]["labels"].as_object().unwrap_or(&empty);
        if seen.contains(name) || !selectors.iter().any(|s| s.matches(labels)) {
            continue;
        }
        seen.insert(name.to_string());
        for rule in rules_of(&other) {
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        aggregate(state, &other, seen, rules);
    }
}

/// The rules a binding's roleRef grants (k8s: GetRoleReferenceRules).
fn role_ref_rules(
    state: &State,
    role_ref: &Value,
    namespace: &str,
) -> Result<Vec<PolicyRule>, String> {
    let name = role_ref["name"].as_str().unwrap_or_default();
    match role_ref["kind"].as_str().unwrap_or_default() {
        "Role" => state
            .store
            .get(&key("roles"), namespace, name)
            .map(|r| rules_of(&r))
            .ok_or_else(|| not_found("role", name)),
        "ClusterRole" => cluster_role_rules(state, name),
        other => Err(format!(
            "unsupported role reference kind: {}",
            gofmt::quote(other)
        )),
    }
}

/// Whether a binding subject is this user (k8s: appliesToUser). ServiceAccount subjects without
/// a namespace mean the binding's own.
fn subject_applies(user: &UserInfo, subject: &Value, namespace: &str) -> bool {
    let name = subject["name"].as_str().unwrap_or_default();
    match subject["kind"].as_str().unwrap_or_default() {
        "User" => user.username == name,
        "Group" => user.in_group(name),
        "ServiceAccount" => {
            let ns = subject["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(namespace);
            !ns.is_empty() && split_service_account_username(&user.username) == Some((ns, name))
        }
        _ => false,
    }
}

fn describe_subject(subject: &Value, binding_namespace: &str) -> String {
    let kind = subject["kind"].as_str().unwrap_or_default();
    let name = subject["name"].as_str().unwrap_or_default();
    if kind == "ServiceAccount" {
        let ns = subject["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(binding_namespace);
        format!("{kind} {}", gofmt::quote(&format!("{name}/{ns}")))
    } else {
        format!("{kind} {}", gofmt::quote(name))
    }
}

/// What `visit_rules_for` reports: a rule with where it came from, or a resolution error.
enum Visit<'a> {
    Rule {
        source: &'a dyn Fn() -> String,
        rule: &'a PolicyRule,
    },
    Error(String),
}

/// Calls `visit` with each rule granted to `user` in `namespace` (cluster-wide bindings first,
/// then the namespace's RoleBindings) and each error resolving a roleRef, until it returns
/// false (k8s: DefaultRuleResolver.VisitRulesFor).
fn visit_rules_for(
    state: &State,
    user: &UserInfo,
    namespace: &str,
    visit: &mut dyn FnMut(Visit) -> bool,
) {
    let (bindings, _) = state.store.list(&key("clusterrolebindings"), None);
    for binding in bindings {
        let subjects = binding["subjects"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let Some(subject) = subjects.iter().find(|s| subject_applies(user, s, "")) else {
            continue;
        };
        let role_ref = &binding["roleRef"];
        match role_ref_rules(state, role_ref, "") {
            Err(e) => {
                if !visit(Visit::Error(e)) {
                    return;
                }
            }
            Ok(rules) => {
                let source = || {
                    format!(
                        "ClusterRoleBinding {} of {} {} to {}",
                        gofmt::quote(binding["metadata"]["name"].as_str().unwrap_or_default()),
                        role_ref["kind"].as_str().unwrap_or_default(),
                        gofmt::quote(role_ref["name"].as_str().unwrap_or_default()),
                        describe_subject(subject, "")
                    )
                };
                for rule in &rules {
                    if !visit(Visit::Rule {
                        source: &source,
                        rule,
                    }) {
                        return;
                    }
                }
            }
        }
    }
    if namespace.is_empty() {
        return;
    }
    let (bindings, _) = state.store.list(&key("rolebindings"), Some(namespace));
    for binding in bindings {
        let subjects = binding["subjects"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let Some(subject) = subjects
            .iter()
            .find(|s| subject_applies(user, s, namespace))
        else {
            continue;
        };
        let role_ref = &binding["roleRef"];
        match role_ref_rules(state, role_ref, namespace) {
            Err(e) => {
                if !visit(Visit::Error(e)) {
                    return;
                }
            }
            Ok(rules) => {
                let source = || {
                    let name = binding["metadata"]["name"].as_str().unwrap_or_default();
                    format!(
                        "RoleBinding {} of {} {} to {}",
                        gofmt::quote(&format!("{name}/{namespace}")),
                        role_ref["kind"].as_str().unwrap_or_default(),
                        gofmt::quote(role_ref["name"].as_str().unwrap_or_default()),
                        describe_subject(subject, namespace)
                    )
                };
                for rule in &rules {
                    if !visit(Visit::Rule {
                        source: &source,
                        rule,
                    }) {
                        return;
                    }
                }
            }
        }
    }
}

/// `utilerrors.NewAggregate(errs).Error()`: one message as is, several deduplicated in brackets.
fn aggregate_errors(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for e in errors {
        if !seen.contains(&e.as_str()) {
            seen.push(e);
        }
    }
    match seen.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// The RBAC authorizer: allowed with the granting binding as reason, or no opinion with any
/// resolution errors as reason.
pub fn authorize(state: &State, attrs: &Attributes) -> Decision {
    let mut allowed_by = None;
    let mut errors = Vec::new();
    visit_rules_for(
        state,
        &attrs.user,
        &attrs.request.namespace,
        &mut |v| match v {
            Visit::Rule { source, rule } => {
                if rule.allows(&attrs.request) {
                    allowed_by = Some(source());
                    return false;
                }
                true
            }
            Visit::Error(e) => {
                errors.push(e);
                true
            }
        },
    );
    match allowed_by {
        Some(source) => Decision {
            allowed: true,
            reason: format!("RBAC: allowed by {source}"),
        },
        None if errors.is_empty() => Decision {
            allowed: false,
            reason: String::new(),
        },
        None => Decision {
            allowed: false,
            reason: format!("RBAC: {}", aggregate_errors(&errors)),
        },
    }
}

/// Every rule granted to `user` in `namespace`, and the resolution errors met (for
/// SelfSubjectRulesReview).
pub fn rules_for(
    state: &State,
    user: &UserInfo,
    namespace: &str,
) -> (Vec<PolicyRule>, Option<String>) {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    visit_rules_for(state, user, namespace, &mut |v| {
        match v {
            Visit::Rule { rule, .. } => rules.push(rule.clone()),
            Visit::Error(e) => errors.push(e),
        }
        true
    });
    let error = (!errors.is_empty()).then(|| aggregate_errors(&errors));
    (rules, error)
}

const BOOTSTRAP_POLICY: &str = include_str!("bootstrap-policy.yaml");

fn bootstrap_metadata(obj: &mut Value) {
    let meta = &mut obj["metadata"];
    meta["annotations"] = json!({"rbac.authorization.kubernetes.io/autoupdate": "true"});
    meta["labels"]["kubernetes.io/bootstrapping"] = json!("rbac-defaults");
}

/// Fills in the rules of aggregated roles among `roles` from the roles they select, as the
/// aggregation controller would.
fn aggregate_bootstrap_roles(roles: &mut [Value]) {
    for i in 0..roles.len() {
        let Some(selectors) = roles[i]["aggregationRule"]["clusterRoleSelectors"].as_array() else {
            continue;
        };
        let selectors: Vec<_> = selectors
            .iter()
            .filter_map(|s| label_selector_from_json(s).ok())
            .collect();
        let mut seen = BTreeSet::from([i]);
        let mut pending = vec![i];
        let mut rules: Vec<Value> = Vec::new();
        let empty = Map::new();
        while let Some(at) = pending.pop() {
            let own: Vec<_> = if at == i {
                selectors.clone()
            } else {
                roles[at]["aggregationRule"]["clusterRoleSelectors"]
                    .as_array()
                    .map(|s| {
                        s.iter()
                            .filter_map(|s| label_selector_from_json(s).ok())
                            .collect()
                    })
                    .unwrap_or_default()
            };
            for (j, other) in roles.iter().enumerate() {
                let labels = other["metadata"]["labels"].as_object().unwrap_or(&empty);
                if seen.contains(&j) || !own.iter().any(|s| s.matches(labels)) {
                    continue;
                }
                seen.insert(j);
                pending.push(j);
                for rule in other["rules"].as_array().into_iter().flatten() {
                    if !rules.contains(rule) {
                        rules.push(rule.clone());
                    }
                }
            }
        }
        roles[i]["rules"] = Value::Array(rules);
    }
}

/// The default ClusterRoles (aggregated ones with their rules filled in) and
/// ClusterRoleBindings every cluster starts with, by resource (`clusterroles`,
/// `clusterrolebindings`), in the order they are created.
pub(crate) fn bootstrap_objects() -> anyhow::Result<[(&'static str, Vec<Value>); 2]> {
    let policy: Value =
        serde_yaml::from_str(BOOTSTRAP_POLICY).context("parsing the bootstrap RBAC policy")?;
    let mut roles: Vec<Value> = policy["clusterRoles"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    aggregate_bootstrap_roles(&mut roles);
    let mut bindings = policy["clusterRoleBindings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    roles
        .iter_mut()
        .chain(bindings.iter_mut())
        .for_each(bootstrap_metadata);
    Ok([("clusterroles", roles), ("clusterrolebindings", bindings)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Query;
    use http::Method;

    fn rule(v: Value) -> PolicyRule {
        PolicyRule::from_json(&v)
    }

    fn req(method: Method, path: &str) -> RequestInfo {
        RequestInfo::new(&method, path, &Query::default())
    }

    #[test]
    fn rule_matching() {
        let r =
            rule(json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}));
        assert!(r.allows(&req(Method::GET, "/api/v1/namespaces/ns/configmaps")));
        assert!(r.allows(&req(Method::GET, "/api/v1/namespaces/ns/configmaps/x")));
        assert!(!r.allows(&req(Method::DELETE, "/api/v1/namespaces/ns/configmaps/x")));
        assert!(!r.allows(&req(Method::GET, "/apis/apps/v1/namespaces/ns/deployments")));

        let sub = rule(
            json!({"apiGroups": ["example.com"], "resources": ["testjobs/status"], "verbs": ["update"]}),
        );
        assert!(sub.allows(&req(
            Method::PUT,
            "/apis/example.com/v1/namespaces/ns/testjobs/j/status"
        )));
        assert!(!sub.allows(&req(
            Method::PUT,
            "/apis/example.com/v1/namespaces/ns/testjobs/j"
        )));
        let any_status =
            rule(json!({"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["*"]}));
        assert!(any_status.allows(&req(Method::PATCH, "/api/v1/namespaces/ns/pods/p/status")));
        assert!(!any_status.allows(&req(Method::GET, "/api/v1/namespaces/ns/pods/p/log")));

        let named = rule(
            json!({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"], "verbs": ["get"]}),
        );
        assert!(named.allows(&req(Method::GET, "/api/v1/namespaces/ns/configmaps/a")));
        assert!(!named.allows(&req(Method::GET, "/api/v1/namespaces/ns/configmaps/b")));
        assert!(!named.allows(&req(Method::GET, "/api/v1/namespaces/ns/configmaps")));

        let urls = rule(json!({"nonResourceURLs": ["/api", "/apis/*"], "verbs": ["get"]}));
        assert!(urls.allows(&req(Method::GET, "/api")));
        assert!(urls.allows(&req(Method::GET, "/apis/apps/v1")));
        assert!(!urls.allows(&req(Method::GET, "/api/v1")));
        assert!(!urls.allows(&req(Method::POST, "/api")));
    }

    #[test]
    fn subjects() {
        let sa = UserInfo {
            username: "system:serviceaccount:ns:sa".into(),
            groups: vec!["system:serviceaccounts".into()],
            ..Default::default()
        };
        assert!(subject_applies(
            &sa,
            &json!({"kind": "ServiceAccount", "name": "sa"}),
            "ns"
        ));
        assert!(!subject_applies(
            &sa,
            &json!({"kind": "ServiceAccount", "name": "sa"}),
            ""
        ));
        assert!(subject_applies(
            &sa,
            &json!({"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}),
            ""
        ));
        assert!(subject_applies(
            &sa,
            &json!({"kind": "Group", "name": "system:serviceaccounts"}),
            ""
        ));
        assert!(!subject_applies(
            &sa,
            &json!({"kind": "User", "name": "sa"}),
            "ns"
        ));
        assert_eq!(
            describe_subject(&json!({"kind": "ServiceAccount", "name": "sa"}), "ns"),
            "ServiceAccount \"sa/ns\""
        );
    }

    #[test]
    fn error_aggregation() {
        assert_eq!(aggregate_errors(&["a".into()]), "a");
        assert_eq!(
            aggregate_errors(&["a".into(), "b".into(), "a".into()]),
            "[a, b]"
        );
    }

    #[test]
    fn bootstrap_roles_aggregate() {
        let policy: Value = serde_yaml::from_str(BOOTSTRAP_POLICY).unwrap();
        let mut roles: Vec<Value> = policy["clusterRoles"].as_array().cloned().unwrap();
        aggregate_bootstrap_roles(&mut roles);
        let find = |n: &str| roles.iter().find(|r| r["metadata"]["name"] == n).unwrap();
        let grants = |role: &Value, method: Method, path: &str| {
            rules_of(role)
                .iter()
                .any(|r| r.allows(&req(method.clone(), path)))
        };
        let view = find("view");
        assert!(grants(
            view,
            Method::GET,
            "/api/v1/namespaces/ns/pods/p/log"
        ));
        assert!(!grants(
            view,
            Method::DELETE,
            "/api/v1/namespaces/ns/pods/p"
        ));
        let edit = find("edit");
        assert!(grants(
            edit,
            Method::GET,
            "/api/v1/namespaces/ns/configmaps"
        ));
        assert!(grants(
            edit,
            Method::DELETE,
            "/api/v1/namespaces/ns/configmaps/c"
        ));
        assert!(!grants(
            edit,
            Method::POST,
            "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/roles"
        ));
        let admin = find("admin");
        assert!(grants(
            admin,
            Method::POST,
            "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/roles"
        ));
        assert!(grants(admin, Method::GET, "/api/v1/namespaces/ns/secrets"));
    }
}
