//! The workload controllers and the built-in kinds with the real kubectl (the pinned 1.35 and
//! the machine's 1.32): Deployments rolled out, scaled, restarted and undone; Jobs run to
//! Complete or Failed; `apply --prune -l`; Service ClusterIPs, the `kubernetes` Service and
//! `kube-root-ca.crt`; orphaned pods and `null` lists. Each test starts one sandbox and runs
//! both kubectls against it, each in a namespace of its own.

mod common;

use std::time::Duration;

use base64::Engine;
use common::{Kubectl, Server, kubectls, wait_for};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// Each kubectl with the namespace it works in (created here).
fn each_kubectl(server: &Server, scenario: impl Fn(&Kubectl, &str)) {
    for (i, bin) in kubectls().iter().enumerate() {
        let k = server.kubectl(bin);
        let ns = format!("k{i}");
        k.ok(&["create", "namespace", &ns]);
        scenario(&k, &ns);
    }
}

fn get_json(k: &Kubectl, ns: &str, what: &str) -> Value {
    let out = k.ok(&["get", "-n", ns, what, "-o", "json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{what}: {e}: {out}"))
}

fn condition<'a>(obj: &'a Value, type_: &str) -> &'a Value {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .unwrap_or(&Value::Null)
}

/// The ReplicaSets of a deployment, by revision.
fn replica_sets(k: &Kubectl, ns: &str, app: &str) -> Vec<(i64, Value)> {
    let list = get_json(k, ns, "replicasets");
    let mut sets: Vec<(i64, Value)> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|rs| rs["metadata"]["labels"]["app"] == app)
        .map(|rs| {
            let rev = rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                .as_str()
                .and_then(|r| r.parse().ok())
                .unwrap_or(0);
            (rev, rs.clone())
        })
        .collect();
    sets.sort_by_key(|(rev, _)| *rev);
    sets
}

fn rollout_status(k: &Kubectl, ns: &str) {
    let out = k.ok(&["rollout", "status", "-n", ns, "deploy/web", "--timeout=30s"]);
    assert!(
        out.contains("deployment \"web\" successfully rolled out"),
        "{out}"
    );
}

