//! Printers of the built-in kinds, after `pkg/printers/internalversion/printers.go`
//! (Kubernetes 1.35). Objects arrive as stored JSON; where kube-apiserver would have
//! defaulted a field on create (a Service's type, a port's protocol, a Deployment's replicas)
//! the same default is assumed when the field is missing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ColumnDef, Row, age_column, age_since, name_of, parse_time, pod};

type PrintFn = fn(&Value, DateTime<Utc>) -> Row;

pub(super) struct Printer {
    pub(super) columns: Vec<ColumnDef>,
    pub(super) print: PrintFn,
}

/// The printer kube-apiserver registers for a built-in kind, if it has one.
pub(super) fn printer_for(group: &str, kind: &str) -> Option<Printer> {
    let (columns, print): (Vec<ColumnDef>, PrintFn) = match (group, kind) {
        ("", "Pod") => (pod::columns(), pod::print_pod),
        ("", "Namespace") => (
            vec![
                ColumnDef::name_column(),
                ColumnDef::new("Status", "string", "The status of the namespace"),
                age_column(),
            ],
            print_namespace,
        ),
        ("", "Node") => (node_columns(), print_node),
        ("", "Service") => (service_columns(), print_service),
        ("", "ConfigMap") => (
            vec![
                ColumnDef::name_column(),
                ColumnDef::new("Data", "string", CONFIGMAP_DATA_DOC),
                age_column(),
            ],
            print_config_map,
        ),
        ("", "Secret") => (
            vec![
                ColumnDef::name_column(),
                ColumnDef::new("Type", "string", SECRET_TYPE_DOC),
                ColumnDef::new("Data", "string", SECRET_DATA_DOC),
                age_column(),
            ],
            print_secret,
        ),
        ("", "ServiceAccount") => (
            vec![
                ColumnDef::name_column(),
                ColumnDef::new("Secrets", "string", SERVICE_ACCOUNT_SECRETS_DOC),
                age_column(),
            ],
            print_service_account,
        ),
        ("", "Event") => (event_columns(), print_core_event),
        ("events.k8s.io", "Event") => (event_columns(), print_events_event),
        ("coordination.k8s.io", "Lease") => (
            vec![
                ColumnDef::name_column(),
                ColumnDef::new("Holder", "string", LEASE_HOLDER_DOC),
                age_column(),
            ],
            print_lease,
        ),
        ("apps", "Deployment") => (deployment_columns(), print_deployment),
        ("policy", "PodDisruptionBudget") => (policy::pdb_columns(), policy::print_pdb),
        ("apps", "ReplicaSet") => (
            workloads::replica_set_columns(),
            workloads::print_replica_set,
        ),
        ("batch", "Job") => (workloads::job_columns(), workloads::print_job),
        ("rbac.authorization.k8s.io", "RoleBinding") => (
            binding_columns(ROLE_BINDING_ROLE_REF_DOC, "roleBinding"),
            print_binding,
        ),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => (
            binding_columns(CLUSTER_ROLE_BINDING_ROLE_REF_DOC, "clusterRoleBinding"),
            print_binding,
        ),
        _ => return None,
    };
    Some(Printer { columns, print })
}

