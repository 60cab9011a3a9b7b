//! The write path shared by HTTP handlers and the sandbox's own controllers: create, update,
//! patch and delete with the generic registry rules of kube-apiserver (metadata ownership,
//! preconditions, optimistic concurrency, generation, dry run, graceful and cascading deletion)
//! around the per-kind rules in `admission`. PATCH requests are in [`mod@patch`], server-side apply
//! requests in [`apply`], which calls down into `crate::apply` for the field management.

mod apply;
mod patch;
mod record;
pub mod scale;

pub use patch::{PatchType, patch, unsupported_patch};
pub use record::{RecordedEvents, record_event};

use std::sync::Arc;

use chrono::{Duration, Utc};
use rand::Rng;
use serde_json::{Value, json};

use crate::admission::{self, FieldValidation, add_finalizer};
use crate::errors::{
    ApiError, ApiResult, already_exists, bad_request, conflict, conflict_modified, forbidden,
    not_found,
};
use crate::events;
use crate::resource_types::ResourceType;
use crate::schema::FieldError;
use crate::state::State;
use crate::store::{Obj, StorageKey, Updated, meta_str};
use crate::timestamp::{now_rfc3339, rfc3339};

#[derive(Clone, Debug)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    /// The `fieldManager` query parameter.
    pub field_manager: Option<String>,
    /// The `force` query parameter (server-side apply only).
    pub force: Option<bool>,
    /// The client's `User-Agent` for requests over HTTP (`None` for the sandbox's own writes,
    /// which record no field ownership unless they name a manager).
    pub user_agent: Option<String>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            dry_run: false,
            field_validation: FieldValidation::Warn,
            field_manager: None,
            force: None,
            user_agent: None,
        }
    }
}

impl WriteOptions {
    /// Who an Update is recorded for (k8s: `managerOrUserAgent`), or `None` for an untracked
    /// internal write.
    fn update_manager(&self) -> Option<String> {
        match (&self.field_manager, &self.user_agent) {
            (None, None) => None,
            (manager, agent) => Some(crate::apply::manager_or_user_agent(
                manager.as_deref(),
                agent.as_deref().unwrap_or_default(),
            )),
        }
    }
}

/// Whether a write records its changes as an Update, or already carries the managed fields
/// server-side apply computed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tracking {
    Update,
    Applied,
}

fn track(
    tracking: Tracking,
    rt: &ResourceType,
    sub: Option<&str>,
    live: Option<&Value>,
    new: &mut Value,
    opts: &WriteOptions,
) {
    if tracking == Tracking::Applied {
        return;
    }
    if let Some(manager) = opts.update_manager() {
        let endpoint = crate::apply::Endpoint::new(rt, sub);
        crate::apply::track_update(live, new, &manager, &endpoint);
    }
}

/// A successful write: the object as the client's API version shows it, and any warnings.
pub struct Written {
    /// The object as the client sees it, shared with the store where that is the stored object
    /// (a copy per answered write was a visible part of the CPU profile).
    pub object: Obj,
    pub warnings: Vec<String>,
}

/// The outcome of a DELETE.
pub enum Deleted {
    /// Gone now; the last state.
    Removed(Obj),
    /// Deletion started but finalizers or a grace period hold the object.
    Pending(Obj),
}

#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

/// The stored form of an object written through `rt` (events.k8s.io events are stored as core).
pub fn to_stored(rt: &ResourceType, obj: Value) -> Value {
    if events::is_events_v1(rt) {
        events::to_core(&obj)
    } else {
        obj
    }
}

/// How `rt` shows a stored object.
pub fn to_view(rt: &ResourceType, obj: &Value) -> Value {
    if events::is_events_v1(rt) {
        events::from_core(obj)
    } else {
        obj.clone()
    }
}

/// [`to_view`] of a stored object: the object itself unless the endpoint converts it.
fn shared_view(rt: &ResourceType, obj: &Obj) -> Obj {
    if events::is_events_v1(rt) {
        Arc::new(events::from_core(obj))
    } else {
        obj.clone()
    }
}

/// [`to_view`] of an object owned here (a dry run's): moved, not copied.
fn owned_view(rt: &ResourceType, obj: Value) -> Obj {
    if events::is_events_v1(rt) {
        Arc::new(events::from_core(&obj))
    } else {
        Arc::new(obj)
    }
}

const GENERATE_NAME_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn generated_name(prefix: &str) -> String {
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| GENERATE_NAME_CHARS[rng.random_range(0..GENERATE_NAME_CHARS.len())] as char)
        .collect();
    // names.SimpleNameGenerator trims the base so the result stays within 63 characters.
    let base: String = prefix.chars().take(58).collect();
    format!("{base}{suffix}")
}

