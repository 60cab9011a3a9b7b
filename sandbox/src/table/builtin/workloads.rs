//! Printers of the workload kinds the sandbox's controllers drive (`printReplicaSet`,
//! `printJob` of pkg/printers/internalversion/printers.go).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::super::{ColumnDef, Row, age_column, name_of, parse_time};
use super::{age, label_selector_string, layout_container_cells};
use crate::table::human_duration;

const RS_DESIRED_DOC: &str = "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset";
const RS_CURRENT_DOC: &str = "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset";
const RS_READY_DOC: &str =
    "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.";
const RS_SELECTOR_DOC: &str = "Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const JOB_COMPLETIONS_DOC: &str = "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.";
const JOB_SELECTOR_DOC: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";

/// The wide columns of a pod template: containers, images and the selector.
pub(super) fn template_columns(selector_doc: &str) -> [ColumnDef; 3] {
    [
        ColumnDef::new(
            "Containers",
            "string",
            "Names of each container in the template.",
        )
        .wide(),
        ColumnDef::new(
            "Images",
            "string",
            "Images referenced by each container in the template.",
        )
        .wide(),
        ColumnDef::new("Selector", "string", selector_doc).wide(),
    ]
}

pub(super) fn replica_set_columns() -> Vec<ColumnDef> {
    let mut cols = vec![
        ColumnDef::name_column(),
        ColumnDef::new("Desired", "integer", RS_DESIRED_DOC),
        ColumnDef::new("Current", "integer", RS_CURRENT_DOC),
        ColumnDef::new("Ready", "integer", RS_READY_DOC),
        age_column(),
    ];
    cols.extend(template_columns(RS_SELECTOR_DOC));
    cols
}

pub(super) fn print_replica_set(obj: &Value, now: DateTime<Utc>) -> Row {
    let (names, images) = layout_container_cells(&obj["spec"]["template"]["spec"]["containers"]);
    Row::cells(vec![
        name_of(obj).into(),
        obj["spec"]["replicas"].as_i64().unwrap_or(0).into(),
        obj["status"]["replicas"].as_i64().unwrap_or(0).into(),
        obj["status"]["readyReplicas"].as_i64().unwrap_or(0).into(),
        age(obj, now),
        names.into(),
        images.into(),
        label_selector_string(&obj["spec"]["selector"]).into(),
    ])
}

pub(super) fn job_columns() -> Vec<ColumnDef> {
    let mut cols = vec![
        ColumnDef::name_column(),
        ColumnDef::new("Status", "string", "Status of the job."),
        ColumnDef::new("Completions", "string", JOB_COMPLETIONS_DOC),
        ColumnDef::new("Duration", "string", "Time required to complete the job."),
        age_column(),
    ];
    cols.extend(template_columns(JOB_SELECTOR_DOC));
    cols
}

fn has_condition(obj: &Value, type_: &str) -> bool {
    obj["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == type_ && c["status"] == "True")
    })
}

pub(super) fn print_job(obj: &Value, now: DateTime<Utc>) -> Row {
    let succeeded = obj["status"]["succeeded"].as_i64().unwrap_or(0);
    let completions = match obj["spec"]["completions"].as_i64() {
        Some(c) => format!("{succeeded}/{c}"),
        None => match obj["spec"]["parallelism"].as_i64().unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        parse_time(&obj["status"]["startTime"]),
        parse_time(&obj["status"]["completionTime"]),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now - start),
        (Some(start), Some(end)) => human_duration(end - start),
    };
    let status = if has_condition(obj, "Complete") {
        "Complete"
    } else if has_condition(obj, "Failed") {
        "Failed"
    } else if !obj["metadata"]["deletionTimestamp"].is_null() {
        "Terminating"
    } else if has_condition(obj, "Suspended") {
        "Suspended"
    } else if has_condition(obj, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = layout_container_cells(&obj["spec"]["template"]["spec"]["containers"]);
    Row::cells(vec![
        name_of(obj).into(),
        status.into(),
        completions.into(),
        duration.into(),
        age(obj, now),
        names.into(),
        images.into(),
        label_selector_string(&obj["spec"]["selector"]).into(),
    ])
}
