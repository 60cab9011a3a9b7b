//! Scheduling with the real kubectl (the pinned 1.35 and the machine's own): Pods that fit no
//! node stay Pending with `PodScheduled=False` and a `FailedScheduling` event worded as
//! kube-scheduler words it, and run once the node changes (label, taint removal, uncordon) or
//! resources are freed; `kubectl cordon/drain/uncordon` with the eviction subresource and a
//! PodDisruptionBudget; the events kubectl finds by field selector and `describe` shows.
//!
//! Each scenario runs per kubectl on a fresh simulate-mode sandbox (scenarios change the one
//! node). The expected messages are kube-scheduler v1.35's: `FitError.Error()` in
//! `pkg/scheduler/framework/types.go` ("0/%v nodes are available: " + reason histogram + ". " +
//! PostFilter message), the DynamicResources PostFilter's "no new claims to deallocate" and
//! DefaultPreemption's "preemption: " prefix (as a v1.34.3 cluster prints: "3 node(s) had
//! untolerated taint(s). no new claims to deallocate, preemption: 0/6 nodes are available: 6
//! Preemption is not helpful for scheduling.").

mod common;

use std::time::Duration;

use common::{Kubectl, Server, kubectls, wait_for};

const WAIT: Duration = Duration::from_secs(20);

fn each_kubectl(scenario: impl Fn(&Kubectl)) {
    for bin in kubectls() {
        let server = Server::start(&["--pods", "simulate"]);
        scenario(&server.kubectl(&bin));
    }
}

/// A Pod that runs (simulated) for ten minutes, with extra `spec` fields and its container's
/// `resources`.
fn pod_manifest(name: &str, labels: &str, spec: &str, resources: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\n  \
         annotations: {{sandbox.kube/run-seconds: \"600\"}}\nspec:\n{spec}  containers:\n  \
         - name: main\n    image: busybox:1.36\n    resources: {{{resources}}}\n"
    )
}

fn create(k: &Kubectl, name: &str, spec: &str) {
    create_sized(k, name, spec, "");
}

fn create_sized(k: &Kubectl, name: &str, spec: &str, resources: &str) {
    let out = k.apply(&pod_manifest(name, "", spec, resources));
    assert!(out.ok, "{out:?}");
}

fn phase(k: &Kubectl, name: &str) -> String {
    k.ok(&["get", "pod", name, "-o", "jsonpath={.status.phase}"])
}

fn wait_phase(k: &Kubectl, name: &str, want: &str) {
    wait_for(&format!("pod {name} {want}"), WAIT, || {
        (phase(k, name) == want).then_some(())
    });
}

/// Waits until the Pod is reported unschedulable, and checks the condition and the event say
/// `message`.
fn expect_unschedulable(k: &Kubectl, name: &str, message: &str) {
    let jsonpath = "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")]}";
    let cond = wait_for(&format!("{name} unschedulable"), WAIT, || {
        let out = k.ok(&["get", "pod", name, "-o", jsonpath]);
        let v: serde_json::Value = serde_json::from_str(&out).ok()?;
        (v["message"] == message).then_some(v)
    });
    assert_eq!(cond["status"], "False");
    assert_eq!(cond["reason"], "Unschedulable");
    assert_eq!(phase(k, name), "Pending");
    assert_eq!(
        k.ok(&["get", "pod", name, "-o", "jsonpath={.spec.nodeName}"]),
        ""
    );
    // kube-scheduler reports through events.k8s.io; kubectl finds it by `regarding.*`.
    let selector = format!(
        "regarding.name={name},regarding.kind=Pod,regarding.namespace=default,reportingController=default-scheduler"
    );
    let notes = k.ok(&[
        "get",
        "events.v1.events.k8s.io",
        "--field-selector",
        &selector,
        "-o",
        "jsonpath={range .items[*]}{.reason}|{.type}|{.action}|{.note}{\"\\n\"}{end}",
    ]);
    assert!(
        notes
            .lines()
            .any(|l| l == format!("FailedScheduling|Warning|Scheduling|{message}")),
        "{notes}"
    );
}