/// The body must be an object of the endpoint's kind (k8s: the decoder's GVK check).
fn check_kind(rt: &ResourceType, body: &mut Value) -> ApiResult<()> {
    if !body.is_object() {
        return Err(bad_request(format!(
            "the object provided is unrecognized (must be of type {})",
            rt.kind
        )));
    }
    let api_version = rt.api_version();
    if let Some(v) = body["apiVersion"].as_str()
        && v != api_version
    {
        return Err(bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version ({api_version})"
        )));
    }
    if let Some(k) = body["kind"].as_str()
        && k != rt.kind
    {
        return Err(bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            rt.kind
        )));
    }
    body["apiVersion"] = json!(api_version);
    body["kind"] = json!(rt.kind);
    if !body["metadata"].is_object() {
        body["metadata"] = json!({});
    }
    Ok(())
}

fn remove_key(obj: &mut Value, key: &str) {
    if let Some(map) = obj.as_object_mut() {
        map.remove(key);
    }
}

/// Everything but metadata and status: what a change of bumps `generation`.
fn spec_view(obj: &Value, status_is_sub: bool) -> Value {
    let mut v = obj.clone();
    remove_key(&mut v, "metadata");
    if status_is_sub {
        remove_key(&mut v, "status");
    }
    v
}

pub fn create(
    state: &State,
    rt: &ResourceType,
    namespace: Option<&str>,
    body: Value,
    opts: &WriteOptions,
) -> ApiResult<Written> {
    create_tracked(state, rt, namespace, body, opts, Tracking::Update)
}