fn age(obj: &Value, now: DateTime<Utc>) -> Value {
    age_since(&obj["metadata"]["creationTimestamp"], now).into()
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn len_of(v: &Value) -> i64 {
    match v {
        Value::Array(a) => a.len() as i64,
        Value::Object(m) => m.len() as i64,
        _ => 0,
    }
}

fn or_placeholder(s: &str, placeholder: &str) -> String {
    if s.is_empty() {
        placeholder.into()
    } else {
        s.into()
    }
}

fn print_namespace(obj: &Value, now: DateTime<Utc>) -> Row {
    Row::cells(vec![
        name_of(obj).into(),
        str_of(&obj["status"]["phase"]).into(),
        age(obj, now),
    ])
}

fn print_config_map(obj: &Value, now: DateTime<Utc>) -> Row {
    let count = len_of(&obj["data"]) + len_of(&obj["binaryData"]);
    Row::cells(vec![name_of(obj).into(), count.into(), age(obj, now)])
}

fn print_secret(obj: &Value, now: DateTime<Utc>) -> Row {
    Row::cells(vec![
        name_of(obj).into(),
        str_of(&obj["type"]).into(),
        len_of(&obj["data"]).into(),
        age(obj, now),
    ])
}

fn print_service_account(obj: &Value, now: DateTime<Utc>) -> Row {
    Row::cells(vec![
        name_of(obj).into(),
        len_of(&obj["secrets"]).into(),
        age(obj, now),
    ])
}

fn print_lease(obj: &Value, now: DateTime<Utc>) -> Row {
    Row::cells(vec![
        name_of(obj).into(),
        str_of(&obj["spec"]["holderIdentity"]).into(),
        age(obj, now),
    ])
}

fn node_columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef::name_column(),
        ColumnDef::new("Status", "string", "The status of the node"),
        ColumnDef::new("Roles", "string", "The roles of the node"),
        age_column(),
        ColumnDef::new("Version", "string", "Kubelet Version reported by the node."),
        ColumnDef::new("Internal-IP", "string", NODE_ADDRESSES_DOC).wide(),
        ColumnDef::new("External-IP", "string", NODE_ADDRESSES_DOC).wide(),
        ColumnDef::new("OS-Image", "string", NODE_OS_IMAGE_DOC).wide(),
        ColumnDef::new("Kernel-Version", "string", NODE_KERNEL_DOC).wide(),
        ColumnDef::new("Container-Runtime", "string", NODE_RUNTIME_DOC).wide(),
    ]
}

fn print_node(obj: &Value, now: DateTime<Utc>) -> Row {
    let conditions = obj["status"]["conditions"].as_array();
    // Only the Ready condition is shown; the last entry of a type wins, as in Go's map.
    let ready = conditions
        .into_iter()
        .flatten()
        .rfind(|c| c["type"] == "Ready");
    let mut status = vec![match ready {
        Some(c) if c["status"] == "True" => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    }];
    if obj["spec"]["unschedulable"].as_bool() == Some(true) {
        status.push("SchedulingDisabled".into());
    }
    let mut roles = BTreeSet::new();
    if let Some(labels) = obj["metadata"]["labels"].as_object() {
        for (key, value) in labels {
            if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if key == "kubernetes.io/role" && !str_of(value).is_empty() {
                roles.insert(str_of(value).to_string());
            }
        }
    }
    let roles = or_placeholder(&roles.into_iter().collect::<Vec<_>>().join(","), "<none>");
    let info = &obj["status"]["nodeInfo"];
    let address = |type_: &str| {
        obj["status"]["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["type"] == type_)
            .map(|a| str_of(&a["address"]).to_string())
            .unwrap_or_else(|| "<none>".into())
    };
    Row::cells(vec![
        name_of(obj).into(),
        status.join(",").into(),
        roles.into(),
        age(obj, now),
        str_of(&info["kubeletVersion"]).into(),
        address("InternalIP").into(),
        address("ExternalIP").into(),
        or_placeholder(str_of(&info["osImage"]), "<unknown>").into(),
        or_placeholder(str_of(&info["kernelVersion"]), "<unknown>").into(),
        or_placeholder(str_of(&info["containerRuntimeVersion"]), "<unknown>").into(),
    ])
}

fn service_columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef::name_column(),
        ColumnDef::new("Type", "string", SERVICE_TYPE_DOC),
        ColumnDef::new("Cluster-IP", "string", SERVICE_CLUSTER_IP_DOC),
        ColumnDef::new("External-IP", "string", SERVICE_EXTERNAL_IPS_DOC),
        ColumnDef::new("Port(s)", "string", SERVICE_PORTS_DOC),
        age_column(),
        ColumnDef::new("Selector", "string", SERVICE_SELECTOR_DOC).wide(),
    ]
}

