//! `events.k8s.io/v1` is a second view of the core `v1` events (k8s: pkg/apis/events/v1/conversion.go).
//! Events are stored in their core form; this module converts between the two, so an event that
//! kube-rs's Recorder posts through events.k8s.io shows up in `kubectl describe` (which reads core).
//! It also builds the events the sandbox's own components report about Pods, in the form each
//! real component writes them: kube-scheduler through events.k8s.io/v1 (`action`, `eventTime`,
//! `reportingController`), the kubelet through the legacy core recorder (`source`,
//! `firstTimestamp`, `count`).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::resource_types::ResourceType;

/// Pairs of (events.k8s.io/v1 field, core/v1 field) that differ only by name.
const RENAMED: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
];

pub fn is_events_v1(rt: &ResourceType) -> bool {
    rt.group == "events.k8s.io" && rt.plural == "events"
}

fn rename(obj: &Value, to_core: bool, api_version: &str) -> Value {
    let Some(map) = obj.as_object() else {
        return obj.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        let renamed = RENAMED.iter().find_map(|(v1, core)| {
            let (from, to) = if to_core { (v1, core) } else { (core, v1) };
            (*from == k.as_str()).then_some(*to)
        });
        out.insert(renamed.unwrap_or(k).to_string(), v.clone());
    }
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    out.insert("kind".into(), Value::String("Event".into()));
    Value::Object(out)
}

/// An events.k8s.io/v1 Event in its stored (core) form.
pub fn to_core(obj: &Value) -> Value {
    rename(obj, true, "v1")
}

/// A stored (core) Event as events.k8s.io/v1 shows it.
pub fn from_core(obj: &Value) -> Value {
    rename(obj, false, "events.k8s.io/v1")
}

/// Who reports an event about a Pod.
#[derive(Clone, Copy, Debug)]
pub enum Reporter<'a> {
    /// kube-scheduler: `reportingController: default-scheduler`, instance
    /// `default-scheduler-<host>` (`cmd/kube-scheduler/app/server.go`).
    Scheduler { host: &'a str },
    /// The kubelet of a node: `source: {component: kubelet, host: <node>}`.
    Kubelet { node: &'a str },
}

/// What happened to a Pod (or one of its containers, with `field_path`
/// `spec.containers{name}`).
pub struct PodEvent<'a> {
    pub pod: &'a Value,
    pub field_path: Option<String>,
    /// `Normal` or `Warning`.
    pub type_: &'a str,
    pub reason: &'a str,
    /// events.k8s.io's `action` (kube-scheduler: `Scheduling`, `Binding`); the kubelet's
    /// legacy recorder sets none.
    pub action: &'a str,
    pub message: String,
}

/// The event, in its stored (core) form. Named `<pod>.<unix nanos in hex>` as both recorders
/// name events.
pub fn pod_event(ev: &PodEvent<'_>, reporter: Reporter<'_>, now: DateTime<Utc>) -> Value {
    let meta = &ev.pod["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    let namespace = meta["namespace"].as_str().unwrap_or("default");
    let mut regarding = json!({
        "kind": "Pod", "namespace": namespace, "name": name, "uid": meta["uid"],
        "apiVersion": "v1", "resourceVersion": meta["resourceVersion"],
    });
    if let Some(fp) = &ev.field_path {
        regarding["fieldPath"] = json!(fp);
    }
    let nanos = now.timestamp_nanos_opt().unwrap_or_default();
    let mut event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.{nanos:x}"), "namespace": namespace},
        "involvedObject": regarding, "reason": ev.reason, "message": ev.message, "type": ev.type_,
    });
    match reporter {
        Reporter::Scheduler { host } => {
            event["eventTime"] = json!(now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
            event["action"] = json!(ev.action);
            event["reportingComponent"] = json!("default-scheduler");
            event["reportingInstance"] = json!(format!("default-scheduler-{host}"));
            event["source"] = json!({});
            event["firstTimestamp"] = Value::Null;
            event["lastTimestamp"] = Value::Null;
        }
        Reporter::Kubelet { node } => {
            let t = crate::timestamp::rfc3339(now);
            event["source"] = json!({"component": "kubelet", "host": node});
            event["firstTimestamp"] = json!(t);
            event["lastTimestamp"] = json!(t);
            event["count"] = json!(1);
            event["eventTime"] = Value::Null;
            event["reportingComponent"] = json!("kubelet");
            event["reportingInstance"] = json!(node);
        }
    }
    event
}