fn create_tracked(
    state: &State,
    rt: &ResourceType,
    namespace: Option<&str>,
    mut body: Value,
    opts: &WriteOptions,
    tracking: Tracking,
) -> ApiResult<Written> {
    check_kind(rt, &mut body)?;
    if let Some(custom) = &rt.custom
        && state
            .store
            .get(
                &StorageKey::new("apiextensions.k8s.io", "customresourcedefinitions"),
                "",
                &custom.crd_name,
            )
            .is_some_and(|crd| !crd["metadata"]["deletionTimestamp"].is_null())
    {
        // The CRD handler refuses new objects while their definition is being deleted.
        let mut err = crate::errors::method_not_supported(rt, "create");
        err.status["message"] =
            json!("create not allowed while custom resource definition is terminating");
        return Err(err);
    }
    let mut obj = to_stored(rt, body);
    let meta = &mut obj["metadata"];
    if rt.namespaced {
        let url_ns = namespace.unwrap_or_default();
        match meta["namespace"].as_str() {
            Some(ns) if !ns.is_empty() && ns != url_ns => {
                return Err(bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => meta["namespace"] = json!(url_ns),
        }
    } else {
        remove_key(meta, "namespace");
    }
    // Without a name nor generateName the validation below refuses the object.
    if meta["name"].as_str().is_none_or(str::is_empty)
        && let Some(prefix) = meta["generateName"].as_str().filter(|p| !p.is_empty())
    {
        meta["name"] = json!(generated_name(prefix));
    }
    let name = meta_str(&obj, "name").to_string();
    if rt.namespaced {
        let ns = meta_str(&obj, "namespace").to_string();
        let key = StorageKey::new("", "namespaces");
        match state.store.get(&key, "", &ns) {
            None => {
                return Err(not_found(
                    crate::errors::Qualified {
                        group: "",
                        plural: "namespaces",
                    },
                    &ns,
                ));
            }
            Some(n) if !n["metadata"]["deletionTimestamp"].is_null() => {
                let mut err = forbidden(
                    rt,
                    &name,
                    &format!(
                        "unable to create new content in namespace {ns} because it is being terminated"
                    ),
                );
                // The NamespaceLifecycle admission plugin names the cause.
                err.status["details"]["causes"] = json!([{
                    "reason": "NamespaceTerminating",
                    "message": format!("namespace {ns} is being terminated"),
                    "field": "metadata.namespace",
                }]);
                return Err(err);
            }
            Some(_) => {}
        }
    }
    let meta = &mut obj["metadata"];
    for field in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        remove_key(meta, field);
    }
    meta["uid"] = json!(uuid::Uuid::new_v4().to_string());
    meta["creationTimestamp"] = json!(now_rfc3339());
    if admission::tracks_generation(rt) {
        meta["generation"] = json!(1);
    } else {
        remove_key(meta, "generation");
    }
    let meta_errors = admission::on_create(state, rt, &mut obj)?;
    let warnings = if rt.is_custom() {
        admission::custom_resource(
            state,
            rt,
            &mut obj,
            None,
            opts.field_validation,
            false,
            meta_errors,
        )?
    } else {
        Vec::new()
    };
    track(tracking, rt, None, None, &mut obj, opts);
    let key = StorageKey::of(rt);
    if opts.dry_run {
        // A dry run still reads storage, so a taken name is refused (k8s: DryRunnableStorage).
        let ns = meta_str(&obj, "namespace");
        if let Some(existing) = state.store.get(&key, ns, &name) {
            return Err(name_taken(rt, &name, &existing));
        }
        return Ok(Written {
            object: owned_view(rt, obj),
            warnings,
        });
    }
    let stored = state
        .store
        .create(&key, obj)
        .map_err(|existing| name_taken(rt, &name, &existing))?;
    if rt.group.is_empty() && rt.plural == "namespaces" {
        ensure_default_service_account(state, &name);
    }
    Ok(Written {
        object: shared_view(rt, &stored),
        warnings,
    })
}

/// AlreadyExists, saying so when the object holding the name is being deleted (k8s: the
/// registry store's create).
fn name_taken(rt: &ResourceType, name: &str, existing: &Value) -> ApiError {
    let mut err = already_exists(rt, name);
    if !existing["metadata"]["deletionTimestamp"].is_null() {
        let message = err.status["message"].as_str().unwrap_or_default();
        err.status["message"] = json!(format!("object is being deleted: {message}"));
    }
    err
}

/// Every namespace has a `default` ServiceAccount (the serviceaccounts controller's job).
pub fn ensure_default_service_account(state: &State, namespace: &str) {
    let Some(rt) = state.types.find("", "v1", "serviceaccounts") else {
        return;
    };
    let sa = json!({"metadata": {"name": "default", "namespace": namespace}});
    // Already there is fine: that is the goal.
    let _ = create(state, &rt, Some(namespace), sa, &WriteOptions::default());
}

/// Why an update closure stopped: an API error, or a dry run that computed its answer.
enum Stop {
    Api(ApiError),
    DryRun(Value),
}

impl From<ApiError> for Stop {
    fn from(e: ApiError) -> Self {
        Stop::Api(e)
    }
}

/// The new stored object for an update of `current` with `desired` (in the client's view), or
/// `None` when nothing changes.
#[allow(clippy::too_many_arguments)]
fn next_version(
    state: &State,
    rt: &ResourceType,
    current: &Value,
    desired: Value,
    sub: Option<&str>,
    opts: &WriteOptions,
    tracking: Tracking,
    warnings: &mut Vec<String>,
) -> ApiResult<Option<Value>> {
    let mut new = to_stored(rt, desired);
    // The status strategy starts over from the stored object; what apply computed survives.
    let applied_managed = new["metadata"].get("managedFields").cloned();
    let name = meta_str(current, "name");
    let requested_rv = meta_str(&new, "resourceVersion");
    if !requested_rv.is_empty() && requested_rv != meta_str(current, "resourceVersion") {
        return Err(conflict_modified(rt, name));
    }
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "name",
        "namespace",
    ] {
        match current["metadata"].get(field) {
            Some(v) => new["metadata"][field] = v.clone(),
            None => remove_key(&mut new["metadata"], field),
        }
    }
    new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
    new["apiVersion"] = current["apiVersion"].clone();
    new["kind"] = current["kind"].clone();
    let meta_errors = admission::on_update(state, rt, current, &mut new, sub)?;
    if rt.is_custom() {
        *warnings = admission::custom_resource(
            state,
            rt,
            &mut new,
            Some(current),
            opts.field_validation,
            sub == Some("status"),
            meta_errors,
        )?;
    }
    match tracking {
        Tracking::Applied => match applied_managed {
            Some(list) => new["metadata"]["managedFields"] = list,
            None => remove_key(&mut new["metadata"], "managedFields"),
        },
        Tracking::Update => track(tracking, rt, sub, Some(current), &mut new, opts),
    }
    if new == *current {
        return Ok(None);
    }
    let status_sub = admission::status_is_subresource(rt);
    if admission::tracks_generation(rt)
        && spec_view(&new, status_sub) != spec_view(current, status_sub)
    {
        let generation = current["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        new["metadata"]["generation"] = json!(generation);
    }
    Ok(Some(new))
}

#[allow(clippy::too_many_arguments)]
fn run_update(
    state: &State,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    opts: &WriteOptions,
    desired: impl FnOnce(&Value) -> ApiResult<Value>,
    sub: Option<&str>,
    tracking: Tracking,
) -> ApiResult<Written> {
    let key = StorageKey::of(rt);
    let mut warnings = Vec::new();
    let outcome = state.store.update(&key, namespace, name, |current: &Obj| {
        let wanted = desired(&shared_view(rt, current))?;
        let next = next_version(
            state,
            rt,
            current,
            wanted,
            sub,
            opts,
            tracking,
            &mut warnings,
        )?;
        if opts.dry_run {
            return Err(Stop::DryRun(next.unwrap_or_else(|| (**current).clone())));
        }
        Ok(next)
    });
    let object = match outcome {
        Err(Stop::Api(e)) => return Err(e),
        Err(Stop::DryRun(obj)) => owned_view(rt, obj),
        Ok(None) => return Err(not_found(rt, name)),
        Ok(Some(Updated::Unchanged(o) | Updated::Written(o) | Updated::Removed(o))) => {
            shared_view(rt, &o)
        }
    };
    Ok(Written { object, warnings })
}

fn check_identity(body: &Value, namespace: &str, name: &str) -> ApiResult<()> {
    if let Some(n) = body["metadata"]["name"].as_str()
        && n != name
    {
        return Err(bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        )));
    }
    if let Some(ns) = body["metadata"]["namespace"].as_str()
        && !ns.is_empty()
        && ns != namespace
    {
        return Err(bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

/// An update whose new object is computed from the current one (a patch, an apply): the result
/// must keep the name and namespace of the URL, and is stored in the endpoint's kind.
#[allow(clippy::too_many_arguments)]
fn update_from_current(
    state: &State,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    sub: Option<&str>,
    opts: &WriteOptions,
    tracking: Tracking,
    change: impl FnOnce(&Value) -> ApiResult<Value>,
) -> ApiResult<Written> {
    let desired = |current: &Value| {
        let mut next = change(current)?;
        check_identity(&next, namespace, name)?;
        check_kind(rt, &mut next)?;
        Ok(next)
    };
    run_update(state, rt, namespace, name, opts, desired, sub, tracking)
}

/// PUT of an object or its status.
pub fn update(
    state: &State,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    sub: Option<&str>,
    mut body: Value,
    opts: &WriteOptions,
) -> ApiResult<Written> {
    check_kind(rt, &mut body)?;
    check_identity(&body, namespace, name)?;
    run_update(
        state,
        rt,
        namespace,
        name,
        opts,
        move |_| Ok(body),
        sub,
        Tracking::Update,
    )
}

fn grace_for_pod(pod: &Value, requested: Option<i64>) -> i64 {
    let phase = pod["status"]["phase"].as_str().unwrap_or_default();
    if pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty)
        || phase == "Succeeded"
        || phase == "Failed"
    {
        return 0;
    }
    requested
        .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_i64())
        .unwrap_or(30)
        .max(0)
}