fn post_filter(nodes: usize, preemption: &str) -> String {
    format!("no new claims to deallocate, preemption: 0/{nodes} nodes are available: {preemption}")
}

#[test]
fn unschedulable_pods_wait_for_the_node_to_fit() {
    each_kubectl(|k| {
        // nodeSelector no node has, then the label is added.
        create(k, "picky", "  nodeSelector: {disk: ssd}\n");
        expect_unschedulable(
            k,
            "picky",
            &format!(
                "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. {}",
                post_filter(1, "1 Preemption is not helpful for scheduling.")
            ),
        );
        k.ok(&["label", "node", "sandbox", "disk=ssd"]);
        wait_phase(k, "picky", "Running");

        // Required node affinity is checked the same way.
        let affinity = "  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchExpressions:\n          - {key: disk, operator: NotIn, values: [ssd]}\n";
        create(k, "contrary", affinity);
        expect_unschedulable(
            k,
            "contrary",
            &format!(
                "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. {}",
                post_filter(1, "1 Preemption is not helpful for scheduling.")
            ),
        );

        // A NoSchedule taint, then its removal.
        k.ok(&["taint", "node", "sandbox", "dedicated=gpu:NoSchedule"]);
        create(k, "untolerant", "");
        expect_unschedulable(
            k,
            "untolerant",
            &format!(
                "0/1 nodes are available: 1 node(s) had untolerated taint(s). {}",
                post_filter(1, "1 Preemption is not helpful for scheduling.")
            ),
        );
        create(
            k,
            "tolerant",
            "  tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]\n",
        );
        wait_phase(k, "tolerant", "Running");
        k.ok(&["taint", "node", "sandbox", "dedicated=gpu:NoSchedule-"]);
        wait_phase(k, "untolerant", "Running");

        // Requests larger than the node can ever offer.
        create_sized(k, "huge", "", "requests: {cpu: \"1000\", memory: 1Ti}");
        expect_unschedulable(
            k,
            "huge",
            &format!(
                "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. {}",
                post_filter(1, "1 No preemption victims found for incoming pod.")
            ),
        );

        // Requests that fit once a bound Pod is gone.
        let cpu = k.ok(&[
            "get",
            "node",
            "sandbox",
            "-o",
            "jsonpath={.status.allocatable.cpu}",
        ]);
        let all_cpu = format!("requests: {{cpu: \"{cpu}\"}}");
        create_sized(k, "hog", "", &all_cpu);
        wait_phase(k, "hog", "Running");
        create_sized(k, "second", "", &all_cpu);
        expect_unschedulable(
            k,
            "second",
            &format!(
                "0/1 nodes are available: 1 Insufficient cpu. {}",
                post_filter(1, "1 No preemption victims found for incoming pod.")
            ),
        );
        k.ok(&["delete", "pod", "hog", "--wait=true"]);
        wait_phase(k, "second", "Running");
    });
}

