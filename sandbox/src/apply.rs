//! Server-side apply (`application/apply-patch+yaml`) and field management, as kube-apiserver's
//! field manager does them (k8s.io/apimachinery `util/managedfields/internal` over
//! sigs.k8s.io/structured-merge-diff).
//!
//! Every write records who owns which fields in `metadata.managedFields`: one entry per
//! manager, operation (`Apply` or `Update`), subresource and (for updates) API version, with the
//! owned fields as a `FieldsV1` set. An update takes the fields it changes away from everyone
//! else; an apply merges the applied configuration into the object (lists by key where the
//! schema says so), removes fields the applier stops applying when nobody else owns them, and
//! fails with a 409 listing the conflicts when it would change another manager's field unless
//! `force` is set.
//!
//! The wrappers of the real chain are kept: the first apply to an untracked object gives its
//! existing fields to `before-first-apply`; at most ten update entries are kept (older ones merge
//! into `ancient-changes`); `kubectl`'s applies may take over fields its client-side apply set
//! (the last-applied annotation) without conflict, and keep that annotation up to date.

mod fieldpath;
mod schema;
mod typed;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use crate::errors::{ApiError, ApiResult, bad_request, internal};
use crate::resource_types::ResourceType;
use crate::timestamp::now_rfc3339;

use crate::gofmt;
pub use fieldpath::{PathElement, Set};
pub use schema::Ty;

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const MAX_UPDATE_MANAGERS: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One manager's fields.
#[derive(Clone, Debug)]
struct Entry {
    manager: String,
    operation: Operation,
    api_version: String,
    subresource: String,
    time: Option<String>,
    set: Set,
}

/// `manager.BuildManagerIdentifier`: the JSON of the entry without fields and time (and
/// without the API version for appliers, who keep one entry across versions).
fn identifier(manager: &str, operation: Operation, api_version: &str, subresource: &str) -> String {
    let mut id = format!(
        "{{\"manager\":{},\"operation\":\"{}\"",
        Value::String(manager.into()),
        operation.as_str()
    );
    if operation == Operation::Update && !api_version.is_empty() {
        id.push_str(&format!(
            ",\"apiVersion\":{}",
            Value::String(api_version.into())
        ));
    }
    if !subresource.is_empty() {
        id.push_str(&format!(
            ",\"subresource\":{}",
            Value::String(subresource.into())
        ));
    }
    id.push('}');
    id
}

/// The managed fields of an object, by manager identifier.
#[derive(Clone, Debug, Default)]
struct Managed(BTreeMap<String, Entry>);

impl Managed {
    fn decode(list: &Value) -> Result<Managed, String> {
        let mut out = BTreeMap::new();
        let Some(items) = list.as_array() else {
            return Ok(Managed::default());
        };
        for (i, e) in items.iter().enumerate() {
            let operation = match e["operation"].as_str() {
                Some("Apply") => Operation::Apply,
                Some("Update") => Operation::Update,
                _ => return Err("operation must be `Apply` or `Update`".into()),
            };
            let api_version = e["apiVersion"].as_str().unwrap_or_default();
            if api_version.is_empty() {
                return Err("apiVersion must not be empty".into());
            }
            match e["fieldsType"].as_str().unwrap_or_default() {
                "FieldsV1" => {}
                "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
                other => {
                    return Err(format!(
                        "invalid fieldsType {} in managed fields entry {i}",
                        gofmt::quote(other)
                    ));
                }
            }
            let manager = e["manager"].as_str().unwrap_or_default().to_string();
            let subresource = e["subresource"].as_str().unwrap_or_default().to_string();
            let set = Set::from_fields_v1(&e["fieldsV1"])
                .map_err(|err| format!("error decoding set: {err}"))?;
            out.insert(
                identifier(&manager, operation, api_version, &subresource),
                Entry {
                    manager,
                    operation,
                    api_version: api_version.to_string(),
                    subresource,
                    time: e["time"].as_str().map(String::from),
                    set,
                },
            );
        }
        Ok(Managed(out))
    }

