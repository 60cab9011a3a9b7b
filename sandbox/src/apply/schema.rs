//! The structural types server-side apply walks objects with, as structured-merge-diff sees
//! them: which maps are granular or atomic and which lists are atomic, sets, or maps keyed by
//! some fields.
//!
//! Built-in kinds use the strategic-merge table (`patchStrategy:"merge"` + `patchMergeKey`
//! becomes a list keyed by the merge key, a merge list without key a set, as kube-openapi's
//! schema conversion does when no `+listType` is given), corrected by the `+listType`,
//! `+listMapKey`, `+structType` and `+mapType` markers of k8s.io/api v0.35 where they differ.
//! Custom resources use their CRD's `openAPIV3Schema` (`x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`, `x-kubernetes-preserve-unknown-fields`),
//! with `metadata` typed as `ObjectMeta`. Lists are atomic unless a schema says otherwise.

use serde_json::Value;

use crate::patch::smp_schema::{Schema as SmpSchema, Strategy, TypeDef};
use crate::resource_types::ResourceType;

/// The type of one node.
#[derive(Clone, Copy, Debug)]
pub enum Ty<'a> {
    /// No schema: maps are granular with untyped entries, lists atomic.
    Deduced,
    /// Replaced as a whole (`+structType=atomic`, `+mapType=atomic`).
    Atomic,
    /// A built-in type, named as in the strategic-merge table or [`OVERRIDES`]; `None` is a
    /// struct with nothing special inside.
    Builtin(Option<&'static str>),
    /// A list field of a built-in type, with its element type.
    BuiltinList(BuiltinList, Option<&'static str>),
    /// A node of a CRD's `openAPIV3Schema` (`None`: no schema); `root` marks the object itself.
    Custom { node: Option<&'a Value>, root: bool },
}

/// How a built-in list merges.
#[derive(Clone, Copy, Debug)]
pub enum BuiltinList {
    Atomic,
    Set,
    /// Keyed by one field (a `patchMergeKey`).
    Key(&'static str),
    /// Keyed by these fields, with defaults (`+listMapKey`).
    Keys(&'static [(&'static str, Option<&'static str>)]),
}

/// How a list merges.
#[derive(Clone, Debug, PartialEq)]
pub enum ListKind {
    Atomic,
    /// Items are scalars, identified by value.
    Set,
    /// Items are objects identified by these fields (with their defaults, if any).
    Map(Vec<(String, Option<Value>)>),
}

/// Where the markers of k8s.io/api differ from what the patch tags alone would say.
#[derive(Clone, Copy, Debug)]
enum Ov {
    Struct(&'static str),
    Atomic,
    /// Keys (field, default) and the element type (`Some("atomic")` for atomic structs).
    ListMap(
        &'static [(&'static str, Option<&'static str>)],
        Option<&'static str>,
    ),
    ListAtomic,
}

const ATOMIC: &str = "atomic";
const NAME_KEY: &[(&str, Option<&str>)] = &[("name", None)];
const TYPE_KEY: &[(&str, Option<&str>)] = &[("type", None)];

/// Kinds the strategic-merge table gives only the generic root, but whose markers matter.
static ROOTS: &[(&str, &str, &str)] = &[
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "apiextensions.CustomResourceDefinition",
    ),
    (
        "rbac.authorization.k8s.io",
        "RoleBinding",
        "rbac.RoleBinding",
    ),
    (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        "rbac.RoleBinding",
    ),
];

static OVERRIDES: &[(&str, &str, Ov)] = &[
    (
        "meta.ObjectMeta",
        "ownerReferences",
        Ov::ListMap(&[("uid", None)], Some(ATOMIC)),
    ),
    (
        "core.Container",
        "ports",
        Ov::ListMap(&[("containerPort", None), ("protocol", Some("TCP"))], None),
    ),
    (
        "core.Container",
        "env",
        Ov::ListMap(NAME_KEY, Some("core.EnvVar")),
    ),
    ("core.Container", "envFrom", Ov::ListAtomic),
    (
        "core.EphemeralContainer",
        "ports",
        Ov::ListMap(&[("containerPort", None), ("protocol", Some("TCP"))], None),
    ),
    (
        "core.EphemeralContainer",
        "env",
        Ov::ListMap(NAME_KEY, Some("core.EnvVar")),
    ),
    ("core.EnvVar", "valueFrom", Ov::Struct("core.EnvVarSource")),
    ("core.EnvVarSource", "configMapKeyRef", Ov::Atomic),
    ("core.EnvVarSource", "secretKeyRef", Ov::Atomic),
    ("core.EnvVarSource", "fieldRef", Ov::Atomic),
    ("core.EnvVarSource", "resourceFieldRef", Ov::Atomic),
    ("core.PodSpec", "nodeSelector", Ov::Atomic),
    ("core.PodSpec", "tolerations", Ov::ListAtomic),
    (
        "core.PodSpec",
        "imagePullSecrets",
        Ov::ListMap(NAME_KEY, Some(ATOMIC)),
    ),
    (
        "core.PodSpec",
        "topologySpreadConstraints",
        Ov::ListMap(&[("topologyKey", None), ("whenUnsatisfiable", None)], None),
    ),
    (
        "core.ServiceSpec",
        "ports",
        Ov::ListMap(&[("port", None), ("protocol", Some("TCP"))], None),
    ),
    ("core.ServiceSpec", "selector", Ov::Atomic),
    ("core.NamespaceSpec", "finalizers", Ov::ListAtomic),
    ("apps.DeploymentSpec", "selector", Ov::Atomic),
    ("apps.ReplicaSetSpec", "selector", Ov::Atomic),
    ("apps.StatefulSetSpec", "selector", Ov::Atomic),
    ("apps.DaemonSetSpec", "selector", Ov::Atomic),
    ("batch.JobSpec", "selector", Ov::Atomic),
    ("batch.JobStatus", "conditions", Ov::ListAtomic),
    ("policy.PodDisruptionBudgetSpec", "selector", Ov::Atomic),
    (
        "apiextensions.CustomResourceDefinition",
        "metadata",
        Ov::Struct("meta.ObjectMeta"),
    ),
    (
        "apiextensions.CustomResourceDefinition",
        "status",
        Ov::Struct("apiextensions.CustomResourceDefinitionStatus"),
    ),
    (
        "apiextensions.CustomResourceDefinitionStatus",
        "conditions",
        Ov::ListMap(TYPE_KEY, None),
    ),
    (
        "rbac.RoleBinding",
        "metadata",
        Ov::Struct("meta.ObjectMeta"),
    ),
    ("rbac.RoleBinding", "roleRef", Ov::Atomic),
];

fn builtin_schema() -> SmpSchema {
    SmpSchema::builtin()
}

fn smp_type(name: &str) -> Option<&'static TypeDef> {
    builtin_schema().type_named(name)
}

fn elem_ty(name: Option<&'static str>) -> Ty<'static> {
    match name {
        Some(ATOMIC) => Ty::Atomic,
        other => Ty::Builtin(other),
    }
}

impl<'a> Ty<'a> {
    /// The type of an object of `rt`.
    pub fn of(rt: &'a ResourceType) -> Ty<'a> {
        match &rt.custom {
            Some(info) => Ty::Custom {
                node: info.schema.as_ref(),
                root: true,
            },
            None => {
                let name = ROOTS
                    .iter()
                    .find(|(g, k, _)| *g == rt.group && *k == rt.kind)
                    .map(|(_, _, t)| *t)
                    .or_else(|| builtin_schema().root(&rt.group, &rt.kind).map(|t| t.name));
                Ty::Builtin(name)
            }
        }
    }

    /// Whether a map of this type is replaced as a whole.
    pub fn map_atomic(&self) -> bool {
        match self {
            Ty::Atomic => true,
            Ty::Custom {
                node: Some(node), ..
            } => node["x-kubernetes-map-type"] == "atomic",
            _ => false,
        }
    }

    /// Whether a list or map of this type is replaced whole (`Ty::Atomic`).
    pub fn is_atomic(&self) -> bool {
        matches!(self, Ty::Atomic)
    }

    fn override_for(&self, key: &str) -> Option<Ov> {
        let Ty::Builtin(Some(name)) = self else {
            return None;
        };
        OVERRIDES
            .iter()
            .find(|(t, f, _)| t == name && *f == key)
            .map(|(_, _, ov)| *ov)
    }

    fn smp_field(&self, key: &str) -> Option<(Option<&'static str>, Strategy)> {
        let Ty::Builtin(Some(name)) = self else {
            return None;
        };
        let f = smp_type(name)?.fields.iter().find(|f| f.json == key)?;
        Some((f.ty, f.strategy))
    }

    /// The type of map entry `key`, and whether it is a declared field (struct fields' own
    /// paths are not recorded when they hold a non-empty map).
    pub fn field(&self, key: &str) -> (Ty<'a>, bool) {
        match self {
            Ty::Deduced | Ty::Atomic => (Ty::Deduced, false),
            Ty::Builtin(_) => {
                let ty = match (self.override_for(key), self.smp_field(key)) {
                    (Some(Ov::Struct(name)), _) => Ty::Builtin(Some(name)),
                    (Some(Ov::Atomic), _) => Ty::Atomic,
                    (Some(Ov::ListMap(keys, elem)), smp) => Ty::BuiltinList(
                        BuiltinList::Keys(keys),
                        elem.or(smp.and_then(|(ty, _)| ty)),
                    ),
                    (Some(Ov::ListAtomic), smp) => {
                        Ty::BuiltinList(BuiltinList::Atomic, smp.and_then(|(ty, _)| ty))
                    }
                    (None, Some((ty, Strategy::Merge { key: Some(k) }))) => {
                        Ty::BuiltinList(BuiltinList::Key(k), ty)
                    }
                    (None, Some((ty, Strategy::Merge { key: None }))) => {
                        Ty::BuiltinList(BuiltinList::Set, ty)
                    }
                    // Other tagged fields (replace, retainKeys) and plain ones: a struct, or an
                    // atomic list when the value is a list.
                    (None, Some((ty, _))) => Ty::Builtin(ty),
                    (None, None) => Ty::Builtin(None),
                };
                (ty, true)
            }
            Ty::Custom { node, root } => {
                if *root {
                    match key {
                        "metadata" => return (Ty::Builtin(Some("meta.ObjectMeta")), true),
                        "apiVersion" | "kind" => return (Ty::Deduced, true),
                        _ => {}
                    }
                }
                let Some(node) = node else {
                    return (Ty::Deduced, false);
                };
                if let Some(p) = node["properties"].get(key) {
                    return (
                        Ty::Custom {
                            node: Some(p),
                            root: false,
                        },
                        true,
                    );
                }
                match node.get("additionalProperties") {
                    Some(ap) if ap.is_object() => (
                        Ty::Custom {
                            node: Some(ap),
                            root: false,
                        },
                        false,
                    ),
                    _ => (Ty::Deduced, false),
                }
            }
            // A list type used for a map value: a plain struct.
            Ty::BuiltinList(..) => (Ty::Builtin(None), true),
        }
    }

    /// How a list of this type merges, and its element type.
    pub fn list(&self) -> (ListKind, Ty<'a>) {
        match self {
            Ty::BuiltinList(list, elem) => {
                let kind = match list {
                    BuiltinList::Atomic => ListKind::Atomic,
                    BuiltinList::Set => ListKind::Set,
                    BuiltinList::Key(k) => ListKind::Map(vec![(k.to_string(), None)]),
                    BuiltinList::Keys(keys) => ListKind::Map(
                        keys.iter()
                            .map(|(k, d)| (k.to_string(), d.map(|d| Value::String(d.into()))))
                            .collect(),
                    ),
                };
                (kind, elem_ty(*elem))
            }
            Ty::Builtin(_) => (ListKind::Atomic, Ty::Builtin(None)),
            Ty::Custom {
                node: Some(node), ..
            } => {
                let items = node.get("items").filter(|i| i.is_object());
                let elem = Ty::Custom {
                    node: items,
                    root: false,
                };
                let kind = match node["x-kubernetes-list-type"].as_str() {
                    Some("set") => ListKind::Set,
                    Some("map") => ListKind::Map(
                        node["x-kubernetes-list-map-keys"]
                            .as_array()
                            .map(|keys| {
                                keys.iter()
                                    .filter_map(Value::as_str)
                                    .map(|k| {
                                        let default = items
                                            .and_then(|i| i["properties"][k].get("default"))
                                            .cloned();
                                        (k.to_string(), default)
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    ),
                    _ => ListKind::Atomic,
                };
                (kind, elem)
            }
            _ => (ListKind::Atomic, Ty::Deduced),
        }
    }
}
