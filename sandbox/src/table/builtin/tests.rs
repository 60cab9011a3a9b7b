//! Unit tests of `table::builtin`.

use super::super::tests::{builtin, now};
use super::super::{IncludeObject, to_table};
use super::*;
use serde_json::json;

fn table(group: &str, kind: &str, obj: Value) -> Value {
    to_table(
        &builtin(group, kind),
        &[obj],
        &IncludeObject::None,
        json!({}),
        false,
        now(),
    )
}

fn header(t: &Value) -> Vec<(String, i64)> {
    t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["priority"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn names(t: &Value) -> Vec<String> {
    header(t).into_iter().map(|(n, _)| n).collect()
}

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "ns", "creationTimestamp": "2024-05-01T09:00:00Z"})
}

#[test]
fn namespaces_configmaps_secrets_serviceaccounts_leases() {
    let t = table(
        "",
        "Namespace",
        json!({"metadata": meta("dev"), "status": {"phase": "Active"}}),
    );
    assert_eq!(names(&t), ["Name", "Status", "Age"]);
    assert_eq!(t["rows"][0]["cells"], json!(["dev", "Active", "3h"]));

    let t = table(
        "",
        "ConfigMap",
        json!({"metadata": meta("c"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}),
    );
    assert_eq!(names(&t), ["Name", "Data", "Age"]);
    assert_eq!(t["columnDefinitions"][1]["type"], "string");
    assert_eq!(t["rows"][0]["cells"], json!(["c", 3, "3h"]));

    let t = table(
        "",
        "Secret",
        json!({"metadata": meta("s"), "type": "Opaque", "data": {"k": "dg=="}}),
    );
    assert_eq!(names(&t), ["Name", "Type", "Data", "Age"]);
    assert_eq!(t["rows"][0]["cells"], json!(["s", "Opaque", 1, "3h"]));

    let t = table("", "ServiceAccount", json!({"metadata": meta("default")}));
    assert_eq!(names(&t), ["Name", "Secrets", "Age"]);
    assert_eq!(t["rows"][0]["cells"], json!(["default", 0, "3h"]));

    let t = table(
        "coordination.k8s.io",
        "Lease",
        json!({"metadata": meta("leader"), "spec": {"holderIdentity": "pod-a"}}),
    );
    assert_eq!(names(&t), ["Name", "Holder", "Age"]);
    assert_eq!(t["rows"][0]["cells"], json!(["leader", "pod-a", "3h"]));
    let t = table(
        "coordination.k8s.io",
        "Lease",
        json!({"metadata": meta("free"), "spec": {}}),
    );
    assert_eq!(t["rows"][0]["cells"], json!(["free", "", "3h"]));
}

#[test]
fn nodes() {
    let node = json!({
        "metadata": {
            "name": "n1",
            "creationTimestamp": "2024-04-01T12:00:00Z",
            "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker", "node-role.kubernetes.io/": "x"}
        },
        "spec": {"unschedulable": true},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}, {"type": "Hostname", "address": "n1"}],
            "nodeInfo": {"kubeletVersion": "v1.35.0", "osImage": "Sandbox", "kernelVersion": "", "containerRuntimeVersion": "fake://1"}
        }
    });
    let t = table("", "Node", node);
    assert_eq!(
        header(&t),
        [
            ("Name".to_string(), 0),
            ("Status".into(), 0),
            ("Roles".into(), 0),
            ("Age".into(), 0),
            ("Version".into(), 0),
            ("Internal-IP".into(), 1),
            ("External-IP".into(), 1),
            ("OS-Image".into(), 1),
            ("Kernel-Version".into(), 1),
            ("Container-Runtime".into(), 1),
        ]
    );
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "n1",
            "Ready,SchedulingDisabled",
            "control-plane,worker",
            "30d",
            "v1.35.0",
            "10.0.0.5",
            "<none>",
            "Sandbox",
            "<unknown>",
            "fake://1"
        ])
    );
    let t = table("", "Node", json!({"metadata": {"name": "bare"}}));
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "bare",
            "Unknown",
            "<none>",
            "<unknown>",
            "",
            "<none>",
            "<none>",
            "<unknown>",
            "<unknown>",
            "<unknown>"
        ])
    );
}

#[test]
fn services() {
    let svc = json!({
        "metadata": meta("web"),
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"],
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
            "selector": {"tier": "web", "app": "shop"}
        }
    });
    let t = table("", "Service", svc);
    assert_eq!(
        names(&t),
        [
            "Name",
            "Type",
            "Cluster-IP",
            "External-IP",
            "Port(s)",
            "Age",
            "Selector"
        ]
    );
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "web",
            "NodePort",
            "10.96.0.10",
            "<none>",
            "80:30080/TCP,53/UDP",
            "3h",
            "app=shop,tier=web"
        ])
    );
    let lb = json!({
        "metadata": meta("lb"),
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.11", "externalIPs": ["1.2.3.4"], "ports": [{"port": 443}]},
        "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example"}, {"ip": "5.6.7.8"}]}}
    });
    assert_eq!(
        table("", "Service", lb)["rows"][0]["cells"],
        json!([
            "lb",
            "LoadBalancer",
            "10.96.0.11",
            "5.6.7.8,lb.example,1.2.3.4",
            "443/TCP",
            "3h",
            "<none>"
        ])
    );
    let pending = json!({"metadata": meta("p"), "spec": {"type": "LoadBalancer"}});
    assert_eq!(
        table("", "Service", pending)["rows"][0]["cells"][3],
        "<pending>"
    );
    let ext = json!({"metadata": meta("e"), "spec": {"type": "ExternalName", "externalName": "db.example"}});
    assert_eq!(
        table("", "Service", ext)["rows"][0]["cells"],
        json!([
            "e",
            "ExternalName",
            "<none>",
            "db.example",
            "<none>",
            "3h",
            "<none>"
        ])
    );
}