    /// The `managedFields` list, in kube-apiserver's order (operation, time, manager, version,
    /// subresource); `None` when nothing is managed.
    fn encode(&self) -> Option<Value> {
        if self.0.is_empty() {
            return None;
        }
        let mut entries: Vec<&Entry> = self.0.values().collect();
        entries.sort_by(|p, q| {
            p.operation
                .cmp(&q.operation)
                .then_with(|| seconds(&p.time).cmp(&seconds(&q.time)))
                .then_with(|| p.manager.cmp(&q.manager))
                .then_with(|| p.api_version.cmp(&q.api_version))
                .then_with(|| p.subresource.cmp(&q.subresource))
        });
        let list = entries
            .into_iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("manager".into(), json!(e.manager));
                m.insert("operation".into(), json!(e.operation.as_str()));
                m.insert("apiVersion".into(), json!(e.api_version));
                if let Some(t) = &e.time {
                    m.insert("time".into(), json!(t));
                }
                m.insert("fieldsType".into(), json!("FieldsV1"));
                m.insert("fieldsV1".into(), e.set.to_fields_v1());
                if !e.subresource.is_empty() {
                    m.insert("subresource".into(), json!(e.subresource));
                }
                Value::Object(m)
            })
            .collect();
        Some(Value::Array(list))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn seconds(time: &Option<String>) -> i64 {
    time.as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(0, |t| t.timestamp())
}

fn set_managed(obj: &mut Value, managed: &Managed) {
    match managed.encode() {
        Some(list) => obj["metadata"]["managedFields"] = list,
        None => remove_managed(obj),
    }
}

fn remove_managed(obj: &mut Value) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
}

/// What a field manager needs to know about the endpoint written through.
pub struct Endpoint<'a> {
    pub ty: Ty<'a>,
    pub api_version: String,
    pub subresource: String,
    /// Fields the endpoint's strategy resets; nobody owns them through it.
    pub reset: Set,
}

impl<'a> Endpoint<'a> {
    pub fn new(rt: &'a ResourceType, sub: Option<&str>) -> Self {
        let field = |name: &str| vec![PathElement::Field(name.into())];
        let reset = match sub {
            Some("status") => Set::from_paths([field("spec").as_slice()]),
            Some(_) => Set::new(),
            None if rt.has_subresource("status") => Set::from_paths([field("status").as_slice()]),
            None => Set::new(),
        };
        Endpoint {
            ty: Ty::of(rt),
            api_version: rt.api_version(),
            subresource: sub.unwrap_or_default().to_string(),
            reset,
        }
    }
}

/// Fields never recorded as owned (`stripMetaManager`), built once: every tracked write uses it.
fn strip_set() -> &'static Set {
    static SET: LazyLock<Set> = LazyLock::new(build_strip_set);
    &SET
}

fn build_strip_set() -> Set {
    let f = |n: &str| PathElement::Field(n.into());
    let mut s = Set::new();
    s.insert(&[f("apiVersion")]);
    s.insert(&[f("kind")]);
    s.insert(&[f("metadata")]);
    for name in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        s.insert(&[f("metadata"), f(name)]);
    }
    s
}

fn strip(managed: &mut Managed, id: &str) {
    if let Some(e) = managed.0.get_mut(id) {
        e.set = e.set.difference(strip_set());
        if e.set.is_empty() {
            managed.0.remove(id);
        }
    }
}

/// `managerOrUserAgent`: the explicit manager, or the user agent up to its first `/` (printable
/// characters only, at most 128 bytes).
pub fn manager_or_user_agent(manager: Option<&str>, user_agent: &str) -> String {
    if let Some(m) = manager.filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    let prefix = user_agent.split('/').next().unwrap_or_default();
    let mut out = String::new();
    for c in prefix.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > 128 {
            break;
        }
        out.push(c);
    }
    out
}

