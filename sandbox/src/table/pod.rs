//! The pod printer (`printPod`): READY, the STATUS reason kubectl users know
//! (`Running`, `Completed`, `Init:0/1`, `CrashLoopBackOff`, `Terminating`...), RESTARTS with
//! the age of the last restart, and the wide IP / NODE / NOMINATED NODE / READINESS GATES.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{ColumnDef, Row, age_column, age_since, human_duration, name_of, parse_time};

pub(super) fn columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef::name_column(),
        ColumnDef::new(
            "Ready",
            "string",
            "The aggregate readiness state of this pod for accepting traffic.",
        ),
        ColumnDef::new(
            "Status",
            "string",
            "The aggregate status of the containers in this pod.",
        ),
        ColumnDef::new(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
        age_column(),
        ColumnDef::new("IP", "string", POD_IP_DOC).wide(),
        ColumnDef::new("Node", "string", NODE_NAME_DOC).wide(),
        ColumnDef::new("Nominated Node", "string", NOMINATED_NODE_NAME_DOC).wide(),
        ColumnDef::new("Readiness Gates", "string", READINESS_GATES_DOC).wide(),
    ]
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// `podutil.IsRestartableInitContainer`: a sidecar (init container with `restartPolicy: Always`).
fn is_restartable(container: Option<&Value>) -> bool {
    container.is_some_and(|c| c["restartPolicy"] == "Always")
}

fn has_condition(status: &Value, type_: &str) -> bool {
    list(&status["conditions"])
        .iter()
        .find(|c| c["type"] == type_)
        .is_some_and(|c| c["status"] == "True")
}

/// The terminated state's reason, or `<prefix>Signal:N` / `<prefix>ExitCode:N` without one.
fn terminated_reason(terminated: &Value, prefix: &str) -> String {
    let reason = str_of(&terminated["reason"]);
    if !reason.is_empty() {
        return format!("{prefix}{reason}");
    }
    match terminated["signal"].as_i64().unwrap_or(0) {
        0 => format!(
            "{prefix}ExitCode:{}",
            terminated["exitCode"].as_i64().unwrap_or(0)
        ),
        signal => format!("{prefix}Signal:{signal}"),
    }
}

/// The latest `lastState.terminated.finishedAt` seen so far.
fn later(current: Option<DateTime<Utc>>, status: &Value) -> Option<DateTime<Utc>> {
    let finished = parse_time(&status["lastState"]["terminated"]["finishedAt"]);
    match (current, finished) {
        (Some(c), Some(f)) if f > c => Some(f),
        (None, f) => f,
        (c, _) => c,
    }
}