#[test]
fn deployments() {
    let dep = json!({
        "metadata": meta("api"),
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "api"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["web", "back"]},
                    {"key": "canary", "operator": "DoesNotExist"}
                ]
            },
            "template": {"spec": {"containers": [{"name": "main", "image": "api:1"}, {"name": "proxy", "image": "envoy:2"}]}}
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    });
    let t = table("apps", "Deployment", dep);
    assert_eq!(
        header(&t),
        [
            ("Name".to_string(), 0),
            ("Ready".into(), 0),
            ("Up-to-date".into(), 0),
            ("Available".into(), 0),
            ("Age".into(), 0),
            ("Containers".into(), 1),
            ("Images".into(), 1),
            ("Selector".into(), 1),
        ]
    );
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "api",
            "2/3",
            3,
            2,
            "3h",
            "main,proxy",
            "api:1,envoy:2",
            "app=api,!canary,tier in (back,web)"
        ])
    );
    let fresh = json!({"metadata": meta("new"), "spec": {"selector": {"matchExpressions": [{"key": "x", "operator": "In"}]}}});
    assert_eq!(
        table("apps", "Deployment", fresh)["rows"][0]["cells"],
        json!(["new", "0/1", 0, 0, "3h", "", "", "<invalid>"])
    );
}

#[test]
fn bindings() {
    let rb = json!({
        "metadata": meta("read"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "bot", "namespace": "ci"},
            {"kind": "User", "name": "bob"}
        ]
    });
    let t = table("rbac.authorization.k8s.io", "RoleBinding", rb.clone());
    assert_eq!(
        header(&t),
        [
            ("Name".to_string(), 0),
            ("Role".into(), 0),
            ("Age".into(), 0),
            ("Users".into(), 1),
            ("Groups".into(), 1),
            ("ServiceAccounts".into(), 1),
        ]
    );
    assert_eq!(
        t["columnDefinitions"][3]["description"],
        "Users in the roleBinding"
    );
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "read",
            "ClusterRole/view",
            "3h",
            "alice, bob",
            "devs",
            "ci/bot"
        ])
    );
    let t = table("rbac.authorization.k8s.io", "ClusterRoleBinding", rb);
    assert_eq!(
        t["columnDefinitions"][3]["description"],
        "Users in the clusterRoleBinding"
    );
}

#[test]
fn core_events() {
    let ev = json!({
        "metadata": {"name": "web.17a", "namespace": "ns"},
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{main}"},
        "reason": "Pulled",
        "message": "  Container image pulled \n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2024-05-01T11:00:00Z",
        "lastTimestamp": "2024-05-01T11:58:00Z",
        "count": 4,
        "type": "Normal"
    });
    let t = table("", "Event", ev);
    assert_eq!(
        header(&t),
        [
            ("Last Seen".to_string(), 0),
            ("Type".into(), 0),
            ("Reason".into(), 0),
            ("Object".into(), 0),
            ("Subobject".into(), 1),
            ("Source".into(), 1),
            ("Message".into(), 0),
            ("First Seen".into(), 1),
            ("Count".into(), 1),
            ("Name".into(), 1),
        ]
    );
    assert_eq!(t["columnDefinitions"][9]["format"], "name");
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "2m",
            "Normal",
            "Pulled",
            "pod/web",
            "spec.containers{main}",
            "kubelet, node-1",
            "Container image pulled",
            "60m",
            4,
            "web.17a"
        ])
    );
}

#[test]
fn new_api_events() {
    // As kube-rs's recorder writes them: eventTime, no count, reportingController.
    let ev = json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "job.1", "namespace": "ns"},
        "eventTime": "2024-05-01T11:59:30.000000Z",
        "regarding": {"kind": "TestJob", "name": "nightly"},
        "reason": "Started",
        "note": "started run",
        "type": "Normal",
        "action": "Start",
        "reportingController": "testjob-operator",
        "reportingInstance": "op-0"
    });
    let t = table("events.k8s.io", "Event", ev.clone());
    assert_eq!(
        t["rows"][0]["cells"],
        json!([
            "30s",
            "Normal",
            "Started",
            "testjob/nightly",
            "",
            "testjob-operator, op-0",
            "started run",
            "30s",
            1,
            "job.1"
        ])
    );
    let mut repeated = ev;
    repeated["series"] = json!({"count": 5, "lastObservedTime": "2024-05-01T11:59:55.000000Z"});
    let t = table("events.k8s.io", "Event", repeated);
    assert_eq!(t["rows"][0]["cells"][0], "5s");
    assert_eq!(t["rows"][0]["cells"][8], 5);

    let core = json!({
        "metadata": {"name": "x"},
        "involvedObject": {"kind": "Node"},
        "reportingComponent": "ctrl",
        "eventTime": "2024-05-01T11:00:00.000000Z"
    });
    assert_eq!(
        table("", "Event", core)["rows"][0]["cells"],
        json!(["60m", "", "", "node", "", "ctrl", "", "60m", 1, "x"])
    );
    let timeless = json!({"metadata": {"name": "y"}, "involvedObject": {}});
    assert_eq!(
        table("", "Event", timeless)["rows"][0]["cells"][0],
        "<unknown>"
    );
}
