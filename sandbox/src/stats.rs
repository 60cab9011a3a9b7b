//! Request accounting, so tests can check exactly which API calls a client made and benchmarks
//! can report API writes per unit of work. Read at `GET /sandbox/stats` or `Sandbox::stats`.
//!
//! Every request that reaches the API (everything but the `/sandbox/` control endpoints) is
//! counted once, after it is answered — including 401s, 403s and injected faults:
//!
//! * `total`; `by_user` (the effective user after impersonation; `""` when unauthenticated);
//!   `by_code` (HTTP status, as a string key);
//! * resource requests by RBAC verb (`by_verb`: get, list, watch, create, update, patch,
//!   delete, deletecollection), and by `resource.group` (`by_resource`, e.g. `configmaps`,
//!   `deployments.apps`) or, for subresources, by `resource.group/subresource`
//!   (`by_subresource`, e.g. `pods/log`, `testjobs.example.com/status`) — each request lands in
//!   exactly one of the two;
//! * non-resource requests (discovery, OpenAPI, `/version`, health) by path (`non_resource`);
//! * `writes`: resource requests with verb create, update, patch, delete or deletecollection,
//!   whatever their answer;
//! * `requests`: the same counts broken down by (verb, resource, subresource, user, code);
//! * `watch_events`: events written to watch streams (all types, bookmarks and errors too),
//!   and `watch_events_by_type`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::request_info::RequestInfo;

/// One row of the detailed breakdown.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestCount {
    /// RBAC verb for resource requests, lower-case HTTP method otherwise.
    pub verb: String,
    /// `resource.group` (`configmaps`, `deployments.apps`), or the path of a non-resource request.
    pub resource: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subresource: String,
    pub user: String,
    pub code: u16,
    pub count: u64,
}

/// A copy of the counters, as served at `/sandbox/stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatsSnapshot {
    pub total: u64,
    pub writes: u64,
    pub by_verb: BTreeMap<String, u64>,
    pub by_resource: BTreeMap<String, u64>,
    pub by_subresource: BTreeMap<String, u64>,
    pub non_resource: BTreeMap<String, u64>,
    pub by_user: BTreeMap<String, u64>,
    pub by_code: BTreeMap<String, u64>,
    pub watch_events: u64,
    pub watch_events_by_type: BTreeMap<String, u64>,
    pub requests: Vec<RequestCount>,
}

#[derive(Default)]
struct Counts {
    snapshot: StatsSnapshot,
    detail: BTreeMap<(String, String, String, String, u16), u64>,
}

/// The counters of one sandbox.
#[derive(Default)]
pub(crate) struct Stats {
    inner: Mutex<Counts>,
}

const WRITE_VERBS: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    *map.entry(key.to_string()).or_default() += 1;
}

impl Stats {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one answered request.
    pub fn record(&self, info: &RequestInfo, user: &str, code: u16) {
        let mut counts = self.lock();
        let s = &mut counts.snapshot;
        s.total += 1;
        bump(&mut s.by_user, user);
        bump(&mut s.by_code, &code.to_string());
        let (resource, subresource) = if info.resource_request {
            bump(&mut s.by_verb, &info.verb);
            if WRITE_VERBS.contains(&info.verb.as_str()) {
                s.writes += 1;
            }
            let qualified = info.qualified_resource();
            if info.subresource.is_empty() {
                bump(&mut s.by_resource, &qualified);
            } else {
                bump(
                    &mut s.by_subresource,
                    &format!("{qualified}/{}", info.subresource),
                );
            }
            (qualified, info.subresource.clone())
        } else {
            bump(&mut s.non_resource, &info.path);
            (info.path.clone(), String::new())
        };
        *counts
            .detail
            .entry((
                info.verb.clone(),
                resource,
                subresource,
                user.to_string(),
                code,
            ))
            .or_default() += 1;
    }

    /// Counts the events in a chunk of a watch stream (one JSON object per line).
    pub fn record_watch_events(&self, chunk: &[u8]) {
        let mut counts = self.lock();
        let s = &mut counts.snapshot;
        for line in chunk.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            s.watch_events += 1;
            bump(&mut s.watch_events_by_type, event_type(line));
        }
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let counts = self.lock();
        let mut out = counts.snapshot.clone();
        out.requests = counts
            .detail
            .iter()
            .map(
                |((verb, resource, subresource, user, code), count)| RequestCount {
                    verb: verb.clone(),
                    resource: resource.clone(),
                    subresource: subresource.clone(),
                    user: user.clone(),
                    code: *code,
                    count: *count,
                },
            )
            .collect();
        out
    }

    /// Zeroes every counter, returning what they held.
    pub fn reset(&self) -> StatsSnapshot {
        let before = self.snapshot();
        *self.lock() = Counts::default();
        before
    }
}

/// The `type` of a watch event line, which `watch::event_line` writes first (as kube-apiserver
/// does): `{"type":"ADDED","object":…}`.
fn event_type(line: &[u8]) -> &'static str {
    const KEY: &[u8] = b"{\"type\":\"";
    let Some(rest) = line.strip_prefix(KEY) else {
        return "UNKNOWN";
    };
    for t in ["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"] {
        if rest.starts_with(t.as_bytes()) {
            return t;
        }
    }
    "UNKNOWN"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Query;
    use http::Method;

    fn info(method: Method, path: &str) -> RequestInfo {
        RequestInfo::new(&method, path, &Query::default())
    }

    #[test]
    fn counts_by_every_dimension() {
        let stats = Stats::default();
        stats.record(
            &info(Method::POST, "/api/v1/namespaces/ns/configmaps"),
            "u",
            201,
        );
        stats.record(
            &info(Method::POST, "/api/v1/namespaces/ns/configmaps"),
            "u",
            409,
        );
        stats.record(
            &info(Method::GET, "/api/v1/namespaces/ns/pods/p/log"),
            "v",
            200,
        );
        stats.record(
            &info(
                Method::PUT,
                "/apis/example.com/v1/namespaces/ns/testjobs/j/status",
            ),
            "u",
            200,
        );
        stats.record(&info(Method::GET, "/api"), "", 401);
        let s = stats.snapshot();
        assert_eq!(s.total, 5);
        assert_eq!(s.writes, 3);
        assert_eq!(s.by_verb["create"], 2);
        assert_eq!(s.by_verb["update"], 1);
        assert_eq!(s.by_resource["configmaps"], 2);
        assert_eq!(s.by_subresource["pods/log"], 1);
        assert_eq!(s.by_subresource["testjobs.example.com/status"], 1);
        assert_eq!(s.non_resource["/api"], 1);
        assert_eq!(s.by_user["u"], 3);
        assert_eq!(s.by_code["201"], 1);
        assert_eq!(s.requests.len(), 5);
        assert_eq!(stats.reset().total, 5);
        assert_eq!(stats.snapshot(), StatsSnapshot::default());
    }

    #[test]
    fn watch_event_types() {
        let stats = Stats::default();
        stats.record_watch_events(
            b"{\"type\":\"ADDED\",\"object\":{\"status\":{\"conditions\":[{\"type\":\"Ready\"}]}}}\n",
        );
        stats.record_watch_events(
            b"{\"type\":\"BOOKMARK\",\"object\":{}}\n{\"type\":\"ERROR\",\"object\":{}}\n",
        );
        let s = stats.snapshot();
        assert_eq!(s.watch_events, 3);
        assert_eq!(s.watch_events_by_type["ADDED"], 1);
        assert_eq!(s.watch_events_by_type["BOOKMARK"], 1);
        assert_eq!(s.watch_events_by_type["ERROR"], 1);
    }
}