fn print_service(obj: &Value, now: DateTime<Utc>) -> Row {
    let spec = &obj["spec"];
    let type_ = spec["type"].as_str().unwrap_or("ClusterIP");
    // The v1 → internal conversion fills clusterIPs from clusterIP.
    let cluster_ip = spec["clusterIPs"][0]
        .as_str()
        .or_else(|| spec["clusterIP"].as_str().filter(|ip| !ip.is_empty()))
        .unwrap_or("<none>");
    let external_ips: Vec<&str> = spec["externalIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(str_of)
        .collect();
    let external = match type_ {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".into(),
        "LoadBalancer" => {
            // Wide output on the server: the list is not clipped.
            let ingress: BTreeSet<&str> = obj["status"]["loadBalancer"]["ingress"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| {
                    i["ip"]
                        .as_str()
                        .filter(|s| !s.is_empty())
                        .or_else(|| i["hostname"].as_str().filter(|s| !s.is_empty()))
                })
                .collect();
            let mut all: Vec<&str> = ingress.into_iter().collect();
            all.extend(external_ips);
            or_placeholder(&all.join(","), "<pending>")
        }
        "ExternalName" => str_of(&spec["externalName"]).into(),
        _ => "<unknown>".into(),
    };
    let ports: Vec<String> = spec["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let port = p["port"].as_i64().unwrap_or(0);
            let protocol = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64() {
                Some(node_port) if node_port > 0 => format!("{port}:{node_port}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    Row::cells(vec![
        name_of(obj).into(),
        type_.into(),
        cluster_ip.into(),
        external.into(),
        or_placeholder(&ports.join(","), "<none>").into(),
        age(obj, now),
        format_labels(&spec["selector"]).into(),
    ])
}

/// `labels.FormatLabels`: `k=v` pairs sorted by key, or `<none>`.
fn format_labels(map: &Value) -> String {
    let pairs: Vec<String> = map
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", str_of(v)))
        .collect();
    or_placeholder(&pairs.join(","), "<none>")
}

/// `metav1.LabelSelectorAsSelector(sel).String()`, or `<invalid>` when it does not convert.
/// Key and value syntax is not checked here; stored objects were validated on the way in.
fn label_selector_string(sel: &Value) -> String {
    let mut requirements: Vec<(String, String)> = Vec::new();
    for (key, value) in sel["matchLabels"].as_object().into_iter().flatten() {
        requirements.push((key.clone(), format!("{key}={}", str_of(value))));
    }
    for expr in sel["matchExpressions"].as_array().into_iter().flatten() {
        let key = str_of(&expr["key"]);
        let mut values: Vec<&str> = expr["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(str_of)
            .collect();
        values.sort_unstable();
        let text = match (str_of(&expr["operator"]), values.is_empty()) {
            ("In", false) => format!("{key} in ({})", values.join(",")),
            ("NotIn", false) => format!("{key} notin ({})", values.join(",")),
            ("Exists", true) => key.to_string(),
            ("DoesNotExist", true) => format!("!{key}"),
            _ => return "<invalid>".into(),
        };
        requirements.push((key.to_string(), text));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    requirements
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(",")
}

/// Container names and images of a pod template, comma-separated.
fn layout_container_cells(containers: &Value) -> (String, String) {
    let containers = containers.as_array().map(Vec::as_slice).unwrap_or_default();
    let names: Vec<&str> = containers.iter().map(|c| str_of(&c["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_of(&c["image"])).collect();
    (names.join(","), images.join(","))
}

fn deployment_columns() -> Vec<ColumnDef> {
    let mut cols = vec![
        ColumnDef::name_column(),
        ColumnDef::new("Ready", "string", "Number of the pod with ready state"),
        ColumnDef::new("Up-to-date", "string", DEPLOYMENT_UPDATED_DOC),
        ColumnDef::new("Available", "string", DEPLOYMENT_AVAILABLE_DOC),
        age_column(),
    ];
    cols.extend(workloads::template_columns(DEPLOYMENT_SELECTOR_DOC));
    cols
}

fn print_deployment(obj: &Value, now: DateTime<Utc>) -> Row {
    let status = &obj["status"];
    let desired = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let ready = status["readyReplicas"].as_i64().unwrap_or(0);
    let (names, images) = layout_container_cells(&obj["spec"]["template"]["spec"]["containers"]);
    Row::cells(vec![
        name_of(obj).into(),
        format!("{ready}/{desired}").into(),
        status["updatedReplicas"].as_i64().unwrap_or(0).into(),
        status["availableReplicas"].as_i64().unwrap_or(0).into(),
        age(obj, now),
        names.into(),
        images.into(),
        label_selector_string(&obj["spec"]["selector"]).into(),
    ])
}

fn binding_columns(role_ref_doc: &str, noun: &str) -> Vec<ColumnDef> {
    vec![
        ColumnDef::name_column(),
        ColumnDef::new("Role", "string", role_ref_doc),
        age_column(),
        ColumnDef::new("Users", "string", &format!("Users in the {noun}")).wide(),
        ColumnDef::new("Groups", "string", &format!("Groups in the {noun}")).wide(),
        ColumnDef::new(
            "ServiceAccounts",
            "string",
            &format!("ServiceAccounts in the {noun}"),
        )
        .wide(),
    ]
}

fn print_binding(obj: &Value, now: DateTime<Utc>) -> Row {
    let role_ref = &obj["roleRef"];
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for subject in obj["subjects"].as_array().into_iter().flatten() {
        let name = str_of(&subject["name"]);
        match str_of(&subject["kind"]) {
            "ServiceAccount" => sas.push(format!("{}/{name}", str_of(&subject["namespace"]))),
            "User" => users.push(name.to_string()),
            "Group" => groups.push(name.to_string()),
            _ => {}
        }
    }
    Row::cells(vec![
        name_of(obj).into(),
        format!(
            "{}/{}",
            str_of(&role_ref["kind"]),
            str_of(&role_ref["name"])
        )
        .into(),
        age(obj, now),
        users.join(", ").into(),
        groups.join(", ").into(),
        sas.join(", ").into(),
    ])
}

fn event_columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef::new("Last Seen", "string", EVENT_LAST_TIMESTAMP_DOC),
        ColumnDef::new("Type", "string", EVENT_TYPE_DOC),
        ColumnDef::new("Reason", "string", EVENT_REASON_DOC),
        ColumnDef::new("Object", "string", "The object that this event is about."),
        ColumnDef::new("Subobject", "string", OBJECT_REFERENCE_FIELD_PATH_DOC).wide(),
        ColumnDef::new("Source", "string", EVENT_SOURCE_DOC).wide(),
        ColumnDef::new(
            "Message",
            "string",
            "A human-readable description of the status of this operation.",
        ),
        ColumnDef::new("First Seen", "string", EVENT_FIRST_TIMESTAMP_DOC).wide(),
        ColumnDef::new(
            "Count",
            "string",
            "The number of times this event has occurred.",
        )
        .wide(),
        ColumnDef {
            priority: 1,
            ..ColumnDef::name_column()
        },
    ]
}

/// The fields of the internal Event that `printEvent` reads.
struct EventView<'a> {
    first_timestamp: &'a Value,
    last_timestamp: &'a Value,
    event_time: &'a Value,
    count: &'a Value,
    series: &'a Value,
    involved: &'a Value,
    source: &'a Value,
    reporting_controller: &'a Value,
    reporting_instance: &'a Value,
    message: &'a Value,
}

fn print_core_event(obj: &Value, now: DateTime<Utc>) -> Row {
    print_event(
        obj,
        &EventView {
            first_timestamp: &obj["firstTimestamp"],
            last_timestamp: &obj["lastTimestamp"],
            event_time: &obj["eventTime"],
            count: &obj["count"],
            series: &obj["series"],
            involved: &obj["involvedObject"],
            source: &obj["source"],
            reporting_controller: &obj["reportingComponent"],
            reporting_instance: &obj["reportingInstance"],
            message: &obj["message"],
        },
        now,
    )
}

/// An `events.k8s.io/v1` Event is printed after conversion to the internal Event, whose
/// fields carry the core names (`note` is `message`, `regarding` is `involvedObject`...).
fn print_events_event(obj: &Value, now: DateTime<Utc>) -> Row {
    print_event(
        obj,
        &EventView {
            first_timestamp: &obj["deprecatedFirstTimestamp"],
            last_timestamp: &obj["deprecatedLastTimestamp"],
            event_time: &obj["eventTime"],
            count: &obj["deprecatedCount"],
            series: &obj["series"],
            involved: &obj["regarding"],
            source: &obj["deprecatedSource"],
            reporting_controller: &obj["reportingController"],
            reporting_instance: &obj["reportingInstance"],
            message: &obj["note"],
        },
        now,
    )
}

fn print_event(obj: &Value, ev: &EventView, now: DateTime<Utc>) -> Row {
    let since = |t: Option<DateTime<Utc>>| match t {
        Some(t) => super::human_duration(now - t),
        None => "<unknown>".to_string(),
    };
    let first_timestamp = match parse_time(ev.first_timestamp) {
        Some(t) => since(Some(t)),
        None => since(parse_time(ev.event_time)),
    };
    let mut last_timestamp = match parse_time(ev.last_timestamp) {
        Some(t) => since(Some(t)),
        None => first_timestamp.clone(),
    };
    let mut count = ev.count.as_i64().unwrap_or(0);
    if ev.series.is_object() {
        last_timestamp = since(parse_time(&ev.series["lastObservedTime"]));
        count = ev.series["count"].as_i64().unwrap_or(0);
    } else if count == 0 {
        // Singleton events of the new API carry no count.
        count = 1;
    }
    let kind = str_of(&ev.involved["kind"]).to_lowercase();
    let involved_name = str_of(&ev.involved["name"]);
    let target = if involved_name.is_empty() {
        kind
    } else {
        format!("{kind}/{involved_name}")
    };
    let component = first_non_empty(&ev.source["component"], ev.reporting_controller);
    let instance = first_non_empty(&ev.source["host"], ev.reporting_instance);
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    Row::cells(vec![
        last_timestamp.into(),
        str_of(&obj["type"]).into(),
        str_of(&obj["reason"]).into(),
        target.into(),
        str_of(&ev.involved["fieldPath"]).into(),
        source.into(),
        str_of(ev.message).trim().into(),
        first_timestamp.into(),
        count.into(),
        name_of(obj).into(),
    ])
}

fn first_non_empty<'a>(a: &'a Value, b: &'a Value) -> &'a str {
    let a = str_of(a);
    if a.is_empty() { str_of(b) } else { a }
}

/// Field docs of `k8s.io/api` 1.35, used as column descriptions.
const CONFIGMAP_DATA_DOC: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";
const SECRET_TYPE_DOC: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";
const SECRET_DATA_DOC: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";
const SERVICE_ACCOUNT_SECRETS_DOC: &str = "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret";
const LEASE_HOLDER_DOC: &str = "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.";
const NODE_ADDRESSES_DOC: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";
const NODE_OS_IMAGE_DOC: &str =
    "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).";
const NODE_KERNEL_DOC: &str =
    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).";
const NODE_RUNTIME_DOC: &str = "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).";
const SERVICE_TYPE_DOC: &str = "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are determined by the selector or if that is not specified, by manual construction of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no virtual IP is allocated and the endpoints are published as a set of endpoints rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port on every node which routes to the same endpoints as the clusterIP. \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if supported in the current cloud) which routes to the same endpoints as the clusterIP. \"ExternalName\" aliases this service to the specified externalName. Several other fields do not apply to ExternalName services. More info: https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types";
const SERVICE_CLUSTER_IP_DOC: &str = "clusterIP is the IP address of the service and is usually assigned randomly. If an address is specified manually, is in-range (as per system configuration), and is not in use, it will be allocated to the service; otherwise creation of the service will fail. This field may not be changed through updates unless the type field is also being changed to ExternalName (which requires this field to be blank) or the type field is being changed from ExternalName (in which case this field may optionally be specified, as describe above).  Valid values are \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\" makes a \"headless service\" (no virtual IP), which is useful when direct endpoint connections are preferred and proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when creating a Service of type ExternalName, creation will fail. This field will be wiped when updating a Service to type ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
const SERVICE_EXTERNAL_IPS_DOC: &str = "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user is responsible for ensuring that traffic arrives at a node with this IP.  A common example is external load-balancers that are not part of the Kubernetes system.";
const SERVICE_PORTS_DOC: &str = "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies";
const SERVICE_SELECTOR_DOC: &str = "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/";
const DEPLOYMENT_UPDATED_DOC: &str = "Total number of non-terminating pods targeted by this deployment that have the desired template spec.";
const DEPLOYMENT_AVAILABLE_DOC: &str = "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.";
const DEPLOYMENT_SELECTOR_DOC: &str = "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.";
const ROLE_BINDING_ROLE_REF_DOC: &str = "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
const CLUSTER_ROLE_BINDING_ROLE_REF_DOC: &str = "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";
const EVENT_LAST_TIMESTAMP_DOC: &str =
    "The time at which the most recent occurrence of this event was recorded.";
const EVENT_FIRST_TIMESTAMP_DOC: &str =
    "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)";
const EVENT_TYPE_DOC: &str =
    "Type of this event (Normal, Warning), new types could be added in the future";
const EVENT_REASON_DOC: &str = "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.";
const EVENT_SOURCE_DOC: &str =
    "The component reporting this event. Should be a short machine understandable string.";
const OBJECT_REFERENCE_FIELD_PATH_DOC: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.";

mod policy;

#[cfg(test)]
mod tests;
mod workloads;
