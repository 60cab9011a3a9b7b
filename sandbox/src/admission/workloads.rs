//! Defaults of the built-in kinds beyond pods (the `SetDefaults_*` functions of
//! `pkg/apis/{apps,batch,core,...}/v1/defaults.go` and the registry strategies' PrepareForCreate),
//! Service ClusterIP allocation, and the decoder's dropping of `null` fields.
//!
//! Pod templates (Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs,
//! ReplicationControllers, PodTemplates) get the same defaults as a Pod's spec.

use std::net::Ipv4Addr;

use rand::Rng;
use serde_json::{Value, json};

use super::invalid;
use crate::errors::ApiResult;
use crate::resource_types::ResourceType;
use crate::schema::FieldError;
use crate::state::State;
use crate::store::StorageKey;

/// The service CIDR, kube-apiserver's default `--service-cluster-ip-range` (kubeadm and kind).
pub const SERVICE_CIDR: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 96, 0, 0), 12);
/// NodePorts come from kube-apiserver's default `--service-node-port-range`.
const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

/// Fields of Go struct type (`metav1.Time`, `metav1.MicroTime`) that `omitempty` cannot omit:
/// a zero one is written as `null`, so a `null` sent for one reads back. (ObjectMeta's
/// `creationTimestamp` is not one: it is `json:"creationTimestamp,omitempty,omitzero"` in
/// apimachinery's meta/v1 types.go, so a template's `creationTimestamp: null` goes.)
const NULL_STRUCT_FIELDS: &[&str] = &[
    "eventTime",
    "firstTimestamp",
    "lastTimestamp",
    "lastProbeTime",
    "lastHeartbeatTime",
];

/// Go's JSON decoder leaves a nil slice, map or pointer for an explicit `null`, and the encoder
/// omits it again (`omitempty`): a `null` sent by a client never reads back.
pub fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, v| !v.is_null() || NULL_STRUCT_FIELDS.contains(&k.as_str()));
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

fn set_default(obj: &mut Value, field: &str, value: Value) {
    if obj[field].is_null() {
        obj[field] = value;
    }
}

/// The defaults of a pod template's spec, the same as a Pod's.
fn default_template(template: &mut Value) {
    if !template.is_object() {
        return;
    }
    let mut pod = json!({"spec": template["spec"].take()});
    super::default_pod(&mut pod);
    template["spec"] = pod["spec"].take();
}

