//! The objects a fresh cluster has before anyone writes: the system namespaces, the one node
//! with its status (this machine's CPUs and memory), the `kubernetes` Service, and the default
//! RBAC policy (whose definitions `auth::rbac` provides). They are created through the normal
//! write path, as kube-apiserver's post-start hooks do.

use anyhow::Context;
use serde_json::json;

use crate::auth::rbac::{RBAC_GROUP, bootstrap_objects};
use crate::ops::{self, WriteOptions};
use crate::state::State;

const BOOTSTRAP_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates every bootstrap object in a fresh sandbox.
pub(crate) fn create_objects(state: &State) -> anyhow::Result<()> {
    namespaces_and_node(state)?;
    kubernetes_service(state)?;
    rbac_policy(state)
}

/// The `kubernetes` Service in `default`, with the first address of the service CIDR, as the
/// API server's bootstrap controller keeps it (pkg/controlplane/controller/kubernetesservice).
fn kubernetes_service(state: &State) -> anyhow::Result<()> {
    let rt = state
        .types
        .find("", "v1", "services")
        .context("services type")?;
    let (base, _) = crate::admission::SERVICE_CIDR;
    let first = std::net::Ipv4Addr::from(u32::from(base) + 1).to_string();
    let svc = json!({
        "metadata": {"name": "kubernetes", "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": first, "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]},
    });
    ops::create(state, &rt, Some("default"), svc, &WriteOptions::default())
        .map_err(|e| anyhow::anyhow!("creating the kubernetes service: {e}"))?;
    Ok(())
}

/// The objects a fresh cluster has: system namespaces (each with its `default` ServiceAccount)
/// and the one node.
fn namespaces_and_node(state: &State) -> anyhow::Result<()> {
    let opts = WriteOptions::default();
    let ns_type = state
        .types
        .find("", "v1", "namespaces")
        .context("namespaces type")?;
    for ns in BOOTSTRAP_NAMESPACES {
        ops::create(
            state,
            &ns_type,
            None,
            json!({"metadata": {"name": ns}}),
            &opts,
        )
        .map_err(|e| anyhow::anyhow!("creating namespace {ns}: {e}"))?;
    }
    let node_type = state.types.find("", "v1", "nodes").context("nodes type")?;
    let name = state.node_name.clone();
    let node = json!({
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": std::env::consts::OS,
            "kubernetes.io/arch": std::env::consts::ARCH, "node-role.kubernetes.io/control-plane": ""}},
        "spec": {},
    });
    let created = ops::create(state, &node_type, None, node, &opts)
        .map_err(|e| anyhow::anyhow!("creating node: {e}"))?;
    let now = crate::timestamp::now_rfc3339();
    let status = json!({
        "metadata": {"name": name},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "addresses": [{"type": "InternalIP", "address": crate::kubelet::HOST_IP}, {"type": "Hostname", "address": name}],
            "capacity": node_resources(),
            "allocatable": node_resources(),
            "nodeInfo": {"kubeletVersion": crate::discovery::SERVER_GIT_VERSION, "operatingSystem": std::env::consts::OS,
                "architecture": std::env::consts::ARCH, "containerRuntimeVersion": "kube-sandbox://local-processes",
                "kernelVersion": "", "osImage": "kube-sandbox", "kubeProxyVersion": "", "machineID": "", "systemUUID": "", "bootID": ""},
        }
    });
    ops::update(state, &node_type, "", &name, Some("status"), status, &opts)
        .map_err(|e| anyhow::anyhow!("setting node status: {e}"))?;
    // The kubelet's heartbeat Lease (`kubectl describe node` reads it). The sandbox's node never
    // stops beating, so it is written once.
    let lease_type = state
        .types
        .find("coordination.k8s.io", "v1", "leases")
        .context("leases type")?;
    let lease = json!({
        "metadata": {"name": name, "namespace": "kube-node-lease", "ownerReferences": [{
            "apiVersion": "v1", "kind": "Node", "name": name, "uid": created.object["metadata"]["uid"]}]},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
            "renewTime": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()},
    });
    ops::create(state, &lease_type, Some("kube-node-lease"), lease, &opts)
        .map_err(|e| anyhow::anyhow!("creating the node lease: {e}"))?;
    Ok(())
}

/// The node's capacity, as a kubelet reports this machine's: its CPUs and memory
/// (`MemTotal` in Ki, as cadvisor reports it), the kubelet's default `maxPods` of 110, a nominal
/// ephemeral-storage and no hugepages. Allocatable equals capacity (no reservations), as on kind.
fn node_resources() -> serde_json::Value {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .map(|v| v.trim().trim_end_matches("kB").trim().to_string())
        })
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .map_or_else(|| "8Gi".to_string(), |kib| format!("{kib}Ki"));
    json!({
        "cpu": cpus.to_string(), "memory": memory, "pods": "110",
        "ephemeral-storage": "100Gi", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
    })
}

/// Creates the default ClusterRoles and ClusterRoleBindings every cluster starts with.
fn rbac_policy(state: &State) -> anyhow::Result<()> {
    let opts = WriteOptions::default();
    for (plural, objects) in bootstrap_objects()? {
        let rt = state
            .types
            .find(RBAC_GROUP, "v1", plural)
            .with_context(|| format!("{plural} type"))?;
        for obj in objects {
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            ops::create(state, &rt, None, obj, &opts)
                .map_err(|e| anyhow::anyhow!("creating {plural} {name}: {e}"))?;
        }
    }
    Ok(())
}
