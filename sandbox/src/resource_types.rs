//! The resource types the sandbox serves: the built-in kinds it knows from birth and the ones
//! each established CustomResourceDefinition adds. Discovery, OpenAPI, routing and table
//! printing all read this one description, so they cannot disagree about a kind.

use serde_json::Value;

/// A column of server-side printing (`additionalPrinterColumns` for CRDs).
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    /// `integer`, `number`, `string`, `boolean` or `date`.
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i32,
    /// A simple JSONPath as CRDs write it, e.g. `.status.phase` (no braces).
    pub json_path: String,
}

/// A subresource as discovery lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Subresource {
    pub name: String,
    /// Group, version and kind of what the subresource answers with.
    pub response_group: String,
    pub response_version: String,
    pub response_kind: String,
    pub verbs: Vec<String>,
}

/// What a CustomResourceDefinition adds to a served type.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomResourceInfo {
    /// `metadata.name` of the CRD, `<plural>.<group>`.
    pub crd_name: String,
    /// `openAPIV3Schema` of the served version, when the CRD has one.
    pub schema: Option<Value>,
    pub printer_columns: Vec<PrinterColumn>,
    pub status_subresource: bool,
    /// `selectableFields` of the served version, as field paths without the leading dot
    /// (`spec.color`), for field selectors.
    pub selectable_fields: Vec<String>,
}

/// One served group/version/resource.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub list_kind: String,
    /// Lower-case plural, as in URLs.
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub subresources: Vec<Subresource>,
    /// Set for types served because of a CRD.
    pub custom: Option<CustomResourceInfo>,
}

impl ResourceType {
    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|s| s.name == name)
    }

    pub fn is_custom(&self) -> bool {
        self.custom.is_some()
    }
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    /// Subresources besides none; `status` answers with the kind itself.
    subresources: &'static [&'static str],
    verbs: &'static [&'static str],
}

