//! The table behind `smp_schema`: the `patchStrategy`/`patchMergeKey` struct tags of
//! k8s.io/api v0.35.0 and k8s.io/apimachinery v0.35.0, reduced to the types that lie on a path
//! to a tagged field, and the root type of each built-in kind.

use super::{Field, Strategy, TypeDef};

/// (API group, kind, root type) for every built-in kind whose schema carries a patch strategy.
pub(super) static ROOTS: &[(&str, &str, &str)] = &[
    ("", "ComponentStatus", "core.ComponentStatus"),
    ("", "Namespace", "core.Namespace"),
    ("", "Node", "core.Node"),
    ("", "PersistentVolumeClaim", "core.PersistentVolumeClaim"),
    ("", "Pod", "core.Pod"),
    ("", "PodStatusResult", "core.PodStatusResult"),
    ("", "PodTemplate", "core.PodTemplate"),
    ("", "ReplicationController", "core.ReplicationController"),
    ("", "Service", "core.Service"),
    ("", "ServiceAccount", "core.ServiceAccount"),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
        "admissionregistration.MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicy",
        "admissionregistration.ValidatingAdmissionPolicy",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
        "admissionregistration.ValidatingWebhookConfiguration",
    ),
    ("apps", "DaemonSet", "apps.DaemonSet"),
    ("apps", "Deployment", "apps.Deployment"),
    ("apps", "ReplicaSet", "apps.ReplicaSet"),
    ("apps", "StatefulSet", "apps.StatefulSet"),
    (
        "autoscaling",
        "HorizontalPodAutoscaler",
        "autoscaling.HorizontalPodAutoscaler",
    ),
    ("batch", "CronJob", "batch.CronJob"),
    ("batch", "Job", "batch.Job"),
    (
        "flowcontrol.apiserver.k8s.io",
        "FlowSchema",
        "flowcontrol.FlowSchema",
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "PriorityLevelConfiguration",
        "flowcontrol.PriorityLevelConfiguration",
    ),
    ("networking.k8s.io", "ServiceCIDR", "networking.ServiceCIDR"),
    (
        "policy",
        "PodDisruptionBudget",
        "policy.PodDisruptionBudget",
    ),
    ("resource.k8s.io", "ResourceClaim", "resource.ResourceClaim"),
    (
        "resource.k8s.io",
        "ResourceClaimTemplate",
        "resource.ResourceClaimTemplate",
    ),
    ("storage.k8s.io", "CSINode", "storage.CSINode"),
];

/// Root type for built-in kinds without any tagged field outside `metadata`.
pub(super) const GENERIC_ROOT: &str = "meta.Object";