/// Pods of the deployment that are running and not being deleted.
fn live_pods(k: &Kubectl, ns: &str) -> Vec<Value> {
    get_json(k, ns, "pods")["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .cloned()
        .collect()
}

#[test]
fn deployment_rolls_out_scales_restarts_and_undoes() {
    let server = Server::start(&[]);
    each_kubectl(&server, |k, ns| {
        k.ok(&[
            "create",
            "deployment",
            "web",
            "-n",
            ns,
            "--image=busybox",
            "--replicas=2",
            "--",
            "sleep",
            "3600",
        ]);
        rollout_status(k, ns);
        let d = get_json(k, ns, "deploy/web");
        // pkg/controller/deployment/sync.go and util/deployment_util.go: the reasons and
        // messages of a finished rollout.
        assert_eq!(
            d["status"]["observedGeneration"],
            d["metadata"]["generation"]
        );
        assert_eq!(d["status"]["availableReplicas"], 2, "{d:#}");
        assert_eq!(d["status"]["updatedReplicas"], 2);
        let available = condition(&d, "Available");
        assert_eq!(available["reason"], "MinimumReplicasAvailable");
        assert_eq!(available["message"], "Deployment has minimum availability.");
        let sets = replica_sets(k, ns, "web");
        assert_eq!(sets.len(), 1, "{sets:?}");
        let (rev, rs) = &sets[0];
        assert_eq!(*rev, 1);
        let hash = rs["metadata"]["labels"]["pod-template-hash"]
            .as_str()
            .expect("pod-template-hash");
        let rs_name = rs["metadata"]["name"].as_str().expect("name");
        assert_eq!(rs_name, format!("web-{hash}"));
        assert_eq!(
            condition(&d, "Progressing")["message"],
            format!("ReplicaSet \"{rs_name}\" has successfully progressed.")
        );
        assert_eq!(
            d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
            "1"
        );
        for pod in live_pods(k, ns) {
            assert_eq!(pod["metadata"]["ownerReferences"][0]["name"], rs_name);
            assert_eq!(pod["metadata"]["labels"]["pod-template-hash"], hash);
        }

        // kubectl scale goes through the scale subresource.
        let scaled = k.ok(&["scale", "-n", ns, "deploy/web", "--replicas=3"]);
        assert!(scaled.contains("deployment.apps/web scaled"), "{scaled}");
        rollout_status(k, ns);
        let scale: Value = serde_json::from_str(&k.ok(&[
            "get",
            "--raw",
            &format!("/apis/apps/v1/namespaces/{ns}/deployments/web/scale"),
        ]))
        .expect("scale json");
        assert_eq!(scale["kind"], "Scale");
        assert_eq!(scale["apiVersion"], "autoscaling/v1");
        assert_eq!(scale["spec"]["replicas"], 3);
        assert_eq!(scale["status"]["replicas"], 3);
        assert_eq!(scale["status"]["selector"], "app=web");
        let negative = k.run(&["scale", "-n", ns, "deploy/web", "--replicas=-1"]);
        assert!(!negative.ok, "{negative:?}");

        // A restart is a new template: a second ReplicaSet, rolled to, the first scaled to 0.
        k.ok(&["rollout", "restart", "-n", ns, "deploy/web"]);
        rollout_status(k, ns);
        let sets = replica_sets(k, ns, "web");
        assert_eq!(sets.iter().map(|(r, _)| *r).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(sets[0].1["spec"]["replicas"], 0);
        assert_eq!(sets[1].1["spec"]["replicas"], 3);
        let history = k.ok(&["rollout", "history", "-n", ns, "deploy/web"]);
        assert!(history.contains("REVISION  CHANGE-CAUSE"), "{history}");
        assert!(
            history.contains("\n1 ") && history.contains("\n2 "),
            "{history}"
        );

        // Undo goes back to revision 1's template, which becomes revision 3.
        let undone = k.ok(&["rollout", "undo", "-n", ns, "deploy/web"]);
        assert!(
            undone.contains("deployment.apps/web rolled back"),
            "{undone}"
        );
        rollout_status(k, ns);
        let sets = replica_sets(k, ns, "web");
        assert_eq!(sets.iter().map(|(r, _)| *r).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(sets[1].1["metadata"]["name"], rs_name);
        assert_eq!(sets[1].1["spec"]["replicas"], 3);
        wait_for("the restarted pods to go", WAIT, || {
            let pods = live_pods(k, ns);
            (pods.len() == 3
                && pods
                    .iter()
                    .all(|p| p["metadata"]["ownerReferences"][0]["name"] == rs_name))
            .then_some(())
        });
        let events = k.ok(&[
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            "involvedObject.name=web",
            "-o",
            "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
        ]);
        assert!(
            events.contains(&format!(
                "ScalingReplicaSet: Scaled up replica set {rs_name} from 0 to 2"
            )),
            "{events}"
        );
        assert!(
            events.contains(&format!(
                "ScalingReplicaSet: Scaled up replica set {rs_name} from 2 to 3"
            )),
            "{events}"
        );
        // Deleting the deployment takes its ReplicaSets and pods along.
        k.ok(&["delete", "-n", ns, "deploy/web", "--wait=true"]);
        wait_for("the pods to be collected", WAIT, || {
            get_json(k, ns, "pods")["items"]
                .as_array()
                .is_some_and(|p| p.is_empty())
                .then_some(())
        });
    });
}

const FAILING_JOB: &str = r#"{"apiVersion": "batch/v1", "kind": "Job",
  "metadata": {"name": "bad"},
  "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never",
    "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", "exit 3"]}]}}}}"#;