pub(super) fn print_pod(pod: &Value, now: DateTime<Utc>) -> Row {
    let spec = &pod["spec"];
    let status = &pod["status"];
    let phase = str_of(&status["phase"]);
    let init_specs = list(&spec["initContainers"]);
    let mut total = list(&spec["containers"]).len();
    total += init_specs
        .iter()
        .filter(|c| is_restartable(Some(c)))
        .count();
    let mut ready = 0;
    let mut restarts = 0;
    let mut sidecar_restarts = 0;
    let mut last_restart = None;
    let mut last_sidecar_restart = None;

    let mut reason = match str_of(&status["reason"]) {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    if list(&status["conditions"])
        .iter()
        .any(|c| c["type"] == "PodScheduled" && c["reason"] == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }

    let conditions = match phase {
        "Succeeded" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Succeeded",
            "message": "The pod has completed successfully."
        }])),
        "Failed" => Some(json!([{
            "type": "Completed", "status": "True", "reason": "Failed",
            "message": "The pod failed."
        }])),
        _ => None,
    };

    let mut initializing = false;
    let init_statuses = list(&status["initContainerStatuses"]);
    for (i, container) in init_statuses.iter().enumerate() {
        let spec_of = init_specs.iter().find(|c| c["name"] == container["name"]);
        restarts += container["restartCount"].as_i64().unwrap_or(0);
        last_restart = later(last_restart, container);
        let sidecar = is_restartable(spec_of);
        if sidecar {
            sidecar_restarts += container["restartCount"].as_i64().unwrap_or(0);
            last_sidecar_restart = later(last_sidecar_restart, container);
        }
        let state = &container["state"];
        let terminated = &state["terminated"];
        let waiting_reason = str_of(&state["waiting"]["reason"]);
        if terminated.is_object() && terminated["exitCode"].as_i64().unwrap_or(0) == 0 {
            continue;
        }
        if sidecar && container["started"].as_bool() == Some(true) {
            if container["ready"].as_bool() == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = if terminated.is_object() {
            terminated_reason(terminated, "Init:")
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || has_condition(status, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        // Walked from the last container so the first one's state has the final word.
        for container in list(&status["containerStatuses"]).iter().rev() {
            restarts += container["restartCount"].as_i64().unwrap_or(0);
            last_restart = later(last_restart, container);
            let state = &container["state"];
            let waiting_reason = str_of(&state["waiting"]["reason"]);
            let terminated = &state["terminated"];
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if terminated.is_object() {
                reason = terminated_reason(terminated, "");
            } else if container["ready"].as_bool() == Some(true) && state["running"].is_object() {
                has_running = true;
                ready += 1;
            }
        }
        // A pod whose other containers completed still runs while one container does.
        if reason == "Completed" && has_running {
            reason = if has_condition(status, "Ready") {
                "Running".into()
            } else {
                "NotReady".into()
            };
        }
    }

    if pod["metadata"]["deletionTimestamp"].is_string() {
        if status["reason"] == "NodeLost" {
            reason = "Unknown".into();
        } else if phase != "Failed" && phase != "Succeeded" {
            reason = "Terminating".into();
        }
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", human_duration(now - t)),
        _ => restarts.to_string(),
    };

    // The v1 → internal conversion fills podIPs from podIP.
    let pod_ip = status["podIPs"][0]["ip"]
        .as_str()
        .or_else(|| status["podIP"].as_str())
        .filter(|ip| !ip.is_empty())
        .unwrap_or("<none>");
    let node = match str_of(&spec["nodeName"]) {
        "" => "<none>",
        n => n,
    };
    let nominated = match str_of(&status["nominatedNodeName"]) {
        "" => "<none>",
        n => n,
    };
    let gates = list(&spec["readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates
            .iter()
            .filter(|gate| {
                list(&status["conditions"])
                    .iter()
                    .find(|c| c["type"] == gate["conditionType"])
                    .is_some_and(|c| c["status"] == "True")
            })
            .count();
        format!("{true_count}/{}", gates.len())
    };

    Row {
        cells: vec![
            name_of(pod).into(),
            format!("{ready}/{total}").into(),
            reason.into(),
            restarts_cell.into(),
            age_since(&pod["metadata"]["creationTimestamp"], now).into(),
            pod_ip.into(),
            node.into(),
            nominated.into(),
            readiness_gates.into(),
        ],
        conditions,
    }
}

const POD_IP_DOC: &str = "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.";
const NODE_NAME_DOC: &str = "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename";
const NOMINATED_NODE_NAME_DOC: &str = "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.";
const READINESS_GATES_DOC: &str = "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";

#[cfg(test)]
mod tests {
    use super::super::tests::{builtin, now};
    use super::super::{IncludeObject, to_table};
    use super::*;

    fn pod(spec: Value, status: Value) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns", "creationTimestamp": "2024-05-01T11:55:00Z"},
            "spec": spec,
            "status": status
        })
    }

    fn one(containers: &[&str]) -> Value {
        let list: Vec<Value> = containers
            .iter()
            .map(|n| json!({"name": n, "image": "busybox"}))
            .collect();
        json!({"containers": list, "nodeName": "node-1"})
    }

    fn running(name: &str, ready: bool) -> Value {
        json!({"name": name, "ready": ready, "restartCount": 0, "state": {"running": {"startedAt": "2024-05-01T11:56:00Z"}}})
    }

    fn waiting(name: &str, reason: &str) -> Value {
        json!({"name": name, "ready": false, "restartCount": 0, "state": {"waiting": {"reason": reason}}})
    }

    fn terminated(name: &str, code: i64, reason: &str) -> Value {
        json!({"name": name, "ready": false, "restartCount": 0,
               "state": {"terminated": {"exitCode": code, "reason": reason, "finishedAt": "2024-05-01T11:58:00Z"}}})
    }

    fn status_of(p: Value) -> (String, String) {
        let row = print_pod(&p, now());
        (
            row.cells[1].as_str().unwrap().to_string(),
            row.cells[2].as_str().unwrap().to_string(),
        )
    }

    fn s(ready: &str, status: &str) -> (String, String) {
        (ready.into(), status.into())
    }

    #[test]
    fn columns_match_kubernetes() {
        let t = to_table(
            &builtin("", "Pod"),
            &[pod(one(&["main"]), json!({"phase": "Pending"}))],
            &IncludeObject::None,
            json!({}),
            false,
            now(),
        );
        let cols: Vec<(String, String, i64)> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().into(),
                    c["type"].as_str().unwrap().into(),
                    c["priority"].as_i64().unwrap(),
                )
            })
            .collect();
        let want = [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ];
        assert_eq!(
            cols,
            want.map(|(a, b, c)| (a.to_string(), b.to_string(), c))
        );
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "p", "0/1", "Pending", "0", "5m", "<none>", "node-1", "<none>", "<none>"
            ])
        );
    }

    #[test]
    fn pending_and_creating() {
        assert_eq!(
            status_of(pod(
                json!({"containers": [{"name": "main"}]}),
                json!({"phase": "Pending"})
            )),
            s("0/1", "Pending")
        );
        assert_eq!(
            status_of(pod(
                one(&["main"]),
                json!({"phase": "Pending", "containerStatuses": [waiting("main", "ContainerCreating")]})
            )),
            s("0/1", "ContainerCreating")
        );
        assert_eq!(
            status_of(pod(
                one(&["main"]),
                json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]})
            )),
            s("0/1", "SchedulingGated")
        );
    }

    #[test]
    fn running_and_not_ready() {
        assert_eq!(
            status_of(pod(
                one(&["a", "b"]),
                json!({"phase": "Running", "containerStatuses": [running("a", true), running("b", true)]})
            )),
            s("2/2", "Running")
        );
        assert_eq!(
            status_of(pod(
                one(&["a", "b"]),
                json!({"phase": "Running", "containerStatuses": [running("a", true), waiting("b", "CrashLoopBackOff")]})
            )),
            s("1/2", "CrashLoopBackOff")
        );
        // One container completed, the other still runs: Running with the Ready condition.
        let status = |ready: &str| {
            json!({"phase": "Running",
                   "conditions": [{"type": "Ready", "status": ready}],
                   "containerStatuses": [terminated("a", 0, "Completed"), running("b", true)]})
        };
        assert_eq!(
            status_of(pod(one(&["a", "b"]), status("True"))),
            s("1/2", "Running")
        );
        assert_eq!(
            status_of(pod(one(&["a", "b"]), status("False"))),
            s("1/2", "NotReady")
        );
    }

    #[test]
    fn completed_and_errors() {
        let done = pod(
            one(&["main"]),
            json!({"phase": "Succeeded", "containerStatuses": [terminated("main", 0, "Completed")]}),
        );
        let row = print_pod(&done, now());
        assert_eq!(row.cells[2], "Completed");
        assert_eq!(
            row.conditions,
            Some(
                json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}])
            )
        );
        let failed = pod(
            one(&["main"]),
            json!({"phase": "Failed", "containerStatuses": [terminated("main", 1, "Error")]}),
        );
        let row = print_pod(&failed, now());
        assert_eq!(row.cells[2], "Error");
        assert_eq!(row.conditions.unwrap()[0]["message"], "The pod failed.");
        assert_eq!(
            status_of(pod(
                one(&["main"]),
                json!({"phase": "Failed", "containerStatuses": [terminated("main", 137, "")]})
            )),
            s("0/1", "ExitCode:137")
        );
        let mut signalled = terminated("main", 0, "");
        signalled["state"]["terminated"]["signal"] = json!(9);
        assert_eq!(
            status_of(pod(
                one(&["main"]),
                json!({"phase": "Failed", "containerStatuses": [signalled]})
            )),
            s("0/1", "Signal:9")
        );
        assert_eq!(
            status_of(pod(
                one(&["main"]),
                json!({"phase": "Failed", "reason": "DeadlineExceeded", "message": "Pod was active on the node longer than the specified deadline"})
            )),
            s("0/1", "DeadlineExceeded")
        );
        assert_eq!(
            status_of(pod(
                one(&["main"]),
                json!({"phase": "Failed", "reason": "Evicted"})
            )),
            s("0/1", "Evicted")
        );
    }

    #[test]
    fn init_containers() {
        let spec = json!({
            "initContainers": [{"name": "setup"}, {"name": "migrate"}],
            "containers": [{"name": "main"}]
        });
        assert_eq!(
            status_of(pod(
                spec.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                    terminated("setup", 0, "Completed"), waiting("migrate", "PodInitializing")
                ]})
            )),
            s("0/1", "Init:1/2")
        );
        assert_eq!(
            status_of(pod(
                spec.clone(),
                json!({"phase": "Pending", "initContainerStatuses": [
                    waiting("setup", "ImagePullBackOff"), waiting("migrate", "PodInitializing")
                ]})
            )),
            s("0/1", "Init:ImagePullBackOff")
        );
        assert_eq!(
            status_of(pod(
                spec.clone(),
                json!({"phase": "Failed", "initContainerStatuses": [terminated("setup", 2, "Error")]})
            )),
            s("0/1", "Init:Error")
        );
        assert_eq!(
            status_of(pod(
                spec,
                json!({"phase": "Pending", "initContainerStatuses": [terminated("setup", 3, "")]})
            )),
            s("0/1", "Init:ExitCode:3")
        );
    }

    #[test]
    fn sidecars_count_towards_ready() {
        let spec = json!({
            "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
            "containers": [{"name": "main"}]
        });
        let mut proxy = running("proxy", true);
        proxy["started"] = json!(true);
        proxy["restartCount"] = json!(2);
        proxy["lastState"] =
            json!({"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:50:00Z"}});
        let row = print_pod(
            &pod(
                spec,
                json!({"phase": "Running",
                       "conditions": [{"type": "Initialized", "status": "True"}],
                       "initContainerStatuses": [proxy],
                       "containerStatuses": [running("main", true)]}),
            ),
            now(),
        );
        assert_eq!(row.cells[1], "2/2");
        assert_eq!(row.cells[2], "Running");
        assert_eq!(row.cells[3], "2 (10m ago)");
    }

    #[test]
    fn restarts_show_the_last_one() {
        let mut main = running("main", true);
        main["restartCount"] = json!(1);
        main["lastState"] =
            json!({"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:55:00Z"}});
        let mut side = running("side", true);
        side["restartCount"] = json!(2);
        side["lastState"] =
            json!({"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:57:00Z"}});
        let row = print_pod(
            &pod(
                one(&["main", "side"]),
                json!({"phase": "Running", "containerStatuses": [main, side]}),
            ),
            now(),
        );
        assert_eq!(row.cells[3], "3 (3m ago)");
    }

    #[test]
    fn terminating_and_unknown() {
        let mut p = pod(
            one(&["main"]),
            json!({"phase": "Running", "containerStatuses": [running("main", true)]}),
        );
        p["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:00Z");
        assert_eq!(status_of(p.clone()), s("1/1", "Terminating"));
        p["status"]["reason"] = json!("NodeLost");
        assert_eq!(status_of(p.clone()), s("1/1", "Unknown"));
        p["status"] = json!({"phase": "Succeeded", "containerStatuses": [terminated("main", 0, "Completed")]});
        assert_eq!(status_of(p), s("0/1", "Completed"));
    }

    #[test]
    fn wide_cells() {
        let mut spec = one(&["main"]);
        spec["readinessGates"] =
            json!([{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]);
        let row = print_pod(
            &pod(
                spec,
                json!({"phase": "Running", "podIP": "10.244.0.7", "nominatedNodeName": "node-2",
                       "conditions": [{"type": "example.com/lb", "status": "True"}],
                       "containerStatuses": [running("main", true)]}),
            ),
            now(),
        );
        assert_eq!(
            row.cells[5..],
            [
                json!("10.244.0.7"),
                json!("node-1"),
                json!("node-2"),
                json!("1/2")
            ]
        );
    }
}