pub(super) static TYPES: &[TypeDef] = &[
    TypeDef {
        name: "admissionregistration.MutatingWebhook",
        fields: &[Field::new(
            "matchConditions",
            None,
            Strategy::Merge { key: Some("name") },
        )],
    },
    TypeDef {
        name: "admissionregistration.MutatingWebhookConfiguration",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new(
                "webhooks",
                Some("admissionregistration.MutatingWebhook"),
                Strategy::Merge { key: Some("name") },
            ),
        ],
    },
    TypeDef {
        name: "admissionregistration.ValidatingAdmissionPolicy",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new(
                "spec",
                Some("admissionregistration.ValidatingAdmissionPolicySpec"),
                Strategy::Default,
            ),
        ],
    },
    TypeDef {
        name: "admissionregistration.ValidatingAdmissionPolicySpec",
        fields: &[
            Field::new(
                "matchConditions",
                None,
                Strategy::Merge { key: Some("name") },
            ),
            Field::new("variables", None, Strategy::Merge { key: Some("name") }),
        ],
    },
    TypeDef {
        name: "admissionregistration.ValidatingWebhook",
        fields: &[Field::new(
            "matchConditions",
            None,
            Strategy::Merge { key: Some("name") },
        )],
    },
    TypeDef {
        name: "admissionregistration.ValidatingWebhookConfiguration",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new(
                "webhooks",
                Some("admissionregistration.ValidatingWebhook"),
                Strategy::Merge { key: Some("name") },
            ),
        ],
    },
    TypeDef {
        name: "apps.DaemonSet",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("spec", Some("apps.DaemonSetSpec"), Strategy::Default),
            Field::new("status", Some("apps.DaemonSetStatus"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "apps.DaemonSetSpec",
        fields: &[Field::new(
            "template",
            Some("core.PodTemplateSpec"),
            Strategy::Default,
        )],
    },
    TypeDef {
        name: "apps.DaemonSetStatus",
        fields: &[Field::new(
            "conditions",
            None,
            Strategy::Merge { key: Some("type") },
        )],
    },
    TypeDef {
        name: "apps.Deployment",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("spec", Some("apps.DeploymentSpec"), Strategy::Default),
            Field::new("status", Some("apps.DeploymentStatus"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "apps.DeploymentSpec",
        fields: &[
            Field::new("template", Some("core.PodTemplateSpec"), Strategy::Default),
            Field::new("strategy", None, Strategy::RetainKeys),
        ],
    },
    TypeDef {
        name: "apps.DeploymentStatus",
        fields: &[Field::new(
            "conditions",
            None,
            Strategy::Merge { key: Some("type") },
        )],
    },
    TypeDef {
        name: "apps.ReplicaSet",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("spec", Some("apps.ReplicaSetSpec"), Strategy::Default),
            Field::new("status", Some("apps.ReplicaSetStatus"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "apps.ReplicaSetSpec",
        fields: &[Field::new(
            "template",
            Some("core.PodTemplateSpec"),
            Strategy::Default,
        )],
    },
    TypeDef {
        name: "apps.ReplicaSetStatus",
        fields: &[Field::new(
            "conditions",
            None,
            Strategy::Merge { key: Some("type") },
        )],
    },
    TypeDef {
        name: "apps.StatefulSet",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("spec", Some("apps.StatefulSetSpec"), Strategy::Default),
            Field::new("status", Some("apps.StatefulSetStatus"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "apps.StatefulSetSpec",
        fields: &[Field::new(
            "template",
            Some("core.PodTemplateSpec"),
            Strategy::Default,
        )],
    },
    TypeDef {
        name: "apps.StatefulSetStatus",
        fields: &[Field::new(
            "conditions",
            None,
            Strategy::Merge { key: Some("type") },
        )],
    },
    TypeDef {
        name: "autoscaling.HorizontalPodAutoscaler",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new(
                "status",
                Some("autoscaling.HorizontalPodAutoscalerStatus"),
                Strategy::Default,
            ),
        ],
    },
    TypeDef {
        name: "autoscaling.HorizontalPodAutoscalerStatus",
        fields: &[Field::new(
            "conditions",
            None,
            Strategy::Merge { key: Some("type") },
        )],
    },
    TypeDef {
        name: "batch.CronJob",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("spec", Some("batch.CronJobSpec"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "batch.CronJobSpec",
        fields: &[Field::new(
            "jobTemplate",
            Some("batch.JobTemplateSpec"),
            Strategy::Default,
        )],
    },
    TypeDef {
        name: "batch.Job",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("spec", Some("batch.JobSpec"), Strategy::Default),
            Field::new("status", Some("batch.JobStatus"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "batch.JobSpec",
        fields: &[Field::new(
            "template",
            Some("core.PodTemplateSpec"),
            Strategy::Default,
        )],
    },
    TypeDef {
        name: "batch.JobStatus",
        fields: &[Field::new(
            "conditions",
            None,
            Strategy::Merge { key: Some("type") },
        )],
    },
    TypeDef {
        name: "batch.JobTemplateSpec",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("spec", Some("batch.JobSpec"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "core.ComponentStatus",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("conditions", None, Strategy::Merge { key: Some("type") }),
        ],
    },
    TypeDef {
        name: "core.Container",
        fields: &[
            Field::new(
                "ports",
                None,
                Strategy::Merge {
                    key: Some("containerPort"),
                },
            ),
            Field::new("env", None, Strategy::Merge { key: Some("name") }),
            Field::new(
                "volumeMounts",
                None,
                Strategy::Merge {
                    key: Some("mountPath"),
                },
            ),
            Field::new(
                "volumeDevices",
                None,
                Strategy::Merge {
                    key: Some("devicePath"),
                },
            ),
        ],
    },
    TypeDef {
        name: "core.EphemeralContainer",
        fields: &[
            Field::new(
                "ports",
                None,
                Strategy::Merge {
                    key: Some("containerPort"),
                },
            ),
            Field::new("env", None, Strategy::Merge { key: Some("name") }),
            Field::new(
                "volumeMounts",
                None,
                Strategy::Merge {
                    key: Some("mountPath"),
                },
            ),
            Field::new(
                "volumeDevices",
                None,
                Strategy::Merge {
                    key: Some("devicePath"),
                },
            ),
        ],
    },
    TypeDef {
        name: "core.EphemeralVolumeSource",
        fields: &[Field::new(
            "volumeClaimTemplate",
            Some("core.PersistentVolumeClaimTemplate"),
            Strategy::Default,
        )],
    },
    TypeDef {
        name: "core.Namespace",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("status", Some("core.NamespaceStatus"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "core.NamespaceStatus",
        fields: &[Field::new(
            "conditions",
            None,
            Strategy::Merge { key: Some("type") },
        )],
    },
    TypeDef {
        name: "core.Node",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("spec", Some("core.NodeSpec"), Strategy::Default),
            Field::new("status", Some("core.NodeStatus"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "core.NodeSpec",
        fields: &[Field::new("podCIDRs", None, Strategy::Merge { key: None })],
    },
    TypeDef {
        name: "core.NodeStatus",
        fields: &[
            Field::new("conditions", None, Strategy::Merge { key: Some("type") }),
            Field::new("addresses", None, Strategy::Merge { key: Some("type") }),
        ],
    },
    TypeDef {
        name: "core.PersistentVolumeClaim",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new(
                "status",
                Some("core.PersistentVolumeClaimStatus"),
                Strategy::Default,
            ),
        ],
    },
    TypeDef {
        name: "core.PersistentVolumeClaimStatus",
        fields: &[Field::new(
            "conditions",
            None,
            Strategy::Merge { key: Some("type") },
        )],
    },
    TypeDef {
        name: "core.PersistentVolumeClaimTemplate",
        fields: &[Field::new(
            "metadata",
            Some("meta.ObjectMeta"),
            Strategy::Default,
        )],
    },
    TypeDef {
        name: "core.Pod",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("spec", Some("core.PodSpec"), Strategy::Default),
            Field::new("status", Some("core.PodStatus"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "core.PodSpec",
        fields: &[
            Field::new(
                "volumes",
                Some("core.Volume"),
                Strategy::Merge { key: Some("name") },
            ),
            Field::new(
                "initContainers",
                Some("core.Container"),
                Strategy::Merge { key: Some("name") },
            ),
            Field::new(
                "containers",
                Some("core.Container"),
                Strategy::Merge { key: Some("name") },
            ),
            Field::new(
                "ephemeralContainers",
                Some("core.EphemeralContainer"),
                Strategy::Merge { key: Some("name") },
            ),
            Field::new(
                "imagePullSecrets",
                None,
                Strategy::Merge { key: Some("name") },
            ),
            Field::new("hostAliases", None, Strategy::Merge { key: Some("ip") }),
            Field::new(
                "topologySpreadConstraints",
                None,
                Strategy::Merge {
                    key: Some("topologyKey"),
                },
            ),
            Field::new(
                "schedulingGates",
                None,
                Strategy::Merge { key: Some("name") },
            ),
            Field::new(
                "resourceClaims",
                None,
                Strategy::Merge { key: Some("name") },
            ),
        ],
    },
    TypeDef {
        name: "core.PodStatus",
        fields: &[
            Field::new("conditions", None, Strategy::Merge { key: Some("type") }),
            Field::new("hostIPs", None, Strategy::Merge { key: Some("ip") }),
            Field::new("podIPs", None, Strategy::Merge { key: Some("ip") }),
            Field::new(
                "resourceClaimStatuses",
                None,
                Strategy::Merge { key: Some("name") },
            ),
        ],
    },
    TypeDef {
        name: "core.PodStatusResult",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("status", Some("core.PodStatus"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "core.PodTemplate",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("template", Some("core.PodTemplateSpec"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "core.PodTemplateSpec",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("spec", Some("core.PodSpec"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "core.ReplicationController",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new(
                "spec",
                Some("core.ReplicationControllerSpec"),
                Strategy::Default,
            ),
            Field::new(
                "status",
                Some("core.ReplicationControllerStatus"),
                Strategy::Default,
            ),
        ],
    },
    TypeDef {
        name: "core.ReplicationControllerSpec",
        fields: &[Field::new(
            "template",
            Some("core.PodTemplateSpec"),
            Strategy::Default,
        )],
    },
    TypeDef {
        name: "core.ReplicationControllerStatus",
        fields: &[Field::new(
            "conditions",
            None,
            Strategy::Merge { key: Some("type") },
        )],
    },
    TypeDef {
        name: "core.Service",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("spec", Some("core.ServiceSpec"), Strategy::Default),
            Field::new("status", Some("core.ServiceStatus"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "core.ServiceAccount",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("secrets", None, Strategy::Merge { key: Some("name") }),
        ],
    },
    TypeDef {
        name: "core.ServiceSpec",
        fields: &[Field::new(
            "ports",
            None,
            Strategy::Merge { key: Some("port") },
        )],
    },
    TypeDef {
        name: "core.ServiceStatus",
        fields: &[Field::new(
            "conditions",
            None,
            Strategy::Merge { key: Some("type") },
        )],
    },
    TypeDef {
        name: "core.Volume",
        fields: &[Field::new(
            "ephemeral",
            Some("core.EphemeralVolumeSource"),
            Strategy::Default,
        )],
    },
    TypeDef {
        name: "flowcontrol.FlowSchema",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new(
                "status",
                Some("flowcontrol.FlowSchemaStatus"),
                Strategy::Default,
            ),
        ],
    },
    TypeDef {
        name: "flowcontrol.FlowSchemaStatus",
        fields: &[Field::new(
            "conditions",
            None,
            Strategy::Merge { key: Some("type") },
        )],
    },
    TypeDef {
        name: "flowcontrol.PriorityLevelConfiguration",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new(
                "status",
                Some("flowcontrol.PriorityLevelConfigurationStatus"),
                Strategy::Default,
            ),
        ],
    },
    TypeDef {
        name: "flowcontrol.PriorityLevelConfigurationStatus",
        fields: &[Field::new(
            "conditions",
            None,
            Strategy::Merge { key: Some("type") },
        )],
    },
    TypeDef {
        name: "meta.Object",
        fields: &[Field::new(
            "metadata",
            Some("meta.ObjectMeta"),
            Strategy::Default,
        )],
    },
    TypeDef {
        name: "meta.ObjectMeta",
        fields: &[
            Field::new(
                "ownerReferences",
                None,
                Strategy::Merge { key: Some("uid") },
            ),
            Field::new("finalizers", None, Strategy::Merge { key: None }),
        ],
    },
    TypeDef {
        name: "networking.ServiceCIDR",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new(
                "status",
                Some("networking.ServiceCIDRStatus"),
                Strategy::Default,
            ),
        ],
    },
    TypeDef {
        name: "networking.ServiceCIDRStatus",
        fields: &[Field::new(
            "conditions",
            None,
            Strategy::Merge { key: Some("type") },
        )],
    },
    TypeDef {
        name: "policy.PodDisruptionBudget",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new(
                "spec",
                Some("policy.PodDisruptionBudgetSpec"),
                Strategy::Default,
            ),
            Field::new(
                "status",
                Some("policy.PodDisruptionBudgetStatus"),
                Strategy::Default,
            ),
        ],
    },
    TypeDef {
        name: "policy.PodDisruptionBudgetSpec",
        fields: &[Field::new("selector", None, Strategy::Replace)],
    },
    TypeDef {
        name: "policy.PodDisruptionBudgetStatus",
        fields: &[Field::new(
            "conditions",
            None,
            Strategy::Merge { key: Some("type") },
        )],
    },
    TypeDef {
        name: "resource.ResourceClaim",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new(
                "status",
                Some("resource.ResourceClaimStatus"),
                Strategy::Default,
            ),
        ],
    },
    TypeDef {
        name: "resource.ResourceClaimStatus",
        fields: &[Field::new(
            "reservedFor",
            None,
            Strategy::Merge { key: Some("uid") },
        )],
    },
    TypeDef {
        name: "resource.ResourceClaimTemplate",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new(
                "spec",
                Some("resource.ResourceClaimTemplateSpec"),
                Strategy::Default,
            ),
        ],
    },
    TypeDef {
        name: "resource.ResourceClaimTemplateSpec",
        fields: &[Field::new(
            "metadata",
            Some("meta.ObjectMeta"),
            Strategy::Default,
        )],
    },
    TypeDef {
        name: "storage.CSINode",
        fields: &[
            Field::new("metadata", Some("meta.ObjectMeta"), Strategy::Default),
            Field::new("spec", Some("storage.CSINodeSpec"), Strategy::Default),
        ],
    },
    TypeDef {
        name: "storage.CSINodeSpec",
        fields: &[Field::new(
            "drivers",
            None,
            Strategy::Merge { key: Some("name") },
        )],
    },
];