/// An object with nothing set but its type (what `creater.New` gives for a create).
fn empty_object(ep: &Endpoint, kind: &Value) -> Value {
    json!({"apiVersion": ep.api_version, "kind": kind})
}

fn without_managed(obj: &Value) -> Value {
    let mut o = obj.clone();
    remove_managed(&mut o);
    o
}

/// The typed part of `Updater.Update`/`Updater.Apply`: takes the fields that changed from
/// `live` to `new` away from every manager but `id` (unless `force` is false, then they are
/// conflicts) and returns what changed.
fn take_changed(
    live: &Value,
    new: &Value,
    managed: &mut Managed,
    id: &str,
    force: bool,
    ep: &Endpoint,
) -> Result<typed::Comparison, Failure> {
    let mut cmp = typed::compare(live, new, ep.ty).map_err(Failure::Typed)?;
    cmp.exclude(&ep.reset);
    let changed = cmp.modified.union(&cmp.added);
    let mut conflicts = Vec::new();
    for (other, e) in &managed.0 {
        if other == id {
            continue;
        }
        let clash = e.set.intersection(&changed);
        if !clash.is_empty() {
            conflicts.push((other.clone(), clash));
        }
    }
    if !force && !conflicts.is_empty() {
        return Err(Failure::Conflicts(
            conflicts
                .into_iter()
                .flat_map(|(m, set)| set.paths().into_iter().map(move |p| (m.clone(), p)))
                .collect(),
        ));
    }
    for (other, clash) in conflicts {
        if let Some(e) = managed.0.get_mut(&other) {
            e.set = e.set.difference(&clash);
        }
    }
    if !cmp.removed.is_empty() {
        for (other, e) in managed.0.iter_mut() {
            if other != id {
                e.set = e.set.difference(&cmp.removed);
            }
        }
    }
    managed.0.retain(|_, e| !e.set.is_empty());
    Ok(cmp)
}

/// Why a field manager operation failed.
enum Failure {
    /// (manager identifier, path) pairs.
    Conflicts(Vec<(String, fieldpath::Path)>),
    Typed(String),
    BadRequest(String),
}

/// `Update` through `managedFieldsUpdater` → `stripMeta` → structured merge: `manager` ends up
/// owning what it changed, on top of what it owned.
fn update_managed(
    live: &Value,
    new: &Value,
    mut managed: Managed,
    manager: &str,
    ep: &Endpoint,
) -> Result<Managed, Failure> {
    const CURRENT: &str = "current-operation";
    let cmp = take_changed(live, new, &mut managed, CURRENT, true, ep)?;
    // `take_changed` already took the endpoint's reset fields out of the comparison.
    let set = cmp.modified.union(&cmp.added).difference(strip_set());
    if !set.is_empty() {
        let manager = if manager.is_empty() {
            "unknown"
        } else {
            manager
        };
        let id = identifier(manager, Operation::Update, &ep.api_version, &ep.subresource);
        let previous = managed.0.remove(&id).map(|e| e.set).unwrap_or_default();
        managed.0.insert(
            id,
            Entry {
                manager: manager.to_string(),
                operation: Operation::Update,
                api_version: ep.api_version.clone(),
                subresource: ep.subresource.clone(),
                time: Some(now_rfc3339()),
                set: set.union(&previous),
            },
        );
    }
    cap_update_managers(&mut managed);
    Ok(managed)
}