/// What makes two events the same occurrence, to be counted rather than stored again: the
/// legacy recorder's correlator compares source, object, reason, type and message
/// (`getEventKey` in client-go's `tools/record`); the events.k8s.io recorder's series key is
/// action, reason, reporting controller and regarding object (`getKey` in `tools/events`), the
/// note aside. The object's resourceVersion is left out: it moves on between occurrences.
pub fn occurrence_key(event: &Value) -> String {
    let o = &event["involvedObject"];
    let object = [
        &o["namespace"],
        &o["name"],
        &o["uid"],
        &o["kind"],
        &o["fieldPath"],
    ];
    let legacy = !event["source"]["component"].is_null();
    let rest = if legacy {
        [&event["source"], &event["type"], &event["message"]]
    } else {
        [&event["action"], &event["reportingInstance"], &Value::Null]
    };
    json!([object, event["reason"], event["reportingComponent"], rest]).to_string()
}

/// Counts one more occurrence into `existing` at `now`: `count` and `lastTimestamp` for the
/// legacy form, `series` for the events.k8s.io form.
pub fn count_again(existing: &mut Value, now: DateTime<Utc>) {
    if existing["source"]["component"].is_null() {
        let count = existing["series"]["count"].as_i64().unwrap_or(1) + 1;
        existing["series"] = json!({
            "count": count,
            "lastObservedTime": now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        });
    } else {
        let count = existing["count"].as_i64().unwrap_or(1) + 1;
        existing["count"] = json!(count);
        existing["lastTimestamp"] = json!(crate::timestamp::rfc3339(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip() {
        let v1 = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e"}, "regarding": {"name": "x"}, "note": "hello",
            "reportingController": "c", "eventTime": "2024-01-01T00:00:00.000000Z"
        });
        let core = to_core(&v1);
        assert_eq!(core["involvedObject"]["name"], "x");
        assert_eq!(core["message"], "hello");
        assert_eq!(core["reportingComponent"], "c");
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(from_core(&core), v1);
    }

    #[test]
    fn component_events_and_their_repetitions() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns", "uid": "u", "resourceVersion": "5"}});
        let now = chrono::Utc::now();
        let ev = |reason: &'static str, message: &str| PodEvent {
            pod: &pod,
            field_path: Some("spec.containers{main}".into()),
            type_: "Normal",
            reason,
            action: "",
            message: message.into(),
        };
        let started = pod_event(
            &ev("Started", "Started container main"),
            Reporter::Kubelet { node: "n" },
            now,
        );
        assert_eq!(
            started["source"],
            json!({"component": "kubelet", "host": "n"})
        );
        assert_eq!(
            started["involvedObject"]["fieldPath"],
            "spec.containers{main}"
        );
        assert_eq!(started["count"], 1);
        let mut again = started.clone();
        again["metadata"]["name"] = json!("other");
        again["involvedObject"]["resourceVersion"] = json!("6");
        assert_eq!(occurrence_key(&started), occurrence_key(&again));
        let other = pod_event(
            &ev("Killing", "Stopping container main"),
            Reporter::Kubelet { node: "n" },
            now,
        );
        assert_ne!(occurrence_key(&started), occurrence_key(&other));
        let mut counted = started.clone();
        count_again(&mut counted, now);
        assert_eq!(counted["count"], 2);

        let failed = PodEvent {
            field_path: None,
            type_: "Warning",
            action: "Scheduling",
            ..ev("FailedScheduling", "0/1 nodes")
        };
        let first = pod_event(&failed, Reporter::Scheduler { host: "h" }, now);
        assert_eq!(first["reportingComponent"], "default-scheduler");
        assert_eq!(first["reportingInstance"], "default-scheduler-h");
        assert_eq!(
            from_core(&first)["reportingController"],
            "default-scheduler"
        );
        let second = pod_event(
            &PodEvent {
                message: "0/2 nodes".into(),
                ..failed
            },
            Reporter::Scheduler { host: "h" },
            now,
        );
        assert_eq!(
            occurrence_key(&first),
            occurrence_key(&second),
            "the note is not part of the series key"
        );
        let mut counted = first.clone();
        count_again(&mut counted, now);
        assert_eq!(counted["series"]["count"], 2);
    }
}