#[test]
fn jobs_run_to_complete_or_fail_in_exec_mode() {
    let server = Server::start(&[]);
    each_kubectl(&server, |k, ns| {
        let out = k.ok(&[
            "create",
            "job",
            "hi",
            "-n",
            ns,
            "--image=busybox",
            "--",
            "echo",
            "hi",
        ]);
        assert!(out.contains("job.batch/hi created"), "{out}");
        let waited = k.ok(&[
            "wait",
            "-n",
            ns,
            "job/hi",
            "--for=condition=complete",
            "--timeout=30s",
        ]);
        assert!(waited.contains("job.batch/hi condition met"), "{waited}");
        assert_eq!(k.ok(&["logs", "-n", ns, "job/hi"]), "hi\n");
        let job = get_json(k, ns, "job/hi");
        let uid = job["metadata"]["uid"].as_str().expect("uid");
        // pkg/registry/batch/job/strategy.go generateSelector; pkg/controller/job: the
        // conditions of a finished Job since 1.31.
        assert_eq!(
            job["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"],
            "hi"
        );
        assert_eq!(job["spec"]["backoffLimit"], 6);
        assert_eq!(job["status"]["succeeded"], 1);
        assert!(job["status"]["completionTime"].is_string(), "{job:#}");
        for type_ in ["SuccessCriteriaMet", "Complete"] {
            let c = condition(&job, type_);
            assert_eq!(c["status"], "True", "{job:#}");
            assert_eq!(c["reason"], "CompletionsReached");
            assert_eq!(c["message"], "Reached expected number of succeeded pods");
        }
        let pods = k.ok(&[
            "get",
            "pods",
            "-n",
            ns,
            "-l",
            "job-name=hi",
            "-o",
            "jsonpath={.items[*].status.phase}",
        ]);
        assert_eq!(pods, "Succeeded");

        let out = k.run_stdin(&["apply", "-n", ns, "-f", "-"], FAILING_JOB);
        assert!(out.ok, "{out:?}");
        k.ok(&[
            "wait",
            "-n",
            ns,
            "job/bad",
            "--for=condition=failed",
            "--timeout=30s",
        ]);
        let job = get_json(k, ns, "job/bad");
        assert_eq!(job["status"]["failed"], 2, "{job:#}");
        let failed = condition(&job, "Failed");
        assert_eq!(failed["reason"], "BackoffLimitExceeded");
        assert_eq!(
            failed["message"],
            "Job has reached the specified backoff limit"
        );
        assert_eq!(condition(&job, "FailureTarget")["status"], "True");
        let events = k.ok(&[
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            "involvedObject.name=bad",
            "-o",
            "jsonpath={.items[*].reason}",
        ]);
        assert!(events.contains("SuccessfulCreate"), "{events}");
        assert!(events.contains("BackoffLimitExceeded"), "{events}");
    });
}

/// Simulate mode: a Job's pods finish at once; a Deployment whose pods run for a while becomes
/// available; a standalone ReplicaSet's pods, orphaned, lose their owner reference.
#[test]
fn simulated_jobs_complete_and_orphans_lose_owner_references() {
    let server = Server::start(&["--pods", "simulate"]);
    each_kubectl(&server, |k, ns| {
        k.ok(&["create", "job", "sim", "-n", ns, "--image=busybox"]);
        k.ok(&[
            "wait",
            "-n",
            ns,
            "job/sim",
            "--for=condition=complete",
            "--timeout=30s",
        ]);

        let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "solo"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "solo"}},
                "template": {"metadata": {"labels": {"app": "solo"},
                        "annotations": {"sandbox.kube/run-seconds": "3600"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox", "ports": null}],
                        "initContainers": null}}}});
        let out = k.run_stdin(&["apply", "-n", ns, "-f", "-"], &rs.to_string());
        assert!(out.ok, "{out:?}");
        wait_for("the ReplicaSet's pods to be ready", WAIT, || {
            let rs = get_json(k, ns, "rs/solo");
            (rs["status"]["readyReplicas"] == 2 && rs["status"]["availableReplicas"] == 2)
                .then_some(())
        });
        let rs = get_json(k, ns, "rs/solo");
        assert_eq!(rs["status"]["replicas"], 2);
        assert_eq!(rs["status"]["observedGeneration"], 1);
        // `null` lists read back absent, in the ReplicaSet and in the pods made from it.
        let spec = &rs["spec"]["template"]["spec"];
        assert!(spec.get("initContainers").is_none(), "{spec:#}");
        assert!(spec["containers"][0].get("ports").is_none(), "{spec:#}");
        k.ok(&["delete", "-n", ns, "rs/solo", "--cascade=orphan"]);
        wait_for("the orphans to lose their owner", WAIT, || {
            let pods = live_pods(k, ns);
            let solo: Vec<&Value> = pods
                .iter()
                .filter(|p| p["metadata"]["labels"]["app"] == "solo")
                .collect();
            (solo.len() == 2
                && solo
                    .iter()
                    .all(|p| p["metadata"].get("ownerReferences").is_none()))
            .then_some(())
        });
        for pod in live_pods(k, ns) {
            assert!(pod["spec"].get("initContainers").is_none(), "{pod:#}");
            assert!(
                pod["spec"]["containers"][0].get("ports").is_none(),
                "{pod:#}"
            );
        }
    });
}