/// `capManagersManager`: merges the oldest update entries into `ancient-changes` buckets.
fn cap_update_managers(managed: &mut Managed) {
    let mut updaters: Vec<(i64, String)> = managed
        .0
        .iter()
        .filter(|(_, e)| e.operation == Operation::Update)
        .map(|(id, e)| (seconds(&e.time), id.clone()))
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort();
    let mut length = updaters.len();
    let mut first_by_version: BTreeMap<String, String> = BTreeMap::new();
    for (_, id) in updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let Some(entry) = managed.0.get(&id).cloned() else {
            continue;
        };
        let bucket = identifier("ancient-changes", Operation::Update, &entry.api_version, "");
        match first_by_version.get(&entry.api_version) {
            Some(first) => {
                if !managed.0.contains_key(&bucket)
                    && let Some(mut f) = managed.0.remove(first)
                {
                    f.manager = "ancient-changes".into();
                    f.subresource = String::new();
                    managed.0.insert(bucket.clone(), f);
                }
                if let Some(b) = managed.0.get_mut(&bucket) {
                    b.set = entry.set.union(&b.set);
                    b.time = entry.time.clone();
                }
                managed.0.remove(&id);
                length -= 1;
            }
            None => {
                first_by_version.insert(entry.api_version.clone(), id);
            }
        }
    }
}

/// `decodeLiveOrNew`: the managed fields a write starts from.
fn starting_managed(live: Option<&Value>, new: &Value, subresource: bool) -> Managed {
    let from_live = || {
        live.map(|l| Managed::decode(&l["metadata"]["managedFields"]).unwrap_or_default())
            .unwrap_or_default()
    };
    if subresource {
        return from_live();
    }
    let requested = &new["metadata"]["managedFields"];
    let reset = match requested.as_array() {
        Some(list) if list.is_empty() => true,
        Some(list) => list.len() == 1 && list[0].as_object().is_some_and(Map::is_empty),
        None => false,
    };
    if reset {
        return Managed::default();
    }
    match Managed::decode(requested) {
        Ok(m) if !m.is_empty() => m,
        _ => from_live(),
    }
}

/// Records an Update (create, update or non-apply patch) by `manager`: sets `new`'s
/// `managedFields` from `live` (absent for a create) and what changed. Errors keep the
/// managed fields of `live`, as `UpdateNoErrors` does.
pub fn track_update(live: Option<&Value>, new: &mut Value, manager: &str, ep: &Endpoint) {
    let managed = starting_managed(live, new, !ep.subresource.is_empty());
    remove_managed(new);
    // `skipNonApplied`: an existing object nobody tracks stays untracked until an apply.
    if managed.is_empty() && live.is_some_and(|l| !l["metadata"]["uid"].is_null()) {
        return;
    }
    let live_plain = match live {
        Some(l) => without_managed(l),
        None => empty_object(ep, &new["kind"]),
    };
    match update_managed(&live_plain, new, managed, manager, ep) {
        Ok(managed) => set_managed(new, &managed),
        Err(_) => {
            if let Some(list) = live.and_then(|l| l["metadata"].get("managedFields")) {
                new["metadata"]["managedFields"] = list.clone();
            }
        }
    }
}

/// `Updater.prune`: removes what `id` applied last time and no longer applies, unless another
/// manager owns it.
fn prune(
    merged: &Value,
    managed: &Managed,
    last: Option<&Set>,
    ep: &Endpoint,
) -> Result<Value, String> {
    let Some(last) = last.filter(|s| !s.is_empty()) else {
        return Ok(merged.clone());
    };
    let ty = ep.ty;
    let named = |s: &Set| typed::ensure_named_fields_are_members(s, ty);
    let last = named(last);
    let pruned = typed::remove_items(merged, &last, ty);
    // Put back what somebody owns.
    let owned = managed
        .0
        .values()
        .fold(Set::new(), |acc, e| acc.union(&e.set));
    let merged_set = named(&typed::to_field_set(merged, ty)?);
    let pruned_set = named(&typed::to_field_set(&pruned, ty)?);
    let pruned = typed::remove_items(
        merged,
        &merged_set.difference(&pruned_set.union(&named(&owned))),
        ty,
    );
    // Remove only what the applier owned before.
    let pruned_set = named(&typed::to_field_set(&pruned, ty)?);
    Ok(typed::remove_items(
        merged,
        &merged_set.difference(&pruned_set).intersection(&last),
        ty,
    ))
}

