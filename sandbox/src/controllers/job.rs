//! The Job controller (`pkg/controller/job`) for NonIndexed Jobs: up to `parallelism` pods at
//! a time until `completions` succeeded, failures counted against `backoffLimit` (container
//! restarts included for `restartPolicy: OnFailure`), and the terminal conditions of 1.31+:
//! `SuccessCriteriaMet` then `Complete` (CompletionsReached), or `FailureTarget` then `Failed`
//! (BackoffLimitExceeded), with startTime, completionTime and the controller's events.
//!
//! Not ported: Indexed completion mode, pod failure and success policies,
//! `activeDeadlineSeconds`, `ttlSecondsAfterFinished`, the `batch.kubernetes.io/job-tracking`
//! finalizer (finished pods are counted while they exist; counts never go down), suspension.

use serde_json::{Value, json};

use super::workload::{
    create_owned, delete, deleting, int, is_active, is_ready, owned, phase, pod_from_template,
    pods_key, record_event, set_condition, write_status,
};
use crate::state::State;
use crate::store::{StorageKey, meta_str};
use crate::timestamp::now_rfc3339;

const COMPONENT: &str = "job-controller";
const COMPLETIONS_REACHED: &str = "Reached expected number of succeeded pods";
const BACKOFF_LIMIT_EXCEEDED: &str = "Job has reached the specified backoff limit";

pub fn key() -> StorageKey {
    StorageKey::new("batch", "jobs")
}

fn finished(job: &Value) -> bool {
    job["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True")
    })
}

fn restarts(pod: &Value) -> i64 {
    pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            pod["status"]["initContainerStatuses"]
                .as_array()
                .into_iter()
                .flatten(),
        )
        .map(|c| int(&c["restartCount"]))
        .sum()
}

pub fn sync(state: &State, namespace: &str, name: &str) {
    let Some(job) = state.store.get(&key(), namespace, name) else {
        return;
    };
    if deleting(&job) || finished(&job) {
        return;
    }
    let uid = meta_str(&job, "uid").to_string();
    let spec = &job["spec"];
    let pods = owned(state, &pods_key(), namespace, &uid);
    let active: Vec<&Value> = pods.iter().map(|p| &**p).filter(|p| is_active(p)).collect();
    let count = |ph: &str| pods.iter().filter(|p| phase(p) == ph).count() as i64;
    let old = &job["status"];
    let succeeded = count("Succeeded").max(int(&old["succeeded"]));
    let failed = count("Failed").max(int(&old["failed"]));
    let on_failure = spec["template"]["spec"]["restartPolicy"] == "OnFailure";
    let restarted: i64 = if on_failure {
        active.iter().map(|p| restarts(p)).sum()
    } else {
        0
    };
    let completions = spec["completions"].as_i64();
    let parallelism = int(&spec["parallelism"]);
    let suspended = spec["suspend"] == true;
    let mut status = if old.is_object() {
        old.clone()
    } else {
        json!({})
    };
    let mut conditions: Vec<Value> = old["conditions"].as_array().cloned().unwrap_or_default();
    let times = ["lastProbeTime", "lastTransitionTime"];
    let mut active_count = active.len() as i64;
    let complete = match completions {
        Some(c) => succeeded >= c,
        // A work queue: done once one pod succeeded and none is left running.
        None => succeeded > 0 && active.is_empty(),
    };
    if failed + restarted > int(&spec["backoffLimit"]) && !complete {
        for pod in &active {
            delete(state, "", "pods", pod);
        }
        active_count = 0;
        for type_ in ["FailureTarget", "Failed"] {
            set_condition(
                &mut conditions,
                type_,
                "True",
                "BackoffLimitExceeded",
                BACKOFF_LIMIT_EXCEEDED,
                &times,
            );
        }
        record_event(
            state,
            &job,
            "Warning",
            "BackoffLimitExceeded",
            BACKOFF_LIMIT_EXCEEDED,
            COMPONENT,
        );
    } else if complete {
        for pod in &active {
            delete(state, "", "pods", pod);
        }
        active_count = 0;
        for type_ in ["SuccessCriteriaMet", "Complete"] {
            set_condition(
                &mut conditions,
                type_,
                "True",
                "CompletionsReached",
                COMPLETIONS_REACHED,
                &times,
            );
        }
        status["completionTime"] = json!(now_rfc3339());
        record_event(
            state,
            &job,
            "Normal",
            "Completed",
            "Job completed",
            COMPONENT,
        );
    } else if !suspended {
        let remaining = completions.map_or(parallelism, |c| (c - succeeded).max(0));
        let want = parallelism.min(remaining);
        let generate_name = format!("{name}-");
        let missing = want - active_count;
        for _ in 0..missing {
            let pod = pod_from_template(&job, &spec["template"], &generate_name);
            match create_owned(state, "", "pods", pod) {
                Some(created) => {
                    active_count += 1;
                    record_event(
                        state,
                        &job,
                        "Normal",
                        "SuccessfulCreate",
                        &format!("Created pod: {}", meta_str(&created, "name")),
                        COMPONENT,
                    );
                }
                None => break,
            }
        }
    }
    if status["startTime"].is_null() && !suspended {
        status["startTime"] = json!(now_rfc3339());
    }
    for (field, n) in [
        ("active", active_count),
        ("succeeded", succeeded),
        ("failed", failed),
    ] {
        match n {
            0 => {
                if let Some(m) = status.as_object_mut() {
                    m.remove(field);
                }
            }
            n => status[field] = json!(n),
        }
    }
    let ready = if active_count == 0 {
        0
    } else {
        active.iter().filter(|p| is_ready(p)).count()
    };
    status["ready"] = json!(ready);
    status["terminating"] = json!(
        pods.iter()
            .filter(|p| deleting(p) && !matches!(phase(p), "Succeeded" | "Failed"))
            .count()
    );
    status["uncountedTerminatedPods"] = json!({});
    if !conditions.is_empty() {
        status["conditions"] = json!(conditions);
    }
    write_status(state, "batch", "jobs", &job, status);
}