const BUILTINS: &[Builtin] = &[
    Builtin {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        namespaced: false,
        short_names: &["ns"],
        categories: &[],
        subresources: &["status"],
        verbs: &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ],
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        namespaced: false,
        short_names: &["no"],
        categories: &[],
        subresources: &["status"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        namespaced: true,
        short_names: &["po"],
        categories: &["all"],
        subresources: &["status", "log", "eviction", "exec", "attach", "portforward"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        namespaced: true,
        short_names: &["svc"],
        categories: &["all"],
        subresources: &["status"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        namespaced: true,
        short_names: &["cm"],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        namespaced: true,
        short_names: &["sa"],
        categories: &[],
        subresources: &["token"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "events.k8s.io",
        version: "v1",
        kind: "Event",
        plural: "events",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        namespaced: true,
        short_names: &["deploy"],
        categories: &["all"],
        subresources: &["status", "scale"],
        verbs: ALL_VERBS,
    },
    // Kinds stored with their defaults; the workload controllers act on some of them.
    Builtin {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        namespaced: true,
        short_names: &["ep"],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
        namespaced: true,
        short_names: &["pvc"],
        categories: &[],
        subresources: &["status"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "PersistentVolume",
        plural: "persistentvolumes",
        namespaced: false,
        short_names: &["pv"],
        categories: &[],
        subresources: &["status"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ReplicationController",
        plural: "replicationcontrollers",
        namespaced: true,
        short_names: &["rc"],
        categories: &["all"],
        subresources: &["status", "scale"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "PodTemplate",
        plural: "podtemplates",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "LimitRange",
        plural: "limitranges",
        namespaced: true,
        short_names: &["limits"],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ResourceQuota",
        plural: "resourcequotas",
        namespaced: true,
        short_names: &["quota"],
        categories: &[],
        subresources: &["status"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        namespaced: true,
        short_names: &["rs"],
        categories: &["all"],
        subresources: &["status", "scale"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "StatefulSet",
        plural: "statefulsets",
        namespaced: true,
        short_names: &["sts"],
        categories: &["all"],
        subresources: &["status", "scale"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        plural: "daemonsets",
        namespaced: true,
        short_names: &["ds"],
        categories: &["all"],
        subresources: &["status"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "ControllerRevision",
        plural: "controllerrevisions",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "batch",
        version: "v1",
        kind: "Job",
        plural: "jobs",
        namespaced: true,
        short_names: &[],
        categories: &["all"],
        subresources: &["status"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "batch",
        version: "v1",
        kind: "CronJob",
        plural: "cronjobs",
        namespaced: true,
        short_names: &["cj"],
        categories: &["all"],
        subresources: &["status"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "autoscaling",
        version: "v2",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        namespaced: true,
        short_names: &["hpa"],
        categories: &["all"],
        subresources: &["status"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "discovery.k8s.io",
        version: "v1",
        kind: "EndpointSlice",
        plural: "endpointslices",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "networking.k8s.io",
        version: "v1",
        kind: "Ingress",
        plural: "ingresses",
        namespaced: true,
        short_names: &["ing"],
        categories: &[],
        subresources: &["status"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "networking.k8s.io",
        version: "v1",
        kind: "IngressClass",
        plural: "ingressclasses",
        namespaced: false,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "networking.k8s.io",
        version: "v1",
        kind: "NetworkPolicy",
        plural: "networkpolicies",
        namespaced: true,
        short_names: &["netpol"],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "storage.k8s.io",
        version: "v1",
        kind: "StorageClass",
        plural: "storageclasses",
        namespaced: false,
        short_names: &["sc"],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "policy",
        version: "v1",
        kind: "PodDisruptionBudget",
        plural: "poddisruptionbudgets",
        namespaced: true,
        short_names: &["pdb"],
        categories: &[],
        subresources: &["status"],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "Role",
        plural: "roles",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRole",
        plural: "clusterroles",
        namespaced: false,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRoleBinding",
        plural: "clusterrolebindings",
        namespaced: false,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: ALL_VERBS,
    },
    Builtin {
        group: "apiextensions.k8s.io",
        version: "v1",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        namespaced: false,
        short_names: &["crd", "crds"],
        categories: &["api-extensions"],
        subresources: &["status"],
        verbs: ALL_VERBS,
    },
    // Create-only kinds answered by `auth::api`, never stored.
    Builtin {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "SelfSubjectReview",
        plural: "selfsubjectreviews",
        namespaced: false,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: &["create"],
    },
    Builtin {
        group: "authentication.k8s.io",
        version: "v1",
        kind: "TokenReview",
        plural: "tokenreviews",
        namespaced: false,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: &["create"],
    },
    Builtin {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "LocalSubjectAccessReview",
        plural: "localsubjectaccessreviews",
        namespaced: true,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: &["create"],
    },
    Builtin {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectAccessReview",
        plural: "selfsubjectaccessreviews",
        namespaced: false,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: &["create"],
    },
    Builtin {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SelfSubjectRulesReview",
        plural: "selfsubjectrulesreviews",
        namespaced: false,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: &["create"],
    },
    Builtin {
        group: "authorization.k8s.io",
        version: "v1",
        kind: "SubjectAccessReview",
        plural: "subjectaccessreviews",
        namespaced: false,
        short_names: &[],
        categories: &[],
        subresources: &[],
        verbs: &["create"],
    },
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The built-in kinds every sandbox serves.
pub fn builtin_types() -> Vec<ResourceType> {
    BUILTINS
        .iter()
        .map(|b| {
            let subresources = b
                .subresources
                .iter()
                .map(|name| match *name {
                    "log" => Subresource {
                        name: "log".into(),
                        response_group: String::new(),
                        response_version: "v1".into(),
                        response_kind: "Pod".into(),
                        verbs: strings(&["get"]),
                    },
                    // kubectl drain finds the Eviction version here (`CheckEvictionSupport`).
                    "eviction" => Subresource {
                        name: "eviction".into(),
                        response_group: "policy".into(),
                        response_version: "v1".into(),
                        response_kind: "Eviction".into(),
                        verbs: strings(&["create"]),
                    },
                    "scale" => Subresource {
                        name: "scale".into(),
                        response_group: "autoscaling".into(),
                        response_version: "v1".into(),
                        response_kind: "Scale".into(),
                        verbs: strings(&["get", "patch", "update"]),
                    },
                    // Connect subresources answer with their options kind (GET for the
                    // WebSocket upgrade, POST for SPDY).
                    "exec" | "attach" | "portforward" => Subresource {
                        name: (*name).into(),
                        response_group: String::new(),
                        response_version: "v1".into(),
                        response_kind: match *name {
                            "exec" => "PodExecOptions",
                            "attach" => "PodAttachOptions",
                            _ => "PodPortForwardOptions",
                        }
                        .into(),
                        verbs: strings(&["create", "get"]),
                    },
                    "token" => Subresource {
                        name: "token".into(),
                        response_group: "authentication.k8s.io".into(),
                        response_version: "v1".into(),
                        response_kind: "TokenRequest".into(),
                        verbs: strings(&["create"]),
                    },
                    other => Subresource {
                        name: other.into(),
                        response_group: b.group.into(),
                        response_version: b.version.into(),
                        response_kind: b.kind.into(),
                        verbs: strings(&["get", "patch", "update"]),
                    },
                })
                .collect();
            ResourceType {
                group: b.group.into(),
                version: b.version.into(),
                kind: b.kind.into(),
                list_kind: format!("{}List", b.kind),
                plural: b.plural.into(),
                singular: b.kind.to_ascii_lowercase(),
                namespaced: b.namespaced,
                verbs: strings(b.verbs),
                short_names: strings(b.short_names),
                categories: strings(b.categories),
                subresources,
                custom: None,
            }
        })
        .collect()
}

/// The served type a stored CRD object describes, or a message saying why it cannot be served.
///
/// Only CRDs with exactly one served version are supported (no conversion webhooks here).
pub fn type_from_crd(crd: &Value) -> Result<ResourceType, String> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let group = spec["group"].as_str().unwrap_or_default().to_string();
    let plural = names["plural"].as_str().unwrap_or_default().to_string();
    let kind = names["kind"].as_str().unwrap_or_default().to_string();
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return Err("spec.group, spec.names.plural and spec.names.kind are required".into());
    }
    let versions: Vec<&Value> = spec["versions"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter(|v| v["served"].as_bool() == Some(true))
                .collect()
        })
        .unwrap_or_default();
    let version = match versions.as_slice() {
        [one] => *one,
        [] => return Err("spec.versions must have one served version".into()),
        _ => {
            return Err(
                "this sandbox serves only one version per CustomResourceDefinition (no conversion)"
                    .into(),
            );
        }
    };
    let version_name = version["name"].as_str().unwrap_or_default().to_string();
    let status_subresource = version["subresources"].get("status").is_some();
    let printer_columns = version["additionalPrinterColumns"]
        .as_array()
        .map(|cols| {
            cols.iter()
                .map(|c| PrinterColumn {
                    name: c["name"].as_str().unwrap_or_default().into(),
                    type_: c["type"].as_str().unwrap_or("string").into(),
                    format: c["format"].as_str().unwrap_or_default().into(),
                    description: c["description"].as_str().unwrap_or_default().into(),
                    priority: c["priority"].as_i64().unwrap_or(0) as i32,
                    json_path: c["jsonPath"].as_str().unwrap_or_default().into(),
                })
                .collect()
        })
        .unwrap_or_default();
    let list_of = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut subresources = Vec::new();
    if status_subresource {
        subresources.push(Subresource {
            name: "status".into(),
            response_group: group.clone(),
            response_version: version_name.clone(),
            response_kind: kind.clone(),
            verbs: strings(&["get", "patch", "update"]),
        });
    }
    Ok(ResourceType {
        list_kind: names["listKind"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| format!("{kind}List")),
        singular: names["singular"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| kind.to_ascii_lowercase()),
        namespaced: spec["scope"].as_str() != Some("Cluster"),
        verbs: strings(ALL_VERBS),
        short_names: list_of(&names["shortNames"]),
        categories: list_of(&names["categories"]),
        subresources,
        custom: Some(CustomResourceInfo {
            crd_name: crd["metadata"]["name"].as_str().unwrap_or_default().into(),
            schema: version["schema"].get("openAPIV3Schema").cloned(),
            printer_columns,
            status_subresource,
            selectable_fields: version["selectableFields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["jsonPath"].as_str())
                .map(|path| path.trim_start_matches('.').to_string())
                .collect(),
        }),
        group,
        version: version_name,
        kind,
        plural,
    })
}