/// Namespaces that cannot be deleted (`metav1.NamespaceDefault`, `NamespaceSystem`,
/// `NamespacePublic`).
const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// DELETE of one object, with preconditions, graceful deletion and cascading policy.
pub fn delete(
    state: &State,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    opts: &DeleteOptions,
) -> ApiResult<Deleted> {
    let key = StorageKey::of(rt);
    let is_pod = rt.group.is_empty() && rt.plural == "pods";
    let is_namespace = rt.group.is_empty() && rt.plural == "namespaces";
    let policy = opts.propagation_policy.as_deref().unwrap_or("Background");
    if !matches!(policy, "Background" | "Foreground" | "Orphan") {
        return Err(admission::invalid(
            rt,
            name,
            &[FieldError::not_supported(
                "propagationPolicy",
                json!(policy),
                &["Foreground", "Background", "Orphan"],
            )],
        ));
    }
    let outcome = state.store.update(&key, namespace, name, |current: &Obj| {
        // The NamespaceLifecycle admission plugin (plugin/pkg/admission/namespace/lifecycle):
        // `errors.NewForbidden(..., fmt.Errorf("this namespace may not be deleted"))` for the
        // immortal namespaces; it runs as delete validation, so after the object was found.
        if is_namespace && IMMORTAL_NAMESPACES.contains(&name) {
            return Err(Stop::Api(forbidden(rt, name, "this namespace may not be deleted")));
        }
        // rest.BeforeDelete checks preconditions first, naming the kind (not the resource).
        let by_kind = crate::errors::Qualified {
            group: &rt.group,
            plural: &rt.kind,
        };
        if let Some(uid) = &opts.precondition_uid {
            let actual = meta_str(current, "uid");
            if uid != actual {
                return Err(Stop::Api(conflict(
                    by_kind,
                    name,
                    &format!("the UID in the precondition ({uid}) does not match the UID in record ({actual}). The object might have been deleted and then recreated"),
                )));
            }
        }
        if let Some(rv) = &opts.precondition_rv {
            let actual = meta_str(current, "resourceVersion");
            if rv != actual {
                return Err(Stop::Api(conflict(
                    by_kind,
                    name,
                    &format!("the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({actual}). The object might have been modified"),
                )));
            }
        }
        let mut next = (**current).clone();
        let grace = if is_pod {
            grace_for_pod(current, opts.grace_period_seconds)
        } else {
            0
        };
        match policy {
            "Foreground" => add_finalizer(&mut next, "foregroundDeletion"),
            "Orphan" => add_finalizer(&mut next, "orphan"),
            _ => {}
        }
        let already = !current["metadata"]["deletionTimestamp"].is_null();
        if already {
            // A second DELETE may only shorten a running grace period.
            let running = current["metadata"]["deletionGracePeriodSeconds"].as_i64().unwrap_or(0);
            if grace < running {
                next["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            }
        } else {
            let at = Utc::now() + Duration::seconds(grace);
            next["metadata"]["deletionTimestamp"] = json!(rfc3339(at));
            next["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        }
        if is_namespace {
            next["status"]["phase"] = json!("Terminating");
        }
        let held = grace > 0
            || is_namespace
            || next["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| !f.is_empty());
        // Marking an object that stays for a while as deleting is a change of its desired
        // state: generation moves on (k8s: rest.BeforeDelete, markAsDeleting).
        if held
            && !already
            && let Some(generation) = current["metadata"]["generation"].as_i64().filter(|g| *g > 0)
        {
            next["metadata"]["generation"] = json!(generation + 1);
        }
        if opts.dry_run {
            // What a real deletion would answer with: the marked object, or the object as it
            // is when it would be removed at once.
            return Err(Stop::DryRun(if held { next } else { (**current).clone() }));
        }
        // Nothing will hold it: it is removed below without first being marked, so watchers
        // see only DELETED, as from kube-apiserver.
        Ok(if next == **current || !held { None } else { Some(next) })
    });
    let view = |o: &Obj| shared_view(rt, o);
    match outcome {
        Err(Stop::Api(e)) => Err(e),
        Err(Stop::DryRun(obj)) if obj["metadata"]["deletionTimestamp"].is_null() => {
            Ok(Deleted::Removed(owned_view(rt, obj)))
        }
        Err(Stop::DryRun(obj)) => Ok(Deleted::Pending(owned_view(rt, obj))),
        Ok(None) => Err(not_found(rt, name)),
        Ok(Some(Updated::Removed(o))) => Ok(Deleted::Removed(view(&o))),
        Ok(Some(Updated::Unchanged(o) | Updated::Written(o))) => {
            let holds = !o["metadata"]["finalizers"]
                .as_array()
                .is_none_or(|f| f.is_empty())
                || o["metadata"]["deletionGracePeriodSeconds"]
                    .as_i64()
                    .unwrap_or(0)
                    > 0
                || is_namespace;
            if holds {
                Ok(Deleted::Pending(view(&o)))
            } else {
                // Nothing holds it: remove now (the store completes pending deletions on write,
                // this covers the unchanged case).
                Ok(Deleted::Removed(view(
                    &state.store.remove(&key, namespace, name).unwrap_or(o),
                )))
            }
        }
    }
}

/// Removes one finalizer through the normal update path (completing the deletion if it was the
/// last). Used by the sandbox's controllers.
pub fn remove_finalizer(
    state: &State,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    finalizer: &str,
) {
    let key = StorageKey::of(rt);
    let _ = state.store.update::<()>(&key, namespace, name, |current| {
        let mut next = (**current).clone();
        let Some(list) = next["metadata"]["finalizers"].as_array_mut() else {
            return Ok(None);
        };
        let before = list.len();
        list.retain(|f| f != finalizer);
        Ok((list.len() != before).then_some(next))
    });
}

/// Convenience for controllers: the type of a stored object's storage key.
pub fn type_of(state: &State, key: &StorageKey) -> Option<Arc<ResourceType>> {
    state.types.find_resource(&key.group, &key.plural)
}