/// Structured `Apply` with the wrappers below `lastApplied*`: returns the new object (`None`
/// when nothing but managed fields changes) and the managed fields.
fn apply_managed(
    live: &Value,
    mut managed: Managed,
    config: &Value,
    manager: &str,
    force: bool,
    ep: &Endpoint,
) -> Result<(Option<Value>, Managed), Failure> {
    if managed.is_empty() {
        // `skipNonApplied`: existing fields go to `before-first-apply`.
        let empty = empty_object(ep, &live["kind"]);
        managed = update_managed(&empty, live, managed, "before-first-apply", ep)?;
    }
    if !config["metadata"]["managedFields"].is_null() {
        return Err(Failure::BadRequest(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let id = identifier(manager, Operation::Apply, "", &ep.subresource);
    let merged = typed::merge(live, config, ep.ty).map_err(Failure::Typed)?;
    let last = managed.0.get(&id).map(|e| e.set.clone());
    let set = typed::to_field_set(config, ep.ty)
        .map_err(Failure::Typed)?
        .recursive_difference(&ep.reset);
    managed.0.insert(
        id.clone(),
        Entry {
            manager: manager.to_string(),
            operation: Operation::Apply,
            api_version: ep.api_version.clone(),
            subresource: ep.subresource.clone(),
            time: managed.0.get(&id).and_then(|e| e.time.clone()),
            set,
        },
    );
    let merged = prune(&merged, &managed, last.as_ref(), ep).map_err(Failure::Typed)?;
    take_changed(live, &merged, &mut managed, &id, force, ep)?;
    strip(&mut managed, &id);
    if fieldpath::values_equal(live, &merged) {
        return Ok((None, managed));
    }
    if let Some(e) = managed.0.get_mut(&id) {
        e.time = Some(now_rfc3339());
    }
    Ok((Some(merged), managed))
}

/// The fields kubectl's client-side apply set that still hold their applied values: kubectl's
/// server-side apply may take them over without conflict.
fn allowed_from_last_applied(live: &Value, ep: &Endpoint) -> Option<Set> {
    let raw = live["metadata"]["annotations"][LAST_APPLIED].as_str()?;
    let last: Value = serde_json::from_str(raw).ok()?;
    if last["apiVersion"].as_str() != Some(ep.api_version.as_str()) {
        return None;
    }
    let set = typed::to_field_set(&last, ep.ty).ok()?;
    let cmp = typed::compare(&last, live, ep.ty).ok()?;
    Some(
        set.difference(&cmp.modified)
            .difference(&cmp.added)
            .difference(&cmp.removed),
    )
}

/// Applies `config` for `manager` to `live` (`None`: the object does not exist yet). Returns the
/// object to store, managed fields included.
pub(crate) fn apply_object(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    ep: &Endpoint,
) -> ApiResult<Value> {
    let managed = match live {
        Some(l) => Managed::decode(&l["metadata"]["managedFields"])
            .map_err(|e| internal(format!("failed to decode managed fields: {e}")))?,
        None => Managed::default(),
    };
    let live_plain = match live {
        Some(l) => without_managed(l),
        None => empty_object(ep, &config["kind"]),
    };
    let mut outcome = apply_managed(&live_plain, managed.clone(), config, manager, force, ep);
    // `lastAppliedManager`: kubectl moving from client-side to server-side apply.
    if manager == "kubectl"
        && let Err(Failure::Conflicts(conflicts)) = &outcome
        && let Some(allowed) = allowed_from_last_applied(&live_plain, ep)
    {
        let remaining: Vec<_> = conflicts
            .iter()
            .filter(|(_, p)| !allowed.has(p))
            .cloned()
            .collect();
        outcome = if remaining.is_empty() {
            apply_managed(&live_plain, managed, config, manager, true, ep)
        } else {
            Err(Failure::Conflicts(remaining))
        };
    }
    let (object, managed) = outcome.map_err(|f| failure_error(f, config))?;
    let mut object = object.unwrap_or(live_plain);
    // `lastAppliedUpdater`: keep kubectl's annotation in step with what it applies.
    if manager == "kubectl"
        && object["metadata"]["annotations"][LAST_APPLIED]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    {
        let mut applied = config.clone();
        if let Some(meta) = applied["metadata"].as_object_mut() {
            let emptied = meta
                .get_mut("annotations")
                .and_then(Value::as_object_mut)
                .is_some_and(|a| {
                    a.remove(LAST_APPLIED);
                    a.is_empty()
                });
            if emptied {
                meta.remove("annotations");
            }
        }
        // `runtime.Encode` of unstructured: Go's JSON encoder, newline included.
        object["metadata"]["annotations"][LAST_APPLIED] =
            json!(format!("{}\n", gofmt::json(&applied)));
    }
    set_managed(&mut object, &managed);
    Ok(object)
}

/// `printManager`: how conflict messages name a manager.
fn print_manager(id: &str) -> String {
    let Ok(e) = serde_json::from_str::<Value>(id) else {
        return gofmt::quote(id);
    };
    let mut out = gofmt::quote(e["manager"].as_str().unwrap_or_default());
    if let Some(sub) = e["subresource"].as_str().filter(|s| !s.is_empty()) {
        out = format!("{out} with subresource {}", gofmt::quote(sub));
    }
    if e["operation"] == "Update" {
        out = format!(
            "{out} using {}",
            e["apiVersion"].as_str().unwrap_or_default()
        );
    }
    out
}

/// `NewConflictError`: 409 with one `FieldManagerConflict` cause per field.
fn conflict_error(mut conflicts: Vec<(String, fieldpath::Path)>) -> ApiError {
    conflicts.sort_by(|a, b| a.0.cmp(&b.0));
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(m, p)| {
            json!({"reason": "FieldManagerConflict",
                "message": format!("conflict with {}", print_manager(m)),
                "field": fieldpath::path_string(p)})
        })
        .collect();
    let message = if conflicts.len() == 1 {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            print_manager(&conflicts[0].0),
            fieldpath::path_string(&conflicts[0].1)
        )
    } else {
        let mut lines = Vec::new();
        let mut current: Option<&str> = None;
        for (m, p) in &conflicts {
            if current != Some(m.as_str()) {
                lines.push(format!("conflicts with {}:", print_manager(m)));
                current = Some(m);
            }
            lines.push(format!("- {}", fieldpath::path_string(p)));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    ApiError {
        code: 409,
        status: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": "Conflict", "details": {"causes": causes}, "code": 409}),
    }
}

/// `objectGVKNN`: `namespace/name; group/version, Kind=kind`.
fn object_label(obj: &Value) -> String {
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let gvk = gvk_string(
        obj["apiVersion"].as_str().unwrap_or_default(),
        obj["kind"].as_str().unwrap_or_default(),
    );
    format!("{ns}/{name}; {gvk}")
}

fn failure_error(f: Failure, config: &Value) -> ApiError {
    match f {
        Failure::Conflicts(c) => conflict_error(c),
        Failure::BadRequest(m) => bad_request(m),
        // A plain error in kube-apiserver: 500 with no reason.
        Failure::Typed(m) => {
            let message = format!(
                "failed to create typed patch object ({}): {m}",
                object_label(config)
            );
            ApiError {
                code: 500,
                status: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": message, "code": 500}),
            }
        }
    }
}

/// `GroupVersionKind.String()`.
pub(crate) fn gvk_string(api_version: &str, kind: &str) -> String {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    format!("{group}/{version}, Kind={kind}")
}

#[cfg(test)]
mod tests;
