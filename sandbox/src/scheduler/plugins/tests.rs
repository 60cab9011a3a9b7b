//! Unit tests of the scheduler's Filter plugins and failure messages.

use super::*;
use serde_json::json;

fn node(spec: Value, labels: Value) -> Value {
    json!({
        "metadata": {"name": "n1", "labels": labels},
        "spec": spec,
        "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "3"}},
    })
}

fn pod(spec: Value) -> Value {
    let mut spec = spec;
    if spec.get("containers").is_none() {
        spec["containers"] = json!([{"name": "c", "image": "busybox"}]);
    }
    json!({"metadata": {"name": "p", "namespace": "default"}, "spec": spec})
}

fn check(pod: &Value, node: &Value, others: &[Value]) -> Result<(), Rejection> {
    let info = NodeInfo::new(node, others);
    filter(pod, &pod_requests(pod), &info)
}

fn reasons(r: Result<(), Rejection>) -> Vec<String> {
    r.err().map(|r| r.reasons).unwrap_or_default()
}

#[test]
fn cordoned_nodes_take_only_pods_tolerating_unschedulable() {
    let n = node(json!({"unschedulable": true}), json!({}));
    let plain = pod(json!({}));
    let err = check(&plain, &n, &[]).unwrap_err();
    assert_eq!(err.code, Code::UnschedulableAndUnresolvable);
    assert_eq!(err.reasons, vec![REASON_UNSCHEDULABLE]);
    let tolerant = pod(json!({"tolerations": [
        {"key": TAINT_UNSCHEDULABLE, "operator": "Exists", "effect": "NoSchedule"}]}));
    assert_eq!(check(&tolerant, &n, &[]), Ok(()));
    let everything = pod(json!({"tolerations": [{"operator": "Exists"}]}));
    assert_eq!(check(&everything, &n, &[]), Ok(()));
}

#[test]
fn node_selector_and_required_affinity() {
    let n = node(json!({}), json!({"disk": "ssd", "gen": "5"}));
    assert_eq!(
        check(&pod(json!({"nodeSelector": {"disk": "ssd"}})), &n, &[]),
        Ok(())
    );
    assert_eq!(
        reasons(check(
            &pod(json!({"nodeSelector": {"disk": "hdd"}})),
            &n,
            &[]
        )),
        vec![REASON_AFFINITY]
    );
    let affinity = |exprs: Value| {
        pod(
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": exprs}]}}}}),
        )
    };
    let ok = [
        json!([{"key": "disk", "operator": "In", "values": ["ssd", "nvme"]}]),
        json!([{"key": "disk", "operator": "NotIn", "values": ["hdd"]}]),
        json!([{"key": "gen", "operator": "Gt", "values": ["4"]}]),
        json!([{"key": "gpu", "operator": "DoesNotExist"}]),
    ];
    for e in ok {
        assert_eq!(check(&affinity(e.clone()), &n, &[]), Ok(()), "{e}");
    }
    let bad = [
        json!([{"key": "disk", "operator": "In", "values": ["hdd"]}]),
        json!([{"key": "gen", "operator": "Lt", "values": ["5"]}]),
        json!([{"key": "gpu", "operator": "Exists"}]),
    ];
    for e in bad {
        assert_eq!(
            reasons(check(&affinity(e.clone()), &n, &[])),
            vec![REASON_AFFINITY],
            "{e}"
        );
    }
    let by_name = pod(
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
        {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]},
                               {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}}}}),
    );
    assert_eq!(check(&by_name, &n, &[]), Ok(()), "terms are ORed");
}

#[test]
fn taints_need_tolerations() {
    let n = node(
        json!({"taints": [{"key": "soft", "effect": "PreferNoSchedule"},
                          {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}),
        json!({}),
    );
    assert_eq!(reasons(check(&pod(json!({})), &n, &[])), vec![REASON_TAINT]);
    let wrong_value =
        pod(json!({"tolerations": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}));
    assert_eq!(reasons(check(&wrong_value, &n, &[])), vec![REASON_TAINT]);
    let equal =
        pod(json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu"}]}));
    assert_eq!(check(&equal, &n, &[]), Ok(()));
    let exists = pod(
        json!({"tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]}),
    );
    assert_eq!(check(&exists, &n, &[]), Ok(()));
    let other_effect = pod(
        json!({"tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}]}),
    );
    assert_eq!(reasons(check(&other_effect, &n, &[])), vec![REASON_TAINT]);
}

#[test]
fn resources_fit_against_what_bound_pods_request() {
    let n = node(json!({}), json!({}));
    let sized = |cpu: &str, mem: &str| {
        pod(
            json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": mem}}}]}),
        )
    };
    assert_eq!(check(&sized("1500m", "1Gi"), &n, &[]), Ok(()));
    let err = check(&sized("3", "8Gi"), &n, &[]).unwrap_err();
    assert_eq!(err.code, Code::Unschedulable);
    assert_eq!(err.reasons, vec!["Insufficient cpu", "Insufficient memory"]);
    let bound = [sized("1", "1Gi")];
    assert_eq!(
        reasons(check(&sized("1500m", "1Gi"), &n, &bound)),
        vec!["Insufficient cpu"]
    );
    let full = [pod(json!({})), pod(json!({})), pod(json!({}))];
    assert_eq!(
        reasons(check(&pod(json!({})), &n, &full)),
        vec!["Too many pods"]
    );
    let gpu = pod(
        json!({"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}),
    );
    assert_eq!(
        reasons(check(&gpu, &n, &[])),
        vec!["Insufficient nvidia.com/gpu"]
    );
}

#[test]
fn pod_requests_count_init_containers_and_sidecars() {
    let p = pod(json!({
        "initContainers": [
            {"name": "init", "resources": {"requests": {"cpu": "3"}}},
            {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}},
        ],
        "containers": [{"name": "c", "resources": {"requests": {"cpu": "1", "memory": "1Mi"}}}],
        "overhead": {"cpu": "100m"},
    }));
    let r = pod_requests(&p);
    assert_eq!(r.milli_cpu, 3100);
    assert_eq!(r.memory, 1024 * 1024);
}

#[test]
fn failure_messages_read_like_kube_scheduler() {
    let p = pod(json!({}));
    let cordoned = Rejection::unresolvable(REASON_UNSCHEDULABLE);
    assert_eq!(
        failure_message(&p, std::slice::from_ref(&cordoned)),
        "0/1 nodes are available: 1 node(s) were unschedulable. no new claims to deallocate, \
         preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    );
    let cpu = Rejection {
        code: Code::Unschedulable,
        reasons: vec!["Insufficient cpu".into()],
    };
    assert_eq!(
        failure_message(&p, &[cpu.clone(), cordoned.clone(), cpu]),
        "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu. no new claims \
         to deallocate, preemption: 0/3 nodes are available: 1 Preemption is not helpful for \
         scheduling, 2 No preemption victims found for incoming pod."
    );
    let never = pod(json!({"preemptionPolicy": "Never"}));
    assert_eq!(
        failure_message(&never, &[cordoned]),
        "0/1 nodes are available: 1 node(s) were unschedulable. no new claims to deallocate, \
         preemption: not eligible due to preemptionPolicy=Never."
    );
    assert_eq!(failure_message(&p, &[]), NO_NODES);
}
