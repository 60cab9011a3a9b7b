//! kube-scheduler's default Filter plugins as pure functions over Pod and Node JSON, and the
//! message of its `FitError` (`pkg/scheduler/framework/types.go`) with the PostFilter part the
//! default plugins add.
//!
//! Filters run per node in the default profile's order (NodeUnschedulable, NodeName,
//! TaintToleration, NodeAffinity, NodeResourcesFit; `pkg/scheduler/apis/config/v1/default_plugins.go`)
//! and stop at the first plugin that rejects, as `RunFilterPlugins` does. Not ported: NodePorts,
//! volume plugins, PodTopologySpread, InterPodAffinity, scoring beyond least-allocated, and real
//! preemption (no PriorityClasses are served, so every Pod has priority 0 and there are never
//! lower-priority victims).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::quantity;

/// `v1.TaintNodeUnschedulable`.
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

// The plugins' reasons, word for word:
/// nodeunschedulable.ErrReasonUnschedulable.
pub const REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
/// nodename.ErrReason.
pub const REASON_NODE_NAME: &str = "node(s) didn't match the requested node name";
/// nodeaffinity.ErrReasonPod.
pub const REASON_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
/// tainttoleration's reason since v1.34 (earlier releases named the taint,
/// `node(s) had untolerated taint {key: value}`); a v1.34.3 cluster answers
/// "3 node(s) had untolerated taint(s). no new claims to deallocate, preemption: ...".
pub const REASON_TAINT: &str = "node(s) had untolerated taint(s)";
/// `ErrNoNodesAvailable` in `pkg/scheduler/schedule_one.go`.
pub const NO_NODES: &str = "no nodes available to schedule pods";

/// `fwk.Code` of a rejection: whether preemption could help.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Unschedulable,
    UnschedulableAndUnresolvable,
}

/// A Filter plugin's non-success status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: Code,
    pub reasons: Vec<String>,
}

impl Rejection {
    fn unresolvable(reason: &str) -> Self {
        Rejection {
            code: Code::UnschedulableAndUnresolvable,
            reasons: vec![reason.to_string()],
        }
    }
}

/// Requested or allocatable amounts, in the units the scheduler compares (`framework.Resource`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub pods: i64,
    /// Extended resources and hugepages (`IsScalarResourceName`).
    pub scalar: BTreeMap<String, i64>,
}

fn is_scalar(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (name.contains('/') && !name.starts_with("kubernetes.io/"))
}

impl Resources {
    /// `Resource.Add` of a ResourceList (`{"cpu": "500m", ...}`); unparsable amounts count as 0.
    pub fn from_list(list: Option<&Value>) -> Self {
        let mut r = Resources::default();
        for (name, q) in list.and_then(Value::as_object).into_iter().flatten() {
            let q = match q {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            match name.as_str() {
                "cpu" => r.milli_cpu += quantity::milli_value(&q).unwrap_or(0),
                "memory" => r.memory += quantity::value(&q).unwrap_or(0),
                "ephemeral-storage" => r.ephemeral_storage += quantity::value(&q).unwrap_or(0),
                "pods" => r.pods += quantity::value(&q).unwrap_or(0),
                other if is_scalar(other) => {
                    *r.scalar.entry(other.to_string()).or_default() +=
                        quantity::value(&q).unwrap_or(0)
                }
                _ => {}
            }
        }
        r
    }

    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.pods += other.pods;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_default() += v;
        }
    }

    fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }
}