#[test]
fn cordon_drain_and_uncordon() {
    each_kubectl(|k| {
        for name in ["keep-1", "keep-2"] {
            let out = k.apply(&pod_manifest(name, "app: keep", "", ""));
            assert!(out.ok, "{out:?}");
            wait_phase(k, name, "Running");
        }
        let out = k.run(&[
            "create",
            "pdb",
            "keep",
            "--selector=app=keep",
            "--min-available=1",
        ]);
        assert!(out.ok, "{out:?}");
        wait_for("the budget allows one disruption", WAIT, || {
            let allowed = k.ok(&[
                "get",
                "pdb",
                "keep",
                "-o",
                "jsonpath={.status.disruptionsAllowed}",
            ]);
            (allowed == "1").then_some(())
        });

        let out = k.ok(&["cordon", "sandbox"]);
        assert!(out.contains("node/sandbox cordoned"), "{out}");
        let nodes = k.ok(&["get", "nodes"]);
        assert!(nodes.contains("Ready,SchedulingDisabled"), "{nodes}");
        // The node lifecycle controller's taint follows the cordon.
        wait_for("the unschedulable taint", WAIT, || {
            let taints = k.ok(&["get", "node", "sandbox", "-o", "jsonpath={.spec.taints}"]);
            taints
                .contains("node.kubernetes.io/unschedulable")
                .then_some(())
        });
        create(k, "latecomer", "");
        expect_unschedulable(
            k,
            "latecomer",
            &format!(
                "0/1 nodes are available: 1 node(s) were unschedulable. {}",
                post_filter(1, "1 Preemption is not helpful for scheduling.")
            ),
        );

        // The budget lets one Pod go and holds the other.
        let blocked = k.run(&["drain", "sandbox", "--force", "--timeout=3s"]);
        assert!(!blocked.ok, "{blocked:?}");
        assert!(
            blocked
                .stderr
                .contains("Cannot evict pod as it would violate the pod's disruption budget."),
            "{blocked:?}"
        );
        let left = wait_for("one Pod evicted", WAIT, || {
            let names = k.ok(&[
                "get",
                "pods",
                "-l",
                "app=keep",
                "-o",
                "jsonpath={.items[*].metadata.name}",
            ]);
            (names.split_whitespace().count() == 1).then_some(names)
        });

        // Without the budget the drain completes.
        k.ok(&["delete", "pdb", "keep"]);
        let drained = k.run(&["drain", "sandbox", "--force", "--timeout=20s"]);
        assert!(drained.ok, "{drained:?}");
        assert!(
            drained
                .stdout
                .contains(&format!("pod/{} evicted", left.trim())),
            "{drained:?}"
        );
        assert!(
            drained.stdout.contains("node/sandbox drained"),
            "{drained:?}"
        );
        let gone = k.ok(&["get", "pods", "-l", "app=keep", "-o", "name"]);
        assert_eq!(gone.trim(), "", "{gone}");

        let out = k.ok(&["uncordon", "sandbox"]);
        assert!(out.contains("node/sandbox uncordoned"), "{out}");
        wait_phase(k, "latecomer", "Running");
        let taints = k.ok(&["get", "node", "sandbox", "-o", "jsonpath={.spec.taints}"]);
        assert_eq!(taints, "");
    });
}

#[test]
fn pod_events_from_scheduler_and_kubelet() {
    each_kubectl(|k| {
        create(k, "watched", "");
        wait_phase(k, "watched", "Running");
        let describe = wait_for("describe shows the events", WAIT, || {
            let out = k.ok(&["describe", "pod", "watched"]);
            out.contains("Started container main").then_some(out)
        });
        let events = describe
            .split("Events:")
            .nth(1)
            .unwrap_or_default()
            .to_string();
        for (reason, from, message) in [
            (
                "Scheduled",
                "default-scheduler",
                "Successfully assigned default/watched to sandbox",
            ),
            (
                "Pulled",
                "kubelet",
                "Container image \"busybox:1.36\" already present on machine",
            ),
            ("Created", "kubelet", "Created container: main"),
            ("Started", "kubelet", "Started container main"),
        ] {
            assert!(
                events
                    .lines()
                    .any(|l| l.contains(reason) && l.contains(from) && l.contains(message)),
                "{reason} from {from}: {describe}"
            );
        }
        // The kubelet's events through the core API's field selectors.
        let reasons = k.ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=watched,source=kubelet,involvedObject.fieldPath=spec.containers{main}",
            "-o",
            "jsonpath={.items[*].reason}",
        ]);
        assert_eq!(reasons, "Pulled Created Started");
        // Deletion stops the container: Killing.
        k.ok(&["delete", "pod", "watched", "--wait=false"]);
        wait_for("the Killing event", WAIT, || {
            let out = k.ok(&[
                "get",
                "events.v1.events.k8s.io",
                "--field-selector",
                "regarding.name=watched,reason=Killing",
                "-o",
                "jsonpath={.items[*].note}",
            ]);
            (out == "Stopping container main").then_some(())
        });
    });
}