/// Defaults applied on every write of the main endpoint (the decoder defaults each request).
fn default_spec(rt: &ResourceType, obj: &mut Value) {
    let spec = &mut obj["spec"];
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("apps", "deployments") => {
            set_default(spec, "replicas", json!(1));
            set_default(spec, "strategy", json!({}));
            set_default(&mut spec["strategy"], "type", json!("RollingUpdate"));
            if spec["strategy"]["type"] == "RollingUpdate" {
                set_default(&mut spec["strategy"], "rollingUpdate", json!({}));
                let ru = &mut spec["strategy"]["rollingUpdate"];
                set_default(ru, "maxUnavailable", json!("25%"));
                set_default(ru, "maxSurge", json!("25%"));
            }
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(spec, "progressDeadlineSeconds", json!(600));
            default_template(&mut spec["template"]);
        }
        ("apps", "replicasets") => {
            set_default(spec, "replicas", json!(1));
            default_template(&mut spec["template"]);
        }
        ("apps", "statefulsets") => {
            set_default(spec, "replicas", json!(1));
            set_default(spec, "podManagementPolicy", json!("OrderedReady"));
            set_default(spec, "updateStrategy", json!({}));
            set_default(&mut spec["updateStrategy"], "type", json!("RollingUpdate"));
            if spec["updateStrategy"]["type"] == "RollingUpdate" {
                set_default(&mut spec["updateStrategy"], "rollingUpdate", json!({}));
                set_default(
                    &mut spec["updateStrategy"]["rollingUpdate"],
                    "partition",
                    json!(0),
                );
            }
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(
                spec,
                "persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
            default_template(&mut spec["template"]);
        }
        ("apps", "daemonsets") => {
            set_default(spec, "updateStrategy", json!({}));
            set_default(&mut spec["updateStrategy"], "type", json!("RollingUpdate"));
            if spec["updateStrategy"]["type"] == "RollingUpdate" {
                set_default(&mut spec["updateStrategy"], "rollingUpdate", json!({}));
                let ru = &mut spec["updateStrategy"]["rollingUpdate"];
                set_default(ru, "maxUnavailable", json!(1));
                set_default(ru, "maxSurge", json!(0));
            }
            set_default(spec, "revisionHistoryLimit", json!(10));
            default_template(&mut spec["template"]);
        }
        ("batch", "jobs") => default_job_spec(spec),
        ("batch", "cronjobs") => {
            set_default(spec, "concurrencyPolicy", json!("Allow"));
            set_default(spec, "suspend", json!(false));
            set_default(spec, "successfulJobsHistoryLimit", json!(3));
            set_default(spec, "failedJobsHistoryLimit", json!(1));
            if spec["jobTemplate"].is_object() {
                default_job_spec(&mut spec["jobTemplate"]["spec"]);
            }
        }
        ("", "replicationcontrollers") => {
            set_default(spec, "replicas", json!(1));
            let labels = spec["template"]["metadata"]["labels"].clone();
            if labels.is_object() {
                set_default(spec, "selector", labels.clone());
                set_default(&mut obj["metadata"], "labels", labels);
            }
            default_template(&mut obj["spec"]["template"]);
        }
        ("", "podtemplates") => default_template(&mut obj["template"]),
        ("", "persistentvolumeclaims") => {
            set_default(spec, "volumeMode", json!("Filesystem"));
        }
        ("", "persistentvolumes") => {
            set_default(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
            set_default(spec, "volumeMode", json!("Filesystem"));
        }
        ("autoscaling", "horizontalpodautoscalers") => {
            set_default(spec, "minReplicas", json!(1));
            set_default(
                spec,
                "metrics",
                json!([{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80}}}]),
            );
        }
        ("storage.k8s.io", "storageclasses") => {
            set_default(obj, "reclaimPolicy", json!("Delete"));
            set_default(obj, "volumeBindingMode", json!("Immediate"));
        }
        _ => {}
    }
    // Indexing `obj["spec"]` above adds a null `spec` to kinds without one.
    if obj.get("spec").is_some_and(Value::is_null)
        && let Some(map) = obj.as_object_mut()
    {
        map.remove("spec");
    }
}

/// `SetDefaults_Job`: one pod at a time, one completion, six retries.
fn default_job_spec(spec: &mut Value) {
    if spec["completions"].is_null() && spec["parallelism"].is_null() {
        spec["completions"] = json!(1);
    }
    set_default(spec, "parallelism", json!(1));
    set_default(spec, "backoffLimit", json!(6));
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    let replacement = if spec["podFailurePolicy"].is_null() {
        "TerminatingOrFailed"
    } else {
        "Failed"
    };
    set_default(spec, "podReplacementPolicy", json!(replacement));
    default_template(&mut spec["template"]);
}

/// The labels the Job strategy puts on a Job's pod template and selects its pods by
/// (`pkg/registry/batch/job/strategy.go`, generateSelector).
fn job_selector(obj: &mut Value) {
    if obj["spec"]["manualSelector"] == true {
        return;
    }
    let uid = obj["metadata"]["uid"].clone();
    let name = obj["metadata"]["name"].clone();
    let labels = &mut obj["spec"]["template"]["metadata"]["labels"];
    for (key, value) in [
        ("batch.kubernetes.io/controller-uid", &uid),
        ("batch.kubernetes.io/job-name", &name),
        ("controller-uid", &uid),
        ("job-name", &name),
    ] {
        labels[key] = value.clone();
    }
    obj["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
}

/// The status a kind starts with: fields Go writes even when zero (no `omitempty`).
fn initial_status(rt: &ResourceType) -> Option<Value> {
    Some(match (rt.group.as_str(), rt.plural.as_str()) {
        ("apps", "deployments") | ("batch", "jobs" | "cronjobs") => json!({}),
        ("apps", "replicasets") | ("", "replicationcontrollers") => json!({"replicas": 0}),
        ("apps", "statefulsets") => json!({"replicas": 0, "availableReplicas": 0}),
        ("apps", "daemonsets") => json!({"currentNumberScheduled": 0, "numberMisscheduled": 0,
            "desiredNumberScheduled": 0, "numberReady": 0}),
        ("", "persistentvolumeclaims" | "persistentvolumes") => json!({"phase": "Pending"}),
        ("", "services") | ("networking.k8s.io", "ingresses") => json!({"loadBalancer": {}}),
        ("autoscaling", "horizontalpodautoscalers") => json!({"currentReplicas": 0,
            "desiredReplicas": 0}),
        _ => return None,
    })
}

pub fn on_create(state: &State, rt: &ResourceType, obj: &mut Value) -> ApiResult<()> {
    if rt.is_custom() {
        return Ok(());
    }
    default_spec(rt, obj);
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("batch", "jobs") => job_selector(obj),
        ("", "services") => default_service(state, rt, obj, None)?,
        _ => {}
    }
    if let Some(status) = initial_status(rt) {
        obj["status"] = status;
    }
    Ok(())
}

