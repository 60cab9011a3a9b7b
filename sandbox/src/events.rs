//! `events.k8s.io/v1` is a second view of the core `v1` events (k8s: pkg/apis/events/v1/conversion.go).
//! Events are stored in their core form; this module converts between the two, so an event that
//! kube-rs's Recorder posts through events.k8s.io shows up in `kubectl describe` (which reads core).

use serde_json::{Map, Value};

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
}