/// A container's requests; a resource with only a limit requests the limit, as API defaulting
/// would have recorded it.
fn container_requests(c: &Value) -> Resources {
    let res = c.get("resources");
    let mut list = res
        .and_then(|r| r.get("limits"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in res
        .and_then(|r| r.get("requests"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        list.insert(k.clone(), v.clone());
    }
    Resources::from_list(Some(&Value::Object(list)))
}

fn list<'a>(v: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// `resourcehelper.PodRequests`: the regular containers and sidecars together, or the largest
/// init container with the sidecars started before it, whichever is larger; plus the overhead.
pub fn pod_requests(pod: &Value) -> Resources {
    let mut regular = Resources::default();
    for c in list(pod, "/spec/containers") {
        regular.add(&container_requests(c));
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for c in list(pod, "/spec/initContainers") {
        let reqs = container_requests(c);
        if c.get("restartPolicy").and_then(Value::as_str) == Some("Always") {
            sidecars.add(&reqs);
            init_max.max_with(&sidecars);
        } else {
            let mut with_sidecars = reqs;
            with_sidecars.add(&sidecars);
            init_max.max_with(&with_sidecars);
        }
    }
    regular.add(&sidecars);
    regular.max_with(&init_max);
    regular.add(&Resources::from_list(pod.pointer("/spec/overhead")));
    regular
}

/// What the scheduler knows of one node: the Node and the Pods assigned to it.
pub struct NodeInfo<'a> {
    pub node: &'a Value,
    pub allocatable: Resources,
    pub requested: Resources,
    pub pod_count: i64,
}

impl<'a> NodeInfo<'a> {
    /// `pods` are the non-terminal Pods bound to this node (the scheduler's informer skips
    /// Succeeded and Failed ones).
    pub fn new<'p>(node: &'a Value, pods: impl IntoIterator<Item = &'p Value>) -> Self {
        let mut requested = Resources::default();
        let mut pod_count = 0;
        for p in pods {
            requested.add(&pod_requests(p));
            pod_count += 1;
        }
        NodeInfo {
            node,
            allocatable: Resources::from_list(node.pointer("/status/allocatable")),
            requested,
            pod_count,
        }
    }

    /// Counts one more Pod assigned to this node.
    pub fn add_pod(&mut self, pod: &Value) {
        self.requested.add(&pod_requests(pod));
        self.pod_count += 1;
    }

    pub fn name(&self) -> &str {
        self.node
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `Toleration.ToleratesTaint` (an empty operator means Equal; an empty key with Exists
/// tolerates everything).
pub fn tolerates(toleration: &Value, key: &str, value: &str, effect: &str) -> bool {
    let t_effect = str_at(toleration, "effect");
    if !t_effect.is_empty() && t_effect != effect {
        return false;
    }
    let t_key = str_at(toleration, "key");
    if !t_key.is_empty() && t_key != key {
        return false;
    }
    match str_at(toleration, "operator") {
        "" | "Equal" => str_at(toleration, "value") == value,
        "Exists" => true,
        _ => false,
    }
}

fn tolerated_by(pod: &Value, key: &str, value: &str, effect: &str) -> bool {
    list(pod, "/spec/tolerations").any(|t| tolerates(t, key, value, effect))
}

/// NodeUnschedulable: a cordoned node, unless the Pod tolerates
/// `node.kubernetes.io/unschedulable:NoSchedule`.
pub fn node_unschedulable(pod: &Value, node: &Value) -> Result<(), Rejection> {
    let cordoned = node
        .pointer("/spec/unschedulable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if cordoned && !tolerated_by(pod, TAINT_UNSCHEDULABLE, "", "NoSchedule") {
        return Err(Rejection::unresolvable(REASON_UNSCHEDULABLE));
    }
    Ok(())
}

/// NodeName: `len(pod.Spec.NodeName) == 0 || pod.Spec.NodeName == node.Name`.
pub fn node_name(pod: &Value, node: &Value) -> Result<(), Rejection> {
    let wanted = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = node
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if wanted.is_empty() || wanted == name {
        Ok(())
    } else {
        Err(Rejection::unresolvable(REASON_NODE_NAME))
    }
}

/// TaintToleration: the first NoSchedule or NoExecute taint the Pod does not tolerate
/// (`v1helper.FindMatchingUntoleratedTaint`).
pub fn taint_toleration(pod: &Value, node: &Value) -> Result<(), Rejection> {
    let untolerated = list(node, "/spec/taints").any(|t| {
        let effect = str_at(t, "effect");
        (effect == "NoSchedule" || effect == "NoExecute")
            && !tolerated_by(pod, str_at(t, "key"), str_at(t, "value"), effect)
    });
    if untolerated {
        Err(Rejection::unresolvable(REASON_TAINT))
    } else {
        Ok(())
    }
}

/// One `NodeSelectorRequirement` against a node's labels (`nodeaffinity` /
/// `labels.Selector` semantics; Gt and Lt compare integers).
fn expression_matches(expr: &Value, labels: &serde_json::Map<String, Value>) -> bool {
    let key = str_at(expr, "key");
    let values: Vec<&str> = list(expr, "/values").filter_map(Value::as_str).collect();
    let label = labels.get(key).and_then(Value::as_str);
    match str_at(expr, "operator") {
        "In" => label.is_some_and(|l| values.contains(&l)),
        "NotIn" => label.is_none_or(|l| !values.contains(&l)),
        "Exists" => label.is_some(),
        "DoesNotExist" => label.is_none(),
        op @ ("Gt" | "Lt") => {
            let (Some(l), [v]) = (label, values.as_slice()) else {
                return false;
            };
            match (l.parse::<i64>(), v.parse::<i64>()) {
                (Ok(l), Ok(v)) if op == "Gt" => l > v,
                (Ok(l), Ok(v)) => l < v,
                _ => false,
            }
        }
        _ => false,
    }
}

/// `matchFields`: only `metadata.name` with In / NotIn is valid.
fn field_matches(expr: &Value, node_name: &str) -> bool {
    if str_at(expr, "key") != "metadata.name" {
        return false;
    }
    let values: Vec<&str> = list(expr, "/values").filter_map(Value::as_str).collect();
    match str_at(expr, "operator") {
        "In" => values.contains(&node_name),
        "NotIn" => !values.contains(&node_name),
        _ => false,
    }
}

/// A term matches when all its expressions and fields do; an empty term matches nothing.
fn term_matches(term: &Value, labels: &serde_json::Map<String, Value>, node_name: &str) -> bool {
    let exprs: Vec<&Value> = list(term, "/matchExpressions").collect();
    let fields: Vec<&Value> = list(term, "/matchFields").collect();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs.iter().all(|e| expression_matches(e, labels))
        && fields.iter().all(|f| field_matches(f, node_name))
}

/// NodeAffinity: every `nodeSelector` label, and (when given) any one of the required terms of
/// `affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
pub fn node_affinity(pod: &Value, node: &Value) -> Result<(), Rejection> {
    let empty = serde_json::Map::new();
    let labels = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let node_name = node
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let selector_ok = pod
        .pointer("/spec/nodeSelector")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let required =
        pod.pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution");
    let affinity_ok = match required {
        Some(r) if !r.is_null() => {
            list(r, "/nodeSelectorTerms").any(|t| term_matches(t, labels, node_name))
        }
        _ => true,
    };
    if selector_ok && affinity_ok {
        Ok(())
    } else {
        Err(Rejection::unresolvable(REASON_AFFINITY))
    }
}

/// NodeResourcesFit (`fitsRequest`): the pod count, then cpu, memory, ephemeral-storage and
/// scalar resources against allocatable minus what the node's Pods request.
pub fn node_resources_fit(request: &Resources, info: &NodeInfo<'_>) -> Result<(), Rejection> {
    let mut reasons = Vec::new();
    if info.pod_count + 1 > info.allocatable.pods {
        reasons.push("Too many pods".to_string());
    }
    let free = |alloc: i64, used: i64| alloc - used;
    let (a, u) = (&info.allocatable, &info.requested);
    if request.milli_cpu > 0 && request.milli_cpu > free(a.milli_cpu, u.milli_cpu) {
        reasons.push("Insufficient cpu".into());
    }
    if request.memory > 0 && request.memory > free(a.memory, u.memory) {
        reasons.push("Insufficient memory".into());
    }
    if request.ephemeral_storage > 0
        && request.ephemeral_storage > free(a.ephemeral_storage, u.ephemeral_storage)
    {
        reasons.push("Insufficient ephemeral-storage".into());
    }
    for (name, q) in &request.scalar {
        let alloc = a.scalar.get(name).copied().unwrap_or(0);
        let used = u.scalar.get(name).copied().unwrap_or(0);
        if *q > 0 && *q > free(alloc, used) {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Rejection {
            code: Code::Unschedulable,
            reasons,
        })
    }
}

/// Every Filter plugin in order; the first rejection wins.
pub fn filter(pod: &Value, request: &Resources, info: &NodeInfo<'_>) -> Result<(), Rejection> {
    node_unschedulable(pod, info.node)?;
    node_name(pod, info.node)?;
    taint_toleration(pod, info.node)?;
    node_affinity(pod, info.node)?;
    node_resources_fit(request, info)
}

/// The least-allocated score (NodeResourcesFit's default): the mean free fraction of cpu and
/// memory after placing the Pod, in per mille.
pub fn score(request: &Resources, info: &NodeInfo<'_>) -> i64 {
    let part = |alloc: i64, used: i64, req: i64| {
        if alloc <= 0 {
            0
        } else {
            ((alloc - used - req).max(0) * 1000) / alloc
        }
    };
    let (a, u) = (&info.allocatable, &info.requested);
    (part(a.milli_cpu, u.milli_cpu, request.milli_cpu) + part(a.memory, u.memory, request.memory))
        / 2
}

/// "`N reason`" counts sorted as Go's `sort.Strings` sorts them, joined by ", ".
fn histogram<'a>(reasons: impl Iterator<Item = &'a str>) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reasons {
        *counts.entry(r).or_default() += 1;
    }
    let mut parts: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    parts.join(", ")
}

/// `FitError.Error()`: "0/N nodes are available: <histogram>." and, after a space, the
/// PostFilter message.
fn fit_error(num_nodes: usize, reasons: &[String], post_filter: &str) -> String {
    let mut msg = format!("0/{num_nodes} nodes are available:");
    let hist = histogram(reasons.iter().map(String::as_str));
    if !hist.is_empty() {
        msg.push_str(&format!(" {hist}."));
    }
    if !post_filter.is_empty() {
        msg.push_str(&format!(" {post_filter}"));
    }
    msg
}

/// The message of a failed scheduling attempt (the `FailedScheduling` event's note and the
/// `PodScheduled` condition's message), from each node's rejection.
///
/// The PostFilter plugins' reasons are joined with ", " (`Status.Message()`), DynamicResources
/// first: "no new claims to deallocate" for a Pod without ResourceClaims, then DefaultPreemption
/// ("preemption: " + the evaluator's message): `preemptionPolicy: Never` makes the Pod "not
/// eligible due to preemptionPolicy=Never."; otherwise nodes rejected as
/// UnschedulableAndUnresolvable are "Preemption is not helpful for scheduling" and the others
/// have no lower-priority Pod to evict, "No preemption victims found for incoming pod"
/// (`SelectVictimsOnNode`), in a FitError of their own.
pub fn failure_message(pod: &Value, rejections: &[Rejection]) -> String {
    if rejections.is_empty() {
        return NO_NODES.to_string();
    }
    let reasons: Vec<String> = rejections
        .iter()
        .flat_map(|r| r.reasons.iter().cloned())
        .collect();
    let never = pod
        .pointer("/spec/preemptionPolicy")
        .and_then(Value::as_str)
        == Some("Never");
    let preemption = if never {
        "not eligible due to preemptionPolicy=Never.".to_string()
    } else {
        let per_node: Vec<String> = rejections
            .iter()
            .map(|r| match r.code {
                Code::UnschedulableAndUnresolvable => {
                    "Preemption is not helpful for scheduling".to_string()
                }
                Code::Unschedulable => "No preemption victims found for incoming pod".to_string(),
            })
            .collect();
        fit_error(rejections.len(), &per_node, "")
    };
    let post_filter = format!("no new claims to deallocate, preemption: {preemption}");
    fit_error(rejections.len(), &reasons, &post_filter)
}

#[cfg(test)]
mod tests;