pub fn on_update(
    state: &State,
    rt: &ResourceType,
    old: &Value,
    new: &mut Value,
    sub: Option<&str>,
) -> ApiResult<()> {
    if rt.is_custom() || sub.is_some() {
        return Ok(());
    }
    default_spec(rt, new);
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("batch", "jobs") => {
            // The generated selector and labels are immutable; a PUT without them keeps them.
            if new["spec"]["selector"].is_null() {
                new["spec"]["selector"] = old["spec"]["selector"].clone();
            }
            if let Some(old_labels) = old["spec"]["template"]["metadata"]["labels"].as_object() {
                for (k, v) in old_labels {
                    let labels = &mut new["spec"]["template"]["metadata"]["labels"];
                    if labels[k].is_null()
                        && (k.contains("controller-uid") || k.contains("job-name"))
                    {
                        labels[k] = v.clone();
                    }
                }
            }
        }
        ("", "services") => default_service(state, rt, new, Some(old))?,
        _ => {}
    }
    Ok(())
}

fn in_service_cidr(ip: Ipv4Addr) -> bool {
    let (base, bits) = SERVICE_CIDR;
    let mask = u32::MAX << (32 - bits);
    u32::from(ip) & mask == u32::from(base)
}

fn allocated_ips(state: &State) -> Vec<String> {
    let (services, _) = state.store.list(&StorageKey::new("", "services"), None);
    services
        .iter()
        .flat_map(|s| {
            s["spec"]["clusterIPs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|ip| ip.as_str().map(String::from))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A free address of the service CIDR, from its upper part as the allocator prefers for
/// dynamic allocation (the lower band is left to static assignment).
fn allocate_ip(state: &State) -> Option<String> {
    let taken = allocated_ips(state);
    let (base, bits) = SERVICE_CIDR;
    let size = 1u32 << (32 - bits);
    let mut rng = rand::rng();
    (0..1000)
        .map(|_| Ipv4Addr::from(u32::from(base) + rng.random_range(size / 16..size - 1)))
        .map(|ip| ip.to_string())
        .find(|ip| !taken.contains(ip))
}

fn allocated_node_ports(state: &State) -> Vec<i64> {
    let (services, _) = state.store.list(&StorageKey::new("", "services"), None);
    services
        .iter()
        .flat_map(|s| {
            s["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["nodePort"].as_i64())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `SetDefaults_Service` plus the IP and port allocation of the service REST storage.
fn default_service(
    state: &State,
    rt: &ResourceType,
    svc: &mut Value,
    old: Option<&Value>,
) -> ApiResult<()> {
    let name = svc["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let spec = &mut svc["spec"];
    set_default(spec, "type", json!("ClusterIP"));
    set_default(spec, "sessionAffinity", json!("None"));
    let type_ = spec["type"].as_str().unwrap_or_default().to_string();
    if let Some(ports) = spec["ports"].as_array_mut() {
        for p in ports {
            set_default(p, "protocol", json!("TCP"));
            if p["targetPort"].is_null() || p["targetPort"] == 0 || p["targetPort"] == "" {
                p["targetPort"] = p["port"].clone();
            }
        }
    }
    if type_ == "ExternalName" {
        return Ok(());
    }
    set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    if matches!(type_.as_str(), "NodePort" | "LoadBalancer") {
        set_default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if type_ == "LoadBalancer" {
        set_default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    // The cluster IP is immutable: an update without it keeps the allocated one.
    if let Some(old) = old {
        for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if spec[field].is_null() && !old["spec"][field].is_null() {
                spec[field] = old["spec"][field].clone();
            }
        }
        if let Some(ports) = spec["ports"].as_array_mut() {
            for p in ports.iter_mut().filter(|p| p["nodePort"].is_null()) {
                let same = old["spec"]["ports"].as_array().and_then(|olds| {
                    olds.iter()
                        .find(|o| o["port"] == p["port"] && o["protocol"] == p["protocol"])
                });
                if let Some(o) = same.filter(|o| !o["nodePort"].is_null()) {
                    p["nodePort"] = o["nodePort"].clone();
                }
            }
        }
    }
    let requested = spec["clusterIP"]
        .as_str()
        .or_else(|| spec["clusterIPs"][0].as_str())
        .unwrap_or_default()
        .to_string();
    let unchanged = old.is_some_and(|o| o["spec"]["clusterIP"] == requested.as_str());
    let ip = if requested == "None" || unchanged {
        requested
    } else if requested.is_empty() {
        allocate_ip(state).ok_or_else(|| {
            invalid(
                rt,
                &name,
                &[FieldError::invalid_omit_value(
                    "spec.clusterIPs",
                    "failed to allocate IP: range is full",
                )],
            )
        })?
    } else {
        // ipallocator's errors, wrapped by the service REST storage as
        // `field.Invalid(el, clusterIPs, fmt.Sprintf("failed to allocate IP %v: %v", ip, err))`.
        let (base, bits) = SERVICE_CIDR;
        let fail = |why: String| {
            invalid(
                rt,
                &name,
                &[FieldError::invalid(
                    "spec.clusterIPs",
                    json!([requested]),
                    format!("failed to allocate IP {requested}: {why}"),
                )],
            )
        };
        match requested.parse::<Ipv4Addr>() {
            Ok(addr) if !in_service_cidr(addr) => {
                return Err(fail(format!(
                    "the provided IP ({requested}) is not in the valid range. The range of valid IPs is {base}/{bits}"
                )));
            }
            Ok(_) if allocated_ips(state).contains(&requested) => {
                return Err(fail("provided IP is already allocated".into()));
            }
            Ok(_) => requested,
            Err(_) => {
                return Err(invalid(
                    rt,
                    &name,
                    &[FieldError::invalid(
                        "spec.clusterIPs[0]",
                        json!(requested),
                        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                    )],
                ));
            }
        }
    };
    spec["clusterIP"] = json!(ip);
    spec["clusterIPs"] = json!([ip]);
    set_default(spec, "ipFamilies", json!(["IPv4"]));
    set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
    if matches!(type_.as_str(), "NodePort" | "LoadBalancer") {
        let mut taken = allocated_node_ports(state);
        let mut rng = rand::rng();
        if let Some(ports) = spec["ports"].as_array_mut() {
            for p in ports.iter_mut().filter(|p| p["nodePort"].is_null()) {
                let free = (0..1000)
                    .map(|_| rng.random_range(NODE_PORTS))
                    .find(|port| !taken.contains(port));
                if let Some(port) = free {
                    taken.push(port);
                    p["nodePort"] = json!(port);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_are_dropped_at_every_depth() {
        let mut v = json!({"spec": {"ports": null, "containers": [{"name": "a", "env": null}]}});
        drop_nulls(&mut v);
        assert_eq!(v, json!({"spec": {"containers": [{"name": "a"}]}}));
    }

    #[test]
    fn the_service_cidr_is_10_96_0_0_12() {
        assert!(in_service_cidr(Ipv4Addr::new(10, 96, 0, 1)));
        assert!(in_service_cidr(Ipv4Addr::new(10, 111, 255, 254)));
        assert!(!in_service_cidr(Ipv4Addr::new(10, 112, 0, 1)));
    }
}