#[test]
fn apply_prune_by_label_prunes_across_the_default_allowlist() {
    let server = Server::start(&["--pods", "simulate"]);
    each_kubectl(&server, |k, ns| {
        let dir = tempfile::tempdir().expect("dir");
        let all = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: keep, labels: {app: x}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: gone, labels: {app: x}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: gone-job, labels: {app: x}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
"#;
        std::fs::write(dir.path().join("all.yaml"), all).expect("write");
        let path = dir.path().to_str().expect("utf-8");
        let out = k.ok(&["apply", "-n", ns, "--prune", "-l", "app=x", "-f", path]);
        assert!(out.contains("configmap/gone created"), "{out}");
        assert!(out.contains("job.batch/gone-job created"), "{out}");
        let keep = all.split("---").next().expect("first document");
        std::fs::write(dir.path().join("all.yaml"), keep).expect("write");
        let out = k.run(&["apply", "-n", ns, "--prune", "-l", "app=x", "-f", path]);
        assert!(out.ok, "{out:?}");
        assert!(
            !out.stderr.contains("error retrieving RESTMappings"),
            "{out:?}"
        );
        assert!(out.stdout.contains("configmap/keep unchanged"), "{out:?}");
        assert!(out.stdout.contains("configmap/gone pruned"), "{out:?}");
        assert!(out.stdout.contains("job.batch/gone-job pruned"), "{out:?}");
        let left = k.ok(&["get", "cm,jobs", "-n", ns, "-l", "app=x", "-o", "name"]);
        assert_eq!(left, "configmap/keep\n");
    });
}

#[test]
fn services_get_cluster_ips_and_namespaces_the_root_ca() {
    let server = Server::start(&["--pods", "simulate"]);
    let ca = kubeconfig_ca(&server.kubeconfig);
    each_kubectl(&server, |k, ns| {
        let svc = get_json(k, "default", "svc/kubernetes");
        assert_eq!(svc["spec"]["clusterIP"], "10.96.0.1");
        assert_eq!(svc["spec"]["ports"][0]["port"], 443);

        k.ok(&[
            "create",
            "service",
            "clusterip",
            "web",
            "-n",
            ns,
            "--tcp=80:8080",
        ]);
        let svc = get_json(k, ns, "svc/web");
        let ip = svc["spec"]["clusterIP"].as_str().expect("clusterIP");
        let octets: Vec<u8> = ip.split('.').map(|o| o.parse().expect("octet")).collect();
        assert!(octets[0] == 10 && (96..112).contains(&octets[1]), "{ip}");
        assert_eq!(svc["spec"]["clusterIPs"], json!([ip]));
        assert_eq!(svc["spec"]["ipFamilies"], json!(["IPv4"]));
        assert_eq!(svc["spec"]["ipFamilyPolicy"], "SingleStack");
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
        // An update without the IP keeps it (it is immutable once allocated).
        k.ok(&["label", "-n", ns, "svc/web", "tier=front"]);
        assert_eq!(get_json(k, ns, "svc/web")["spec"]["clusterIP"], ip);

        k.ok(&[
            "create",
            "service",
            "clusterip",
            "headless",
            "-n",
            ns,
            "--clusterip=None",
        ]);
        assert_eq!(get_json(k, ns, "svc/headless")["spec"]["clusterIP"], "None");

        // pkg/registry/core/service/ipallocator: ErrAllocated and ErrNotInRange.
        let taken = k.run(&[
            "create",
            "service",
            "clusterip",
            "dup",
            "-n",
            ns,
            "--tcp=80",
            &format!("--clusterip={ip}"),
        ]);
        assert!(!taken.ok);
        assert!(
            taken.stderr.contains(&format!(
                "failed to allocate IP {ip}: provided IP is already allocated"
            )),
            "{taken:?}"
        );
        let outside = k.run(&[
            "create",
            "service",
            "clusterip",
            "out",
            "-n",
            ns,
            "--tcp=80",
            "--clusterip=192.168.0.1",
        ]);
        assert!(
            outside.stderr.contains("the provided IP (192.168.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12"),
            "{outside:?}"
        );

        // The root CA publisher: present in the new namespace, and put back when deleted.
        let read_ca = || {
            k.run(&[
                "get",
                "cm",
                "kube-root-ca.crt",
                "-n",
                ns,
                "-o",
                "jsonpath={.data.ca\\.crt}",
            ])
        };
        assert_eq!(read_ca().stdout, ca);
        k.ok(&["delete", "cm", "kube-root-ca.crt", "-n", ns]);
        wait_for("kube-root-ca.crt to come back", WAIT, || {
            let run = read_ca();
            (run.ok && run.stdout == ca).then_some(())
        });
    });
}

/// The CA of the sandbox's kubeconfig, as PEM.
fn kubeconfig_ca(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).expect("kubeconfig");
    let config: Value = serde_yaml::from_str(&text).expect("kubeconfig yaml");
    let data = config["clusters"][0]["cluster"]["certificate-authority-data"]
        .as_str()
        .expect("certificate-authority-data");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("base64");
    String::from_utf8(bytes).expect("pem")
}
